"""The scheduled reports run the same number of queries for 13 partners as for 26: the progress
and the jobs-created report, their figures (the selectors) and their rendering (HTML, text,
XLSX, chart and PDF), on consortia where every section of both reports has rows."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from consortium.choices import ConsortiumRoleKind
from consortium.models import Consortium
from consortium.services import consortium_role_grant
from reporting.choices import ReportKind
from reporting.rendering import Rendered, report_render
from reporting.selectors import JobsReport, ProgressReport, jobs_report, progress_report
from tests import factories
from tests.api.conftest import PDF
from tests.reporting.conftest import PERIOD, at
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.money.services import expense_accept, expense_submit
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

pytestmark = pytest.mark.django_db

SIZES = (13, 26)
# The previous report ended here: what happened after it is listed as new.
SINCE = at(datetime.date(2025, 3, 1))
CATEGORIES = list(JobCategory)
CONTRACTS = list(ContractType)


def _deliverable(workpackage: Any, user: Any, index: int) -> None:
    """Partners take turns: a deliverable due in the period, sent late and approved in it; one
    open past its due date; one due a month after the period."""
    state = index % 3
    deliverable = factories.DeliverableFactory(
        workpackage=workpackage, due_month={0: 14, 1: 12, 2: 19}[state]
    )
    if state == 0:
        deliverable_submit(
            deliverable=deliverable,
            user=user,
            file=ContentFile(PDF, name="report.pdf"),
            late_justification="The GMP audit moved.",
            now=at(datetime.date(2025, 3, 10)),
        )
        deliverable_approve(deliverable=deliverable, user=user, now=at(datetime.date(2025, 3, 20)))


def _milestone(partner: Any, workpackage: Any, index: int) -> None:
    """Partners take turns: achieved in the period, missed, overdue, coming after the period."""
    state = index % 4
    due_month = {0: 15, 1: 16, 2: 14, 3: 19}[state]
    milestone = factories.MilestoneFactory(
        lead_partner=partner, due_month=due_month, workpackages=[workpackage]
    )
    if state == 0:
        milestone_achieve(
            milestone=milestone,
            user=None,
            achieved_on=datetime.date(2025, 3, 31),
            evidence="Batch record signed.",
        )
    elif state == 1:
        milestone_miss(milestone=milestone, user=None, reason="The batch failed.")


def _budget(partner: Any, workpackage: Any, index: int) -> None:
    personnel = factories.BudgetLineFactory(
        partner=partner,
        workpackage=workpackage,
        heading="personnel",
        planned_amount=Decimal("100000.00") + index,
    )
    factories.BudgetLineFactory(
        partner=partner, workpackage=workpackage, heading="overheads", planned_amount=15000
    )
    expense = factories.ExpenseFactory(line=personnel, amount=Decimal("1200.00") * (index + 1))
    expense_submit(expense=expense, user=None, now=at(datetime.date(2025, 3, 25)))
    expense_accept(expense=expense, user=None, now=at(datetime.date(2025, 4, 2)))
    factories.EffortFactory(
        partner=partner, workpackage=workpackage, actual_person_months=Decimal("4.50")
    )


def _jobs(partner: Any, workpackage: Any, index: int) -> None:
    """Direct and indirect jobs, realised and forecast, in every category and contract type;
    every other partner's indirect jobs belong to no workpackage."""
    for offset, (impact, status, start) in enumerate(
        (
            (JobImpact.DIRECT, JobStatus.REALISED, datetime.date(2024, 3, 1)),
            (JobImpact.DIRECT, JobStatus.FORECAST, datetime.date(2027, 1, 1)),
            (JobImpact.INDIRECT, JobStatus.REALISED, datetime.date(2025, 2, 1)),
            (JobImpact.INDIRECT, JobStatus.FORECAST, datetime.date(2027, 3, 1)),
        )
    ):
        factories.JobRecordFactory(
            partner=partner,
            workpackage=workpackage if impact == JobImpact.DIRECT or index % 2 else None,
            impact=impact,
            status=status,
            start_date=start,
            category=CATEGORIES[(index + offset) % len(CATEGORIES)],
            contract_type=CONTRACTS[(index + offset) % len(CONTRACTS)],
            fte=Decimal("0.80"),
        )


def _consortium(partners: int) -> Consortium:
    """A consortium of `partners` partners, each leading a workpackage with a deliverable and a
    milestone, and with two budget lines, an accepted expense, effort and four job records."""
    consortium = cast(Consortium, factories.ConsortiumFactory())
    # The consortium's only coordinator, who sends and approves the deliverables.
    lead = factories.UserFactory()
    consortium_role_grant(
        consortium=consortium, user=lead, kind=ConsortiumRoleKind.COORDINATOR, granted_by=None
    )
    for index in range(partners):
        partner = factories.PartnerFactory(consortium=consortium, number=index + 1)
        workpackage = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner)
        _deliverable(workpackage, lead, index)
        _milestone(partner, workpackage, index)
        _budget(partner, workpackage, index)
        _jobs(partner, workpackage, index)
    return consortium


@pytest.fixture(scope="module")
def consortia(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[int, Consortium]]:
    """Both consortia, built once for this module (the reports only read them) and removed
    after it."""
    with django_db_blocker.unblock():
        with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
            built = {size: _consortium(size) for size in SIZES}
        yield built
        call_command("flush", interactive=False, verbosity=0)


@dataclass
class Counted:
    """What a call returned, and how many queries it ran."""

    queries: int
    value: Any


def _count(call: Callable[[], Any]) -> Counted:
    with CaptureQueriesContext(connection) as queries:
        value = call()
    return Counted(len(queries), value)


def _render(kind: str, consortium: Consortium) -> Rendered:
    [rendered] = report_render(
        kind=kind,
        consortium=consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        since=SINCE,
        languages=["en"],
    )
    return rendered


def _turns(partners: int, state: int, states: int) -> int:
    """How many of `partners` partners, taking turns over `states` states, are in `state`."""
    return len(range(state, partners, states))


def _assert_progress_sections(report: ProgressReport, partners: int) -> None:
    """Every table and list of the progress report has rows, as many as the data says."""
    assert len(report.budget_by_partner) == len(report.budget_by_workpackage) == partners
    assert len(report.workpackages) == partners
    assert len(report.effort_by_partner) == len(report.effort_by_workpackage) == partners
    sent, open_late, coming = (_turns(partners, state, 3) for state in range(3))
    assert len(report.due_in_period) == len(report.submitted_in_period) == sent
    assert len(report.approved_in_period) == sent
    assert len(report.late) == sent + open_late
    assert len(report.due_next) == coming
    assert [
        len(report.milestones_achieved),
        len(report.milestones_missed),
        len(report.milestones_overdue),
        len(report.milestones_coming),
    ] == [_turns(partners, state, 4) for state in range(4)]
    assert report.changes is not None
    assert report.changes.deliverables_approved == sent
    assert report.changes.expenses_accepted == partners
    assert report.changes.jobs_recorded == 4 * partners
    # Each partner's accepted expense, and its overheads at the 17 % flat rate.
    assert report.budget_total.consumed == sum(
        (Decimal("1200.00") * (index + 1) * Decimal("1.17") for index in range(partners)),
        Decimal(0),
    )


def _assert_jobs_sections(report: JobsReport, partners: int) -> None:
    """Every breakdown of the jobs report has rows, and each adds up to the totals."""
    assert len(report.by_partner) == partners
    assert {row.key for row in report.by_category} == set(JobCategory.values)
    assert {row.key for row in report.by_contract_type} == set(ContractType.values)
    assert len(report.by_workpackage) == partners + 1  # and the jobs of no workpackage
    for impact in JobImpact.values:
        for status in (JobStatus.REALISED, JobStatus.FORECAST):
            assert report.totals.get(impact, status).headcount == partners
    assert report.new_since.get(JobImpact.DIRECT).headcount == partners
    assert report.trajectory[-1].direct == report.trajectory[-1].indirect == partners


def test_the_progress_report_runs_the_same_queries_for_13_or_26_partners(
    consortia: dict[int, Consortium],
) -> None:
    selected = {
        size: _count(
            lambda c=consortium: progress_report(
                c, period_start=PERIOD[0], period_end=PERIOD[1], since=SINCE
            )
        )
        for size, consortium in consortia.items()
    }
    rendered = {
        size: _count(lambda c=consortium: _render(ReportKind.PROGRESS, c))
        for size, consortium in consortia.items()
    }
    for size in SIZES:
        _assert_progress_sections(selected[size].value, size)
        html = rendered[size].value.html
        # The last partner's row is in the budget tables, and the total below them.
        assert f"P{size} " in html and "Total" in html and "Since the previous report" in html
        assert html.count("The GMP audit moved.") == _turns(size, 0, 3)
        assert rendered[size].value.pdf.startswith(b"%PDF")
    assert selected[13].queries == selected[26].queries > 0
    assert rendered[13].queries == rendered[26].queries >= selected[13].queries


def test_the_jobs_report_runs_the_same_queries_for_13_or_26_partners(
    consortia: dict[int, Consortium],
) -> None:
    selected = {
        size: _count(lambda c=consortium: jobs_report(c, as_of=PERIOD[1], since=SINCE))
        for size, consortium in consortia.items()
    }
    rendered = {
        size: _count(lambda c=consortium: _render(ReportKind.JOBS, c))
        for size, consortium in consortia.items()
    }
    for size in SIZES:
        _assert_jobs_sections(selected[size].value, size)
        html = rendered[size].value.html
        assert f"P{size} " in html and "No workpackage" in html
        assert rendered[size].value.pdf.startswith(b"%PDF")
    assert rendered[13].value.html != rendered[26].value.html
    assert selected[13].queries == selected[26].queries > 0
    assert rendered[13].queries == rendered[26].queries >= selected[13].queries
