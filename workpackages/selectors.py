"""Reads that aggregate the work plan, the budget and the jobs; every sum is computed by the database.

Each function takes a set of consortium ids and answers for all of them in a fixed number of
queries, however many partners, lines or expenses there are.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consortium.choices import CostCategoryKind
from consortium.models import Consortium, Partner, ReportingPeriod

from .choices import (
    BudgetLineStatus,
    DeliverableStatus,
    ExpenseStatus,
    JobImpact,
    JobStatus,
    MilestoneStatus,
)
from .models import (
    BudgetLine,
    Deliverable,
    Expense,
    JobRecord,
    Milestone,
    Statement,
    Workpackage,
)
from .models.workplan import due_soon_deliverable, overdue_deliverable

ZERO = Decimal("0.00")
MONEY_FIELD: DecimalField = DecimalField(max_digits=16, decimal_places=2)


def _accepted_sum(category_ref: str) -> Subquery:
    return Subquery(
        Expense.objects.filter(
            partner_id=OuterRef("partner_id"),
            workpackage_id=OuterRef("workpackage_id"),
            category_id=OuterRef(category_ref),
            status=ExpenseStatus.ACCEPTED,
        )
        .values("partner_id")
        .annotate(total=Sum("accepted_amount"))
        .values("total"),
        output_field=MONEY_FIELD,
    )


def budget_lines_with_consumption(lines: QuerySet[BudgetLine]) -> QuerySet[Any]:
    """Annotate `consumed` (accepted expenses; flat-rate lines: rate × their base heading's)."""
    own = Coalesce(_accepted_sum("category_id"), Value(ZERO), output_field=MONEY_FIELD)
    base = Coalesce(
        _accepted_sum("category__flat_rate_base_id"), Value(ZERO), output_field=MONEY_FIELD
    )
    return lines.annotate(
        consumed=Case(
            When(
                category__kind=CostCategoryKind.FLAT_RATE,
                # Rounded to the cent per line, as the funder computes it.
                then=Round(
                    ExpressionWrapper(
                        base * F("category__flat_rate") / Value(Decimal(100)),
                        output_field=MONEY_FIELD,
                    ),
                    2,
                    output_field=MONEY_FIELD,
                ),
            ),
            default=own,
            output_field=MONEY_FIELD,
        )
    )


def expenses_with_line_balance(expenses: QuerySet[Expense]) -> QuerySet[Any]:
    """Annotate each expense with the balance of its budget line, in the query that reads the
    expenses: `line_planned`, `line_consumed` (accepted on the line so far, as
    `budget_lines_with_consumption` counts it) and `line_remaining` (planned minus consumed,
    negative once the line is overspent); None without an active line."""
    lines = (
        budget_lines_with_consumption(
            BudgetLine.objects.filter(
                partner_id=OuterRef("partner_id"),
                workpackage_id=OuterRef("workpackage_id"),
                category_id=OuterRef("category_id"),
                status=BudgetLineStatus.ACTIVE,
            )
        )
        .annotate(
            remaining=ExpressionWrapper(
                F("planned_amount") - F("consumed"), output_field=MONEY_FIELD
            )
        )
        # One active line per partner, workpackage and heading: no ordering (and no join) needed.
        .order_by()
    )

    def line(value: str) -> Subquery:
        return Subquery(lines.values(value)[:1], output_field=MONEY_FIELD)

    return expenses.annotate(
        line_planned=line("planned_amount"),
        line_consumed=line("consumed"),
        line_remaining=line("remaining"),
    )


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass
class BudgetRow:
    """Planned, granted and consumed money for one partner or one workpackage."""

    key: int
    number: int
    label: str
    planned: Decimal = ZERO
    granted: Decimal = ZERO
    consumed: Decimal = ZERO
    overspent_lines: int = 0

    @property
    def consumption(self) -> Decimal | None:
        return percent(self.consumed, self.planned)

    @property
    def bar_width(self) -> int:
        """The consumed share as a whole percentage from 0 to 100, for a bar's width."""
        return min(int(self.consumption or 0), 100)


@dataclass(frozen=True)
class Commitment:
    """A partner's jobs of one impact (direct or indirect) against what it committed to."""

    impact: str
    label: str
    committed: int
    realised: int = 0
    realised_fte: Decimal = ZERO
    forecast: int = 0
    forecast_fte: Decimal = ZERO

    @property
    def expected(self) -> int:
        return self.realised + self.forecast

    @property
    def expected_fte(self) -> Decimal:
        return self.realised_fte + self.forecast_fte

    @property
    def progress(self) -> Decimal | None:
        """Realised headcount as a percentage of the commitment."""
        return percent(self.realised, self.committed)

    @property
    def outlook(self) -> Decimal | None:
        """Realised and forecast headcount as a percentage of the commitment."""
        return percent(self.expected, self.committed)

    @property
    def bar_width(self) -> int:
        return min(int(self.progress or 0), 100)


@dataclass
class JobsFigures:
    """Jobs created in a consortium, by impact and status, against its targets."""

    direct_target: int
    indirect_target: int
    counts: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)

    def headcount(self, impact: str, status: str = JobStatus.REALISED) -> int:
        return self.counts.get((impact, status), (0, ZERO))[0]

    def fte(self, impact: str, status: str = JobStatus.REALISED) -> Decimal:
        return self.counts.get((impact, status), (0, ZERO))[1]

    @property
    def direct_realised(self) -> int:
        return self.headcount(JobImpact.DIRECT)

    @property
    def indirect_realised(self) -> int:
        return self.headcount(JobImpact.INDIRECT)

    @property
    def direct_fte(self) -> Decimal:
        return self.fte(JobImpact.DIRECT)

    @property
    def indirect_fte(self) -> Decimal:
        return self.fte(JobImpact.INDIRECT)

    @property
    def direct_forecast(self) -> int:
        return self.headcount(JobImpact.DIRECT, JobStatus.FORECAST)

    @property
    def indirect_forecast(self) -> int:
        return self.headcount(JobImpact.INDIRECT, JobStatus.FORECAST)

    @property
    def direct_progress(self) -> Decimal | None:
        return percent(self.direct_realised, self.direct_target)

    @property
    def indirect_progress(self) -> Decimal | None:
        return percent(self.indirect_realised, self.indirect_target)

    def commitments(self) -> list[Commitment]:
        """Realised and forecast jobs, direct then indirect, each against its target."""
        targets = {
            JobImpact.DIRECT: (gettext("Direct jobs"), self.direct_target),
            JobImpact.INDIRECT: (gettext("Indirect jobs"), self.indirect_target),
        }
        return [
            Commitment(
                impact=impact,
                label=label,
                committed=target,
                realised=self.headcount(impact),
                realised_fte=self.fte(impact),
                forecast=self.headcount(impact, JobStatus.FORECAST),
                forecast_fte=self.fte(impact, JobStatus.FORECAST),
            )
            for impact, (label, target) in targets.items()
        ]


@dataclass
class ConsortiumDashboard:
    """Everything the coordinators' dashboard shows for one consortium."""

    consortium: Consortium
    partners: int = 0
    workpackages: int = 0
    deliverables_total: int = 0
    deliverables_on_time: int = 0
    deliverables_late: int = 0
    deliverables_due_soon: int = 0
    deliverables_by_status: dict[Any, int] = field(default_factory=dict)
    late_deliverables: list[Deliverable] = field(default_factory=list)
    by_partner: list[BudgetRow] = field(default_factory=list)
    by_workpackage: list[BudgetRow] = field(default_factory=list)
    jobs: JobsFigures | None = None
    time_elapsed: Decimal | None = None

    @property
    def planned(self) -> Decimal:
        return sum((row.planned for row in self.by_partner), ZERO)

    @property
    def granted(self) -> Decimal:
        return sum((row.granted for row in self.by_partner), ZERO)

    @property
    def consumed(self) -> Decimal:
        return sum((row.consumed for row in self.by_partner), ZERO)

    @property
    def consumption(self) -> Decimal | None:
        return percent(self.consumed, self.planned)

    @property
    def budget_tables(self) -> list[tuple[Any, list[BudgetRow]]]:
        return [
            (_("Budget by partner"), self.by_partner),
            (_("Budget by workpackage"), self.by_workpackage),
        ]

    @property
    def overspent_lines(self) -> int:
        return sum(row.overspent_lines for row in self.by_partner)


def time_elapsed(consortium: Consortium, today: datetime.date) -> Decimal:
    total = (consortium.end_date - consortium.start_date).days + 1
    done = min(max((today - consortium.start_date).days + 1, 0), total)
    return percent(done, total) or Decimal(0)


def _deliverable_counts(ids: list[int], today: datetime.date) -> dict[int, dict[str, Any]]:
    # Late and on time exclude each other: a deliverable sent on time, then sent back and still
    # open past its date, is late now.
    late = overdue_deliverable(today) | Q(first_submitted_at__date__gt=F("due_date"))
    rows = (
        Deliverable.objects.filter(consortium_id__in=ids)
        .values("consortium_id")
        .annotate(
            total=Count("pk"),
            late=Count("pk", filter=late),
            on_time=Count("pk", filter=Q(first_submitted_at__isnull=False) & ~late),
            due_soon=Count("pk", filter=due_soon_deliverable(today)),
            **{
                f"status_{value}": Count("pk", filter=Q(status=value))
                for value in DeliverableStatus.values
            },
        )
    )
    return {row.pop("consortium_id"): row for row in rows}


def _add_line(
    rows: dict[int, BudgetRow],
    key: int,
    number: int,
    label: str,
    planned: Decimal,
    granted: Decimal | None,
    consumed: Decimal,
) -> None:
    """Add one budget line's money to its row in `rows`, creating the row on first use."""
    row = rows.setdefault(key, BudgetRow(key=key, number=number, label=label))
    row.planned += planned
    row.granted += granted or ZERO
    row.consumed += consumed
    row.overspent_lines += int(consumed > planned)


def budget_rows(
    ids: list[int], partners_only: QuerySet[Any] | None = None
) -> tuple[dict[int, list[BudgetRow]], dict[int, list[BudgetRow]]]:
    """Budget per partner and per workpackage, from one query over the (annotated) budget lines;
    `partners_only` (partner ids) leaves out the money of every other partner."""
    lines = BudgetLine.objects.filter(consortium_id__in=ids, status=BudgetLineStatus.ACTIVE)
    all_partners = Partner.objects.filter(consortium_id__in=ids)
    if partners_only is not None:
        lines = lines.filter(partner_id__in=partners_only)
        all_partners = all_partners.filter(pk__in=partners_only)
    values = budget_lines_with_consumption(lines).values_list(
        "consortium_id",
        "partner_id",
        "partner__number",
        "partner__organisation__short_name",
        "workpackage_id",
        "workpackage__number",
        "workpackage__title",
        "planned_amount",
        "granted_amount",
        "consumed",
    )
    partners: dict[int, dict[int, BudgetRow]] = defaultdict(dict)
    workpackages: dict[int, dict[int, BudgetRow]] = defaultdict(dict)
    for cid, pid, pnum, pname, wid, wnum, wtitle, planned, granted, consumed in values:
        for rows, key, number, label in (
            (partners[cid], pid, pnum, f"P{pnum} {pname}"),
            (workpackages[cid], wid, wnum, f"WP{wnum} {wtitle}"),
        ):
            _add_line(rows, key, number, label, planned, granted, consumed)
    # Partners and WPs without any line still appear, with zeros.
    for pid, cid, pnum, pname in all_partners.values_list(
        "pk", "consortium_id", "number", "organisation__short_name"
    ):
        partners[cid].setdefault(pid, BudgetRow(key=pid, number=pnum, label=f"P{pnum} {pname}"))
    for wid, cid, wnum, wtitle in Workpackage.objects.filter(consortium_id__in=ids).values_list(
        "pk", "consortium_id", "number", "title"
    ):
        workpackages[cid].setdefault(
            wid, BudgetRow(key=wid, number=wnum, label=f"WP{wnum} {wtitle}")
        )

    def ordered(rows: dict[int, BudgetRow]) -> list[BudgetRow]:
        return sorted(rows.values(), key=lambda row: row.number)

    return (
        {cid: ordered(rows) for cid, rows in partners.items()},
        {cid: ordered(rows) for cid, rows in workpackages.items()},
    )


def _jobs(
    ids: list[int], partners_only: QuerySet[Any] | None = None
) -> dict[int, dict[tuple[str, str], tuple[int, Decimal]]]:
    jobs = JobRecord.objects.filter(consortium_id__in=ids)
    if partners_only is not None:
        jobs = jobs.filter(partner_id__in=partners_only)
    rows = (
        jobs.exclude(status=JobStatus.WITHDRAWN)
        .values("consortium_id", "impact", "status")
        .annotate(headcount=Count("pk"), fte=Sum("fte"))
    )
    result: dict[int, dict[tuple[str, str], tuple[int, Decimal]]] = defaultdict(dict)
    for row in rows:
        result[row["consortium_id"]][(row["impact"], row["status"])] = (
            row["headcount"],
            row["fte"] or ZERO,
        )
    return result


def partner_jobs(partner: Partner) -> JobsFigures:
    """A partner's jobs, by impact and status, against its commitments, in one query."""
    return JobsFigures(
        direct_target=partner.jobs_commitment_direct,
        indirect_target=partner.jobs_commitment_indirect,
        counts=_jobs(
            [partner.consortium_id], Partner.objects.filter(pk=partner.pk).values("pk")
        ).get(partner.consortium_id, {}),
    )


def consortium_dashboards(
    consortia: Iterable[Consortium],
    *,
    today: datetime.date | None = None,
    late_limit: int = 10,
    partners_only: QuerySet[Any] | None = None,
) -> list[ConsortiumDashboard]:
    """The dashboard of each consortium, in a number of queries that depends on nothing but
    the number of consortia (one for each consortium's late-deliverables list, none without
    one). With `partners_only` (partner ids), the money and the jobs are those partners' only."""
    today = today or timezone.localdate()
    consortia = list(consortia)
    ids = [c.pk for c in consortia]
    if not ids:
        return []
    deliverables = _deliverable_counts(ids, today)
    by_partner, by_workpackage = budget_rows(ids, partners_only)
    jobs = _jobs(ids, partners_only)
    counts = {
        row["pk"]: row
        for row in Consortium.objects.filter(pk__in=ids)
        .values("pk")
        .annotate(
            n_partners=Count("partners", distinct=True),
            n_workpackages=Count("workpackages", distinct=True),
        )
    }
    dashboards = []
    for consortium in consortia:
        d = deliverables.get(consortium.pk, {})
        late = (
            Deliverable.objects.filter(consortium=consortium)
            .overdue(today)
            .select_related("workpackage", "lead_partner__organisation")
            .order_by("due_date")[:late_limit]
        )
        dashboards.append(
            ConsortiumDashboard(
                consortium=consortium,
                partners=counts[consortium.pk]["n_partners"],
                workpackages=counts[consortium.pk]["n_workpackages"],
                deliverables_total=d.get("total", 0),
                deliverables_on_time=d.get("on_time", 0),
                deliverables_late=d.get("late", 0),
                deliverables_due_soon=d.get("due_soon", 0),
                deliverables_by_status={
                    label: d.get(f"status_{value}", 0) for value, label in DeliverableStatus.choices
                },
                late_deliverables=list(late) if late_limit else [],
                by_partner=by_partner.get(consortium.pk, []),
                by_workpackage=by_workpackage.get(consortium.pk, []),
                jobs=JobsFigures(
                    direct_target=consortium.direct_jobs_target,
                    indirect_target=consortium.indirect_jobs_target,
                    counts=jobs.get(consortium.pk, {}),
                ),
                time_elapsed=time_elapsed(consortium, today),
            )
        )
    return dashboards


@dataclass
class ConsortiumSummary:
    """The figures integrations read for one consortium: the dashboard's, plus the milestones."""

    dashboard: ConsortiumDashboard
    partner_scope: bool
    milestones_total: int = 0
    milestones_overdue: int = 0
    milestones_by_status: dict[str, int] = field(default_factory=dict)
    today: datetime.date | None = None


def consortium_summary(
    consortium: Consortium,
    *,
    partners_only: QuerySet[Any] | None = None,
    today: datetime.date | None = None,
) -> ConsortiumSummary:
    """One consortium's budget, deliverables, milestones and jobs in a fixed number of queries.

    With `partners_only` (ids of the partners a partner user works for) the money and the jobs are
    those partners' only; the work plan (deliverables, milestones) is the whole consortium's.
    """
    today = today or timezone.localdate()
    [dashboard] = consortium_dashboards(
        [consortium], today=today, late_limit=0, partners_only=partners_only
    )
    milestones = Milestone.objects.filter(consortium_id=consortium.pk).aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=Q(status=MilestoneStatus.PENDING, due_date__lt=today)),
        **{
            f"status_{value}": Count("pk", filter=Q(status=value))
            for value in MilestoneStatus.values
        },
    )
    if partners_only is not None and dashboard.jobs is not None:
        # A partner's targets are its own commitments.
        commitments = Partner.objects.filter(
            consortium_id=consortium.pk, pk__in=partners_only
        ).aggregate(direct=Sum("jobs_commitment_direct"), indirect=Sum("jobs_commitment_indirect"))
        dashboard.jobs.direct_target = commitments["direct"] or 0
        dashboard.jobs.indirect_target = commitments["indirect"] or 0
    return ConsortiumSummary(
        dashboard=dashboard,
        partner_scope=partners_only is not None,
        milestones_total=milestones["total"],
        milestones_overdue=milestones["overdue"],
        milestones_by_status={
            value: milestones[f"status_{value}"] for value in MilestoneStatus.values
        },
        today=today,
    )


@dataclass
class StatementDue:
    """A reporting period's expense statement, seen from one partner."""

    period: ReportingPeriod
    submitted_at: datetime.datetime | None
    today: datetime.date

    @property
    def days_left(self) -> int:
        """Days until the statement is due; negative once it is late."""
        return (self.period.statement_due_date - self.today).days

    @property
    def days_late(self) -> int:
        return max(-self.days_left, 0)


@dataclass
class PartnerDashboard:
    """What a partner's people see first: their deadlines, their money and their jobs."""

    partner: Partner
    today: datetime.date
    overdue: list[Deliverable]
    due_soon: list[Deliverable]
    milestones: list[Milestone]
    by_workpackage: list[BudgetRow]
    by_category: list[BudgetRow]
    jobs: JobsFigures
    current_period: ReportingPeriod | None
    statements: list[StatementDue]

    @property
    def planned(self) -> Decimal:
        return sum((row.planned for row in self.by_workpackage), ZERO)

    @property
    def consumed(self) -> Decimal:
        return sum((row.consumed for row in self.by_workpackage), ZERO)

    @property
    def consumption(self) -> Decimal | None:
        return percent(self.consumed, self.planned)

    @property
    def next_statement(self) -> StatementDue | None:
        """The statement to file next: the oldest ended period not yet submitted, else the
        current period's."""
        waiting = [s for s in self.statements if s.submitted_at is None]
        ended = [s for s in waiting if s.period.end_date < self.today]
        if ended:
            return ended[0]
        return next((s for s in waiting if s.period == self.current_period), None)


def partner_dashboard(
    partner: Partner, *, today: datetime.date | None = None, soon_days: int = 60
) -> PartnerDashboard:
    """A partner's dashboard in a fixed number of queries, whatever its lines, deliverables or
    jobs: deadlines it leads, budget consumed per workpackage and heading, jobs against its
    commitments, and where its expense statements stand."""
    today = today or timezone.localdate()
    led = (
        Deliverable.objects.filter(lead_partner=partner)
        .select_related("workpackage")
        .order_by("due_date", "workpackage__number", "number")
    )
    overdue = list(led.filter(overdue_deliverable(today)))
    due_soon = list(led.filter(due_soon_deliverable(today, soon_days)))
    milestones = list(
        Milestone.objects.filter(lead_partner=partner, status=MilestoneStatus.PENDING)
        .filter(due_date__lte=today + datetime.timedelta(days=soon_days))
        .order_by("due_date", "number")
    )
    lines = budget_lines_with_consumption(
        BudgetLine.objects.filter(partner=partner, status=BudgetLineStatus.ACTIVE)
    ).values_list(
        "workpackage_id",
        "workpackage__number",
        "workpackage__title",
        "category_id",
        "category__position",
        "category__name",
        "planned_amount",
        "granted_amount",
        "consumed",
    )
    workpackages: dict[int, BudgetRow] = {}
    categories: dict[int, BudgetRow] = {}
    for wid, wnum, wtitle, cid, cpos, cname, planned, granted, consumed in lines:
        for rows, key, number, label in (
            (workpackages, wid, wnum, f"WP{wnum} {wtitle}"),
            (categories, cid, cpos, gettext(cname)),
        ):
            _add_line(rows, key, number, label, planned, granted, consumed)
    jobs = partner_jobs(partner)
    periods = list(
        ReportingPeriod.objects.filter(consortium_id=partner.consortium_id)
        .annotate(
            submitted_at=Subquery(
                Statement.objects.filter(partner=partner, period=OuterRef("pk")).values(
                    "submitted_at"
                )[:1]
            )
        )
        .order_by("number")
    )
    current = next((p for p in periods if p.contains(today)), None)
    statements = [
        StatementDue(period=p, submitted_at=p.submitted_at, today=today)
        for p in periods
        if p.start_date <= today
    ]
    return PartnerDashboard(
        partner=partner,
        today=today,
        overdue=overdue,
        due_soon=due_soon,
        milestones=milestones,
        by_workpackage=sorted(workpackages.values(), key=lambda row: row.number),
        by_category=sorted(categories.values(), key=lambda row: row.number),
        jobs=jobs,
        current_period=current,
        statements=statements,
    )
