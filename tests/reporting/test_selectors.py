"""The figures of the scheduled reports. The jobs-created report: what the database holds, split by
partner, category, contract and workpackage, cumulated month by month against the targets. The
progress report: the period's deliverables and milestones, late ones with their days late, what
comes next, the workpackages, the budget and the effort, and what changed since the last report.
Both run a number of queries that doesn't depend on how many partners there are."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reporting.selectors import jobs_report, progress_report
from tests import factories
from tests.reporting.conftest import PERIOD, at
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 6, 30)


def _job(partner: Any, **values: Any) -> Any:
    return factories.JobRecordFactory(partner=partner, **values)


@pytest.fixture
def jobs(partner_a: Any, partner_b: Any, workpackage: Any) -> dict[str, JobRecord]:
    return {
        "a_direct": _job(
            partner_a,
            workpackage=workpackage,
            status=JobStatus.REALISED,
            start_date=datetime.date(2024, 3, 15),
            fte=Decimal("0.80"),
        ),
        "a_indirect": _job(
            partner_a,
            impact=JobImpact.INDIRECT,
            category=JobCategory.PRODUCTION,
            status=JobStatus.REALISED,
            start_date=datetime.date(2025, 1, 10),
        ),
        "a_forecast": _job(partner_a, start_date=datetime.date(2027, 1, 1)),
        "b_direct": _job(
            partner_b,
            category=JobCategory.RESEARCHER,
            contract_type=ContractType.PHD,
            status=JobStatus.REALISED,
            start_date=datetime.date(2024, 3, 1),
            fte=Decimal("0.50"),
        ),
        "b_withdrawn": _job(partner_b, status=JobStatus.WITHDRAWN),
    }


def test_totals_count_forecast_and_realised_jobs_but_not_withdrawn_ones(
    consortium: Any, jobs: dict[str, JobRecord]
) -> None:
    report = jobs_report(consortium, as_of=AS_OF)
    realised_direct = report.totals.get(JobImpact.DIRECT)
    assert (realised_direct.headcount, realised_direct.fte) == (2, Decimal("1.30"))
    assert report.totals.get(JobImpact.INDIRECT).headcount == 1
    assert report.totals.get(JobImpact.DIRECT, JobStatus.FORECAST).headcount == 1
    assert report.totals.get(JobImpact.INDIRECT, JobStatus.FORECAST).headcount == 0
    database = JobRecord.objects.exclude(status=JobStatus.WITHDRAWN).count()
    assert sum(c.headcount for c in report.totals.counts.values()) == database == 4


def test_every_breakdown_adds_up_to_the_totals(
    consortium: Any, jobs: dict[str, JobRecord], partner_a: Any
) -> None:
    report = jobs_report(consortium, as_of=AS_OF)
    for breakdown in (
        report.by_partner,
        report.by_category,
        report.by_contract_type,
        report.by_workpackage,
    ):
        for key, total in report.totals.counts.items():
            assert sum(row.get(*key).headcount for row in breakdown) == total.headcount
            assert sum(row.get(*key).fte for row in breakdown) == total.fte
    partners = {row.label: row.get(JobImpact.DIRECT).headcount for row in report.by_partner}
    assert partners == {"P1 BioWin": 1, "P2 CellForge": 1}
    assert {row.label for row in report.by_workpackage} == {"WP1", "No workpackage"}
    assert {row.label for row in report.by_contract_type} == {"Permanent", "PhD"}


def test_the_breakdowns_are_the_same_counted_by_grouping_sets_or_by_four_groupings(
    consortium: Any, jobs: dict[str, JobRecord], monkeypatch: Any
) -> None:
    def breakdowns() -> list[Any]:
        report = jobs_report(consortium, as_of=AS_OF)
        return [
            [(row.key, row.label, dict(row.counts)) for row in rows]
            for rows in (
                report.by_partner,
                report.by_category,
                report.by_contract_type,
                report.by_workpackage,
            )
        ]

    assert connection.vendor == "postgresql"
    grouping_sets = breakdowns()
    # The statement SQLite runs (`make run`), which PostgreSQL runs too.
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert breakdowns() == grouping_sets
    assert [len(rows) for rows in grouping_sets] == [2, 3, 2, 2]


def test_the_trajectory_cumulates_realised_jobs_towards_the_targets(
    consortium: Any, jobs: dict[str, JobRecord]
) -> None:
    report = jobs_report(consortium, as_of=AS_OF)
    points = {point.month: point for point in report.trajectory}
    assert report.trajectory[0].month == datetime.date(2024, 1, 1)
    assert report.trajectory[-1].month == datetime.date(2026, 6, 1)
    assert (points[datetime.date(2024, 2, 1)].direct, points[datetime.date(2024, 3, 1)].direct) == (
        0,
        2,
    )
    assert points[datetime.date(2025, 1, 1)].indirect == 1
    last = report.trajectory[-1]
    assert (last.direct, last.indirect) == (2, 1)
    # 30 of the 60 months of the jobs horizon have run by June 2026: half of each target.
    assert (last.direct_target, last.indirect_target) == (Decimal("235.0"), Decimal("600.0"))
    directs = [point.direct for point in report.trajectory]
    assert directs == sorted(directs)


def test_new_jobs_are_those_recorded_since_the_previous_report(
    consortium: Any, jobs: dict[str, JobRecord], partner_b: Any
) -> None:
    previous = timezone.now()
    _job(partner_b, status=JobStatus.REALISED, start_date=datetime.date(2026, 5, 4))
    report = jobs_report(consortium, as_of=AS_OF, since=previous)
    assert report.new_since.get(JobImpact.DIRECT).headcount == 1
    assert report.totals.get(JobImpact.DIRECT).headcount == 3
    assert jobs_report(consortium, as_of=AS_OF).new_since.counts == {}


def _consortium_with_partners(count: int) -> Any:
    consortium = factories.ConsortiumFactory()
    for number in range(1, count + 1):
        partner = factories.PartnerFactory(consortium=consortium, number=number)
        wp = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner)
        _job(partner, workpackage=wp, status=JobStatus.REALISED)
        _job(partner, impact=JobImpact.INDIRECT)
    return consortium


def test_the_report_runs_the_same_queries_for_13_or_26_partners() -> None:
    counts = []
    for partners in (13, 26):
        consortium = _consortium_with_partners(partners)
        with CaptureQueriesContext(connection) as queries:
            report = jobs_report(consortium, as_of=AS_OF)
        assert len(report.by_partner) == partners
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_progress_report_sorts_the_work_plan_by_what_happened(
    consortium: Any, plan: dict[str, Any]
) -> None:
    report = progress_report(consortium, period_start=PERIOD[0], period_end=PERIOD[1])
    assert report.due_in_period == [plan["sent_late"], plan["on_last_day"]]
    assert report.submitted_in_period == [plan["sent_late"]]
    assert report.approved_in_period == [plan["sent_late"]]
    assert report.late == [plan["open_late"], plan["sent_late"]]
    assert [d.days_late(PERIOD[1]) for d in report.late] == [181, 10]
    assert report.late[1].late_justification == "The GMP audit moved."
    assert report.due_next == [plan["on_last_day"], plan["next_month"]]
    assert report.milestones_achieved == [plan["achieved"]]
    assert report.milestones_missed == [plan["missed"]]
    assert report.milestones_overdue == []
    assert report.milestones_coming == [plan["due_on_last_day"]]
    [wp] = report.workpackages
    assert (wp.deliverables, wp.deliverables_approved, wp.deliverables_late) == (4, 1, 2)
    assert (wp.milestones, wp.milestones_achieved) == (3, 1)


def test_the_progress_report_holds_the_budget_and_effort_the_database_holds(
    consortium: Any, plan: dict[str, Any], budget_line: Any
) -> None:
    report = progress_report(consortium, period_start=PERIOD[0], period_end=PERIOD[1])
    [partner] = [row for row in report.budget_by_partner if row.consumed]
    assert partner.consumed == Decimal("1200.00")
    assert partner.planned == budget_line.planned_amount
    assert sum(row.planned for row in report.budget_by_workpackage) == budget_line.planned_amount
    assert report.time_elapsed == Decimal("49.9")
    [effort] = report.effort_by_partner
    assert (effort.planned, effort.actual, effort.consumption) == (
        Decimal("6.00"),
        Decimal("4.50"),
        Decimal("75.0"),
    )
    assert report.budget_by_workpackage[0].label.startswith("WP1")


def test_the_progress_report_says_what_changed_since_the_previous_one(
    consortium: Any, plan: dict[str, Any], partner_member: Any
) -> None:
    since = at(datetime.date(2025, 3, 15))
    report = progress_report(consortium, period_start=PERIOD[0], period_end=PERIOD[1], since=since)
    assert report.changes is not None
    # Approved on 20 March and achieved on 31 March; sent on 10 March, before the last report;
    # the expense and the jobs were recorded today, after it.
    assert (report.changes.deliverables_submitted, report.changes.deliverables_approved) == (0, 1)
    assert report.changes.milestones_achieved == 1
    assert (report.changes.expenses_accepted, report.changes.expenses_accepted_amount) == (
        1,
        Decimal("1200.00"),
    )
    assert progress_report(consortium, period_start=PERIOD[0], period_end=PERIOD[1]).changes is None


def test_the_progress_report_runs_the_same_queries_for_13_or_26_partners() -> None:
    counts = []
    since = timezone.now() - datetime.timedelta(days=1)
    for partners in (13, 26):
        consortium = _consortium_with_partners(partners)
        with CaptureQueriesContext(connection) as queries:
            report = progress_report(
                consortium, period_start=PERIOD[0], period_end=PERIOD[1], since=since
            )
        assert len(report.budget_by_partner) == len(report.workpackages) == partners
        counts.append(len(queries))
    assert counts[0] == counts[1]
