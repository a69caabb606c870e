"""Sign-in throttling with django-axes: after five wrong passwords for one name from one address,
that pair waits a quarter of an hour, on the partner pages and in the admin; a new password chosen
through the emailed link lifts the wait."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOME = "192.0.2.10"
OFFICE = "198.51.100.20"


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
    fail(5, "ana.lopez@umosane.example")
    assert login(Client(), "member-a").status_code == 429

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
    assert "try again in 15 minutes" in refused.json()["detail"]
    assert "token" not in refused.json()
    elsewhere = Client().post(
        url, {"username": "member-a", "password": PASSWORD}, REMOTE_ADDR=OFFICE
    )
    assert elsewhere.status_code == 200
    assert elsewhere.json()["token"]
