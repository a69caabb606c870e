"""The coordinators' dashboard figures: consumption per budget line (flat rates included), the
deliverables' deadlines, money per partner and workpackage, jobs, and a query count that does not
grow with the consortium."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.services import job_realise, job_withdraw
from workpackages.money.models import BudgetLine, Expense
from workpackages.money.selectors import budget_lines_with_consumption, with_consumed
from workpackages.money.services import (
    budget_line_cancel,
    expense_accept,
    expense_reject,
    expense_submit,
    expense_withdraw,
)
from workpackages.overview.selectors import consortium_dashboards
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
)

pytestmark = pytest.mark.django_db

# The consortium fixture starts on 1 January 2024: month 3 ends on 31 March 2024, month 6 on
# 30 June, month 9 on 30 September, month 10 on 31 October, month 12 on 31 December.
TODAY = datetime.date(2024, 12, 21)
JUNE = datetime.datetime(2024, 6, 3, 10, 0, tzinfo=datetime.UTC)


def _expense(line: Any, amount: str) -> Any:
    return factories.ExpenseFactory(line=line, amount=Decimal(amount))


def _submitted(line: Any, amount: str, by: Any) -> Expense:
    return expense_submit(expense=_expense(line, amount), user=by)


def _accepted(
    line: Any, amount: str, by: Any, *, accepted: str | None = None, comment: str = ""
) -> Expense:
    return expense_accept(
        expense=_submitted(line, amount, by),
        user=by,
        accepted_amount=None if accepted is None else Decimal(accepted),
        comment=comment,
    )


def _consumed(*lines: Any) -> list[Decimal]:
    """What each line consumed, as the lists count it in SQL; the figures' own count (rows added
    up in Python from one sum per partner × workpackage × heading) must say the same."""
    annotated = budget_lines_with_consumption(BudgetLine.objects.all()).in_bulk(
        [line.pk for line in lines]
    )
    figures = {
        row["id"]: row["consumed"]
        for row in with_consumed(
            BudgetLine.objects.filter(pk__in=[line.pk for line in lines]), "id"
        )
    }
    assert figures == {line.pk: annotated[line.pk].consumed for line in lines}
    return [annotated[line.pk].consumed for line in lines]


@pytest.mark.parametrize(
    ("amounts", "base", "flat_rate"),
    [
        # 1333.33 × 17 % = 226.6661: the funder pays cents, rounded per line.
        (["1000.00", "333.33"], "1333.33", "226.67"),
        # 1250.50 × 17 % = 212.585: half a cent goes up.
        (["1250.50"], "1250.50", "212.59"),
    ],
)
def test_flat_rate_line_consumes_its_rate_of_the_base_heading_rounded_to_the_cent(
    coordinator: Any,
    partner_a: Any,
    workpackage: Any,
    budget_line: Any,
    amounts: list[str],
    base: str,
    flat_rate: str,
) -> None:
    overheads_line = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="overheads"
    )
    for amount in amounts:
        _accepted(budget_line, amount, coordinator)

    assert _consumed(budget_line, overheads_line) == [Decimal(base), Decimal(flat_rate)]


def test_only_accepted_amounts_are_consumed(
    coordinator: Any,
    partner_a: Any,
    workpackage: Any,
    budget_line: Any,
    budget_line_b: Any,
) -> None:
    operating_line = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="operating"
    )
    _expense(budget_line, "50.00")
    _submitted(budget_line, "60.00", coordinator)
    expense_reject(
        expense=_submitted(budget_line, "70.00", coordinator),
        user=coordinator,
        comment="No invoice attached.",
    )
    expense_withdraw(expense=_submitted(budget_line, "80.00", coordinator), user=coordinator)
    _accepted(
        operating_line,
        "800.00",
        coordinator,
        accepted="500.00",
        comment="Only the reagents are eligible.",
    )
    # Another partner's accepted expense on the same workpackage and heading stays its own.
    _accepted(budget_line_b, "999.00", coordinator)

    assert _consumed(budget_line, operating_line, budget_line_b) == [
        Decimal("0.00"),
        Decimal("500.00"),
        Decimal("999.00"),
    ]


def _deliverable(workpackage: Any, due_month: int) -> Any:
    return factories.DeliverableFactory(workpackage=workpackage, due_month=due_month)


def _pdf(name: str = "report.pdf") -> ContentFile:
    return ContentFile(b"%PDF-1.4 deliverable", name=name)


def test_deliverable_deadlines_are_counted_once_each(
    coordinator: Any, partner_member: Any, workpackage: Any
) -> None:
    approved = _deliverable(workpackage, due_month=6)
    deliverable_submit(deliverable=approved, user=partner_member, file=_pdf(), now=JUNE)
    deliverable_approve(deliverable=approved, user=coordinator, now=JUNE)

    sent_late = _deliverable(workpackage, due_month=3)
    deliverable_submit(
        deliverable=sent_late,
        user=partner_member,
        file=_pdf(),
        late_justification="The GMP suite was requalified in March.",
        now=JUNE,
    )

    sent_back = _deliverable(workpackage, due_month=9)
    deliverable_submit(deliverable=sent_back, user=partner_member, file=_pdf(), now=JUNE)
    deliverable_request_changes(
        deliverable=sent_back, user=coordinator, comment="Add the QC data.", now=JUNE
    )

    open_past_due = _deliverable(workpackage, due_month=10)
    due_in_ten_days = _deliverable(workpackage, due_month=12)
    _deliverable(workpackage, due_month=36)
    assert due_in_ten_days.due_date - TODAY == datetime.timedelta(days=10)

    [dashboard] = consortium_dashboards([workpackage.consortium], today=TODAY)

    assert dashboard.deliverables_total == 6
    assert dashboard.deliverables_on_time == 1
    # Sent late, sent back and now past due, never sent and past due.
    assert dashboard.deliverables_late == 3
    assert dashboard.deliverables_due_soon == 1
    # Sent on time, late and not yet due part them.
    assert dashboard.deliverables_not_yet_due == 2
    assert dashboard.deliverables_by_status == {
        "Planned": 3,
        "In progress": 0,
        "Submitted": 1,
        "Changes requested": 1,
        "Approved": 1,
    }
    # The list under the counter holds the same late ones, the open ones to chase first.
    lines = dashboard.late_deliverables
    assert [line.item.pk for line in lines] == [sent_back.pk, open_past_due.pk, sent_late.pk]
    # Sent back after a version sent on time: not counted late from its first due date.
    assert (lines[0].state, lines[0].days_late) == ("Changes requested", None)
    assert lines[0].sent_back_after_on_time and lines[0].days_since_request is not None
    assert lines[1].days_late == (TODAY - open_past_due.due_date).days
    assert lines[2].state == "Sent late" and (lines[2].days_late or 0) > 0


def test_budget_per_partner_and_workpackage(
    coordinator: Any,
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    budget_line: Any,
    budget_line_b: Any,
) -> None:
    overheads_line = factories.BudgetLineFactory(
        partner=partner_a,
        workpackage=workpackage,
        heading="overheads",
        planned_amount=Decimal("17000.00"),
    )
    wp2 = factories.WorkpackageFactory(
        consortium=consortium, number=2, title="Potency assays", lead_partner=partner_b
    )
    overspent = factories.BudgetLineFactory(
        partner=partner_b, workpackage=wp2, heading="operating", planned_amount=Decimal("20000.00")
    )
    cancelled = factories.BudgetLineFactory(
        partner=partner_b, workpackage=wp2, heading="equipment", planned_amount=Decimal("5000.00")
    )
    budget_line_cancel(line=cancelled, user=coordinator)
    idle_partner = factories.PartnerFactory(
        consortium=consortium, number=3, organisation__short_name="Idle"
    )
    _accepted(budget_line, "1000.00", coordinator)
    _accepted(budget_line, "333.33", coordinator)
    _accepted(overspent, "25000.00", coordinator)
    assert (budget_line.granted_amount, budget_line_b.granted_amount) == (
        Decimal("100000.00"),
        Decimal("50000.00"),
    )
    assert (overheads_line.granted_amount, overspent.granted_amount) == (
        Decimal("17000.00"),
        Decimal("10000.00"),
    )

    [dashboard] = consortium_dashboards([consortium], today=TODAY)

    def figures(rows: list[Any]) -> list[tuple[str, Decimal, Decimal, Decimal, int]]:
        return [(r.label, r.planned, r.granted, r.consumed, r.overspent_lines) for r in rows]

    assert figures(dashboard.by_partner) == [
        ("P1 BioWin", Decimal("117000.00"), Decimal("117000.00"), Decimal("1560.00"), 0),
        ("P2 CellForge", Decimal("120000.00"), Decimal("60000.00"), Decimal("25000.00"), 1),
        ("P3 Idle", Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), 0),
    ]
    assert figures(dashboard.by_workpackage) == [
        (
            "WP1 Exosome manufacturing",
            Decimal("217000.00"),
            Decimal("167000.00"),
            Decimal("1560.00"),
            0,
        ),
        ("WP2 Potency assays", Decimal("20000.00"), Decimal("10000.00"), Decimal("25000.00"), 1),
    ]
    assert dashboard.by_partner[2].key == idle_partner.pk
    assert (dashboard.planned, dashboard.granted, dashboard.consumed) == (
        Decimal("237000.00"),
        Decimal("177000.00"),
        Decimal("26560.00"),
    )
    assert dashboard.overspent_lines == 1
    assert dashboard.consumption == Decimal("11.2")
    assert (dashboard.partners, dashboard.workpackages) == (3, 2)


def test_jobs_count_realised_positions_per_impact(
    coordinator: Any,
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    other_partner: Any,
) -> None:
    def job(partner: Any, fte: str, impact: str = JobImpact.DIRECT) -> Any:
        return factories.JobRecordFactory(partner=partner, fte=Decimal(fte), impact=impact)

    for realised in (
        job(partner_a, "1.00"),
        job(partner_b, "0.50"),
        job(partner_b, "0.80", JobImpact.INDIRECT),
    ):
        job_realise(job=realised, user=coordinator)
    job(partner_a, "1.00")  # still a forecast
    job_withdraw(job=job_realise(job=job(partner_a, "0.70"), user=coordinator), user=coordinator)
    job_realise(job=job(other_partner, "1.00"), user=None)

    [dashboard] = consortium_dashboards([consortium], today=TODAY)
    jobs = dashboard.jobs
    assert jobs is not None

    assert (jobs.direct_realised, jobs.direct_fte) == (2, Decimal("1.50"))
    assert (jobs.indirect_realised, jobs.indirect_fte) == (1, Decimal("0.80"))
    assert (
        jobs.headcount(JobImpact.DIRECT, JobStatus.FORECAST),
        jobs.fte(JobImpact.DIRECT, JobStatus.FORECAST),
    ) == (1, Decimal("1.00"))
    assert jobs.headcount(JobImpact.DIRECT, JobStatus.WITHDRAWN) == 0
    assert (jobs.direct_target, jobs.indirect_target) == (470, 1200)
    # 2 of 470 and 1 of 1200, to one decimal.
    assert (jobs.direct_progress, jobs.indirect_progress) == (Decimal("0.4"), Decimal("0.1"))


def _lines(partner: Any, workpackage: Any, headings: list[str]) -> None:
    for heading in headings:
        factories.BudgetLineFactory(partner=partner, workpackage=workpackage, heading=heading)


def _dashboard_queries(consortium: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        [dashboard] = consortium_dashboards([consortium], today=TODAY)
        # Reading what the dashboard template reads must not query either.
        for late in dashboard.late_deliverables:
            assert late.item.code and late.item.lead_partner.organisation.short_name
        assert dashboard.jobs is not None and dashboard.jobs.direct_realised >= 0
    return len(queries)


def test_dashboard_queries_do_not_grow_with_partners_and_lines(
    coordinator: Any, consortium: Any, partner_a: Any
) -> None:
    wp = factories.WorkpackageFactory(consortium=consortium, number=1, lead_partner=partner_a)
    _lines(partner_a, wp, ["personnel"])
    factories.DeliverableFactory(workpackage=wp, due_month=3)
    one = _dashboard_queries(consortium)

    _lines(partner_a, wp, ["operating", "overheads"])
    for _ in range(9):
        partner = factories.PartnerFactory(consortium=consortium)
        _lines(partner, wp, ["personnel", "operating", "overheads"])
        line = BudgetLine.objects.get(partner=partner, category__code="personnel")
        _accepted(line, "100.00", coordinator)
        job_realise(job=factories.JobRecordFactory(partner=partner), user=coordinator)
        factories.DeliverableFactory(workpackage=wp, due_month=3, lead_partner=partner)
    assert BudgetLine.objects.filter(consortium=consortium).count() == 30

    assert _dashboard_queries(consortium) == one
