"""API tokens end with the password they were issued under, whatever changes it, and after
API_TOKEN_DAYS; `POST /api/v1/auth/token/` then gives a new one, and `DELETE` revokes it."""

from __future__ import annotations

import datetime
import getpass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consortium.models import ApiToken
from tests.api.conftest import PDF, api_client
from tests.assertions import api_errors
from tests.factories import PASSWORD
from tests.web import client_for

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "Fresh-Horse-99"  # noqa: S105  (the password a test changes to)


def _issue(username: str, password: str = PASSWORD) -> dict[str, Any]:
    answer = APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def _token(username: str, password: str = PASSWORD) -> str:
    return str(_issue(username, password)["token"])


def _call(key: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/consortia/")


def _revoked(key: str) -> bool:
    answer = _call(key)
    return answer.status_code == 401 and "password changed" in api_errors(answer)["detail"]


def test_a_password_changed_on_the_partner_pages_revokes_the_token(partner_member: Any) -> None:
    key = _token(partner_member.username)
    assert _call(key).status_code == 200

    changed = client_for(partner_member).post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302

    assert _revoked(key)
    # The new password gives a new token, which works.
    fresh = _token(partner_member.username, NEW_PASSWORD)
    assert fresh != key and _call(fresh).status_code == 200


def test_a_password_reset_through_the_emailed_link_revokes_the_token(partner_member: Any) -> None:
    key = _token(partner_member.username)
    client = Client()
    uid = urlsafe_base64_encode(force_bytes(partner_member.pk))
    link = reverse(
        "password_reset_confirm", args=[uid, default_token_generator.make_token(partner_member)]
    )
    form = client.get(link, follow=True)
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302

    assert _revoked(key)


def test_a_password_changed_in_the_admin_revokes_the_token(coordinator: Any) -> None:
    key = _token(coordinator.username)
    changed = client_for(coordinator).post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302

    assert _revoked(key)


def test_a_superuser_setting_someones_password_revokes_their_token(
    superuser: Any, partner_member: Any
) -> None:
    key = _token(partner_member.username)
    changed = client_for(superuser).post(
        reverse("admin:auth_user_password_change", args=[partner_member.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert changed.status_code == 302

    assert _revoked(key)


def test_changepassword_revokes_the_token(partner_member: Any, monkeypatch: Any) -> None:
    key = _token(partner_member.username)
    # The command reads the new password twice from the terminal.
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": NEW_PASSWORD)

    call_command("changepassword", partner_member.username)

    assert _revoked(key)


@pytest.mark.parametrize("how", ["set_password", "update"])
def test_any_other_way_of_setting_a_password_revokes_the_token(
    partner_member: Any, how: str
) -> None:
    """No hook to forget: the token is checked against the password at every request."""
    key = _token(partner_member.username)
    if how == "set_password":
        partner_member.set_password(NEW_PASSWORD)
        partner_member.save()
    else:
        User.objects.filter(pk=partner_member.pk).update(password=make_password(NEW_PASSWORD))

    assert _revoked(key)


def test_a_token_expires_after_the_configured_lifetime(
    partner_member: Any, settings: Any, time_machine: Any
) -> None:
    settings.API_TOKEN_DAYS = 30
    issued = _issue(partner_member.username)
    expires = datetime.datetime.fromisoformat(issued["expires"])
    assert expires - timezone.now() == pytest.approx(
        datetime.timedelta(days=30), abs=datetime.timedelta(minutes=1)
    )
    time_machine.move_to(timezone.now() + datetime.timedelta(days=29))
    assert _call(issued["token"]).status_code == 200
    # The same token while it holds.
    assert _token(partner_member.username) == issued["token"]

    time_machine.move_to(timezone.now() + datetime.timedelta(days=2))
    answer = _call(issued["token"])

    assert answer.status_code == 401
    assert api_errors(answer)["detail"] == (
        "This API token has expired (tokens last 30 days): ask for a new one with "
        "POST /api/v1/auth/token/."
    )
    assert answer["WWW-Authenticate"] == "Token"
    fresh = _token(partner_member.username)
    assert fresh != issued["token"] and _call(fresh).status_code == 200


def test_a_key_made_outside_the_token_endpoint_is_refused(partner_member: Any) -> None:
    """DRF's own table may hold keys made in the admin or by `drf_create_token`: without the
    password they were issued under, the API refuses them, and the endpoint replaces them."""
    bare = Token.objects.create(user=partner_member)
    assert _call(bare.key).status_code == 401
    fresh = _token(partner_member.username)
    assert fresh != bare.key and _call(fresh).status_code == 200
    assert Token.objects.filter(user=partner_member).count() == 1


def test_delete_still_revokes_the_token(partner_member: Any) -> None:
    key = _token(partner_member.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert _call(key).status_code == 401
    assert not ApiToken.objects.filter(user=partner_member).exists()


def test_a_revoked_token_no_longer_opens_files_either(partner_member: Any, expense: Any) -> None:
    """Files are served to the same token as the API, after the same checks."""
    owner = api_client(partner_member)
    stored = owner.put(
        f"/api/v1/expenses/{expense.pk}/evidence/",
        {"evidence": SimpleUploadedFile("invoice.pdf", PDF)},
        format="multipart",
    )
    assert stored.status_code == 200, stored.content
    link = stored.json()["evidence"].removeprefix("http://testserver")
    assert owner.get(link).status_code == 200
    partner_member.set_password(NEW_PASSWORD)
    partner_member.save()
    assert owner.get(link).status_code == 404
