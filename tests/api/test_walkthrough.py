"""An ERP's day through the API: a token, a draft expense, its submission, the coordinator's
acceptance, and the consortium summary's consumed amount moving by exactly that amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db


def _token(username: str) -> APIClient:
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token/", {"username": username, "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 200, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


def _consumed(client: APIClient, consortium: Any) -> Decimal:
    answer = client.get(f"/api/v1/consortia/{consortium.pk}/summary/")
    assert answer.status_code == 200, answer.content
    assert (answer.json()["partners"], answer.json()["workpackages"]) == (2, 1)
    return Decimal(answer.json()["budget"]["consumed"])


def test_expense_from_draft_to_accepted_moves_the_summary(
    consortium: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
    partner_member: Any,
    coordinator: Any,
) -> None:
    erp = _token(partner_member.username)
    coordination = _token(coordinator.username)
    before = _consumed(coordination, consortium)
    partner_view_before = _consumed(erp, consortium)

    created = erp.post(
        "/api/v1/expenses/",
        {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": personnel.pk,
            "period": period.pk,
            "incurred_on": "2024-03-15",
            "amount": "4321.09",
            "description": "Senior scientist, March 2024",
            "invoice_reference": "PAY-2024-03",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft"
    assert body["amount"] == "4321.09"
    assert body["consortium"] == consortium.pk
    expense_id = body["id"]

    submitted = erp.post(f"/api/v1/expenses/{expense_id}/submit/")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["submitted_at"]

    # The partner can't decide on its own expense.
    in_full = {"in_full": True}
    assert (
        erp.post(f"/api/v1/expenses/{expense_id}/accept/", in_full, format="json").status_code
        == 403
    )
    assert _consumed(coordination, consortium) == before

    accepted = coordination.post(f"/api/v1/expenses/{expense_id}/accept/", in_full, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["accepted_amount"] == "4321.09"
    assert accepted.json()["reviewed_by"] == coordinator.username

    assert _consumed(coordination, consortium) - before == Decimal("4321.09")
    assert _consumed(erp, consortium) - partner_view_before == Decimal("4321.09")

    expense = Expense.objects.get(pk=expense_id)
    authors = [row.history_user for row in expense.history.order_by("history_id")]
    assert authors == [partner_member, partner_member, coordinator]

    # The token can be revoked by its owner; it is refused from then on.
    assert erp.delete("/api/v1/auth/token/").status_code == 204
    assert erp.get("/api/v1/expenses/").status_code == 401
