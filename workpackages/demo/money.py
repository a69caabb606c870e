"""The demo's money: budget lines and effort by participation, expenses drafted period by period,
sent with their partner's statement and decided by the coordinators (most accepted at once, a few
in part or rejected), and one overspent line.
"""

from __future__ import annotations

import datetime
import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal

from django.core.files.base import ContentFile
from simple_history.utils import bulk_create_with_history

from consortium import dates
from consortium.choices import (
    CostCategoryKind,
)
from consortium.models import Partner, ReportingPeriod
from consortium.records import record_update
from workpackages.base import CENT
from workpackages.demo.context import (
    Context,
    apportion,
    local_datetime,
    month_overlap,
    period_months,
    random_day,
    save_new,
    validate_new,
)
from workpackages.demo.data import (
    EVIDENCE_REQUIRED,
    EXPENSE_TEXTS,
    OVERSPEND,
    OVERSPENT_LINE,
    OVERSPENT_PURCHASE,
    PARTIAL_ACCEPTANCE,
    PARTNER_FINANCE_AT,
    REJECTION_REASONS,
    WORKPACKAGES,
)
from workpackages.demo.workplan import ParticipationPlan
from workpackages.money.choices import BudgetLineStatus
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.services import (
    expense_accept,
    expense_reject,
    expense_submit,
    expenses_accept,
    statement_submit,
)


def build_budget_lines(ctx: Context, plans: list[ParticipationPlan]) -> None:
    """One line per participant × workpackage × heading; granted = planned × the partner's rate."""
    for plan in plans:
        for code, amount in plan.amounts.items():
            line = BudgetLine(
                partner=ctx.partners[plan.partner_key],
                workpackage=ctx.workpackages[plan.wp_number],
                category=ctx.categories[code],
                planned_amount=amount,
            )
            save_new(line, user=ctx.coordinator)


def build_effort(ctx: Context, plans: list[ParticipationPlan]) -> None:
    """Planned person-months per partner × workpackage × period, with actuals for ended periods."""
    specs = {wp.number: wp for wp in WORKPACKAGES}
    rows = []
    for plan in plans:
        wp = specs[plan.wp_number]
        active = [
            (period, month_overlap(wp.start_month, wp.end_month, *period_months(ctx, period)))
            for period in ctx.periods
        ]
        active = [(period, months) for period, months in active if months]
        planned = apportion(plan.person_months, [m for _p, m in active], CENT)
        for (period, _months), person_months in zip(active, planned, strict=True):
            actual = None
            if period.end_date < ctx.today:
                actual = (person_months * ctx.rng.randint(80, 110) / 100).quantize(Decimal("0.1"))
            effort = Effort(
                consortium=ctx.consortium,
                partner=ctx.partners[plan.partner_key],
                workpackage=ctx.workpackages[plan.wp_number],
                period=period,
                planned_person_months=person_months,
                actual_person_months=actual,
            )
            validate_new(effort)
            rows.append(effort)
    bulk_create_with_history(rows, Effort, default_user=ctx.coordinator)


def build_expenses(ctx: Context) -> None:
    """Expenses for the ended periods, filed with their partners' statements and mostly
    accepted; drafts in the current one; one overspent line.

    Each actual-cost line declares 72–92 % of its pro-rata share of the elapsed months, so no line
    but the chosen one can exceed its plan; flat-rate overheads are never declared.
    """
    ended = [p for p in ctx.periods if p.end_date < ctx.today]
    current = next((p for p in ctx.periods if p.contains(ctx.today)), None)
    lines = list(
        BudgetLine.objects.filter(consortium=ctx.consortium, status=BudgetLineStatus.ACTIVE)
        .exclude(category__kind=CostCategoryKind.FLAT_RATE)
        .select_related("partner", "workpackage", "category")
        .order_by("partner__number", "workpackage__number", "category__position")
    )
    counter = itertools.count(1)
    declared: dict[tuple[int, int], list[Expense]] = defaultdict(list)
    for line in lines:
        for period, amount in line_declarations(ctx, line, ended):
            declared[line.partner_id, period.pk].append(
                draft_expense(ctx, line, period, amount, next(counter))
            )
    overspent = overspend(ctx, ended, counter, declared)
    for period in ended:
        for partner in sorted(ctx.partners.values(), key=lambda p: p.number):
            # A statement's lines in one insert, with their history rows in another.
            expenses = bulk_create_with_history(
                declared.get((partner.pk, period.pk), []),
                Expense,
                default_user=ctx.author(partner),
            )
            submitted, reviewed = review_moments(ctx, period)
            latest = period == ended[-1]
            file_statement(ctx, partner, period, expenses, submitted, latest=latest)
            decide(ctx, expenses, overspent, reviewed, latest=latest)
    require_evidence(ctx)
    if current is not None:
        draft_current_period(ctx, lines, current, counter)


def line_declarations(
    ctx: Context, line: BudgetLine, ended: list[ReportingPeriod]
) -> list[tuple[ReportingPeriod, Decimal]]:
    """How much a line declares in each ended period in which its workpackage ran."""
    wp = line.workpackage
    active = [
        (period, month_overlap(wp.start_month, wp.end_month, *period_months(ctx, period)))
        for period in ended
    ]
    active = [(period, months) for period, months in active if months]
    if not active:
        return []
    wp_months = wp.end_month - wp.start_month + 1
    share = Decimal(sum(months for _p, months in active)) / wp_months
    if line.category.code in {"equipment", "subcontracting"}:
        # Purchases and contracts come in lumps: not every period has one.
        active = [(p, m) for p, m in active if ctx.rng.random() < 0.45] or [active[-1]]
    total = (line.planned_amount * share * ctx.rng.randint(72, 92) / 100).quantize(CENT)
    weights = [months * ctx.rng.randint(85, 115) for _p, months in active]
    return list(zip([p for p, _m in active], apportion(total, weights, CENT), strict=True))


def draft_expense(
    ctx: Context,
    line: BudgetLine,
    period: ReportingPeriod,
    amount: Decimal,
    sequence: int,
    *,
    last_day: datetime.date | None = None,
    description: str = "",
) -> Expense:
    """A draft expense on `line` in `period`, as its partner's user would type it in, validated
    and not saved yet: the caller saves it, alone or with the rest of its statement's lines."""
    code = line.category.code
    # Costs fall within both the period and the months the workpackage runs.
    start = ctx.consortium.start_date
    first = max(period.start_date, dates.add_months(start, line.workpackage.start_month - 1))
    last = min(
        period.end_date,
        dates.month_end(start, line.workpackage.end_month),
        last_day or period.end_date,
    )
    if code == "personnel":
        incurred_on = last
        description = description or (
            f"Personnel costs P{period.number}: salaries and employer contributions"
        )
        reference = f"PAY-{line.partner.number:02d}-{period.start_date:%Y}-{period.number}"
    else:
        incurred_on = random_day(ctx.rng, first, last)
        description = description or ctx.rng.choice(EXPENSE_TEXTS[code])
        reference = f"INV-{incurred_on:%Y}-{sequence:05d}"
    expense = Expense(
        partner=line.partner,
        workpackage=line.workpackage,
        category=line.category,
        period=period,
        incurred_on=incurred_on,
        amount=amount,
        description=description,
        invoice_reference=reference,
    )
    validate_new(expense)
    return expense


def file_statement(
    ctx: Context,
    partner: Partner,
    period: ReportingPeriod,
    expenses: list[Expense],
    submitted: datetime.datetime,
    *,
    latest: bool,
) -> None:
    """The partner sends its period's lines: with its statement (`statement_submit`), once the
    period is over; the finance login's partner's latest statement is still to be submitted,
    and a period that ended yesterday has none yet (one is filed the day after the period at the
    earliest), so their lines are sent one by one. A partner that spent nothing in a period
    still files its statement, empty, a fortnight after the period ends."""
    yesterday = ctx.today - datetime.timedelta(days=1)
    author = ctx.author(partner)
    if not expenses:
        submitted = local_datetime(
            min(period.end_date + datetime.timedelta(days=14), yesterday), 10
        )
    left_open = latest and partner.pk == ctx.partners[PARTNER_FINANCE_AT].pk
    if period.end_date < yesterday and not left_open:
        statement_submit(partner=partner, period=period, user=author, now=submitted)
        return
    for expense in expenses:
        expense_submit(expense=expense, user=author, now=submitted)


def decide(
    ctx: Context,
    expenses: list[Expense],
    overspent: BudgetLine | None,
    reviewed: datetime.datetime,
    *,
    latest: bool,
) -> None:
    """The coordinators accept the sent lines in full (the overspent line's always), a few in part
    or rejected; the latest ended period is still being reviewed, so more of its lines wait."""
    if not expenses:
        return
    waiting, rejected, partial = (0.18, 0.03, 0.02) if latest else (0.0, 0.025, 0.025)
    in_full = []
    for expense in expenses:
        draw = ctx.rng.random()
        if overspent is not None and on_line(overspent, expense):
            in_full.append(expense)
        elif draw < waiting:
            continue
        elif draw < waiting + rejected:
            expense_reject(
                expense=expense,
                user=ctx.coordinator,
                comment=ctx.rng.choice(REJECTION_REASONS),
                now=reviewed,
            )
        elif draw < waiting + rejected + partial:
            expense_accept(
                expense=expense,
                user=ctx.coordinator,
                accepted_amount=(expense.amount / Decimal("1.21")).quantize(CENT),
                comment=PARTIAL_ACCEPTANCE,
                now=reviewed,
            )
        else:
            in_full.append(expense)
    expenses_accept(expenses=in_full, user=ctx.coordinator, now=reviewed)


def on_line(line: BudgetLine, expense: Expense) -> bool:
    """Whether `expense` is spent on the budget line `line` (same partner, workpackage, heading)."""
    return (expense.partner_id, expense.workpackage_id, expense.category_id) == (
        line.partner_id,
        line.workpackage_id,
        line.category_id,
    )


def review_moments(
    ctx: Context, period: ReportingPeriod
) -> tuple[datetime.datetime, datetime.datetime]:
    """When a period's expense was submitted (after the period) and reviewed (weeks later)."""
    yesterday = ctx.today - datetime.timedelta(days=1)
    submitted = min(period.end_date + datetime.timedelta(days=ctx.rng.randint(5, 25)), yesterday)
    reviewed = min(submitted + datetime.timedelta(days=ctx.rng.randint(5, 30)), yesterday)
    return (
        local_datetime(submitted, ctx.rng.randint(9, 17)),
        local_datetime(reviewed, ctx.rng.randint(9, 17)),
    )


def require_evidence(ctx: Context) -> None:
    """The coordinators make evidence mandatory for operating costs and subcontracting from the
    running period on: the lines already sent stay as they were."""
    for code in EVIDENCE_REQUIRED:
        record_update(instance=ctx.categories[code], user=ctx.coordinator, evidence_required=True)


def evidence_file(expense: Expense) -> ContentFile:
    """A small PDF-looking invoice standing in for the expense's evidence."""
    content = (
        "%PDF-1.4\n"
        f"% Invoice {expense.invoice_reference}: {expense.amount} EUR\n"
        "1 0 obj << /Type /Catalog >> endobj\n"
        "%%EOF\n"
    )
    return ContentFile(content.encode(), name=f"{expense.invoice_reference}.pdf")


def draft_current_period(
    ctx: Context, lines: Sequence[BudgetLine], current: ReportingPeriod, counter: Iterator[int]
) -> None:
    """A few operating-cost drafts in the running period, with their invoices attached, and a
    handful already submitted."""
    first, last = period_months(ctx, current)
    candidates = [
        line
        for line in lines
        if line.category.code == "operating"
        and month_overlap(line.workpackage.start_month, line.workpackage.end_month, first, last)
    ]
    yesterday = max(current.start_date, ctx.today - datetime.timedelta(days=1))
    for index, line in enumerate(ctx.rng.sample(candidates, min(20, len(candidates)))):
        amount = (line.planned_amount * ctx.rng.randint(15, 45) / 1000).quantize(CENT)
        expense = draft_expense(ctx, line, current, amount, next(counter), last_day=yesterday)
        expense.evidence = evidence_file(expense)
        save_new(expense, user=ctx.author(line.partner))
        if index % 4 == 0:
            expense_submit(expense=expense, user=ctx.author(line.partner))


def overspend(
    ctx: Context,
    ended: list[ReportingPeriod],
    counter: Iterator[int],
    declared: dict[tuple[int, int], list[Expense]],
) -> BudgetLine | None:
    """Push one equipment line past its plan with a purchase in its last period, all its lines
    accepted in full, as happens in real life: the line."""
    key, wp_number, code = OVERSPENT_LINE
    line = BudgetLine.objects.get(
        partner=ctx.partners[key],
        workpackage=ctx.workpackages[wp_number],
        category=ctx.categories[code],
    )
    wp = line.workpackage
    periods = [
        p for p in ended if month_overlap(wp.start_month, wp.end_month, *period_months(ctx, p))
    ]
    if not periods:
        return None
    spent = [
        expense for expenses in declared.values() for expense in expenses if on_line(line, expense)
    ]
    amount = (line.planned_amount * (1 + OVERSPEND) - sum(e.amount for e in spent)).quantize(CENT)
    purchase = draft_expense(
        ctx, line, periods[-1], amount, next(counter), description=OVERSPENT_PURCHASE
    )
    declared[line.partner_id, periods[-1].pk].append(purchase)
    return line
