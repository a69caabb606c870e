"""Reads of the money: budget lines with what they consumed, expenses against their line's
balance, the budget per partner and per workpackage. Every sum is computed by the database, in a
fixed number of queries however many lines or expenses there are.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    DecimalField,
    Exists,
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
from django.db.models.functions import Coalesce, NullIf, Round

from consortium.choices import CostCategoryKind
from consortium.memo import read_once
from consortium.models import Consortium, CostCategory, Partner, ReportingPeriod, heading_name
from workpackages.base import ZERO, cents, percent
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.models import (
    Workpackage,
)

MONEY_FIELD: DecimalField = DecimalField(max_digits=16, decimal_places=2)


def _accepted_sum(category_ref: str, until: datetime.date | None = None) -> Subquery:
    expenses = Expense.objects.filter(
        partner_id=OuterRef("partner_id"),
        workpackage_id=OuterRef("workpackage_id"),
        category_id=OuterRef(category_ref),
        status=ExpenseStatus.ACCEPTED,
    )
    if until is not None:
        # As of a day: the costs of the periods ended by then, whenever they were accepted.
        expenses = expenses.filter(period__end_date__lte=until)
    return Subquery(
        expenses.values("partner_id").annotate(total=Sum("accepted_amount")).values("total"),
        output_field=MONEY_FIELD,
    )


def budget_lines_with_consumption(
    lines: QuerySet[BudgetLine], until: datetime.date | None = None
) -> QuerySet[Any]:
    """Annotate `consumed` (accepted expenses; flat-rate lines: rate × their base heading's).
    With `until`, only the expenses of the reporting periods ended by that day count."""
    own = Coalesce(_accepted_sum("category_id", until), Value(ZERO), output_field=MONEY_FIELD)
    base = Coalesce(
        _accepted_sum("category__flat_rate_base_id", until), Value(ZERO), output_field=MONEY_FIELD
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


PERCENT_FIELD: DecimalField = DecimalField(max_digits=12, decimal_places=1)


def with_consumption_percent(lines: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate `consumption_percent`: `consumed` (from `budget_lines_with_consumption`) as a
    percentage of the planned amount, rounded to a tenth as `percent()` shows it; None for a line
    planned at zero. Lists sort by it, in SQL."""
    return lines.annotate(
        consumption_percent=Round(
            ExpressionWrapper(
                F("consumed") * Value(Decimal(100)) / NullIf(F("planned_amount"), Value(ZERO)),
                output_field=PERCENT_FIELD,
            ),
            1,
            output_field=PERCENT_FIELD,
        )
    )


# The accepted costs on a budget line: its partner's accepted expenses of its workpackage and
# heading; on a flat-rate line (overheads), its rate × those of its base heading, rounded to the
# cent per line, half away from zero.
LINE_KEYS = ("partner_id", "workpackage_id", "category_id")


def accepted_sums(
    partner_ids: Iterable[int], *, until: datetime.date | None = None, by_period: bool = False
) -> dict[tuple[Any, ...], Decimal]:
    """The accepted amounts of accepted expenses of `partner_ids`, summed by the database per
    partner × workpackage × heading (and per period's end, with `by_period`), in one query over
    the accepted expenses' own index; `until` keeps the costs of the periods ended by that day."""
    partners = tuple(sorted(set(partner_ids)))

    def read() -> dict[tuple[Any, ...], Decimal]:
        expenses = Expense.objects.filter(partner_id__in=partners, status=ExpenseStatus.ACCEPTED)
        if until is not None:
            expenses = expenses.filter(period__end_date__lte=until)
        keys = [*LINE_KEYS, "period__end_date"] if by_period else list(LINE_KEYS)
        grouped = expenses.order_by().values(*keys).annotate(total=Sum("accepted_amount"))
        return {tuple(row[key] for key in keys): cents(row["total"]) for row in grouped}

    # A report's figures (by partner, workpackage and heading, the subsidy) add up the same sums:
    # read once within `memo.repeated_reads()`.
    return read_once(("accepted sums", partners, until, by_period), read)


def line_consumed(line: dict[str, Any], sums: dict[tuple[Any, ...], Decimal]) -> Decimal:
    """What `line` (its `LINE_KEYS` and its heading's kind, rate and base) consumed, from
    `accepted_sums`: as `budget_lines_with_consumption` counts it in SQL."""
    partner, workpackage = line["partner_id"], line["workpackage_id"]
    if line["category__kind"] == CostCategoryKind.FLAT_RATE:
        base = sums.get((partner, workpackage, line["category__flat_rate_base_id"]), ZERO)
        return cents(base * (line["category__flat_rate"] or ZERO) / 100)
    return sums.get((partner, workpackage, line["category_id"]), ZERO)


def with_consumed(
    lines: QuerySet[BudgetLine], *fields: str, until: datetime.date | None = None
) -> list[dict[str, Any]]:
    """`fields` of each row of `lines` (in their order), with `consumed` as
    `budget_lines_with_consumption` counts it, in two queries whatever the expenses: the lines,
    then the accepted costs of their partners summed per partner × workpackage × heading."""
    rows = list(
        lines.values(
            *LINE_KEYS,
            "category__kind",
            "category__flat_rate",
            "category__flat_rate_base_id",
            *fields,
        )
    )
    sums = accepted_sums((row["partner_id"] for row in rows), until=until) if rows else {}
    for row in rows:
        row["consumed"] = line_consumed(row, sums)
    return rows


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


# What the budget figures read of each active line, besides its keys and consumption.
LINE_FIELDS = (
    "consortium_id",
    "partner__number",
    "partner__organisation__short_name",
    "partner__default_funding_rate",
    "workpackage__number",
    "workpackage__title",
    "category__position",
    "category__name",
    "planned_amount",
    "granted_amount",
    "funding_rate",
)


def active_lines(ids: list[int], until: datetime.date | None = None) -> list[dict[str, Any]]:
    """The active budget lines of the consortia `ids` with what the budget figures read of them
    and what they consumed (`with_consumed`; `until`: the costs of the periods ended by that
    day). A report's figures (by partner, workpackage and heading, the subsidy) read them once
    within `memo.repeated_reads()`."""
    return read_once(
        ("active lines", tuple(sorted(ids)), until),
        lambda: with_consumed(
            BudgetLine.objects.filter(
                consortium_id__in=ids, status=BudgetLineStatus.ACTIVE
            ).order_by(),
            *LINE_FIELDS,
            until=until,
        ),
    )


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


def add_budget_line(
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
    ids: list[int],
    partners_only: QuerySet[Any] | None = None,
    until: datetime.date | None = None,
) -> tuple[dict[int, list[BudgetRow]], dict[int, list[BudgetRow]]]:
    """Budget per partner and per workpackage, from the active budget lines and their accepted
    costs (`with_consumed`), whatever the expenses;
    `partners_only` (partner ids) leaves out the money of every other partner; `until` counts
    the costs of the periods ended by that day only."""
    all_partners = Partner.objects.filter(consortium_id__in=ids)
    if partners_only is None:
        values = active_lines(ids, until)
    else:
        all_partners = all_partners.filter(pk__in=partners_only)
        values = with_consumed(
            BudgetLine.objects.filter(
                consortium_id__in=ids, status=BudgetLineStatus.ACTIVE, partner_id__in=partners_only
            ).order_by(),
            *LINE_FIELDS,
            until=until,
        )
    partners: dict[int, dict[int, BudgetRow]] = defaultdict(dict)
    workpackages: dict[int, dict[int, BudgetRow]] = defaultdict(dict)
    for line in values:
        cid, pid, pnum, wid, wnum = (
            line["consortium_id"],
            line["partner_id"],
            line["partner__number"],
            line["workpackage_id"],
            line["workpackage__number"],
        )
        money = (line["planned_amount"], line["granted_amount"], line["consumed"])
        pname, wtitle = line["partner__organisation__short_name"], line["workpackage__title"]
        add_budget_line(partners[cid], pid, pnum, f"P{pnum} {pname}", *money)
        add_budget_line(workpackages[cid], wid, wnum, f"WP{wnum} {wtitle}", *money)
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


def budget_breakdown(
    consortium_id: int, partners_only: QuerySet[Any] | None = None
) -> list[dict[str, Any]]:
    """The active budget lines of a consortium, each a partner × workpackage × heading, with
    planned, granted and consumed (the summary's figures, line by line); `partners_only` leaves
    out every other partner's. Two queries (`with_consumed`)."""
    lines = BudgetLine.objects.filter(consortium_id=consortium_id, status=BudgetLineStatus.ACTIVE)
    if partners_only is not None:
        lines = lines.filter(partner_id__in=partners_only)
    rows = with_consumed(
        lines.order_by("partner__number", "workpackage__number", "category__position", "pk"),
        "planned_amount",
        "granted_amount",
    )
    shown = ("partner_id", "workpackage_id", "category_id", "planned_amount", "granted_amount")
    return [{**{name: row[name] for name in shown}, "consumed": row["consumed"]} for row in rows]


def owes_statements() -> Exists:
    """Whether a partner (the outer row) owes an expense statement for each reporting period:
    it has an active budget line. Without one it declares no cost: the reminders don't chase it,
    and the statements page doesn't count it late."""
    return Exists(
        BudgetLine.objects.filter(partner_id=OuterRef("pk"), status=BudgetLineStatus.ACTIVE)
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


def visible_file(user: Any, path: str) -> Any:
    """An expense's evidence at `path`, if `user` may see the expense (`PROTECTED_FILES`)."""
    expense = Expense.objects.restrict(user, "view").filter(evidence=path).first()
    return expense.evidence if expense is not None else None


# The funder's pages and the semester report ------------------------------------------------------


def budget_by_heading(
    consortium: Consortium, *, until: datetime.date | None = None
) -> list[BudgetRow]:
    """Planned, granted and consumed money per cost heading of `consortium` (in the headings'
    order, every heading listed, with zeros when it has no line), from the active budget lines
    as `budget_lines_with_consumption` counts them; `until` counts the costs of the periods
    ended by that day only. Three queries, whatever the lines and expenses."""
    rows: dict[int, BudgetRow] = {}
    names: dict[str, str] = {}
    for line in active_lines([consortium.pk], until):
        name = line["category__name"]
        add_budget_line(
            rows,
            line["category_id"],
            line["category__position"],
            names[name] if name in names else names.setdefault(name, heading_name(name)),
            line["planned_amount"],
            line["granted_amount"],
            line["consumed"],
        )
    headings = CostCategory.objects.filter(consortium_id=consortium.pk)
    for key, position, name in headings.values_list("pk", "position", "name"):
        rows.setdefault(key, BudgetRow(key=key, number=position, label=heading_name(name)))
    return sorted(rows.values(), key=lambda row: (row.number, row.label))


@dataclass(frozen=True)
class SubsidyRow:
    """What the funder owes one partner: its accepted costs and the subsidy on them."""

    key: int
    number: int
    label: str
    accepted: Decimal
    subsidy: Decimal


@dataclass(frozen=True)
class SubsidyDue:
    """The subsidy due to each partner of a consortium, and in all."""

    rows: list[SubsidyRow]

    @property
    def accepted(self) -> Decimal:
        return sum((row.accepted for row in self.rows), ZERO)

    @property
    def total(self) -> Decimal:
        """The consortium's total: the sum of the partners' amounts, each rounded already."""
        return sum((row.subsidy for row in self.rows), ZERO)


def subsidy_due_by_partner(
    consortium: Consortium, *, until: datetime.date | None = None
) -> SubsidyDue:
    """The subsidy due to each partner of `consortium` (every partner, by number, zeros
    included) and the consortium's total.

    The rule, as the funder pays it:

    - the costs are those `budget_lines_with_consumption` counts as `consumed` on each active
      budget line: the accepted amounts of accepted expenses (never a draft, a submitted or a
      rejected one), and on a flat-rate line (overheads) its rate × the accepted costs of its
      base heading, rounded to the cent per line;
    - each line's costs are multiplied by its funding rate, else (no rate on the line) by the
      partner's default funding rate, both in per cent;
    - the products are summed per partner, exactly, and the sum is rounded to the cent once per
      partner (half away from zero, 0.005 → 0.01), never line by line;
    - the consortium's total is the sum of the partners' rounded amounts, so that it is what
      the partners' claims add up to.

    With `until`, only the costs of the reporting periods ended by that day count, whenever
    they were accepted (as in `budget_rows`). Amounts are `Decimal`, to the cent. Three queries,
    whatever the lines and expenses.
    """
    lines = active_lines([consortium.pk], until)
    accepted: dict[int, Decimal] = defaultdict(Decimal)
    subsidy: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        rate = line["funding_rate"]
        if rate is None:
            rate = line["partner__default_funding_rate"]
        accepted[line["partner_id"]] += line["consumed"]
        subsidy[line["partner_id"]] += line["consumed"] * (rate or ZERO) / 100
    partners = (
        Partner.objects.filter(consortium_id=consortium.pk)
        .order_by("number")
        .values_list("pk", "number", "organisation__short_name")
    )
    return SubsidyDue(
        rows=[
            SubsidyRow(
                key=pk,
                number=number,
                label=f"P{number} {name}",
                accepted=cents(accepted[pk]),
                subsidy=cents(subsidy[pk]),
            )
            for pk, number, name in partners
        ]
    )


# --------------------------------------------------------------------------------------------
# Effort: planned and actual person-months, partner x workpackage.
# --------------------------------------------------------------------------------------------

PERSON_MONTHS_FIELD: DecimalField = DecimalField(max_digits=12, decimal_places=2)


@dataclass(frozen=True)
class EffortFigures:
    """Person-months of one cell, row, column or of the whole matrix."""

    planned: Decimal = ZERO
    actual: Decimal = ZERO
    planned_cumulated: Decimal = ZERO
    actual_cumulated: Decimal = ZERO
    planned_to_date: Decimal = ZERO


@dataclass(frozen=True)
class EffortMatrixRow:
    partner: Partner
    cells: list[EffortFigures]
    total: EffortFigures


@dataclass(frozen=True)
class EffortMatrix:
    """A consortium's effort for one period: per period, cumulated to its end, and the plan of
    the periods ended by `today`; each figure per partner x workpackage, with their totals."""

    period: ReportingPeriod
    workpackages: list[Workpackage]
    rows: list[EffortMatrixRow]
    columns: list[EffortFigures]
    total: EffortFigures


def _effort_sums(period: ReportingPeriod, today: datetime.date) -> dict[str, Any]:
    def total(field: str, condition: Q) -> Coalesce:
        return Coalesce(Sum(field, filter=condition), Value(ZERO), output_field=PERSON_MONTHS_FIELD)

    this_period = Q(period_id=period.pk)
    to_period = Q(period__number__lte=period.number)
    return {
        "planned": total("planned_person_months", this_period),
        "actual": total("actual_person_months", this_period),
        "planned_cumulated": total("planned_person_months", to_period),
        "actual_cumulated": total("actual_person_months", to_period),
        "planned_to_date": total("planned_person_months", Q(period__end_date__lt=today)),
    }


def _figures(values: dict[str, Any]) -> EffortFigures:
    return EffortFigures(**{name: values[name] for name in EffortFigures.__dataclass_fields__})


def effort_matrix(
    consortium: Consortium, period: ReportingPeriod, today: datetime.date
) -> EffortMatrix:
    """The consortium's partners x workpackages with their effort figures of `period`: the cells,
    the totals per partner, per workpackage and in all are each one SQL aggregation (six
    queries, however many partners, workpackages and periods)."""
    partners = list(
        Partner.objects.filter(consortium_id=consortium.pk)
        .select_related("organisation")
        .order_by("number")
    )
    workpackages = list(Workpackage.objects.filter(consortium_id=consortium.pk).order_by("number"))
    effort = Effort.objects.filter(consortium_id=consortium.pk).order_by()
    sums = _effort_sums(period, today)
    cells = {
        (row["partner_id"], row["workpackage_id"]): _figures(row)
        for row in effort.values("partner_id", "workpackage_id").annotate(**sums)
    }
    by_partner = {
        row["partner_id"]: _figures(row) for row in effort.values("partner_id").annotate(**sums)
    }
    by_workpackage = {
        row["workpackage_id"]: _figures(row)
        for row in effort.values("workpackage_id").annotate(**sums)
    }
    empty = EffortFigures()
    return EffortMatrix(
        period=period,
        workpackages=workpackages,
        rows=[
            EffortMatrixRow(
                partner=partner,
                cells=[cells.get((partner.pk, wp.pk), empty) for wp in workpackages],
                total=by_partner.get(partner.pk, empty),
            )
            for partner in partners
        ],
        columns=[by_workpackage.get(wp.pk, empty) for wp in workpackages],
        total=_figures(effort.aggregate(**sums)),
    )
