"""A person's email address and API token.

Password reset links go to a person's address, so it changes only when the person confirms the
new one from that address (signed in, within a day), or by a superuser. The old address is told
either way, and every change is recorded (`EmailAddressChange`). An API token is one per person,
bound to the password it was issued under and lasting `API_TOKEN_DAYS`
(`consortium.authentication` checks both at every request).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from rest_framework.authtoken.models import Token

from consortium.backends import accounts_with_address
from consortium.emails import absolute, email_later
from consortium.models import (
    ApiToken,
    EmailAddressChange,
    language_of,
    password_fingerprint,
)
from consortium.teams import email_normalise, person_name, same_address

EMAIL_CHANGE_SALT = "consortium.email-change"


def _email_change_state(user: Any) -> str:
    """Changes with the address and the password: a confirmation link works once, and no longer
    after the password changes."""
    return salted_hmac(
        EMAIL_CHANGE_SALT, f"{user.pk}\0{user.email}\0{user.password}", algorithm="sha256"
    ).hexdigest()


@transaction.atomic
def user_email_change_request(*, user: Any, email: str, password: str) -> str:
    """Email a link confirming `email` as the person's new address to that address; nothing
    changes until they open it. Their password is asked again: a session left open must not be
    enough to send someone's password reset links elsewhere. Returns the address as stored."""
    errors: dict[str, str] = {}
    if not user.check_password(password):
        errors["password"] = gettext("This is not your current password.")
    email = email_normalise(email)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = gettext("Enter a valid email address.")
    else:
        if same_address(email, user.email):
            errors["email"] = gettext("This is already your email address.")
    if errors:
        raise ValidationError(errors, code="invalid")
    token = signing.dumps(
        {"user": user.pk, "email": email, "state": _email_change_state(user)},
        salt=EMAIL_CHANGE_SALT,
    )
    email_later(
        template="accounts/emails/email_change",
        context={
            "user": user,
            "email": email,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
            "link": absolute(reverse("email_change_confirm", args=[token])),
        },
        to=email,
        language=language_of(user),
    )
    return email


def email_change_target(*, user: Any, token: str) -> str:
    """The new address a confirmation link carries, if it is `user`'s, unused and in time."""
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.BadSignature as error:
        raise ValidationError(
            gettext(
                "This link no longer works: it has expired or has been used already. Ask for a "
                "new one on the email address page."
            ),
            code="link_invalid",
        ) from error
    if data.get("user") != user.pk:
        raise ValidationError(
            gettext(
                "This link changes the address of another account: sign out, then sign in with "
                "that account to open it."
            ),
            code="other_account",
        )
    if data.get("state") != _email_change_state(user):
        raise ValidationError(
            gettext(
                "This link no longer works: it has expired or has been used already. Ask for a "
                "new one on the email address page."
            ),
            code="link_invalid",
        )
    return str(data["email"])


@transaction.atomic
def user_email_change_confirm(*, user: Any, token: str) -> EmailAddressChange:
    """The person, signed in, confirms the address the link was sent to: it becomes theirs, and
    their old address is told."""
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    email = email_change_target(user=locked, token=token)
    if any(account.pk != locked.pk for account in accounts_with_address(email)):
        raise ValidationError(
            gettext("Another account already uses %(email)s: ask the consortium's coordinators.")
            % {"email": email},
            code="email_taken",
        )
    return _email_set(user=locked, email=email, changed_by=user)


@transaction.atomic
def user_email_set(*, user: Any, email: str, changed_by: Any) -> EmailAddressChange:
    """A superuser sets someone's address (the people admin); the old address is told."""
    if not (changed_by.is_active and changed_by.is_superuser):
        raise PermissionDenied(email_owner_only())
    email = email_normalise(email)
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError(
            {"email": gettext("Enter a valid email address.")}, code="invalid"
        ) from error
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    return _email_set(user=locked, email=email, changed_by=changed_by)


def email_owner_only() -> str:
    """Who changes an email address, where password reset links go: what every door says."""
    return gettext(
        "Only the person themself, confirming from the new address, or a superuser changes an "
        "email address."
    )


def _email_set(*, user: Any, email: str, changed_by: Any) -> EmailAddressChange:
    old = user.email
    user.email = email
    user.save(update_fields=["email"])
    change = EmailAddressChange.objects.create(
        user=user, old_email=old, new_email=email, changed_by=changed_by
    )
    if old and not same_address(old, email):
        email_later(
            template="accounts/emails/email_changed",
            context={
                "user": user,
                "old": old,
                "new": email,
                "when": change.changed_at,
                "by_self": changed_by is not None and changed_by.pk == user.pk,
                "by": person_name(changed_by),
            },
            to=old,
            language=language_of(user),
        )
    return change


@transaction.atomic
def api_token_issue(*, user: Any) -> ApiToken:
    """The person's API token: the same one while it holds, a new one once the password it was
    issued under has changed or it has expired (a key made elsewhere is replaced too)."""
    # One token per person: two requests at once get the same one.
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    current = ApiToken.objects.filter(user_id=locked.pk).first()
    if current is not None and current.matches_password(locked) and not current.is_expired:
        return current
    Token.objects.filter(user_id=locked.pk).delete()
    return ApiToken.objects.create(user=locked, password_fingerprint=password_fingerprint(locked))


@transaction.atomic
def api_token_revoke(*, user: Any) -> None:
    """Revoke the person's API token: requests sending it are refused from now on."""
    Token.objects.filter(user_id=user.pk).delete()
