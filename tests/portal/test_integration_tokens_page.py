"""The integration tokens page: the person's tokens, a form creating one whose secret is shown
once, and a revoke button per token; bad input is refused with a message and changes nothing."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consortium.models import IntegrationToken
from tests import factories
from tests.web import client_for

pytestmark = pytest.mark.django_db

PAGE = "/accounts/tokens/"


def _text(response: Any) -> str:
    return html.unescape(response.content.decode())


def test_creating_a_token_shows_its_secret_once(partner_member: Any) -> None:
    client = client_for(partner_member)
    assert reverse("integration-tokens") == PAGE
    created = client.post(PAGE, {"name": "ERP sync", "expires_in_days": "90", "read_only": "on"})
    assert created.status_code == 200
    token = IntegrationToken.objects.get(user=partner_member)
    assert token.read_only and token.name == "ERP sync"
    shown = _text(created)
    secret = shown.split('id="token-secret">')[1].split("<")[0]
    assert secret.startswith(token.prefix)
    assert IntegrationToken.digest(secret) == token.secret_digest
    assert "no-store" in created["Cache-Control"]

    listing = _text(client.get(PAGE))
    assert "ERP sync" in listing and token.prefix in listing
    assert secret not in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "expires_in_days": "90"}, "This field is required."),
        ({"name": "erp SYNC", "expires_in_days": "90"}, "You already have a token named"),
        ({"name": "Power BI", "expires_in_days": "7"}, "Select a valid choice."),
        ({"name": "Power BI", "expires_in_days": "many"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    partner_member: Any, data: dict[str, str], message: str
) -> None:
    factories.IntegrationTokenFactory(user=partner_member, name="ERP sync")
    count = IntegrationToken.objects.count()
    history = IntegrationToken.history.count()
    answer = client_for(partner_member).post(PAGE, data)
    assert answer.status_code == 200
    assert message in _text(answer)
    assert 'id="token-secret"' not in _text(answer)
    assert IntegrationToken.objects.count() == count
    assert IntegrationToken.history.count() == history


def test_revoking_one_token_leaves_the_others(partner_member: Any) -> None:
    erp = factories.IntegrationTokenFactory(user=partner_member, name="ERP sync")
    bi = factories.IntegrationTokenFactory(user=partner_member, name="Power BI")
    client = client_for(partner_member)
    answer = client.post(reverse("integration-token-revoke", args=[erp.pk]), follow=True)
    assert answer.status_code == 200
    assert "The token “ERP sync” is revoked" in _text(answer)
    erp.refresh_from_db()
    bi.refresh_from_db()
    assert erp.revoked_by == partner_member and erp.revoked_at is not None
    assert bi.revoked_at is None
    # Revoking it again changes nothing and says why.
    again = client.post(reverse("integration-token-revoke", args=[erp.pk]), follow=True)
    assert "already revoked" in _text(again)
    assert erp.history.count() == 2


def test_revoking_is_a_post(partner_member: Any) -> None:
    token = factories.IntegrationTokenFactory(user=partner_member)
    answer = client_for(partner_member).get(reverse("integration-token-revoke", args=[token.pk]))
    assert answer.status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_another_persons_token_is_a_404(partner_member: Any, other_partner_member: Any) -> None:
    theirs = factories.IntegrationTokenFactory(user=other_partner_member, name="Their ERP")
    client = client_for(partner_member)
    answer = client.post(reverse("integration-token-revoke", args=[theirs.pk]))
    assert answer.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert "Their ERP" not in _text(client.get(PAGE))


def test_the_page_needs_a_signed_in_person() -> None:
    answer = Client().get(PAGE)
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/")
