"""The partner's dashboard: its own deadlines, money and jobs, the next statement, and a query
count that does not grow with the rows."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.web import client_for
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.money.services import expense_accept, expense_submit, statement_submit
from workpackages.overview.selectors import partner_dashboard

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 27)


@pytest.fixture
def accepted(budget_line: Any, coordinator: Any, partner_member: Any) -> Any:
    expense = factories.ExpenseFactory(line=budget_line, amount=Decimal("40000.00"))
    expense_submit(expense=expense, user=partner_member)
    return expense_accept(expense=expense, user=coordinator)


def test_figures_are_the_partners_own(
    accepted: Any,
    budget_line: Any,
    budget_line_b: Any,
    workpackage: Any,
    partner_a: Any,
    partner_b: Any,
    coordinator: Any,
    other_partner_member: Any,
) -> None:
    other = factories.ExpenseFactory(line=budget_line_b, amount=Decimal("999.00"))
    expense_submit(expense=other, user=other_partner_member)
    expense_accept(expense=other, user=coordinator)
    board = partner_dashboard(partner_a, today=TODAY)
    assert board.planned == budget_line.planned_amount
    assert board.consumed == Decimal("40000.00")
    assert board.consumption == Decimal("40.0")
    [row] = board.by_workpackage
    assert row.label == f"WP1 {workpackage.title}"
    assert [r.label for r in board.by_category] == ["Personnel"]


def test_deadlines_of_the_partners_own_deliverables(
    deliverable: Any, workpackage: Any, partner_a: Any, partner_b: Any, milestone: Any
) -> None:
    soon = factories.DeliverableFactory(workpackage=workpackage, due_month=36)  # 31/12/2026
    theirs = factories.DeliverableFactory(
        workpackage=workpackage, due_month=11, lead_partner=partner_b
    )
    board = partner_dashboard(partner_a, today=TODAY)
    assert board.overdue == [deliverable]
    assert board.due_soon == [soon]
    assert theirs not in board.overdue
    assert board.milestones == [milestone]


def test_jobs_against_the_commitment(partner_a: Any, partner_b: Any) -> None:
    partner_a.jobs_commitment_direct = 5
    partner_a.save()
    factories.JobRecordFactory(partner=partner_a, status=JobStatus.REALISED)
    factories.JobRecordFactory(partner=partner_a)
    factories.JobRecordFactory(partner=partner_a, status=JobStatus.WITHDRAWN)
    factories.JobRecordFactory(partner=partner_a, impact=JobImpact.INDIRECT)
    factories.JobRecordFactory(partner=partner_b, status=JobStatus.REALISED)
    jobs = partner_dashboard(partner_a, today=TODAY).jobs
    assert (jobs.direct_realised, jobs.direct_forecast, jobs.direct_target) == (1, 1, 5)
    assert (jobs.indirect_realised, jobs.indirect_forecast) == (0, 1)


def test_next_statement_is_the_oldest_one_not_submitted(
    partner_a: Any, partner_member: Any, consortium: Any
) -> None:
    board = partner_dashboard(partner_a, today=TODAY)
    assert board.current_period is not None
    assert board.current_period.number == 6
    assert board.next_statement is not None
    assert board.next_statement.period.number == 1
    for number in range(1, 6):
        statement_submit(
            partner=partner_a, period=consortium.periods.get(number=number), user=partner_member
        )
    board = partner_dashboard(partner_a, today=TODAY)
    statement = board.next_statement
    assert statement is not None
    assert statement.period.number == 6
    # Period 6 ends on 31/12/2026; its statement is due 60 days later.
    assert statement.days_left == (datetime.date(2027, 3, 1) - TODAY).days


def test_page_shows_figures_and_no_other_partners(
    accepted: Any, budget_line_b: Any, partner_member: Any, deliverable: Any
) -> None:
    page = client_for(partner_member).get(reverse("dashboard"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "40,000.00" in text
    assert "100,000.00" in text
    assert deliverable.title in text
    assert "CellForge" not in text
    assert 'aria-current="page"' in text


def test_query_count_does_not_grow_with_rows(
    partner_a: Any, partner_member: Any, workpackage: Any
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client_for(partner_member).get(reverse("dashboard")).status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for _ in range(n):
            wp = factories.WorkpackageFactory(
                consortium=partner_a.consortium, lead_partner=partner_a
            )
            factories.BudgetLineFactory(partner=partner_a, workpackage=wp, heading="operating")
            factories.DeliverableFactory(workpackage=wp, due_month=35)
            factories.DeliverableFactory(workpackage=wp, due_month=3)
            factories.MilestoneFactory(lead_partner=partner_a, due_month=2, workpackages=[wp])
            factories.JobRecordFactory(partner=partner_a)

    add(1)
    few = count()
    add(12)
    assert count() == few
