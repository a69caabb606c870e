"""Reads behind the scheduled reports. Every figure is aggregated by the database, in a number of
queries that does not grow with the number of partners, jobs or expenses."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext

from consortium import dates
from consortium.memo import repeated_reads
from consortium.models import Consortium, Partner, ReportingPeriod
from workpackages.base import ZERO, percent
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.jobs.selectors import (
    Commitment,
    PartnerJobs,
    PeriodJobs,
    jobs_by_partner,
    jobs_by_period,
)
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Effort, Expense
from workpackages.money.selectors import (
    BudgetRow,
    SubsidyDue,
    budget_by_heading,
    budget_rows,
    subsidy_due_by_partner,
)
from workpackages.overview.selectors import (
    ConsumedPoint,
    DueLine,
    consumed_by_period_end,
    deliverable_lines,
    milestone_lines,
    time_elapsed,
)
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus
from workpackages.workplan.models import (
    Deliverable,
    Milestone,
    Workpackage,
    due_soon_deliverable,
    overdue_deliverable,
)

COUNTED = (JobStatus.FORECAST, JobStatus.REALISED)


@dataclass
class JobsCount:
    """Positions and their full-time equivalent."""

    headcount: int = 0
    fte: Decimal = ZERO

    def add(self, headcount: int, fte: Decimal | None) -> None:
        self.headcount += headcount
        self.fte += fte or ZERO


@dataclass
class JobsRow:
    """Jobs of one partner, category, contract type or workpackage, by impact and status."""

    key: Any
    label: str
    counts: dict[tuple[str, str], JobsCount] = field(default_factory=lambda: defaultdict(JobsCount))

    def get(self, impact: str, status: str = JobStatus.REALISED) -> JobsCount:
        return self.counts.get((impact, status)) or JobsCount()


@dataclass
class TrajectoryPoint:
    """Realised jobs created up to the end of a month, cumulated, against the straight line that
    reaches each target at the jobs horizon."""

    month: datetime.date
    direct: int
    indirect: int
    direct_target: Decimal
    indirect_target: Decimal


@dataclass
class JobsReport:
    consortium: Consortium
    as_of: datetime.date
    since: datetime.datetime | None
    totals: JobsRow
    by_partner: list[JobsRow]
    by_category: list[JobsRow]
    by_contract_type: list[JobsRow]
    by_workpackage: list[JobsRow]
    trajectory: list[TrajectoryPoint]
    new_since: JobsRow


def _rows(jobs: Any, key: str, *label_fields: str, label: Any) -> list[JobsRow]:
    """One row per value of `key`, in one query, labelled by `label(values)`."""
    grouped = jobs.values(key, *label_fields, "impact", "status").annotate(
        headcount=Count("pk"), fte_total=Sum("fte")
    )
    return _rows_of(list(grouped.order_by()), key, label)


def _rows_of(grouped: list[dict[str, Any]], key: str, label: Any) -> list[JobsRow]:
    """One row per value of `key` (in its order, none last) from jobs counted by finer groups."""
    rows: dict[Any, JobsRow] = {}
    for values in sorted(grouped, key=lambda v: (v[key] is None, 0 if v[key] is None else v[key])):
        row = rows.setdefault(values[key], JobsRow(key=values[key], label=str(label(values))))
        row.counts[(values["impact"], values["status"])].add(
            values["headcount"], values["fte_total"]
        )
    return list(rows.values())


# What the jobs report breaks its counts down by, each by impact and status.
JOBS_BREAKDOWNS = ("partner_id", "category", "contract_type", "workpackage_id")


def _jobs_breakdowns(consortium: Consortium) -> dict[str, list[dict[str, Any]]]:
    """The counted jobs of `consortium` (forecast and realised) by each of `JOBS_BREAKDOWNS`,
    with impact and status: headcount and FTE, in one query. PostgreSQL counts them in one pass
    (grouping sets); SQLite (`make run`), which has none, in one statement of four groupings."""
    table = JobRecord._meta.db_table
    columns = ", ".join(JOBS_BREAKDOWNS)
    where = f"consortium_id = %s AND status IN ({', '.join(['%s'] * len(COUNTED))})"
    params: list[Any] = [consortium.pk, *COUNTED]
    if connection.vendor == "postgresql":
        sets = ", ".join(f"({key}, impact, status)" for key in JOBS_BREAKDOWNS)
        sql = (
            f"SELECT {columns}, impact, status, COUNT(*), SUM(fte), "  # noqa: S608  (names of this module)
            f"GROUPING({columns}) FROM {table} WHERE {where} GROUP BY GROUPING SETS ({sets})"
        )
    else:
        parts = []
        for position, key in enumerate(JOBS_BREAKDOWNS):
            # MAX(NULLIF(c, c)): no value, of the column's type (a NULL alone would be text).
            shown = ", ".join(
                name if name == key else f"MAX(NULLIF({name}, {name}))" for name in JOBS_BREAKDOWNS
            )
            grouping = sum(
                1 << (len(JOBS_BREAKDOWNS) - 1 - i)
                for i in range(len(JOBS_BREAKDOWNS))
                if i != position
            )
            parts.append(
                f"SELECT {shown}, impact, status, COUNT(*), SUM(fte), {grouping} "  # noqa: S608
                f"FROM {table} WHERE {where} GROUP BY {key}, impact, status"
            )
        sql = " UNION ALL ".join(parts)
        params = params * len(JOBS_BREAKDOWNS)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    breakdowns: dict[str, list[dict[str, Any]]] = {key: [] for key in JOBS_BREAKDOWNS}
    for *values, impact, status, headcount, fte, grouping in found:
        # GROUPING(...) has a bit set for each column left out: the one column kept is the set's.
        position = next(
            i
            for i in range(len(JOBS_BREAKDOWNS))
            if not grouping & (1 << (len(JOBS_BREAKDOWNS) - 1 - i))
        )
        key = JOBS_BREAKDOWNS[position]
        breakdowns[key].append(
            {
                key: values[position],
                "impact": impact,
                "status": status,
                "headcount": headcount,
                "fte_total": Decimal(str(fte or 0)).quantize(Decimal("0.01")),
            }
        )
    return breakdowns


def _trajectory(consortium: Consortium, jobs: Any, as_of: datetime.date) -> list[TrajectoryPoint]:
    started = (
        jobs.filter(status=JobStatus.REALISED, start_date__lte=as_of)
        .annotate(month=TruncMonth("start_date"))
        .values("month", "impact")
        .annotate(headcount=Count("pk"))
        .order_by("month")
    )
    per_month: dict[tuple[datetime.date, str], int] = {
        (row["month"], row["impact"]): row["headcount"] for row in started
    }
    horizon = 12 * consortium.jobs_horizon_years
    first = consortium.start_date.replace(day=1)
    earliest = min((month for month, _impact in per_month), default=first)
    month = min(first, earliest)
    points: list[TrajectoryPoint] = []
    direct = indirect = 0
    while month <= as_of:
        direct += per_month.get((month, JobImpact.DIRECT), 0)
        indirect += per_month.get((month, JobImpact.INDIRECT), 0)
        elapsed = min(max(dates.months_between(consortium.start_date, month), 0), horizon)
        share = Decimal(elapsed) / Decimal(horizon)
        points.append(
            TrajectoryPoint(
                month=month,
                direct=direct,
                indirect=indirect,
                direct_target=(consortium.direct_jobs_target * share).quantize(Decimal("0.1")),
                indirect_target=(consortium.indirect_jobs_target * share).quantize(Decimal("0.1")),
            )
        )
        month = dates.add_months(month, 1)
    return points


def jobs_report(
    consortium: Consortium,
    *,
    as_of: datetime.date,
    since: datetime.datetime | None = None,
) -> JobsReport:
    """The jobs-created report of a consortium on `as_of`: forecast and realised, direct and
    indirect, by partner, category, contract type and workpackage, the cumulative trajectory
    against the targets, and what was recorded after `since` (the previous report)."""
    jobs = JobRecord.objects.filter(consortium_id=consortium.pk, status__in=COUNTED)
    breakdowns = _jobs_breakdowns(consortium)
    partners = {
        pk: f"P{number} {name}"
        for pk, number, name in Partner.objects.filter(consortium_id=consortium.pk).values_list(
            "pk", "number", "organisation__short_name"
        )
    }
    numbers = dict(
        Workpackage.objects.filter(consortium_id=consortium.pk).values_list("pk", "number")
    )
    by_partner = _rows_of(
        breakdowns["partner_id"], "partner_id", label=lambda v: partners[v["partner_id"]]
    )
    totals = JobsRow(key=None, label=gettext("All partners"))
    for row in by_partner:
        for key, count in row.counts.items():
            totals.counts[key].add(count.headcount, count.fte)
    new_since = JobsRow(key=None, label=gettext("Recorded since the previous report"))
    if since is not None:
        for row in _rows(jobs.filter(created_at__gt=since), "consortium_id", label=lambda v: ""):
            new_since.counts.update(row.counts)
    return JobsReport(
        consortium=consortium,
        as_of=as_of,
        since=since,
        totals=totals,
        by_partner=by_partner,
        by_category=_rows_of(
            breakdowns["category"], "category", label=lambda v: JobCategory(v["category"]).label
        ),
        by_contract_type=_rows_of(
            breakdowns["contract_type"],
            "contract_type",
            label=lambda v: ContractType(v["contract_type"]).label,
        ),
        by_workpackage=_rows_of(
            breakdowns["workpackage_id"],
            "workpackage_id",
            label=lambda v: (
                f"WP{numbers[v['workpackage_id']]}"
                if v["workpackage_id"]
                else gettext("No workpackage")
            ),
        ),
        trajectory=_trajectory(consortium, jobs, as_of),
        new_since=new_since,
    )


@dataclass
class WorkpackageStatus:
    """One line of the progress report's workpackage table."""

    workpackage: Workpackage
    deliverables: int
    deliverables_approved: int
    deliverables_late: int
    milestones: int
    milestones_achieved: int
    budget: BudgetRow | None


@dataclass
class EffortRow:
    """Person-months planned and reported by one partner or in one workpackage."""

    key: int
    label: str
    planned: Decimal
    actual: Decimal

    @property
    def consumption(self) -> Decimal | None:
        return percent(self.actual, self.planned)


@dataclass
class Changes:
    """What happened since the previous report."""

    deliverables_submitted: int = 0
    deliverables_approved: int = 0
    milestones_achieved: int = 0
    expenses_accepted: int = 0
    expenses_accepted_amount: Decimal = ZERO
    jobs_recorded: int = 0


@dataclass
class ProgressReport:
    consortium: Consortium
    period_start: datetime.date
    period_end: datetime.date
    since: datetime.datetime | None
    time_elapsed: Decimal
    due_in_period: list[Deliverable]
    submitted_in_period: list[Deliverable]
    approved_in_period: list[Deliverable]
    late: list[Deliverable]
    due_next: list[Deliverable]
    milestones_achieved: list[Milestone]
    milestones_missed: list[Milestone]
    milestones_overdue: list[Milestone]
    milestones_coming: list[Milestone]
    workpackages: list[WorkpackageStatus]
    budget_by_partner: list[BudgetRow]
    budget_by_workpackage: list[BudgetRow]
    effort_by_partner: list[EffortRow]
    effort_by_workpackage: list[EffortRow]
    changes: Changes | None

    @property
    def budget_total(self) -> BudgetRow:
        """The consortium's planned, granted and consumed money: the sum of its partners'."""
        total = BudgetRow(key=0, number=0, label=gettext("Total"))
        for row in self.budget_by_partner:
            total.planned += row.planned
            total.granted += row.granted
            total.consumed += row.consumed
            total.overspent_lines += row.overspent_lines
        return total

    @property
    def overspent(self) -> list[BudgetRow]:
        """Partners whose consumption runs ahead of the time elapsed, or past their plan."""
        return [
            row
            for row in self.budget_by_partner
            if row.overspent_lines
            or (row.consumption is not None and row.consumption > self.time_elapsed)
        ]


def _moment(day: datetime.date, end: bool = False) -> datetime.datetime:
    """The first (or, with `end`, the last) moment of `day` in the app's time zone."""
    moment = datetime.datetime.combine(day, datetime.time.max if end else datetime.time.min)
    return timezone.make_aware(moment)


def _effort(consortium: Consortium, key: str, number: str, label: str) -> list[EffortRow]:
    rows = (
        Effort.objects.filter(consortium_id=consortium.pk)
        .values(key, number, label)
        .annotate(planned=Sum("planned_person_months"), actual=Sum("actual_person_months"))
        .order_by(number)
    )
    prefix = "P" if key == "partner_id" else "WP"
    return [
        EffortRow(
            key=row[key],
            label=f"{prefix}{row[number]} {row[label]}",
            planned=row["planned"] or ZERO,
            actual=row["actual"] or ZERO,
        )
        for row in rows
    ]


def _changes(consortium: Consortium, since: datetime.datetime) -> Changes:
    deliverables = Deliverable.objects.filter(consortium_id=consortium.pk).aggregate(
        submitted=Count("pk", filter=Q(first_submitted_at__gt=since)),
        approved=Count("pk", filter=Q(approved_at__gt=since)),
    )
    expenses = Expense.objects.filter(
        consortium_id=consortium.pk, status=ExpenseStatus.ACCEPTED, reviewed_at__gt=since
    ).aggregate(count=Count("pk"), amount=Sum("accepted_amount"))
    return Changes(
        deliverables_submitted=deliverables["submitted"],
        deliverables_approved=deliverables["approved"],
        milestones_achieved=Milestone.objects.filter(
            consortium_id=consortium.pk, achieved_on__gt=timezone.localdate(since)
        ).count(),
        expenses_accepted=expenses["count"],
        expenses_accepted_amount=expenses["amount"] or ZERO,
        jobs_recorded=JobRecord.objects.filter(
            consortium_id=consortium.pk, created_at__gt=since
        ).count(),
    )


def progress_report(
    consortium: Consortium,
    *,
    period_start: datetime.date,
    period_end: datetime.date,
    since: datetime.datetime | None = None,
    ahead_days: int = 60,
) -> ProgressReport:
    """The progress report of a consortium for a period, as things stood at its end: deliverables
    and milestones of the period and the `ahead_days` after it, the workpackages, the budget and
    the effort, and what changed since the previous report (`since`)."""
    as_of = period_end
    ahead = as_of + datetime.timedelta(days=ahead_days)
    start, end = _moment(period_start), _moment(period_end, end=True)
    deliverables = Deliverable.objects.filter(consortium_id=consortium.pk).select_related(
        "workpackage", "lead_partner__organisation"
    )
    # Due on the period's last day is not late yet; due before it and still open is.
    late = overdue_deliverable(as_of) | Q(first_submitted_at__date__gt=F("due_date"))
    milestones = Milestone.objects.filter(consortium_id=consortium.pk).select_related(
        "lead_partner__organisation"
    )
    by_partner, by_workpackage = budget_rows([consortium.pk])
    wp_budget = {row.key: row for row in by_workpackage.get(consortium.pk, [])}
    workpackages = (
        Workpackage.objects.filter(consortium_id=consortium.pk)
        .select_related("lead_partner__organisation")
        .annotate(
            n_deliverables=Count("deliverables", distinct=True),
            n_approved=Count(
                "deliverables",
                filter=Q(deliverables__status=DeliverableStatus.APPROVED),
                distinct=True,
            ),
            n_late=Count(
                "deliverables",
                filter=overdue_deliverable(as_of, "deliverables__")
                | Q(deliverables__first_submitted_at__date__gt=F("deliverables__due_date")),
                distinct=True,
            ),
            n_milestones=Count("milestones", distinct=True),
            n_achieved=Count(
                "milestones",
                filter=Q(milestones__status=MilestoneStatus.ACHIEVED),
                distinct=True,
            ),
        )
    )
    return ProgressReport(
        consortium=consortium,
        period_start=period_start,
        period_end=period_end,
        since=since,
        time_elapsed=time_elapsed(consortium, as_of),
        due_in_period=list(deliverables.filter(due_date__range=(period_start, period_end))),
        submitted_in_period=list(deliverables.filter(first_submitted_at__range=(start, end))),
        approved_in_period=list(deliverables.filter(approved_at__range=(start, end))),
        late=list(deliverables.filter(late).order_by("due_date", "pk")),
        due_next=list(
            deliverables.filter(due_soon_deliverable(as_of, ahead_days)).order_by("due_date", "pk")
        ),
        milestones_achieved=list(milestones.filter(achieved_on__range=(period_start, period_end))),
        milestones_missed=list(
            milestones.filter(status=MilestoneStatus.MISSED, due_date__lte=period_end)
        ),
        milestones_overdue=list(
            milestones.filter(status=MilestoneStatus.PENDING, due_date__lt=as_of)
        ),
        milestones_coming=list(
            milestones.filter(
                status=MilestoneStatus.PENDING, due_date__gte=as_of, due_date__lte=ahead
            ).order_by("due_date", "pk")
        ),
        workpackages=[
            WorkpackageStatus(
                workpackage=wp,
                deliverables=wp.n_deliverables,
                deliverables_approved=wp.n_approved,
                deliverables_late=wp.n_late,
                milestones=wp.n_milestones,
                milestones_achieved=wp.n_achieved,
                budget=wp_budget.get(wp.pk),
            )
            for wp in workpackages
        ],
        budget_by_partner=by_partner.get(consortium.pk, []),
        budget_by_workpackage=by_workpackage.get(consortium.pk, []),
        effort_by_partner=_effort(
            consortium, "partner_id", "partner__number", "partner__organisation__short_name"
        ),
        effort_by_workpackage=_effort(
            consortium, "workpackage_id", "workpackage__number", "workpackage__title"
        ),
        changes=None if since is None else _changes(consortium, since),
    )


# The semester report ------------------------------------------------------------------------


@dataclass
class HeadingRow:
    """One cost heading: its budget and costs to the period's end, and its costs of the period."""

    to_date: BudgetRow
    in_period: Decimal


@dataclass
class SemesterReport:
    """What the funder asks each semester, every figure as of the reporting period's end: the
    costs of the periods up to it (whenever they were accepted), time elapsed and effort planned
    to that day, the deliverables and milestones as they stood then."""

    consortium: Consortium
    period: ReportingPeriod
    time_elapsed: Decimal
    budget_by_partner: list[BudgetRow]
    budget_by_workpackage: list[BudgetRow]
    budget_by_heading: list[HeadingRow]
    subsidy: SubsidyDue
    jobs_by_partner: list[PartnerJobs]
    jobs_by_period: list[PeriodJobs]
    deliverables_due: list[DueLine]
    deliverables_late: list[DueLine]
    milestones: list[DueLine]
    effort_by_partner: list[EffortRow]
    effort_by_workpackage: list[EffortRow]
    consumed: list[ConsumedPoint] = field(default_factory=list)

    @property
    def period_start(self) -> datetime.date:
        return self.period.start_date

    @property
    def period_end(self) -> datetime.date:
        return self.period.end_date

    @property
    def budget_total(self) -> BudgetRow:
        total = BudgetRow(key=0, number=0, label=gettext("Total"))
        for row in self.budget_by_partner:
            total.planned += row.planned
            total.granted += row.granted
            total.consumed += row.consumed
        return total

    @property
    def spent_in_period(self) -> Decimal:
        return sum((row.in_period for row in self.budget_by_heading), ZERO)

    @property
    def jobs_total(self) -> tuple[Commitment, Commitment]:
        """The partners' direct and indirect jobs added up, against the consortium's targets."""
        totals = []
        for impact, target in (
            (JobImpact.DIRECT, self.consortium.direct_jobs_target),
            (JobImpact.INDIRECT, self.consortium.indirect_jobs_target),
        ):
            rows = [getattr(row, impact) for row in self.jobs_by_partner]
            totals.append(
                Commitment(
                    impact=impact,
                    label=gettext("Total"),
                    committed=target,
                    realised=sum(row.realised for row in rows),
                    realised_fte=sum((row.realised_fte for row in rows), ZERO),
                    forecast=sum(row.forecast for row in rows),
                    forecast_fte=sum((row.forecast_fte for row in rows), ZERO),
                )
            )
        return totals[0], totals[1]

    @property
    def committed(self) -> tuple[int, int]:
        """What the partners committed to, direct and indirect."""
        return (
            sum(row.direct.committed for row in self.jobs_by_partner),
            sum(row.indirect.committed for row in self.jobs_by_partner),
        )


def _effort_to(consortium: Consortium, end: datetime.date, key: str, label: Any) -> list[EffortRow]:
    """Person-months planned for and reported in the periods ended by `end`, by `key`."""
    rows = (
        Effort.objects.filter(consortium_id=consortium.pk, period__end_date__lte=end)
        .values(key)
        .annotate(planned=Sum("planned_person_months"), actual=Sum("actual_person_months"))
        .order_by()
    )
    found = {row[key]: row for row in rows}
    return [
        EffortRow(
            key=pk,
            label=label(pk, number, name),
            planned=found.get(pk, {}).get("planned") or ZERO,
            actual=found.get(pk, {}).get("actual") or ZERO,
        )
        for pk, number, name in _effort_keys(consortium, key)
    ]


def _effort_keys(consortium: Consortium, key: str) -> list[tuple[int, int, str]]:
    if key == "partner_id":
        return list(
            Partner.objects.filter(consortium_id=consortium.pk)
            .order_by("number")
            .values_list("pk", "number", "organisation__short_name")
        )
    return list(
        Workpackage.objects.filter(consortium_id=consortium.pk)
        .order_by("number")
        .values_list("pk", "number", "title")
    )


def semester_report(consortium: Consortium, period: ReportingPeriod) -> SemesterReport:
    """The semester report of `period`, as of its end. Every figure is aggregated by the
    database; later periods' costs, later deliveries and later job records do not move it.
    The accepted costs its money figures add up are read once for all of them."""
    with repeated_reads():
        return _semester_report(consortium, period)


def _semester_report(consortium: Consortium, period: ReportingPeriod) -> SemesterReport:
    end = period.end_date
    before = period.start_date - datetime.timedelta(days=1)
    by_partner, by_workpackage = budget_rows([consortium.pk], until=end)
    to_date = budget_by_heading(consortium, until=end)
    earlier = {row.key: row.consumed for row in budget_by_heading(consortium, until=before)}
    deliverables = Deliverable.objects.filter(consortium_id=consortium.pk, due_date__lte=end)
    # Due on the period's last day and not sent by then is not late yet (as in the progress
    # report); sent on that day is sent.
    lines = deliverable_lines(deliverables, end, as_of=True)
    return SemesterReport(
        consortium=consortium,
        period=period,
        time_elapsed=time_elapsed(consortium, end),
        budget_by_partner=by_partner.get(consortium.pk, []),
        budget_by_workpackage=by_workpackage.get(consortium.pk, []),
        budget_by_heading=[
            HeadingRow(to_date=row, in_period=row.consumed - earlier.get(row.key, ZERO))
            for row in to_date
        ],
        subsidy=subsidy_due_by_partner(consortium, until=end),
        jobs_by_partner=jobs_by_partner(consortium, until=end),
        jobs_by_period=[
            row
            for row in jobs_by_period(consortium, until=end)
            if row.period is not None and row.period.end_date <= end
        ],
        deliverables_due=[line for line in lines if period.start_date <= line.item.due_date <= end],
        deliverables_late=[
            line
            for line in lines
            if line.overdue
            or (line.late and line.done_on is not None and line.done_on >= period.start_date)
        ],
        milestones=milestone_lines(
            Milestone.objects.filter(consortium_id=consortium.pk, due_date__lte=end),
            end,
            as_of=True,
        ),
        effort_by_partner=_effort_to(
            consortium, end, "partner_id", lambda pk, number, name: f"P{number} {name}"
        ),
        effort_by_workpackage=_effort_to(
            consortium, end, "workpackage_id", lambda pk, number, name: f"WP{number} {name}"
        ),
        consumed=consumed_by_period_end(consortium, until=end),
    )
