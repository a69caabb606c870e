"""The consortium and the partner seen whole: the coordinators' dashboards, the API's summary and
the partner's dashboard, put together from each subject's selectors.

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
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consortium.models import Consortium, Partner, ReportingPeriod, heading_name
from workpackages.base import ZERO, cents, percent
from workpackages.jobs.selectors import JobsFigures, jobs_counts, partner_jobs
from workpackages.money.choices import BudgetLineStatus
from workpackages.money.models import BudgetLine, Statement
from workpackages.money.selectors import (
    LINE_FIELDS,
    BudgetRow,
    StatementDue,
    accepted_sums,
    add_budget_line,
    budget_rows,
    line_consumed,
    with_consumed,
)
from workpackages.overview.statements import _latest_ended, periods_statements
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus, ReviewDecision
from workpackages.workplan.models import (
    OPEN_DELIVERABLE,
    Deliverable,
    DeliverableReview,
    Milestone,
    due_soon_deliverable,
    late_deliverable,
    open_deliverable,
    overdue_deliverable,
    overdue_milestone,
)
from workpackages.workplan.selectors import deliverable_counts


@dataclass(frozen=True)
class LateDeliverable:
    """A late deliverable of the dashboard's list (`late_deliverable`), said as it is: never
    sent, sent back for changes (after a version sent on time, counted from the request, not
    from its due date), or sent after its due date."""

    item: Deliverable
    today: datetime.date
    changes_requested_at: datetime.datetime | None = None

    @property
    def first_sent_on(self) -> datetime.date | None:
        sent = self.item.first_submitted_at
        return timezone.localdate(sent) if sent is not None else None

    @property
    def is_open(self) -> bool:
        return self.item.status in OPEN_DELIVERABLE

    @property
    def sent_back(self) -> bool:
        return self.item.status == DeliverableStatus.CHANGES_REQUESTED

    @property
    def sent_back_after_on_time(self) -> bool:
        """Sent back for changes after a first version sent by its due date."""
        first = self.first_sent_on
        return self.sent_back and first is not None and first <= self.item.due_date

    @property
    def state(self) -> str:
        if self.sent_back:
            return str(DeliverableStatus.CHANGES_REQUESTED.label)
        if self.is_open:
            return gettext("Not sent")
        return gettext("Sent late")

    @property
    def days_late(self) -> int | None:
        """Days past the due date: until today while open, until the first version once sent;
        none for a version sent back after an on-time submission (see `days_since_request`)."""
        if self.sent_back_after_on_time:
            return None
        if self.is_open or self.first_sent_on is None:
            return max((self.today - self.item.due_date).days, 0)
        return max((self.first_sent_on - self.item.due_date).days, 0)

    @property
    def days_since_request(self) -> int | None:
        if not self.sent_back or self.changes_requested_at is None:
            return None
        return (self.today - timezone.localdate(self.changes_requested_at)).days


@dataclass
class MilestoneFigures:
    """The consortium's milestones: achieved, missed, overdue, due in 30 days, and the next."""

    achieved: int = 0
    missed: int = 0
    overdue: int = 0
    due_soon: int = 0
    total: int = 0
    next: Milestone | None = None
    overdue_list: list[Milestone] = field(default_factory=list)


@dataclass
class ConsortiumDashboard:
    """Everything the coordinators' dashboard shows for one consortium."""

    consortium: Consortium
    partners: int = 0
    workpackages: int = 0
    deliverables_total: int = 0
    deliverables_on_time: int = 0
    deliverables_late: int = 0
    deliverables_not_yet_due: int = 0
    deliverables_due_soon: int = 0
    deliverables_by_status: dict[Any, int] = field(default_factory=dict)
    # (status, label, count): the same counts, with the status the admin's filter takes.
    deliverables_statuses: list[tuple[str, Any, int]] = field(default_factory=list)
    late_deliverables: list[LateDeliverable] = field(default_factory=list)
    milestones: MilestoneFigures = field(default_factory=MilestoneFigures)
    statements: Any = None  # the latest ended period's `PeriodStatements`, with a `user`
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
    def admin_budget_tables(self) -> list[tuple[Any, list[BudgetRow], str]]:
        """`budget_tables` with the budget lines' filter a row's key selects in the admin."""
        return [
            (_("Budget by partner"), self.by_partner, "partner__id__exact"),
            (_("Budget by workpackage"), self.by_workpackage, "workpackage__id__exact"),
        ]

    @property
    def overspent_lines(self) -> int:
        return sum(row.overspent_lines for row in self.by_partner)


def time_elapsed(consortium: Consortium, today: datetime.date) -> Decimal:
    total = (consortium.end_date - consortium.start_date).days + 1
    done = min(max((today - consortium.start_date).days + 1, 0), total)
    return percent(done, total) or Decimal(0)


def consortium_dashboards(
    consortia: Iterable[Consortium],
    *,
    today: datetime.date | None = None,
    late_limit: int = 10,
    partners_only: QuerySet[Any] | None = None,
    until: datetime.date | None = None,
    user: Any = None,
) -> list[ConsortiumDashboard]:
    """The dashboard of each consortium, in a number of queries that depends on nothing but
    the number of consortia. With `partners_only` (partner ids), the money and the jobs are those partners' only.
    With `until` (a reporting period's last day), the figures as they stood at its end: the
    costs of the periods ended by then, jobs and deliverables by their dates, time elapsed.
    With `user` (the coordinators' dashboard, today's), the milestones and the expense
    statements of each consortium's latest ended period as `user` sees them too (five queries
    more)."""
    today = until or today or timezone.localdate()
    consortia = list(consortia)
    ids = [c.pk for c in consortia]
    if not ids:
        return []
    deliverables = deliverable_counts(ids, today, as_of=until is not None)
    milestones = milestone_figures(ids, today) if user is not None else {}
    statements = latest_statements(consortia, user, today) if user is not None else {}
    requested = (
        DeliverableReview.objects.filter(
            deliverable=OuterRef("pk"), decision=ReviewDecision.CHANGES_REQUESTED
        )
        .order_by("-reviewed_at")
        .values("reviewed_at")[:1]
    )
    by_partner, by_workpackage = budget_rows(ids, partners_only, until)
    jobs = jobs_counts(ids, partners_only, until)
    counts = {
        row["pk"]: row
        for row in Consortium.objects.filter(pk__in=ids)
        .values("pk")
        .annotate(
            n_partners=Count("partners", distinct=True),
            n_workpackages=Count("workpackages", distinct=True),
        )
    }
    # The lists under the "late" counters: the same rule, open ones first, the first
    # `late_limit` of each consortium, all in one query.
    order = [
        Case(When(open_deliverable(), then=0), default=1).asc(),
        F("due_date").asc(),
        F("workpackage__number").asc(),
        F("number").asc(),
    ]
    late_lists: dict[int, list[Any]] = defaultdict(list)
    if late_limit:
        for item in (
            Deliverable.objects.filter(consortium_id__in=ids)
            .filter(late_deliverable(today))
            .select_related("workpackage", "lead_partner__organisation")
            .annotate(
                changes_requested_at=Subquery(requested),
                rank=Window(RowNumber(), partition_by=F("consortium_id"), order_by=order),
            )
            .filter(rank__lte=late_limit)
            .order_by("consortium_id", *order)
        ):
            late_lists[item.consortium_id].append(item)
    dashboards = []
    for consortium in consortia:
        d = deliverables.get(consortium.pk, {})
        late = late_lists[consortium.pk]
        dashboards.append(
            ConsortiumDashboard(
                consortium=consortium,
                partners=counts[consortium.pk]["n_partners"],
                workpackages=counts[consortium.pk]["n_workpackages"],
                deliverables_total=d.get("total", 0),
                deliverables_on_time=d.get("on_time", 0),
                deliverables_late=d.get("late", 0),
                deliverables_not_yet_due=d.get("not_yet_due", 0),
                deliverables_due_soon=d.get("due_soon", 0),
                deliverables_by_status={
                    label: d.get(f"status_{value}", 0) for value, label in DeliverableStatus.choices
                },
                deliverables_statuses=[
                    (value, label, d.get(f"status_{value}", 0))
                    for value, label in DeliverableStatus.choices
                ],
                late_deliverables=[
                    LateDeliverable(item, today, item.changes_requested_at) for item in late
                ]
                if late_limit
                else [],
                milestones=milestones.get(consortium.pk, MilestoneFigures()),
                statements=statements.get(consortium.pk),
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


def milestone_figures(ids: list[int], today: datetime.date) -> dict[int, MilestoneFigures]:
    """Milestones per consortium in two queries: the counts (achieved, missed, overdue as
    `overdue_milestone` says, pending and due in 30 days), then the overdue and the next
    pending ones (the next: the first due from today)."""
    pending = Q(status=MilestoneStatus.PENDING)
    soon = pending & Q(due_date__gte=today, due_date__lte=today + datetime.timedelta(days=30))
    figures = {
        row["consortium_id"]: MilestoneFigures(
            achieved=row["achieved"],
            missed=row["missed"],
            overdue=row["overdue"],
            due_soon=row["due_soon"],
            total=row["total"],
        )
        for row in Milestone.objects.filter(consortium_id__in=ids)
        .values("consortium_id")
        .annotate(
            total=Count("pk"),
            achieved=Count("pk", filter=Q(status=MilestoneStatus.ACHIEVED)),
            missed=Count("pk", filter=Q(status=MilestoneStatus.MISSED)),
            overdue=Count("pk", filter=overdue_milestone(today)),
            due_soon=Count("pk", filter=soon),
        )
        .order_by()
    }
    rows = (
        Milestone.objects.filter(consortium_id__in=ids)
        .filter(pending)
        .select_related("lead_partner__organisation")
        .order_by("consortium_id", "due_date", "number")
    )
    for milestone in rows:
        board = figures.setdefault(milestone.consortium_id, MilestoneFigures())
        if milestone.due_date < today:
            board.overdue_list.append(milestone)
        elif board.next is None:
            board.next = milestone
    return figures


def latest_statements(
    consortia: list[Consortium], user: Any, today: datetime.date
) -> dict[int, Any]:
    """Each consortium's expense statements of its latest ended period, as the statements page
    counts them (`period_statements`): one query for the periods, three for all the consortia."""
    periods: dict[int, list[ReportingPeriod]] = {}
    for period in ReportingPeriod.objects.filter(
        consortium_id__in=[c.pk for c in consortia]
    ).order_by("consortium_id", "number"):
        periods.setdefault(period.consortium_id, []).append(period)
    latest = {
        consortium.pk: period
        for consortium in consortia
        if (period := _latest_ended(periods.get(consortium.pk, []), today)) is not None
    }
    boards = periods_statements(user=user, periods=list(latest.values()), today=today)
    return {pk: boards[period.pk] for pk, period in latest.items()}


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
    until: datetime.date | None = None,
) -> ConsortiumSummary:
    """One consortium's budget, deliverables, milestones and jobs in a fixed number of queries.

    With `partners_only` (ids of the partners a partner user works for) the money and the jobs are
    those partners' only; the work plan (deliverables, milestones) is the whole consortium's.
    With `until`, the figures as they stood at the end of that day (`consortium_dashboards`); a
    milestone was overdue then if its date had passed and it was not achieved by then.
    """
    today = until or today or timezone.localdate()
    [dashboard] = consortium_dashboards(
        [consortium], today=today, late_limit=0, partners_only=partners_only, until=until
    )
    if until is None:
        overdue = Q(status=MilestoneStatus.PENDING, due_date__lt=today)
    else:
        overdue = Q(due_date__lt=until) & ~Q(achieved_on__lte=until)
    milestones = Milestone.objects.filter(consortium_id=consortium.pk).aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=overdue),
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
    lines = with_consumed(
        BudgetLine.objects.filter(partner=partner, status=BudgetLineStatus.ACTIVE).order_by(),
        *LINE_FIELDS,
    )
    workpackages: dict[int, BudgetRow] = {}
    categories: dict[int, BudgetRow] = {}
    names: dict[str, str] = {}

    def heading(name: str) -> str:
        # Translated once per heading, not once per line.
        return names[name] if name in names else names.setdefault(name, heading_name(name))

    for line in lines:
        money = (line["planned_amount"], line["granted_amount"], line["consumed"])
        wnum, cpos = line["workpackage__number"], line["category__position"]
        add_budget_line(
            workpackages,
            line["workpackage_id"],
            wnum,
            f"WP{wnum} {line['workpackage__title']}",
            *money,
        )
        add_budget_line(
            categories, line["category_id"], cpos, heading(line["category__name"]), *money
        )
    jobs = partner_jobs(partner)
    periods = list(
        ReportingPeriod.objects.filter(consortium_id=partner.consortium_id)
        .annotate(
            submitted_at=Subquery(
                # A reopened statement is due again.
                Statement.objects.submitted()
                .filter(partner=partner, period=OuterRef("pk"))
                .values("submitted_at")[:1]
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


# The funder's pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumedPoint:
    """The money consumed as of one day, against the plan and the time elapsed by then."""

    day: datetime.date
    consumed: Decimal
    planned: Decimal
    time_elapsed: Decimal

    @property
    def consumption(self) -> Decimal | None:
        return percent(self.consumed, self.planned)


def consumed_by_period_end(
    consortium: Consortium, *, until: datetime.date | None = None
) -> list[ConsumedPoint]:
    """The money consumed as of the end of each reporting period ended by `until` (by today
    without it), as `budget_rows(..., until=<that end>)` counts it; without `until`, then as of
    today (every accepted cost, as the dashboard's today figures); each with the consortium's
    planned budget and the time elapsed at that day. Four queries, whatever the periods, lines
    or expenses."""
    today = timezone.localdate()
    lines = with_consumed(
        BudgetLine.objects.filter(
            consortium_id=consortium.pk, status=BudgetLineStatus.ACTIVE
        ).order_by(),
        "planned_amount",
    )
    ends = ReportingPeriod.objects.filter(consortium_id=consortium.pk, end_date__lt=today)
    if until is not None:
        ends = ends.filter(end_date__lte=until)
    # The accepted costs per line and period's end, added up to each end in turn.
    by_end = accepted_sums({line["partner_id"] for line in lines}, by_period=True)
    points = []
    for end in ends.order_by("end_date").values_list("end_date", flat=True):
        sums: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
        for (*key, period_end), amount in by_end.items():
            if period_end <= end:
                sums[tuple(key)] += amount
        points.append((end, cents(sum((line_consumed(line, sums) for line in lines), ZERO))))
    totals = {
        "planned": sum((line["planned_amount"] for line in lines), ZERO),
        "consumed": sum((line["consumed"] for line in lines), ZERO),
    }
    if until is None:
        points.append((today, cents(totals["consumed"])))
    planned = cents(totals["planned"])
    return [
        ConsumedPoint(
            day=day,
            consumed=consumed,
            planned=planned,
            time_elapsed=time_elapsed(consortium, day),
        )
        for day, consumed in points
    ]


@dataclass(frozen=True)
class DueLine:
    """A deliverable or a milestone as it stood on a day: its state then, whether it was late
    and by how many days (`days_late`: until it was sent or achieved, else until that day)."""

    item: Any
    state: str
    tone: str
    done_on: datetime.date | None
    days_late: int
    overdue: bool

    @property
    def late(self) -> bool:
        return self.days_late > 0


DELIVERABLE_TONES: dict[str, str] = {
    DeliverableStatus.APPROVED: "green",
    DeliverableStatus.SUBMITTED: "blue",
    DeliverableStatus.CHANGES_REQUESTED: "amber",
}


def deliverable_lines(
    deliverables: QuerySet[Deliverable], day: datetime.date, *, as_of: bool = False
) -> list[DueLine]:
    """The deliverables of `deliverables` (scoped by the caller), by workpackage and number, in
    one query, each with its state and lateness on `day`. Today (`as_of` False): its status,
    late as `Deliverable.days_late` counts it. As of the end of a past day (`as_of`): from the
    dates of its first version and approval, as `deliverable_counts(..., as_of=True)` counts
    them (late when due before that day and not sent by then, or sent after its due date)."""
    rows = deliverables.select_related("workpackage", "lead_partner__organisation").order_by(
        "workpackage__number", "number"
    )
    lines = []
    for deliverable in rows:
        sent = (
            timezone.localdate(deliverable.first_submitted_at)
            if deliverable.first_submitted_at
            else None
        )
        approved = timezone.localdate(deliverable.approved_at) if deliverable.approved_at else None
        if as_of:
            sent = sent if sent is not None and sent <= day else None
            if approved is not None and approved <= day:
                state, tone = str(DeliverableStatus.APPROVED.label), "green"
            elif sent is not None:
                state, tone = str(DeliverableStatus.SUBMITTED.label), "blue"
            else:
                state, tone = gettext("Not sent"), "grey"
            days_late = max(((sent or day) - deliverable.due_date).days, 0)
            overdue = sent is None and deliverable.due_date < day
        else:
            state = deliverable.get_status_display()
            tone = DELIVERABLE_TONES.get(deliverable.status, "grey")
            days_late = deliverable.days_late(day)
            overdue = deliverable.status in OPEN_DELIVERABLE and deliverable.due_date < day
        lines.append(
            DueLine(
                item=deliverable,
                state=state,
                tone="red" if overdue else tone,
                done_on=sent,
                days_late=days_late,
                overdue=overdue,
            )
        )
    return lines


MILESTONE_TONES: dict[str, str] = {MilestoneStatus.ACHIEVED: "green", MilestoneStatus.MISSED: "red"}


def milestone_lines(
    milestones: QuerySet[Milestone], day: datetime.date, *, as_of: bool = False
) -> list[DueLine]:
    """The milestones of `milestones` (scoped by the caller), by number, in one query, each with
    its state and lateness on `day`: achieved (by then, with `as_of`) or not; late by the days
    from its due date to its achievement, or to `day` while not achieved (overdue, as
    `consortium_summary` counts it)."""
    lines = []
    for milestone in milestones.select_related("lead_partner__organisation").order_by("number"):
        achieved = milestone.achieved_on
        if as_of and achieved is not None and achieved > day:
            achieved = None
        if as_of:
            status = MilestoneStatus.ACHIEVED if achieved else MilestoneStatus.PENDING
        else:
            status = MilestoneStatus(milestone.status)
        overdue = achieved is None and milestone.due_date < day
        lines.append(
            DueLine(
                item=milestone,
                state=str(status.label),
                tone="red" if overdue else MILESTONE_TONES.get(status, "grey"),
                done_on=achieved,
                days_late=max(((achieved or day) - milestone.due_date).days, 0),
                overdue=overdue,
            )
        )
    return lines
