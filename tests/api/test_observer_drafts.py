"""The funder reads the consortium but never a partner's draft: a draft expense is absent from the
API's lists, its detail is a 404, and its file too, until the partner submits it. Its partner's
people and the coordinators still read it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile

from tests.api.conftest import api_client
from workpackages.models import Expense

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _ids(user: Any) -> set[int]:
    answer = api_client(user).get("/api/v1/expenses/", {"page_size": 100})
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["results"]}


def test_an_observer_never_reads_a_draft(
    observer: Any,
    coordinator: Any,
    partner_member: Any,
    expense: Expense,
    submitted_expense: Any,
    budget_line: Any,
) -> None:
    draft = Expense.objects.create(
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        category=budget_line.category,
        period=submitted_expense.period,
        incurred_on=submitted_expense.incurred_on,
        amount="120.00",
        description="Still being written",
        invoice_reference="DRAFT-1",
    )
    draft.evidence.save("draft.pdf", ContentFile(PDF))
    assert draft.status == "draft"

    assert draft.pk not in _ids(observer)
    assert submitted_expense.pk in _ids(observer)
    assert api_client(observer).get(f"/api/v1/expenses/{draft.pk}/").status_code == 404
    assert api_client(observer).get(f"/media/{draft.evidence.name}").status_code == 404
    assert not Expense.objects.restrict(observer, "view").filter(pk=draft.pk).exists()

    for reader in (partner_member, coordinator):
        assert draft.pk in _ids(reader)
        assert api_client(reader).get(f"/media/{draft.evidence.name}").status_code == 200

    # Submitted, it is the funder's to read.
    Expense.objects.filter(pk=draft.pk).update(status="submitted")
    assert draft.pk in _ids(observer)
