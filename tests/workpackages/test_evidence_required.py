"""Evidence made mandatory per cost heading: an expense of a heading that requires it is not sent
to the coordinators without its evidence file, whichever door sends it (`expense_submit` for one
line, `statement_submit` for the period's drafts), and a refusal changes nothing."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import translation

from consortium.models import CostCategory
from tests import factories
from tests.api.conftest import api_client
from tests.assertions import api_errors
from tests.web import client_for
from tests.workpackages.test_admin_validation import form_data
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense, Statement
from workpackages.money.services import expense_submit, statement_submit

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


@pytest.fixture
def operating_line(partner_a: Any, workpackage: Any, operating: CostCategory) -> Any:
    operating.evidence_required = True
    operating.save(update_fields=["evidence_required"])
    return factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="operating"
    )


@pytest.fixture
def bare(operating_line: Any) -> Any:
    """A draft of an evidence-requiring heading, without its file."""
    return factories.ExpenseFactory(
        line=operating_line, amount=Decimal("420.00"), description="Cryovials"
    )


def refusal(expense: Expense) -> str:
    return (
        f"The expense “{expense.description}” ({expense}) has no evidence file: expenses of "
        "the heading “Operating costs” are sent with their invoice or receipt. Attach it first."
    )


def snapshot() -> list[tuple[Any, ...]]:
    rows = Expense.objects.order_by("pk").values_list("pk", "status", "submitted_at")
    return [*rows, Statement.objects.count(), Expense.history.count()]


def test_headings_require_no_evidence_unless_told(consortium: Any) -> None:
    assert not consortium.cost_categories.filter(evidence_required=True).exists()


def test_expense_submit_refuses_an_expense_without_its_required_evidence(
    partner_member: Any, bare: Expense
) -> None:
    before = snapshot()

    with pytest.raises(ValidationError) as refused:
        expense_submit(expense=bare, user=partner_member)

    assert refused.value.message_dict == {"evidence": [refusal(bare)]}
    assert snapshot() == before


def test_the_refusal_is_translated(partner_member: Any, bare: Expense) -> None:
    with translation.override("fr"), pytest.raises(ValidationError) as refused:
        expense_submit(expense=bare, user=partner_member)

    assert "Cryovials" in refused.value.messages[0]
    assert refused.value.messages[0] != refusal(bare)


def test_an_expense_with_its_evidence_or_of_another_heading_is_sent(
    partner_member: Any, operating_line: Any, budget_line: Any
) -> None:
    with_file = factories.ExpenseFactory(
        line=operating_line, evidence=ContentFile(PDF, name="invoice.pdf")
    )
    personnel = factories.ExpenseFactory(line=budget_line)

    assert expense_submit(expense=with_file, user=partner_member).status == ExpenseStatus.SUBMITTED
    assert expense_submit(expense=personnel, user=partner_member).status == ExpenseStatus.SUBMITTED


def test_statement_submit_sends_nothing_when_one_line_lacks_its_evidence(
    partner_member: Any, partner_a: Any, period: Any, operating_line: Any, budget_line: Any
) -> None:
    factories.ExpenseFactory(line=operating_line, evidence=ContentFile(PDF, name="invoice.pdf"))
    factories.ExpenseFactory(line=budget_line)
    bare = factories.ExpenseFactory(line=operating_line, description="Filters")
    before = snapshot()

    with pytest.raises(ValidationError) as refused:
        statement_submit(partner=partner_a, period=period, user=partner_member)

    assert refused.value.messages == [refusal(bare)]
    assert snapshot() == before

    bare.evidence = ContentFile(PDF, name="filters.pdf")
    bare.save()
    statement = statement_submit(partner=partner_a, period=period, user=partner_member)
    assert statement.lines == 3
    assert not Expense.objects.filter(status=ExpenseStatus.DRAFT).exists()


def test_the_api_refuses_the_submission_with_a_400(partner_member: Any, bare: Expense) -> None:
    before = snapshot()

    response = api_client(partner_member).post(f"/api/v1/expenses/{bare.pk}/submit/")

    assert response.status_code == 400
    assert api_errors(response)["evidence"] == [refusal(bare)]
    assert snapshot() == before


def test_the_api_lists_which_headings_require_evidence(
    partner_member: Any, operating_line: Any
) -> None:
    response = api_client(partner_member).get("/api/v1/cost-categories/?page_size=50")

    required = {row["code"]: row["evidence_required"] for row in response.json()["results"]}
    assert required["operating"] is True
    assert required["personnel"] is False


def test_the_statement_page_shows_the_refusal_and_sends_nothing(
    partner_member: Any, period: Any, bare: Expense
) -> None:
    before = snapshot()

    response = client_for(partner_member).post(
        reverse("expense-statement", args=[period.pk]), follow=True
    )

    assert response.status_code == 200
    assert refusal(bare) in html.unescape(response.content.decode())
    assert snapshot() == before


def test_a_coordinator_sets_the_rule_on_the_heading_in_the_admin(
    coordinator: Any, operating: CostCategory
) -> None:
    client = client_for(coordinator)
    url = reverse("admin:consortium_costcategory_change", args=[operating.pk])
    page = client.get(url)
    assert "evidence_required" in page.context["adminform"].form.fields

    response = client.post(url, {**form_data(client, url), "evidence_required": "on"})

    assert response.status_code == 302
    operating.refresh_from_db()
    assert operating.evidence_required
    assert operating.history.first().history_user == coordinator
