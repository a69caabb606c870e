"""How the API recognises a token: `Authorization: Token <key>`, checked against the password it
was issued under and its lifetime at every request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from consortium.models import ApiToken
from consortium.second_factor import has_second_factor, staff_must_use_second_factor


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's token authentication over `ApiToken`: a key DRF's own table holds without a binding
    (made in the admin or by `drf_create_token`) is refused like an unknown one, a key issued
    under a password since changed is refused, and so is one older than API_TOKEN_DAYS, and a
    staff member's while the site requires a second factor they have not set up (tokens of a
    person who sets one up, or whose is reset, are revoked then: `consortium/second_factor.py`)."""

    model = ApiToken

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
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
        if staff_must_use_second_factor(user) and not has_second_factor(user):
            # Issued before the site required a second factor of staff: with a password alone.
            raise exceptions.AuthenticationFailed(
                gettext(
                    "Your account now signs in in two steps: set it up on the site, then ask for "
                    "a new API token with your code, with POST /api/v1/auth/token/."
                )
            )
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                gettext(
                    "This API token has expired (tokens last %(days)s days): ask for a new one "
                    "with POST /api/v1/auth/token/."
                )
                % {"days": settings.API_TOKEN_DAYS}
            )
        return user, token
