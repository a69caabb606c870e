"""The admin's lists show what a coordinator decides on, and sort the consumption by its
percentage; the workpackage's page lists its milestones by code and title."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from tests import factories
from tests.web import client_for
from workpackages.money.models import BudgetLine
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db

DECISION_COLUMNS = {
    "deliverable": ["code", "title", "lead_partner", "due_on", "status_badge", "days_late"],
    "expense": [
        "partner",
        "period",
        "category",
        "amount_display",
        "accepted_display",
        "status_badge",
    ],
    "budgetline": ["partner", "workpackage_code", "category", "planned", "consumption"],
    "jobrecord": ["partner", "impact", "status_badge", "fte"],
}


@pytest.mark.parametrize("model", DECISION_COLUMNS)
def test_lists_show_the_columns_a_coordinator_decides_on(
    model: str, coordinator: Any, budget_line: Any
) -> None:
    response = client_for(coordinator).get(reverse(f"admin:workpackages_{model}_changelist"))
    assert response.status_code == 200
    shown = response.context["cl"].list_display
    assert set(DECISION_COLUMNS[model]) <= set(shown)
    # The rest moved to the row's page or behind a filter: at most one column more (the job's
    # position, which names the row).
    assert len(shown) - 1 <= len(DECISION_COLUMNS[model]) + 1


def _consumed(line: BudgetLine, amount: str, *, member: Any, coordinator: Any) -> None:
    expense = factories.ExpenseFactory(line=line, amount=Decimal(amount))
    expense_submit(expense=expense, user=member)
    expense_accept(expense=expense, user=coordinator)


def test_consumption_sorts_by_percentage_not_by_euros(
    coordinator: Any,
    partner_member: Any,
    partner_a: Any,
    workpackage: Any,
) -> None:
    # 900 of 1,000 EUR (90 %) against 5,000 of 100,000 EUR (5 %): by euros the small line would
    # come first, by percentage the large one.
    small = factories.BudgetLineFactory(
        partner=partner_a,
        workpackage=workpackage,
        heading="personnel",
        planned_amount=Decimal("1000.00"),
    )
    large = factories.BudgetLineFactory(
        partner=partner_a,
        workpackage=workpackage,
        heading="operating",
        planned_amount=Decimal("100000.00"),
    )
    _consumed(small, "900.00", member=partner_member, coordinator=coordinator)
    _consumed(large, "5000.00", member=partner_member, coordinator=coordinator)
    unplanned = factories.BudgetLineFactory(
        partner=partner_a,
        workpackage=workpackage,
        heading="subcontracting",
        planned_amount=Decimal("0.00"),
    )

    model_admin = admin.site._registry[BudgetLine]
    url = reverse("admin:workpackages_budgetline_changelist")
    client = client_for(coordinator)
    column = client.get(url).context["cl"].list_display.index("consumption")
    ascending = client.get(url, {"o": str(column)}).context["cl"].result_list
    descending = client.get(url, {"o": f"-{column}"}).context["cl"].result_list
    ranked = [line.pk for line in ascending if line.pk != unplanned.pk]
    assert ranked == [large.pk, small.pk]
    assert [line.pk for line in descending if line.pk != unplanned.pk] == [small.pk, large.pk]
    percentages = {line.pk: line.consumption_percent for line in ascending}
    assert percentages[small.pk] == Decimal("90.0")
    assert percentages[large.pk] == Decimal("5.0")
    assert percentages[unplanned.pk] is None
    # The cell shows the percentage, the euros on hovering it.
    assert "90.0 %" in model_admin.consumption(next(x for x in ascending if x.pk == small.pk))


def test_the_workpackage_page_lists_its_milestones_by_code_and_title(
    coordinator: Any, workpackage: Any, partner_a: Any
) -> None:
    milestone = factories.MilestoneFactory(
        lead_partner=partner_a, title="GMP batch released for the first patient"
    )
    milestone.workpackages.add(workpackage)
    url = reverse("admin:workpackages_workpackage_change", args=[workpackage.pk])
    html = client_for(coordinator).get(url).content.decode()
    assert "Milestone_workpackages object" not in html
    change = reverse("admin:workpackages_milestone_change", args=[milestone.pk])
    assert (
        f'<a href="{change}">{milestone.code} GMP batch released for the first patient</a>' in html
    )
