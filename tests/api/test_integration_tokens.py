"""Integration tokens: a person's named tokens, several at once, each with its date, read-only or
read-write, stored as a digest; revoking one leaves the others, a password change ends them all,
issuing and revoking are in the history. The personal token of `/api/v1/auth/token/` is
unchanged (tests/api/test_tokens.py)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from rest_framework.test import APIClient

from consortium.models import IntegrationToken
from consortium.services import integration_token_issue, integration_token_revoke
from tests import factories
from tests.api.conftest import api_client
from tests.assertions import api_errors

pytestmark = pytest.mark.django_db

READ_ONLY = "This integration token is read-only"


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def _issue(user: Any, name: str, **options: Any) -> tuple[IntegrationToken, str]:
    return integration_token_issue(
        user=user,
        name=name,
        expires_in_days=options.get("expires_in_days", 90),
        read_only=options.get("read_only", False),
    )


def test_two_tokens_work_and_revoking_one_leaves_the_other(partner_member: Any) -> None:
    erp, erp_secret = _issue(partner_member, "ERP sync")
    _bi, bi_secret = _issue(partner_member, "Power BI")
    assert _client(erp_secret).get("/api/v1/consortia/").status_code == 200
    assert _client(bi_secret).get("/api/v1/consortia/").status_code == 200

    integration_token_revoke(token=erp, by=partner_member)

    refused = _client(erp_secret).get("/api/v1/consortia/")
    assert refused.status_code == 401
    assert "“ERP sync” was revoked" in api_errors(refused)["detail"]
    assert _client(bi_secret).get("/api/v1/consortia/").status_code == 200


def test_only_the_digest_of_the_secret_is_stored(partner_member: Any) -> None:
    token, secret = _issue(partner_member, "ERP sync")
    assert secret.startswith("cmi_") and len(secret) > 40
    stored = IntegrationToken.objects.filter(pk=token.pk).values().get()
    assert secret not in {str(value) for value in stored.values()}
    assert stored["secret_digest"] == IntegrationToken.digest(secret)
    assert stored["prefix"] == secret[:12]
    history = token.history.values().first()
    assert history is not None and "secret_digest" not in history


def test_an_expired_token_is_refused(partner_member: Any, time_machine: Any) -> None:
    _token, secret = _issue(partner_member, "ERP sync", expires_in_days=30)
    time_machine.move_to(timezone.now() + datetime.timedelta(days=29))
    assert _client(secret).get("/api/v1/consortia/").status_code == 200
    time_machine.move_to(timezone.now() + datetime.timedelta(days=2))
    refused = _client(secret).get("/api/v1/consortia/")
    assert refused.status_code == 401
    assert "“ERP sync” expired on" in api_errors(refused)["detail"]


def test_a_read_only_token_reads_and_changes_nothing(partner_member: Any, job: Any) -> None:
    _token, secret = _issue(partner_member, "Power BI", read_only=True)
    client = _client(secret)
    assert client.get("/api/v1/jobs/").status_code == 200
    for method, path in [
        ("post", f"/api/v1/jobs/{job.pk}/withdraw/"),
        ("patch", f"/api/v1/jobs/{job.pk}/"),
        ("delete", "/api/v1/auth/token/"),
    ]:
        answer = getattr(client, method)(path, {}, format="json")
        assert answer.status_code == 403, (method, path, answer.content)
        assert api_errors(answer)["detail"].startswith(READ_ONLY)
    job.refresh_from_db()
    assert job.status == "forecast"


def test_a_read_write_token_writes_in_its_owners_name(partner_member: Any, job: Any) -> None:
    _token, secret = _issue(partner_member, "ERP sync")
    answer = _client(secret).post(f"/api/v1/jobs/{job.pk}/withdraw/", {}, format="json")
    assert answer.status_code == 200, answer.content
    assert job.history.latest("history_id").history_user == partner_member


@pytest.mark.parametrize("how", ["set_password", "update"])
def test_a_password_change_ends_every_token(partner_member: Any, how: str) -> None:
    _erp, erp_secret = _issue(partner_member, "ERP sync")
    _bi, bi_secret = _issue(partner_member, "Power BI")
    if how == "set_password":
        partner_member.set_password("Fresh-Horse-99")
        partner_member.save()
    else:
        get_user_model().objects.filter(pk=partner_member.pk).update(
            password=make_password("Fresh-Horse-99")
        )
    for secret in (erp_secret, bi_secret):
        refused = _client(secret).get("/api/v1/consortia/")
        assert refused.status_code == 401
        assert "ended when the password changed" in api_errors(refused)["detail"]
    listed = api_client(partner_member).get("/api/v1/auth/tokens/").json()["results"]
    assert {row["state"] for row in listed} == {"password_changed"}


def test_an_inactive_persons_token_is_refused(partner_member: Any) -> None:
    _token, secret = _issue(partner_member, "ERP sync")
    get_user_model().objects.filter(pk=partner_member.pk).update(is_active=False)
    assert _client(secret).get("/api/v1/consortia/").status_code == 401


def test_staff_without_the_required_second_factor_are_refused(
    coordinator: Any, settings: Any
) -> None:
    _token, secret = _issue(coordinator, "ERP sync")
    settings.OTP_REQUIRED_FOR_STAFF = True
    refused = _client(secret).get("/api/v1/consortia/")
    assert refused.status_code == 401
    assert "two steps" in api_errors(refused)["detail"]


def test_an_unknown_secret_is_refused(partner_member: Any) -> None:
    token, secret = _issue(partner_member, "ERP sync")
    forged = token.prefix + "x" * (len(secret) - len(token.prefix))
    assert _client(forged).get("/api/v1/consortia/").status_code == 401


def test_last_used_moves_at_most_once_a_minute(partner_member: Any, time_machine: Any) -> None:
    token, secret = _issue(partner_member, "ERP sync")
    assert token.last_used_at is None
    client = _client(secret)
    client.get("/api/v1/consortia/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    time_machine.move_to(timezone.now() + datetime.timedelta(seconds=30))
    client.get("/api/v1/consortia/")
    token.refresh_from_db()
    assert token.last_used_at == first
    time_machine.move_to(timezone.now() + datetime.timedelta(seconds=31))
    client.get("/api/v1/consortia/")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > first


def test_a_refused_request_still_counts_as_a_use(partner_member: Any) -> None:
    """The refusal rolls the request's writes back; the token's use is recorded all the same."""
    token, secret = _issue(partner_member, "ERP sync", read_only=False)
    refused = _client(secret).post("/api/v1/expenses/", {"amount": "-1"}, format="json")
    assert refused.status_code == 400
    assert not refused.has_header("ETag")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_issuing_and_revoking_are_in_the_history(partner_member: Any) -> None:
    token, _secret = _issue(partner_member, "ERP sync")
    integration_token_revoke(token=token, by=partner_member)
    rows = list(token.history.order_by("history_id"))
    assert [(row.history_type, row.history_user) for row in rows] == [
        ("+", partner_member),
        ("~", partner_member),
    ]
    assert rows[0].revoked_at is None and rows[1].revoked_at is not None


def test_the_api_creates_lists_and_revokes_the_persons_tokens(partner_member: Any) -> None:
    client = api_client(partner_member)
    created = client.post(
        "/api/v1/auth/tokens/",
        {"name": "ERP sync", "expires_in_days": 30, "read_only": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token"].startswith(body["prefix"]) and body["read_only"] is True
    assert _client(body["token"]).get("/api/v1/consortia/").status_code == 200

    listed = client.get("/api/v1/auth/tokens/").json()["results"]
    assert [row["name"] for row in listed] == ["ERP sync"]
    assert "token" not in listed[0]

    revoked = client.post(f"/api/v1/auth/tokens/{body['id']}/revoke/", {}, format="json")
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["state"] == "revoked"
    again = client.post(f"/api/v1/auth/tokens/{body['id']}/revoke/", {}, format="json")
    assert again.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "expires_in_days": 30}, "name"),
        ({"name": "   ", "expires_in_days": 30}, "name"),
        ({"name": "ERP sync", "expires_in_days": 7}, "expires_in_days"),
        ({"name": "ERP sync", "expires_in_days": 5000}, "expires_in_days"),
        ({"name": "erp SYNC", "expires_in_days": 30}, "name"),
    ],
)
def test_the_api_refuses_bad_input_and_changes_nothing(
    partner_member: Any, body: dict[str, Any], field: str
) -> None:
    _issue(partner_member, "ERP sync")
    count = IntegrationToken.objects.count()
    answer = api_client(partner_member).post("/api/v1/auth/tokens/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in api_errors(answer)
    assert IntegrationToken.objects.count() == count


def test_an_expired_tokens_name_may_be_taken_again(partner_member: Any, time_machine: Any) -> None:
    old, _secret = _issue(partner_member, "ERP sync", expires_in_days=30)
    time_machine.move_to(timezone.now() + datetime.timedelta(days=31))
    new, _secret = _issue(partner_member, "ERP sync")
    old.refresh_from_db()
    assert old.revoked_at is not None and new.revoked_at is None


def test_the_lifetime_is_capped_by_the_site(partner_member: Any, settings: Any) -> None:
    settings.INTEGRATION_TOKEN_MAX_DAYS = 90
    answer = api_client(partner_member).post(
        "/api/v1/auth/tokens/", {"name": "ERP sync", "expires_in_days": 365}, format="json"
    )
    assert answer.status_code == 400
    assert "30, 90" in api_errors(answer)["expires_in_days"][0]


def test_another_persons_token_is_a_404(partner_member: Any, other_partner_member: Any) -> None:
    theirs = factories.IntegrationTokenFactory(user=other_partner_member)
    client = api_client(partner_member)
    answer = client.post(f"/api/v1/auth/tokens/{theirs.pk}/revoke/", {}, format="json")
    assert answer.status_code == 404
    assert client.get("/api/v1/auth/tokens/").json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_an_integration_token_does_not_manage_tokens(partner_member: Any) -> None:
    token, secret = _issue(partner_member, "ERP sync")
    client = _client(secret)
    for answer in [
        client.get("/api/v1/auth/tokens/"),
        client.post("/api/v1/auth/tokens/", {"name": "More", "expires_in_days": 30}),
        client.post(f"/api/v1/auth/tokens/{token.pk}/revoke/", {}),
    ]:
        assert answer.status_code == 403, answer.content
        assert "does not manage tokens" in api_errors(answer)["detail"]
    assert IntegrationToken.objects.filter(user=partner_member).count() == 1


def test_the_personal_token_still_works_beside_them(partner_member: Any) -> None:
    _issue(partner_member, "ERP sync")
    answer = APIClient().post(
        "/api/v1/auth/token/",
        {"username": partner_member.username, "password": factories.PASSWORD},
        format="json",
    )
    assert answer.status_code == 200
    assert _client(answer.json()["token"]).get("/api/v1/consortia/").status_code == 200
