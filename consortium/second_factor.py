"""A person's second factor at sign-in: an authenticator app (TOTP, django-otp) and recovery
codes for the day the phone is lost.

The rule is `second_factor_due(user)`: a signed-in person passes a second factor before anything
else when they are staff (coordinators, superusers) and `OTP_REQUIRED_FOR_STAFF` is on, or when
they have set one up themselves; until they have, in this session. Every door asks it: the
middleware for every page and for the API called with the session (`consortium/middleware.py`),
and the admin site's `has_permission` (`config/admin.py`). An API token is a factor of its own:
requests that carry one are not asked.

Codes are checked by django-otp, whose throttling stays on: after a wrong code the next try waits
1 s, then 2 s, 4 s… A wrong code changes nothing else. Every change of a person's second factor
(turned on, turned off, reset after a lost phone, new recovery codes) is recorded as a
`SecondFactorChange` (who, when, before, after) and told to the person by email.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from consortium.choices import SecondFactorEvent, SecondFactorState
from consortium.emails import email_later
from consortium.models import ApiToken, SecondFactorChange, language_of
from consortium.querysets import people_managed_alone
from consortium.services import integration_tokens_end
from consortium.teams import person_name

# How many recovery codes a person receives at once; each works once.
RECOVERY_CODES = 10
# The device names people read in the admin's device lists (superusers only).
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
# Cached on the user object: the rule is asked on every request.
_HAS_SECOND_FACTOR = "_has_second_factor"


# The rule -------------------------------------------------------------------------------------


def has_second_factor(user: Any) -> bool:
    """Whether the person has set up a second factor: a confirmed authenticator app (their
    recovery codes come and go with it). One query, cached on the user object."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, _HAS_SECOND_FACTOR, None)
    if cached is None:
        cached = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        setattr(user, _HAS_SECOND_FACTOR, cached)
    return bool(cached)


def staff_must_use_second_factor(user: Any) -> bool:
    """Whether the person's role asks for a second factor: staff, while the site requires it."""
    return bool(settings.OTP_REQUIRED_FOR_STAFF and (user.is_staff or user.is_superuser))


def second_factor_required(user: Any) -> bool:
    """Whether the person signs in with a second factor: staff when required, and anyone who
    has set one up."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    return staff_must_use_second_factor(user) or has_second_factor(user)


def second_factor_passed(user: Any) -> bool:
    """Whether this session's person has passed a second factor since signing in."""
    return getattr(user, "otp_device", None) is not None


def second_factor_due(user: Any) -> bool:
    """The rule every door asks: this signed-in person must pass a second factor now, before
    any page, the admin or the API with their session."""
    return (
        getattr(user, "is_authenticated", False)
        and not second_factor_passed(user)
        and second_factor_required(user)
    )


def second_factor_enrolment_due(user: Any) -> bool:
    """Whether the person owes a second factor they have not set up yet: staff sent to set one
    up before anything else."""
    return second_factor_due(user) and not has_second_factor(user)


def may_turn_off(user: Any) -> bool:
    """Partners and observers turn their second factor off; staff only while it is not
    required of them."""
    return not staff_must_use_second_factor(user)


# Checking a code ----------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    """A code as typed, without the spaces and dashes people copy with it, in lower case."""
    return "".join(code.split()).replace("-", "").lower()


def _is_app_code(code: str) -> bool:
    # Authenticator apps show 6 digits; recovery codes are 8 letters and digits.
    return len(code) == 6 and code.isdigit()


def _wait_message(locked_until: datetime.datetime) -> str:
    seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
    return ngettext(
        "Too many wrong codes in a row: wait %(seconds)s second, then enter the code your app "
        "shows at that moment.",
        "Too many wrong codes in a row: wait %(seconds)s seconds, then enter the code your app "
        "shows at that moment.",
        seconds,
    ) % {"seconds": seconds}


def _verify(device: Any, code: str) -> bool:
    """django-otp's check of `code` on `device`, under the device's lock. A wrong code counts
    towards the device's throttling, and that count is kept: the caller raises its refusal
    outside this block, so the request's transaction saves it."""
    with transaction.atomic():
        locked = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, details = locked.verify_is_allowed()
        if not allowed:
            raise _Throttled((details or {}).get("locked_until"))
        return bool(locked.verify_token(code))


class _Throttled(Exception):
    def __init__(self, locked_until: datetime.datetime | None) -> None:
        super().__init__()
        self.locked_until = locked_until or timezone.now()


def _check(device: Any, code: str, wrong: str) -> None:
    """Accept `code` on `device`, or raise the refusal: `wrong`, or how long to wait."""
    try:
        verified = _verify(device, code)
    except _Throttled as throttled:
        raise ValidationError(
            {"code": _wait_message(throttled.locked_until)}, code="throttled"
        ) from None
    if not verified:
        raise ValidationError({"code": wrong}, code="wrong_code")


def wrong_code_message() -> str:
    return gettext(
        "This code is not right. Enter the 6-digit code your authenticator app shows now, or "
        "one of your recovery codes."
    )


def second_factor_check(*, user: Any, code: str) -> Device:
    """The device that accepts `code`: the authenticator app's current code (each code works
    once), or one of the person's recovery codes (used up at once). The view then marks the
    session as verified with it."""
    code = normalise_code(code)
    if _is_app_code(code):
        device: Any = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    else:
        device = StaticDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    if device is None and not has_second_factor(user):
        raise ValidationError(
            {"code": gettext("You have not set up two-step sign-in.")}, code="no_second_factor"
        )
    if device is None or not code:
        raise ValidationError({"code": wrong_code_message()}, code="wrong_code")
    _check(device, code, wrong_code_message())
    return device


def token_second_factor_check(*, user: Any, code: str) -> None:
    """An API token is a factor of its own, so it is issued after the same second factor as a
    sign-in: the person's code (or a recovery code) with their password, when they must pass
    one; staff who must but have not set one up do so on the site first."""
    if not second_factor_required(user):
        return
    if not has_second_factor(user):
        raise ValidationError(
            {
                "code": gettext(
                    "Set up two-step sign-in on the site (Two-step sign-in, under your name) "
                    "before asking for an API token."
                )
            },
            code="no_second_factor",
        )
    if not normalise_code(code):
        raise ValidationError(
            {
                "code": gettext(
                    "Your account signs in in two steps: send the 6-digit code your "
                    "authenticator app shows now, or one of your recovery codes, as `code`."
                )
            },
            code="code_required",
        )
    second_factor_check(user=user, code=code)


def recovery_codes_left(user: Any) -> int:
    """How many of the person's recovery codes are still unused."""
    return StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()


# Setting it up, turning it off ----------------------------------------------------------------


def totp_device_pending(*, user: Any) -> TOTPDevice:
    """The authenticator key the person is setting up: kept unconfirmed, and shown again on
    each visit, until a code from the app confirms it. It counts for nothing before."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def totp_device_confirm(*, user: Any, code: str) -> list[str]:
    """Turn the person's second factor on: a code from their app proves it holds the key being
    set up. Returns their recovery codes, shown once. A wrong code leaves it off."""
    if has_second_factor(user):
        raise ValidationError(
            {"code": gettext("Two-step sign-in is already on for your account.")},
            code="already_on",
        )
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("pk").first()
    if device is None:
        raise ValidationError(
            {"code": gettext("Open the two-step sign-in page again to get a new key.")},
            code="no_pending_key",
        )
    _check(
        device,
        normalise_code(code),
        gettext(
            "This code is not right. Check that your app shows the Consortium Manager account "
            "you have just added, and enter the code it shows now."
        ),
    )
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        codes = _recovery_codes_new(user)
        # A token issued with the password alone ends: the next one comes with a code.
        ApiToken.objects.filter(user_id=user.pk).delete()
        _record(user, SecondFactorEvent.TURNED_ON, SecondFactorState.OFF, by=user)
    setattr(user, _HAS_SECOND_FACTOR, True)
    return codes


def device_confirmed(user: Any) -> TOTPDevice:
    """The person's authenticator app, once confirmed (to mark the session verified with it)."""
    return TOTPDevice.objects.get(user_id=user.pk, confirmed=True)


def recovery_codes_renew(*, user: Any, code: str) -> list[str]:
    """New recovery codes for the person, shown once, with a current code from their app (or a
    recovery code): a session left open is not enough to mint ten new second factors. The
    previous codes stop working, and the person is told by email."""
    if not has_second_factor(user):
        raise ValidationError(
            gettext("Turn two-step sign-in on first: recovery codes come with it."),
            code="no_second_factor",
        )
    second_factor_check(user=user, code=code)
    with transaction.atomic():
        codes = _recovery_codes_new(user)
        _record(user, SecondFactorEvent.CODES_RENEWED, SecondFactorState.ON, by=user)
    return codes


def second_factor_turn_off(*, user: Any, code: str) -> SecondFactorChange:
    """The person turns their second factor off, with a current code (or a recovery code);
    staff keep it while the site requires it of them."""
    if not may_turn_off(user):
        raise ValidationError(
            gettext(
                "Coordinators and administrators sign in with two-step sign-in on this site: "
                "it stays on. To move it to a new phone, ask another coordinator or an "
                "administrator to reset it, then set it up again."
            ),
            code="required",
        )
    if not has_second_factor(user):
        raise ValidationError(
            gettext("Two-step sign-in is already off for your account."), code="already_off"
        )
    second_factor_check(user=user, code=code)
    with transaction.atomic():
        _devices_delete(user)
        return _record(user, SecondFactorEvent.TURNED_OFF, SecondFactorState.ON, by=user)


def may_reset(user: Any, person: Any) -> bool:
    """Superusers reset anyone's second factor; a coordinator those of the people whose account
    they manage alone (who take part in no other consortium)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return bool(user.is_superuser or people_managed_alone(user).filter(pk=person.pk).exists())


@transaction.atomic
def second_factor_reset(*, person: Any, user: Any) -> SecondFactorChange:
    """Remove a locked-out person's authenticator app and recovery codes (a lost phone). They
    sign in with their password again, and set it up anew (staff at once, when required).
    `user` is the coordinator or superuser who does it, None for an operator's command."""
    if user is not None and not may_reset(user, person):
        raise PermissionDenied(
            gettext(
                "Only a superuser, or a coordinator of every consortium the person works in, "
                "resets their two-step sign-in."
            )
        )
    locked = get_user_model()._default_manager.select_for_update().get(pk=person.pk)
    if not _devices_exist(locked):
        raise ValidationError(
            gettext("%(person)s has no two-step sign-in to reset.")
            % {"person": person_name(locked)},
            code="already_off",
        )
    old = SecondFactorState.ON if has_second_factor(locked) else SecondFactorState.OFF
    _devices_delete(locked)
    # Tokens were issued with the factor just removed: whoever has the phone keeps no access.
    ApiToken.objects.filter(user_id=locked.pk).delete()
    integration_tokens_end(user=locked, by=user)
    return _record(locked, SecondFactorEvent.RESET, old, by=user)


def second_factor_state(user: Any) -> SecondFactorState:
    return SecondFactorState.ON if has_second_factor(user) else SecondFactorState.OFF


# The devices and the record ------------------------------------------------------------------


def _recovery_codes_new(user: Any) -> list[str]:
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _devices_exist(user: Any) -> bool:
    return (
        TOTPDevice.objects.filter(user_id=user.pk).exists()
        or StaticDevice.objects.filter(user_id=user.pk).exists()
    )


def _devices_delete(user: Any) -> None:
    TOTPDevice.objects.filter(user_id=user.pk).delete()
    StaticDevice.objects.filter(user_id=user.pk).delete()
    setattr(user, _HAS_SECOND_FACTOR, False)


def _record(
    person: Any,
    event: SecondFactorEvent,
    old: SecondFactorState,
    *,
    by: Any,
    tell: bool = True,
) -> SecondFactorChange:
    new = (
        SecondFactorState.ON
        if event in (SecondFactorEvent.TURNED_ON, SecondFactorEvent.CODES_RENEWED)
        else SecondFactorState.OFF
    )
    change = SecondFactorChange.objects.create(
        user=person, event=event, old_state=old, new_state=new, changed_by=by
    )
    if tell and person.email:
        email_later(
            template="accounts/emails/second_factor_changed",
            context={
                "user": person,
                "event": event.value,
                "when": change.changed_at,
                "by_self": by is not None and by.pk == person.pk,
                "by": person_name(by) if by is not None else "",
            },
            to=person.email,
            language=language_of(person),
        )
    return change
