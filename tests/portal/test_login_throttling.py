"""Sign-in throttling with django-axes: after five wrong passwords for one account (by its
username or its email address, however written) from one address, that pair waits a quarter of an
hour; after twenty from one address whatever the accounts, the address waits. Both hold on the
partner pages, in the admin and at the API's token endpoint; a new password chosen through the
emailed link lifts the account's wait."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests import factories
from tests.assertions import api_errors
from tests.portal.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOME = "192.0.2.10"
OFFICE = "198.51.100.20"
PROXY = "10.0.0.1"
TOKEN_URL = "/api/v1/auth/token/"  # noqa: S105  (an address, not a password)


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Any:
    # The token endpoint's own rate (10 a minute per address) is counted in the cache.
    cache.clear()
    yield
    cache.clear()


def login(
    client: Client, username: str, password: str = PASSWORD, *, address: str = HOME, **extra: Any
) -> Any:
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def fail(times: int, username: str = "member-a", *, address: str = HOME) -> None:
    """Wrong passwords: the form says so until the fifth, which is answered by the wait."""
    for attempt in range(1, times + 1):
        expected = 429 if attempt >= 5 else 200
        assert login(Client(), username, "wrong", address=address).status_code == expected


def test_the_limit_and_the_wait_are_the_documented_ones() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert datetime.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_five_wrong_passwords_lock_that_name_from_that_address(member: Any) -> None:
    fail(4)
    assert login(Client(), "member-a").status_code == 302  # The fifth try is still allowed.
    fail(5)

    client = Client()
    locked = login(client, "member-a")  # Even the right password now waits.
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many attempts" in page
    assert "paused for 15 minutes" in page
    assert reverse("password_reset") in page
    assert SESSION_KEY not in client.session
    # The name counts however it is typed.
    assert login(Client(), " MEMBER-A ").status_code == 429


def test_the_lock_holds_one_name_from_one_address_only(
    member: Any, other_partner_member: Any
) -> None:
    fail(5)
    assert login(Client(), "member-a").status_code == 429
    # The same person from another address, and a colleague from the same one, sign in.
    assert login(Client(), "member-a", address=OFFICE).status_code == 302
    other_partner_member.set_password(PASSWORD)
    other_partner_member.save()
    assert login(Client(), other_partner_member.username).status_code == 302


def test_a_successful_sign_in_clears_the_count(member: Any) -> None:
    fail(4)
    assert login(Client(), "member-a").status_code == 302
    fail(4)
    assert login(Client(), "member-a").status_code == 302
    assert not AccessAttempt.objects.filter(username="member-a").exists()


def test_the_lock_ends_after_the_wait_even_if_tried_meanwhile(member: Any) -> None:
    fail(5)
    locked_at = AccessAttempt.objects.get().attempt_time
    for _retry in range(3):  # Trying during the pause doesn't restart it.
        assert login(Client(), "member-a").status_code == 429
        assert login(Client(), "member-a", "wrong").status_code == 429
    assert AccessAttempt.objects.get().attempt_time == locked_at
    AccessAttempt.objects.update(attempt_time=locked_at - datetime.timedelta(minutes=16))
    assert login(Client(), "member-a").status_code == 302


def test_the_lock_page_speaks_french(member: Any) -> None:
    fail(5)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    locked = login(client, "member-a")
    assert locked.status_code == 429
    assert 'lang="fr"' in locked.content.decode()
    assert "Trop de tentatives" in locked.content.decode()


def test_a_new_password_through_the_emailed_link_lifts_the_lock(member: Any) -> None:
    fail(5)
    assert login(Client(), "member-a").status_code == 429
    assert login(Client(), "ana.lopez@umosane.example").status_code == 429

    client = Client()
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    token = default_token_generator.make_token(member)
    form = client.get(reverse("password_reset_confirm", args=[uid, token]), follow=True)
    assert form.status_code == 200
    new = "Another-Horse-43"
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, REMOTE_ADDR=HOME
    )
    assert done.status_code == 302

    assert login(Client(), "member-a", new).status_code == 302
    assert login(Client(), "ana.lopez@umosane.example", new).status_code == 302


def test_the_admin_sign_in_is_throttled_too(coordinator: Any) -> None:
    coordinator.set_password(PASSWORD)
    coordinator.save()
    url = reverse("admin:login")
    for attempt in range(1, 6):
        wrong = Client().post(
            url, {"username": coordinator.username, "password": "wrong"}, REMOTE_ADDR=HOME
        )
        assert wrong.status_code == (429 if attempt == 5 else 200)
    locked = Client().post(
        url, {"username": coordinator.username, "password": PASSWORD}, REMOTE_ADDR=HOME
    )
    assert locked.status_code == 429
    assert not Client().get(reverse("admin:index")).wsgi_request.user.is_authenticated


def test_behind_a_proxy_the_forwarded_address_counts(member: Any, settings: Any) -> None:
    """With API_NUM_PROXIES set, people behind the one proxy address are told apart by the
    address the proxy forwards, as the API's throttling does."""
    settings.API_NUM_PROXIES = 1
    proxy = {"address": "10.0.0.1"}
    for attempt in range(1, 6):
        answer = login(Client(), "member-a", "wrong", HTTP_X_FORWARDED_FOR=HOME, **proxy)
        assert answer.status_code == (429 if attempt == 5 else 200)
    assert login(Client(), "member-a", HTTP_X_FORWARDED_FOR=HOME, **proxy).status_code == 429
    assert login(Client(), "member-a", HTTP_X_FORWARDED_FOR=OFFICE, **proxy).status_code == 302


def test_the_api_token_endpoint_counts_the_same_failures(member: Any) -> None:
    """Guessing through the API is paused as through the page: the fifth wrong password and the
    right one after it are answered 429 with the wait, from that address only."""
    url = "/api/v1/auth/token/"
    for attempt in range(1, 6):
        wrong = Client().post(url, {"username": "member-a", "password": "wrong"}, REMOTE_ADDR=HOME)
        assert wrong.status_code == (429 if attempt == 5 else 400)
    refused = Client().post(url, {"username": "member-a", "password": PASSWORD}, REMOTE_ADDR=HOME)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"
    assert "try again in 15 minutes" in api_errors(refused)["detail"]
    assert "token" not in refused.json()
    elsewhere = Client().post(
        url, {"username": "member-a", "password": PASSWORD}, REMOTE_ADDR=OFFICE
    )
    assert elsewhere.status_code == 200
    assert elsewhere.json()["token"]


def test_the_username_and_the_email_address_count_as_one_account(member: Any) -> None:
    """Five wrong passwords for one account, whichever of its names is typed."""
    for attempt in range(1, 6):
        name = "member-a" if attempt % 2 else "ana.lopez@umosane.example"
        answer = login(Client(), name, "wrong")
        assert answer.status_code == (429 if attempt == 5 else 200), attempt
    assert login(Client(), "ANA.LOPEZ@umosane.example").status_code == 429


def test_unicode_variants_of_an_address_are_the_same_account(db: Any) -> None:
    """PostgreSQL's UPPER() takes a dotless ı for an i: such a variant must neither sign in as
    the account nor get a count of its own."""
    jim = factories.UserFactory(username="jim", email="jim@lab.example")
    jim.set_password(PASSWORD)
    jim.save()
    fail(5, "jim")
    for variant in ("JIM@LAB.EXAMPLE", "jim@lab.example", "jım@lab.example"):
        client = Client()
        assert login(client, variant).status_code in {200, 429}, variant
        assert SESSION_KEY not in client.session, variant


def test_one_address_guessing_across_accounts_is_paused(member: Any) -> None:
    """Twenty wrong passwords from one address, one per name, pause that address."""
    for n in range(1, 21):
        answer = login(Client(), f"guess-{n}", "wrong")
        assert answer.status_code == (429 if n == 20 else 200), n
    assert login(Client(), "member-a").status_code == 429
    assert login(Client(), "member-a", address=OFFICE).status_code == 302


def test_an_address_shared_by_two_accounts_is_counted_as_typed(member: Any) -> None:
    """An address two accounts use signs in neither: it is counted under its own text, and the
    accounts' usernames keep their own counts."""
    factories.UserFactory(username="ana2", email="ana.lopez@umosane.example")
    fail(5, "Ana.Lopez@umosane.example")
    assert login(Client(), "member-a").status_code == 302
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {
        "ana.lopez@umosane.example"
    }


def _door(door: str, name: str, password: str, **extra: Any) -> int:
    """Try a password at one of the three doors; the status code answered."""
    data = {"username": name, "password": password}
    url = {"page": reverse("login"), "admin": reverse("admin:login"), "api": TOKEN_URL}[door]
    return Client().post(url, data, **{"REMOTE_ADDR": HOME, **extra}).status_code


def _signed_in(door: str, status: int) -> bool:
    return status == (200 if door == "api" else 302)


@pytest.mark.parametrize("door", ["page", "admin", "api"])
def test_the_address_limit_holds_at_every_door_and_counts_across_them(
    door: str, member: Any, coordinator: Any
) -> None:
    coordinator.set_password(PASSWORD)
    coordinator.save()
    # Nineteen wrong passwords from one address, one per name, through the other two doors.
    others = [other for other in ("page", "admin", "api") if other != door]
    for n in range(1, 20):
        status = _door(others[n % 2] if n > 6 else others[0], f"guess-{n}", "wrong")
        assert status in {200, 400}, n
    # The twentieth, through this door, pauses the address, for every account and every door.
    assert _door(door, "guess-20", "wrong") == 429
    for other in ("page", "admin", "api"):
        assert _door(other, coordinator.username, PASSWORD) == 429, other
    assert _signed_in(door, _door(door, coordinator.username, PASSWORD, REMOTE_ADDR=OFFICE))


def test_the_address_page_says_the_address_is_paused(member: Any) -> None:
    for n in range(1, 21):
        login(Client(), f"guess-{n}", "wrong")
    page = login(Client(), "member-a").content.decode()
    assert "Signing in from it is paused for 15 minutes" in page
    answer = Client().post(
        TOKEN_URL, {"username": "member-a", "password": PASSWORD}, REMOTE_ADDR=HOME
    )
    assert answer.status_code == 429
    assert "Too many wrong passwords from your address" in api_errors(answer)["detail"]


def test_signing_in_does_not_clear_the_addresss_count(member: Any) -> None:
    """A guesser who signs in with their own account now and then still reaches the limit."""
    for n in range(1, 20):
        assert login(Client(), f"guess-{n}", "wrong").status_code == 200
        if n % 4 == 0:
            assert login(Client(), "member-a").status_code == 302
    assert login(Client(), "guess-20", "wrong").status_code == 429


def test_the_address_limit_is_a_setting(member: Any, settings: Any) -> None:
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 20
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    for n in range(1, 9):
        assert login(Client(), f"guess-{n}", "wrong").status_code == (429 if n == 8 else 200)


@pytest.mark.parametrize("door", ["page", "admin", "api"])
@pytest.mark.parametrize("proxies", [0, 1])
def test_a_forged_forwarded_for_header_changes_nothing(
    door: str, proxies: int, member: Any, coordinator: Any, settings: Any
) -> None:
    """Each try sends a different X-Forwarded-For. Without a proxy the header is ignored; behind
    one, only the entry the proxy added (the last) counts, whatever the client put before it."""
    settings.API_NUM_PROXIES = proxies
    coordinator.set_password(PASSWORD)
    coordinator.save()
    extra = {"REMOTE_ADDR": PROXY if proxies else HOME}
    for n in range(1, 6):
        forged = f"203.0.113.{n}, {HOME}" if proxies else f"203.0.113.{n}"
        status = _door(door, coordinator.username, "wrong", HTTP_X_FORWARDED_FOR=forged, **extra)
        assert status == (429 if n == 5 else (400 if door == "api" else 200)), n
    forged = f"203.0.113.99, {HOME}" if proxies else "203.0.113.99"
    assert _door(door, coordinator.username, PASSWORD, HTTP_X_FORWARDED_FOR=forged, **extra) == 429
    if proxies:
        # Another client behind the same proxy is not paused.
        status = _door(door, coordinator.username, PASSWORD, HTTP_X_FORWARDED_FOR=OFFICE, **extra)
        assert _signed_in(door, status)
