"""How the API recognises a token: `Authorization: Token <key>`, checked against the password it
was issued under and its lifetime at every request. Two kinds share the header: the person's own
API token (`POST /api/v1/auth/token/`), and the named tokens they create for their integrations,
whose secret starts with `cmi_`."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import exceptions, permissions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

from consortium.models import ApiToken, IntegrationToken
from consortium.models.people import INTEGRATION_TOKEN_MARKER
from consortium.second_factor import has_second_factor, staff_must_use_second_factor

# `last_used_at` is written at most this often per token: not a write per request.
LAST_USED_EVERY = datetime.timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token authentication over `ApiToken`: a key DRF's own table holds without a binding
    (made in the admin or by `drf_create_token`) is refused like an unknown one, a key issued
    under a password since changed is refused, and so is one older than API_TOKEN_DAYS, and a
    staff member's while the site requires a second factor they have not set up (tokens of a
    person who sets one up, or whose is reset, are revoked then: `consortium/second_factor.py`).

    An integration token is refused on the same grounds (its own date in place of
    API_TOKEN_DAYS), and when revoked; a read-only one is refused for any request that would
    change something, whatever the endpoint: this is the one place every request carrying a
    token goes through."""

    model = ApiToken

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        found = super().authenticate(request)
        if found is None:
            return None
        user, token = found
        if isinstance(token, IntegrationToken):
            if token.read_only and request.method not in permissions.SAFE_METHODS:
                raise exceptions.PermissionDenied(
                    gettext(
                        "This integration token is read-only: it reads through the API and "
                        "changes nothing. Create a read-write token for an integration that "
                        "writes."
                    )
                )
            # Recorded once the answer is made, outside the request's transaction: an error
            # answer rolls that back, and the row's lock would hold the token's other requests.
            request._request.integration_token_used = token  # type: ignore[attr-defined]
        return user, token

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if key.startswith(INTEGRATION_TOKEN_MARKER):
            return _integration_credentials(key)
        token = ApiToken.objects.select_related("user").filter(key=key).first()
        if token is None:
            raise exceptions.AuthenticationFailed(gettext("Invalid token."))
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(gettext("User inactive or deleted."))
        if not token.matches_password(user):
            raise exceptions.AuthenticationFailed(
                gettext(
                    "This API token was revoked when the password changed: ask for a new one "
                    "with POST /api/v1/auth/token/."
                )
            )
        _second_factor_check(user)
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                gettext(
                    "This API token has expired (tokens last %(days)s days): ask for a new one "
                    "with POST /api/v1/auth/token/."
                )
                % {"days": settings.API_TOKEN_DAYS}
            )
        return user, token


def _second_factor_check(user: Any, *, integration: bool = False) -> None:
    if not (staff_must_use_second_factor(user) and not has_second_factor(user)):
        return
    # Issued before the site required a second factor of staff: with a password alone.
    if integration:
        raise exceptions.AuthenticationFailed(
            gettext(
                "Your account now signs in in two steps: set it up on the site before your "
                "integration tokens work again."
            )
        )
    raise exceptions.AuthenticationFailed(
        gettext(
            "Your account now signs in in two steps: set it up on the site, then ask for "
            "a new API token with your code, with POST /api/v1/auth/token/."
        )
    )


def _integration_credentials(secret: str) -> tuple[Any, IntegrationToken]:
    token = IntegrationToken.objects.for_secret(secret)
    if token is None:
        raise exceptions.AuthenticationFailed(gettext("Invalid token."))
    user = token.user
    if not user.is_active:
        raise exceptions.AuthenticationFailed(gettext("User inactive or deleted."))
    if token.is_revoked:
        raise exceptions.AuthenticationFailed(
            gettext(
                "The integration token “%(name)s” was revoked: create a new one on the site "
                "(My integration tokens) or with POST /api/v1/auth/tokens/."
            )
            % {"name": token.name}
        )
    if not token.matches_password(user):
        raise exceptions.AuthenticationFailed(
            gettext(
                "The integration token “%(name)s” ended when the password changed: create a new "
                "one on the site (My integration tokens)."
            )
            % {"name": token.name}
        )
    _second_factor_check(user, integration=True)
    if token.is_expired:
        raise exceptions.AuthenticationFailed(
            gettext(
                "The integration token “%(name)s” expired on %(date)s: create a new one on the "
                "site (My integration tokens)."
            )
            % {"name": token.name, "date": timezone.localtime(token.expires_at).date().isoformat()}
        )
    return user, token


def note_use(token: IntegrationToken) -> None:
    """Record when the token was last used, at most once a minute: the conditional update
    makes the requests of the same minute, concurrent ones included, write nothing. Called by
    `consortium.middleware.IntegrationTokenUseMiddleware` once the answer is made, whatever it is,
    in a statement of its own."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    IntegrationToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
    ).update(last_used_at=now)
    token.last_used_at = now
