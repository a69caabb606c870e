"""The PIT-ATMP demo: an invented but plausible partnership that fills every screen with data.

BioWin is the only real organisation; every other partner, person-free job and figure is invented.
The partnership's headline figures (EUR 81 M over 3 years, about 60 % public money, 26 partners,
12 workpackages, 470 direct and 1,200 indirect jobs) follow the public announcements.

Progress (submitted deliverables, achieved milestones, accepted expenses, realised jobs) is computed
relative to today, so the demo keeps looking like a partnership in progress whenever it is built.
Every status change goes through the services, as a user's action would.
"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.utils import timezone

from consortium.models import Consortium, WebhookEventType
from consortium.services import consortium_create
from consortium.webhooks import emit, webhook_subscribe
from workpackages.base import CENT
from workpackages.demo.context import Context
from workpackages.demo.data import (
    ACRONYM,
    CONSORTIUM,
    COORDINATOR,
    DEMO_SEED,
    PARTNERS,
    demo_calendar,
)
from workpackages.demo.jobs import build_jobs
from workpackages.demo.money import (
    build_budget_lines,
    build_effort,
    build_expenses,
)
from workpackages.demo.workplan import (
    build_deliverables,
    build_milestones,
    build_partners,
    build_roles,
    build_users,
    build_workpackages,
    plan_budget,
    record_deliverable_progress,
    record_milestone_progress,
)
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Expense
from workpackages.workplan.models import Deliverable, Milestone


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """The headline figures of the demo, for the command's report."""

    acronym: str
    partners: int
    workpackages: int
    deliverables: int
    deliverables_by_status: dict[str, int]
    overdue_deliverables: int
    milestones: int
    milestones_by_status: dict[str, int]
    planned_total: Decimal
    granted_total: Decimal
    expenses: int
    expenses_by_status: dict[str, int]
    accepted_total: Decimal
    overspent_lines: int
    jobs: dict[str, int]

    @property
    def granted_share(self) -> Decimal:
        """Granted money as a percentage of the planned budget."""
        if not self.planned_total:
            return Decimal(0)
        return (self.granted_total * 100 / self.planned_total).quantize(CENT)


def demo_exists() -> bool:
    """True when the demo consortium is already in the database."""
    return Consortium.objects.filter(acronym=ACRONYM).exists()


def coordinator_user() -> Any:
    """The demo's coordinator login."""
    return get_user_model().objects.get(username=COORDINATOR.username)


def build_demo(*, seed: int = DEMO_SEED) -> DemoSummary:
    """Create the whole demo in one transaction and return its figures.

    The caller checks `demo_exists()` first: building twice would collide on the acronym.
    """
    # A reproducible generator for demo data, not for anything secret.
    rng = random.Random(seed)  # noqa: S311
    with transaction.atomic():
        users = build_users()
        coordinator = users[COORDINATOR.username]
        today = timezone.localdate()
        # Set up by the command itself, as a superuser would: the coordinator runs it from there.
        values: dict[str, Any] = {**CONSORTIUM, **demo_calendar(today)}
        consortium = consortium_create(user=None, **values)
        ctx = Context(
            consortium=consortium,
            coordinator=coordinator,
            rng=rng,
            today=today,
            categories={c.code: c for c in consortium.cost_categories.all()},
            periods=list(consortium.periods.order_by("number")),
        )
        build_partners(ctx)
        build_roles(ctx, users)
        plans = plan_budget(ctx)
        build_workpackages(ctx, plans)
        deliverables = build_deliverables(ctx)
        milestones = build_milestones(ctx)
        build_budget_lines(ctx, plans)
        build_effort(ctx, plans)
        build_expenses(ctx)
        build_jobs(ctx)
        record_deliverable_progress(ctx, deliverables)
        record_milestone_progress(ctx, milestones)
        subscribe_the_erp(ctx)
        return summarise(consortium)


def subscribe_the_erp(ctx: Context) -> None:
    """The finance office's ERP hears of every decision from now on, and got the latest
    acceptance. Subscribed once the history is built, not before: the demo's years of decisions
    would otherwise queue thousands of deliveries at once. Its address is made up, so the log
    shows what a receiver that cannot be reached looks like."""
    webhook_subscribe(
        consortium=ctx.consortium,
        url="https://erp.pit-atmp.invalid/hooks/consortium",
        events=list(WebhookEventType.values),
        description="Finance office ERP (demo)",
        user=ctx.coordinator,
    )
    latest = (
        Expense.objects.filter(consortium=ctx.consortium, status=ExpenseStatus.ACCEPTED)
        .order_by("-reviewed_at", "-pk")
        .first()
    )
    if latest is not None:
        emit(WebhookEventType.EXPENSE_ACCEPTED, latest)


def summarise(consortium: Consortium) -> DemoSummary:
    """Count what was built, from the database rather than from the builders' bookkeeping."""
    lines = BudgetLine.objects.filter(consortium=consortium, status=BudgetLineStatus.ACTIVE)
    money = lines.aggregate(planned=Sum("planned_amount"), granted=Sum("granted_amount"))
    expenses = Expense.objects.filter(consortium=consortium)
    accepted = expenses.filter(status=ExpenseStatus.ACCEPTED)
    accepted_on_line = (
        Expense.objects.filter(
            partner=OuterRef("partner"),
            workpackage=OuterRef("workpackage"),
            category=OuterRef("category"),
            status=ExpenseStatus.ACCEPTED,
        )
        .order_by()
        .values("partner")
        .annotate(total=Sum("accepted_amount"))
        .values("total")
    )
    overspent = (
        lines.annotate(accepted=Subquery(accepted_on_line))
        .filter(accepted__gt=F("planned_amount"))
        .count()
    )
    jobs = JobRecord.objects.filter(consortium=consortium)
    job_counts = {
        f"{row['impact']}_{row['status']}": row["n"]
        for row in jobs.values("impact", "status").annotate(n=Count("pk"))
    }
    deliverables = Deliverable.objects.filter(consortium=consortium)
    milestones = Milestone.objects.filter(consortium=consortium)
    return DemoSummary(
        acronym=consortium.acronym,
        partners=consortium.partners.count(),
        workpackages=consortium.workpackages.count(),
        deliverables=deliverables.count(),
        deliverables_by_status=status_counts(deliverables),
        overdue_deliverables=deliverables.overdue().count(),
        milestones=milestones.count(),
        milestones_by_status=status_counts(milestones),
        planned_total=money["planned"] or Decimal(0),
        granted_total=money["granted"] or Decimal(0),
        expenses=expenses.count(),
        expenses_by_status=status_counts(expenses),
        accepted_total=accepted.aggregate(total=Sum("accepted_amount"))["total"] or Decimal(0),
        overspent_lines=overspent,
        jobs=job_counts,
    )


def status_counts(queryset: Any) -> dict[str, int]:
    """Rows per status, in a stable order."""
    rows = queryset.order_by("status").values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def partner_name(key: str) -> str:
    """The short name of a demo partner, from its key in `PARTNERS`."""
    return next(spec.short_name for spec in PARTNERS if spec.key == key)
