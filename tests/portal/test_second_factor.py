"""Two-step sign-in: staff (coordinators, superusers) pass a second factor when the site requires
it, and anyone who has set one up does too. Codes are real TOTP codes computed from the device's
key on a clock held still (time-machine), moved on a time step between sign-ins: each code works
once."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from config.admin import ConsortiumAdminSite
from consortium import second_factor
from consortium.accounts import api_token_issue
from consortium.choices import SecondFactorEvent, SecondFactorState
from consortium.models import ApiToken, SecondFactorChange
from consortium.services import integration_token_issue
from consortium.views import second_factor as second_factor_pages
from tests import factories
from tests.assertions import api_errors
from tests.conftest import FROZEN_AT
from tests.web import client_for

pytestmark = pytest.mark.django_db

VERIFY = "/accounts/two-step/verify/"
SETUP = "/accounts/two-step/"
API = "/api/v1/consortia/"


@pytest.fixture
def clock(time_machine: Any) -> Any:
    """The suite's clock, held still: a code is the same from one request to the next."""
    time_machine.move_to(FROZEN_AT, tick=False)
    return time_machine


@pytest.fixture
def required(settings: Any) -> None:
    settings.OTP_REQUIRED_FOR_STAFF = True


def next_step(clock: Any) -> None:
    """Half a minute on: the app shows a new code (the last one used no longer works)."""
    clock.shift(datetime.timedelta(seconds=30))


def code_of(device: TOTPDevice) -> str:
    """The code the person's authenticator app shows now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def turn_on(user: Any, clock: Any) -> tuple[TOTPDevice, list[str]]:
    """The person sets up their app through the service, as the page does."""
    device = second_factor.totp_device_pending(user=user)
    codes = second_factor.totp_device_confirm(user=user, code=code_of(device))
    next_step(clock)
    device.refresh_from_db()
    return device, codes


def sign_in(user: Any) -> Client:
    """The password step, through the sign-in page."""
    client = Client()
    answer = client.post(
        reverse("login"), {"username": user.username, "password": factories.PASSWORD}
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    assert SESSION_KEY in client.session
    return client


def errors_of(answer: Any) -> str:
    return answer.content.decode()


# The rule, on every door ----------------------------------------------------------------------


def test_staff_pass_a_code_before_the_admin_the_pages_and_the_session_api(
    coordinator: Any, required: None, clock: Any
) -> None:
    device, _codes = turn_on(coordinator, clock)
    client = sign_in(coordinator)

    admin = client.get("/admin/")
    assert admin.status_code == 302
    assert admin["Location"] == f"{VERIFY}?next=/admin/"
    assert client.get("/admin/consortium/partner/")["Location"].startswith(VERIFY)
    assert client.get("/")["Location"].startswith(VERIFY)
    api = client.get(API)
    assert api.status_code == 403
    assert "two-step sign-in code" in api_errors(api)["detail"]

    verified = client.post(VERIFY, {"code": code_of(device), "next": "/admin/"})
    assert verified.status_code == 302
    assert verified["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get(API).status_code == 200


def test_staff_without_a_second_factor_set_it_up_first(
    coordinator: Any, required: None, clock: Any
) -> None:
    client = sign_in(coordinator)
    assert client.get("/admin/")["Location"] == f"{SETUP}?next=/admin/"
    # The API's docs page sends the person to the code step too; the API itself answers JSON.
    assert client.get("/api/docs/")["Location"] == f"{SETUP}?next=/api/docs/"
    assert client.get(API).status_code == 403
    assert client.get(VERIFY + "?next=/admin/")["Location"].startswith(SETUP)

    page = client.get(f"{SETUP}?next=/admin/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in text  # The QR code, inline: the page's policy allows no other image.
    device = TOTPDevice.objects.get(user=coordinator, confirmed=False)
    assert second_factor_pages._secret(device).replace(" ", "")[:16] in text.replace(" ", "")
    assert "<script" not in text

    wrong = client.post(SETUP, {"action": "confirm", "code": "000000", "next": "/admin/"})
    assert wrong.status_code == 200
    assert "This code is not right" in errors_of(wrong)
    assert not TOTPDevice.objects.filter(user=coordinator, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=coordinator).exists()
    assert not SecondFactorChange.objects.filter(user=coordinator).exists()
    assert client.get("/admin/").status_code == 302

    clock.shift(datetime.timedelta(seconds=2))  # django-otp's pause after a wrong code.
    done = client.post(SETUP, {"action": "confirm", "code": code_of(device), "next": "/admin/"})
    assert done.status_code == 200
    codes = list(
        StaticToken.objects.filter(device__user=coordinator).values_list("token", flat=True)
    )
    assert len(codes) == second_factor.RECOVERY_CODES
    assert all(code in done.content.decode() for code in codes)
    # The session that proved it holds the key goes on to the admin.
    assert client.get("/admin/").status_code == 200
    [change] = SecondFactorChange.objects.filter(user=coordinator)
    assert (change.event, change.old_state, change.new_state, change.changed_by) == (
        SecondFactorEvent.TURNED_ON,
        SecondFactorState.OFF,
        SecondFactorState.ON,
        coordinator,
    )
    # Shown once: the page now says how many are left, not which.
    again = client.get(SETUP).content.decode()
    assert "10 recovery codes are left" in again
    assert codes[0] not in again
    # New ones take a current code: a wrong one changes nothing.
    next_step(clock)
    refused = client.post(SETUP, {"action": "codes", "renew-code": "12345678"})
    assert refused.status_code == 200
    assert second_factor.wrong_code_message() in refused.content.decode()
    assert StaticToken.objects.filter(token=codes[0]).exists()
    renewed = client.post(SETUP, {"action": "codes", "renew-code": code_of(device)})
    assert renewed.status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()


def test_the_admin_site_refuses_an_unverified_staff_session(
    coordinator: Any, required: None, rf: Any
) -> None:
    request = rf.get("/admin/")
    request.user = coordinator
    coordinator.otp_device = None
    assert not ConsortiumAdminSite().has_permission(request)
    coordinator.otp_device = object()  # Verified in this session.
    assert ConsortiumAdminSite().has_permission(request)


def test_without_the_requirement_staff_without_a_device_go_on(coordinator: Any) -> None:
    assert client_for(coordinator).get("/admin/").status_code == 200


def test_the_ways_out_stay_open_before_the_code(
    coordinator: Any, required: None, clock: Any
) -> None:
    turn_on(coordinator, clock)
    client = sign_in(coordinator)
    assert client.get(reverse("password_reset")).status_code == 200
    assert client.get(VERIFY).status_code == 200
    assert client.post(reverse("language"), {"language": "fr", "next": VERIFY}).status_code == 302
    # The setup page of someone who has a second factor asks for the code first.
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    assert client.post(reverse("logout")).status_code == 302
    assert SESSION_KEY not in client.session


def test_api_tokens_are_not_asked_for_a_code(coordinator: Any, required: None, clock: Any) -> None:
    turn_on(coordinator, clock)
    token = api_token_issue(user=coordinator)
    client = sign_in(coordinator)  # An unverified session in the same client, too.
    assert client.get(API, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    # Another scheme would fall back on the session: refused like the session alone.
    assert client.get(API, HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==").status_code == 403


def test_wrong_passwords_still_pause_before_the_code_step(
    coordinator: Any, required: None, clock: Any
) -> None:
    turn_on(coordinator, clock)
    for attempt in range(1, 6):
        answer = Client().post(
            reverse("login"), {"username": coordinator.username, "password": "wrong"}
        )
        assert answer.status_code == (429 if attempt == 5 else 200)


# Codes: wrong, throttled, recovery ------------------------------------------------------------


def test_a_wrong_code_is_refused_clearly_and_changes_nothing(
    partner_member: Any, clock: Any
) -> None:
    device, _codes = turn_on(partner_member, clock)
    client = sign_in(partner_member)
    wrong = client.post(VERIFY, {"code": "123456"})
    assert wrong.status_code == 200
    assert "This code is not right" in errors_of(wrong)
    assert client.get("/")["Location"].startswith(VERIFY)
    # django-otp's throttling: the right code right after waits a second too.
    hurried = client.post(VERIFY, {"code": code_of(device)})
    assert "Too many wrong codes in a row: wait 1 second," in errors_of(hurried)
    clock.shift(datetime.timedelta(seconds=2))
    assert client.post(VERIFY, {"code": code_of(device)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_wrong_code_in_french(partner_member: Any, clock: Any) -> None:
    turn_on(partner_member, clock)
    client = sign_in(partner_member)
    wrong = client.post(VERIFY, {"code": "123456"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert "Ce code n’est pas le bon" in errors_of(wrong)


def test_a_recovery_code_works_once(partner_member: Any, clock: Any) -> None:
    _device, codes = turn_on(partner_member, clock)
    client = sign_in(partner_member)
    used = client.post(VERIFY, {"code": codes[0].upper()}, follow=True)
    assert used.redirect_chain[0][0] == reverse("dashboard")
    assert "9 recovery codes are left" in used.content.decode()

    client.post(reverse("logout"))
    client = sign_in(partner_member)
    again = client.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 200
    assert "This code is not right" in errors_of(again)
    assert StaticToken.objects.filter(device__user=partner_member).count() == 9


# A partner opts in, and out ------------------------------------------------------------------


def test_a_partner_turns_it_on_and_is_asked_at_the_next_sign_in(
    partner_member: Any, clock: Any
) -> None:
    client = sign_in(partner_member)
    assert client.get("/").status_code == 200  # Nothing asked of a partner who has none.
    page = client.get(SETUP).content.decode()
    assert "Two-step sign-in is off" in page
    device = TOTPDevice.objects.get(user=partner_member, confirmed=False)
    assert client.post(SETUP, {"action": "confirm", "code": code_of(device)}).status_code == 200
    assert client.get("/").status_code == 200  # This session proved it already.

    client.post(reverse("logout"))
    next_step(clock)
    client = sign_in(partner_member)
    assert client.get("/")["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"code": code_of(device)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_partner_turns_it_off_with_a_code(partner_member: Any, clock: Any) -> None:
    device, _codes = turn_on(partner_member, clock)
    client = sign_in(partner_member)
    client.post(VERIFY, {"code": code_of(device)})
    next_step(clock)

    wrong = client.post(SETUP, {"action": "off", "code": "000000"})
    assert "This code is not right" in errors_of(wrong)
    assert second_factor.has_second_factor(partner_member)

    clock.shift(datetime.timedelta(seconds=2))
    off = client.post(SETUP, {"action": "off", "code": code_of(device)})
    assert off.status_code == 302
    assert not TOTPDevice.objects.filter(user=partner_member).exists()
    assert not StaticDevice.objects.filter(user=partner_member).exists()
    change = SecondFactorChange.objects.filter(user=partner_member).latest("id")
    assert (change.event, change.old_state, change.new_state) == ("turned_off", "on", "off")

    client.post(reverse("logout"))
    assert sign_in(partner_member).get("/").status_code == 200


def test_staff_keep_it_while_it_is_required(coordinator: Any, settings: Any, clock: Any) -> None:
    device, _codes = turn_on(coordinator, clock)
    settings.OTP_REQUIRED_FOR_STAFF = True
    with pytest.raises(ValidationError) as refused:
        second_factor.second_factor_turn_off(user=coordinator, code=code_of(device))
    assert refused.value.code == "required"
    assert second_factor.has_second_factor(coordinator)
    settings.OTP_REQUIRED_FOR_STAFF = False
    second_factor.second_factor_turn_off(user=coordinator, code=code_of(device))
    assert not second_factor.has_second_factor(coordinator)


def test_new_recovery_codes_replace_the_old_ones(
    partner_member: Any, clock: Any, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    """Only with a current code (an open session is not enough), and the person is told."""
    device, old = turn_on(partner_member, clock)
    mail.outbox.clear()
    with pytest.raises(ValidationError) as refused:
        second_factor.recovery_codes_renew(user=partner_member, code="")
    assert refused.value.message_dict["code"] == [second_factor.wrong_code_message()]
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(old)
    with django_capture_on_commit_callbacks(execute=True):
        new = second_factor.recovery_codes_renew(user=partner_member, code=code_of(device))
    assert not set(old) & set(new)
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert SecondFactorChange.objects.filter(event="codes_renewed").count() == 1
    [told] = mail.outbox
    assert "new recovery codes were made" in told.body


def test_tokens_from_before_the_second_factor_end(
    partner_member: Any, coordinator: Any, clock: Any, settings: Any
) -> None:
    """A token issued with the password alone stops working once the person sets a second factor
    up, or once it is reset; a staff member's from before the site required one is refused until
    they set it up."""
    old = api_token_issue(user=partner_member)
    turn_on(partner_member, clock)
    assert not ApiToken.objects.filter(pk=old.pk).exists()
    assert APIClient().get(API, HTTP_AUTHORIZATION=f"Token {old.key}").status_code == 401

    staff_token = api_token_issue(user=coordinator)
    settings.OTP_REQUIRED_FOR_STAFF = True
    refused = APIClient().get(API, HTTP_AUTHORIZATION=f"Token {staff_token.key}")
    assert refused.status_code == 401
    assert "two steps" in api_errors(refused)["detail"]

    _device, _codes = turn_on(coordinator, clock)
    issued = api_token_issue(user=coordinator)
    assert APIClient().get(API, HTTP_AUTHORIZATION=f"Token {issued.key}").status_code == 200
    erp, erp_secret = integration_token_issue(
        user=coordinator, name="ERP sync", expires_in_days=90, read_only=False
    )
    assert APIClient().get(API, HTTP_AUTHORIZATION=f"Token {erp_secret}").status_code == 200
    second_factor.second_factor_reset(person=coordinator, user=None)
    assert not ApiToken.objects.filter(user=coordinator).exists()
    # The integrations' tokens end too, each in the history.
    erp.refresh_from_db()
    assert erp.revoked_at is not None
    assert erp.history.latest("history_id").revoked_at == erp.revoked_at
    assert APIClient().get(API, HTTP_AUTHORIZATION=f"Token {erp_secret}").status_code == 401


# A lost phone ---------------------------------------------------------------------------------


def test_a_coordinator_resets_a_locked_out_person_from_the_admin(
    coordinator: Any,
    partner_member: Any,
    clock: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    turn_on(partner_member, clock)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(coordinator).post(
            "/admin/auth/user/",
            {"action": "second_factor_reset", "_selected_action": [partner_member.pk]},
            follow=True,
        )
    assert "Two-step sign-in reset for 1 person" in answer.content.decode()
    assert not TOTPDevice.objects.filter(user=partner_member).exists()
    assert not StaticDevice.objects.filter(user=partner_member).exists()
    change = SecondFactorChange.objects.filter(user=partner_member).latest("id")
    assert (change.event, change.old_state, change.new_state, change.changed_by) == (
        "reset",
        "on",
        "off",
        coordinator,
    )
    assert change.changed_at == timezone.now()
    [email] = mail.outbox
    assert email.to == [partner_member.email]
    assert "two-step sign-in was reset" in email.body
    # The person's page shows it, with who did it.
    page = client_for(coordinator).get(f"/admin/auth/user/{partner_member.pk}/change/")
    assert "Reset · coordinator" in page.content.decode()
    # The person signs in with their password alone again.
    assert sign_in(partner_member).get("/").status_code == 200


def test_only_those_who_manage_the_person_reset_it(
    partner_member: Any, other_coordinator: Any, other_partner_member: Any, clock: Any
) -> None:
    turn_on(partner_member, clock)
    with pytest.raises(PermissionDenied):
        second_factor.second_factor_reset(person=partner_member, user=other_coordinator)
    with pytest.raises(PermissionDenied):
        second_factor.second_factor_reset(person=partner_member, user=other_partner_member)
    assert second_factor.has_second_factor(partner_member)
    assert not SecondFactorChange.objects.filter(event="reset").exists()


def test_an_operator_resets_it_with_a_command(coordinator: Any, clock: Any) -> None:
    turn_on(coordinator, clock)
    call_command("second_factor_reset", coordinator.email)
    assert not TOTPDevice.objects.filter(user=coordinator).exists()
    change = SecondFactorChange.objects.filter(user=coordinator).latest("id")
    assert (change.event, change.changed_by) == ("reset", None)


def _token(user: Any, **extra: str) -> Any:
    return APIClient().post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": factories.PASSWORD, **extra},
        format="json",
    )


def test_an_api_token_needs_the_same_second_factor_as_a_sign_in(
    required: None, clock: Any, coordinator: Any, partner_member: Any
) -> None:
    """The password alone gets no token from an account that signs in in two steps: staff set
    one up on the site first, then send the code with the password; a wrong code is refused
    and issues nothing."""
    refused = _token(coordinator)
    assert refused.status_code == 400
    assert "Set up two-step sign-in" in api_errors(refused)["code"][0]

    device, recovery = turn_on(coordinator, clock)
    without = _token(coordinator)
    assert without.status_code == 400
    assert "as `code`" in api_errors(without)["code"][0]
    wrong = _token(coordinator, code="000000" if code_of(device) != "000000" else "111111")
    assert wrong.status_code == 400
    assert api_errors(wrong)["code"] == [second_factor.wrong_code_message()]
    assert not ApiToken.objects.filter(user=coordinator).exists()

    next_step(clock)  # past the wait a wrong code brings
    issued = _token(coordinator, code=code_of(device))
    assert issued.status_code == 200, issued.content
    assert issued.json()["token"]
    next_step(clock)
    assert _token(coordinator, code=recovery[0]).status_code == 200

    # A partner who has not turned it on: the password, as before.
    assert _token(partner_member).status_code == 200
