"""The reports' figures, and their floor: one hand-written SQL query (grouping sets) that returns
the same totals from the same rows. The bench times both in the same run and checks they agree."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from consortium.memo import repeated_reads
from consortium.models import Consortium, ReportingPeriod
from reporting.selectors import _effort, _effort_to, jobs_report
from workpackages.money.selectors import budget_by_heading, budget_rows, subsidy_due_by_partner

ZERO = Decimal("0.00")

# Accepted money per budget line (a flat-rate line: its rate × its base heading's, rounded to
# the cent), to `%(end)s` and to `%(before)s` (the periods ended by each day).
_LINES = """
WITH sums AS (
    SELECT e.partner_id, e.workpackage_id, e.category_id,
        SUM(e.accepted_amount) FILTER (WHERE p.end_date <= %(end)s) AS to_end,
        SUM(e.accepted_amount) FILTER (WHERE p.end_date <= %(before)s) AS to_before
    FROM workpackages_expense e
    JOIN consortium_reportingperiod p ON p.id = e.period_id
    WHERE e.consortium_id = %(consortium)s AND e.status = 'accepted'
    GROUP BY e.partner_id, e.workpackage_id, e.category_id
), lines AS (
    SELECT l.partner_id, l.workpackage_id, l.category_id, l.planned_amount,
        COALESCE(l.granted_amount, 0) AS granted_amount,
        COALESCE(l.funding_rate, pa.default_funding_rate) AS rate,
        CASE WHEN c.kind = 'flat_rate'
            THEN ROUND(COALESCE(b.to_end, 0) * c.flat_rate / 100, 2)
            ELSE COALESCE(s.to_end, 0) END AS consumed,
        CASE WHEN c.kind = 'flat_rate'
            THEN ROUND(COALESCE(b.to_before, 0) * c.flat_rate / 100, 2)
            ELSE COALESCE(s.to_before, 0) END AS consumed_before
    FROM workpackages_budgetline l
    JOIN consortium_costcategory c ON c.id = l.category_id
    JOIN consortium_partner pa ON pa.id = l.partner_id
    LEFT JOIN sums s ON s.partner_id = l.partner_id
        AND s.workpackage_id IS NOT DISTINCT FROM l.workpackage_id
        AND s.category_id = l.category_id
    LEFT JOIN sums b ON b.partner_id = l.partner_id
        AND b.workpackage_id IS NOT DISTINCT FROM l.workpackage_id
        AND b.category_id = c.flat_rate_base_id
    WHERE l.consortium_id = %(consortium)s AND l.status = 'active'
)
"""

# The budget by partner, by workpackage, by heading and in all, with the subsidy per partner,
# and the effort by partner and by workpackage: one statement.
SEMESTER_FLOOR = (
    _LINES
    + """
SELECT 'budget', GROUPING(partner_id, workpackage_id, category_id),
    partner_id, workpackage_id, category_id,
    SUM(planned_amount), SUM(granted_amount), SUM(consumed), SUM(consumed_before),
    ROUND(SUM(consumed * rate / 100), 2)
FROM lines
GROUP BY GROUPING SETS ((partner_id), (workpackage_id), (category_id), ())
UNION ALL
SELECT 'effort', GROUPING(f.partner_id, f.workpackage_id), f.partner_id, f.workpackage_id, NULL,
    SUM(f.planned_person_months), SUM(f.actual_person_months), NULL, NULL, NULL
FROM workpackages_effort f
JOIN consortium_reportingperiod p ON p.id = f.period_id
WHERE f.consortium_id = %(consortium)s AND p.end_date <= %(end)s
GROUP BY GROUPING SETS ((f.partner_id), (f.workpackage_id))
"""
)

# The progress report's budget (all accepted costs) by partner and by workpackage, and its
# effort by partner and by workpackage (all periods).
PROGRESS_FLOOR = (
    _LINES
    + """
SELECT 'budget', GROUPING(partner_id, workpackage_id), partner_id, workpackage_id,
    SUM(planned_amount), SUM(granted_amount), SUM(consumed)
FROM lines
GROUP BY GROUPING SETS ((partner_id), (workpackage_id))
UNION ALL
SELECT 'effort', GROUPING(partner_id, workpackage_id), partner_id, workpackage_id,
    SUM(planned_person_months), SUM(actual_person_months), NULL
FROM workpackages_effort
WHERE consortium_id = %(consortium)s
GROUP BY GROUPING SETS ((partner_id), (workpackage_id))
"""
)

# The jobs counted (forecast and realised) by partner, category, contract type, workpackage and
# in all, by impact and status; and the realised ones started each month up to the day.
JOBS_FLOOR = """
SELECT GROUPING(partner_id, category, contract_type, workpackage_id, month),
    partner_id, category, contract_type, workpackage_id, month, impact, status,
    COUNT(*), SUM(fte)
FROM (
    SELECT j.*, CASE WHEN j.status = 'realised' AND j.start_date <= %(as_of)s
        THEN date_trunc('month', j.start_date)::date END AS month
    FROM workpackages_jobrecord j
    WHERE j.consortium_id = %(consortium)s AND j.status IN ('forecast', 'realised')
) jobs
GROUP BY GROUPING SETS (
    (partner_id, impact, status), (category, impact, status), (contract_type, impact, status),
    (workpackage_id, impact, status), (impact, status), (month, impact, status)
)
"""


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def semester_period(consortium: Consortium) -> ReportingPeriod:
    """The last reporting period ended before today (the demo is built around today)."""
    today = timezone.localdate()
    periods = ReportingPeriod.objects.filter(consortium=consortium, end_date__lt=today)
    ended = periods.order_by("-end_date").first()
    return ended or ReportingPeriod.objects.filter(consortium=consortium).earliest("end_date")


def semester_figures(consortium: Consortium, period: ReportingPeriod) -> dict[str, Any]:
    """The semester report's money and effort figures, as `semester_report` computes them."""
    end = period.end_date
    before = period.start_date - datetime.timedelta(days=1)
    # As `semester_report` reads them: the accepted costs once for all the money figures.
    with repeated_reads():
        by_partner, by_workpackage = budget_rows([consortium.pk], until=end)
        return {
            "partners": by_partner.get(consortium.pk, []),
            "workpackages": by_workpackage.get(consortium.pk, []),
            "headings": budget_by_heading(consortium, until=end),
            "earlier": budget_by_heading(consortium, until=before),
            "subsidy": subsidy_due_by_partner(consortium, until=end),
            "effort_partners": _effort_to(consortium, end, "partner_id", lambda *key: ""),
            "effort_workpackages": _effort_to(consortium, end, "workpackage_id", lambda *key: ""),
        }


def semester_floor(consortium: Consortium, period: ReportingPeriod) -> list[tuple[Any, ...]]:
    before = period.start_date - datetime.timedelta(days=1)
    params = {"consortium": consortium.pk, "end": period.end_date, "before": before}
    return _rows(SEMESTER_FLOOR, params)


def semester_agree(figures: dict[str, Any], floor: list[tuple[Any, ...]]) -> list[str]:
    """Where the report's figures and the floor's differ (nothing when they agree)."""
    wrong: list[str] = []
    # GROUPING(partner, workpackage, heading): 3 for the partners' rows, 5 for the
    # workpackages', 6 for the headings'.
    budget = {row[1:5]: row[5:] for row in floor if row[0] == "budget"}
    # GROUPING(partner, workpackage): 1 for the partners' rows, 2 for the workpackages'.
    effort = {
        (row[1], row[2] if row[1] == 1 else row[3]): row[5:7] for row in floor if row[0] == "effort"
    }

    def check(name: str, mine: Any, theirs: Any) -> None:
        if mine != theirs:
            wrong.append(f"{name}: {mine} ≠ {theirs}")

    for row in figures["partners"]:
        found = budget.get((3, row.key, None, None))
        if found or row.planned:
            check(f"P{row.number}", (row.planned, row.granted, row.consumed), found and found[:3])
    for row in figures["workpackages"]:
        found = budget.get((5, None, row.key, None))
        if found or row.planned:
            check(f"WP{row.number}", (row.planned, row.granted, row.consumed), found and found[:3])
    earlier = {row.key: row.consumed for row in figures["earlier"]}
    for row in figures["headings"]:
        found = budget.get((6, None, None, row.key))
        if found or row.planned:
            check(
                f"heading {row.label}",
                (row.planned, row.consumed, row.consumed - earlier.get(row.key, ZERO)),
                found and (found[0], found[2], found[2] - found[3]),
            )
    for row in figures["subsidy"].rows:
        found = budget.get((3, row.key, None, None))
        check(f"subsidy P{row.number}", row.subsidy, found[4] if found else ZERO)
    for rows, grouping in (("effort_partners", 1), ("effort_workpackages", 2)):
        for row in figures[rows]:
            found = effort.get((grouping, row.key))
            check(f"effort {rows} {row.key}", (row.planned, row.actual), found or (ZERO, ZERO))
    return wrong


def progress_figures(consortium: Consortium) -> dict[str, Any]:
    """The progress report's money and effort figures, as `progress_report` computes them."""
    by_partner, by_workpackage = budget_rows([consortium.pk])
    return {
        "partners": by_partner.get(consortium.pk, []),
        "workpackages": by_workpackage.get(consortium.pk, []),
        "effort_partners": _effort(
            consortium, "partner_id", "partner__number", "partner__organisation__short_name"
        ),
        "effort_workpackages": _effort(
            consortium, "workpackage_id", "workpackage__number", "workpackage__title"
        ),
    }


def progress_floor(consortium: Consortium) -> list[tuple[Any, ...]]:
    far = datetime.date(9999, 12, 31)
    return _rows(PROGRESS_FLOOR, {"consortium": consortium.pk, "end": far, "before": far})


def progress_agree(figures: dict[str, Any], floor: list[tuple[Any, ...]]) -> list[str]:
    wrong: list[str] = []
    rows = {(row[0], row[1], row[2], row[3]): row[4:] for row in floor}
    for name, kind, grouping, position in (
        ("partners", "budget", 1, 2),
        ("workpackages", "budget", 2, 3),
        ("effort_partners", "effort", 1, 2),
        ("effort_workpackages", "effort", 2, 3),
    ):
        for row in figures[name]:
            key = [kind, grouping, None, None]
            key[position] = row.key
            found = rows.get(tuple(key))
            if kind == "budget":
                mine: Any = (row.planned, row.granted, row.consumed)
                theirs: Any = found if found else None
            else:
                mine = (row.planned, row.actual)
                theirs = found[:2] if found else (ZERO, ZERO)
            if (found or kind == "effort" or row.planned) and mine != theirs:
                wrong.append(f"{name} {row.key}: {mine} ≠ {theirs}")
    return wrong


def jobs_figures(consortium: Consortium, as_of: datetime.date) -> Any:
    return jobs_report(consortium, as_of=as_of)


def jobs_floor(consortium: Consortium, as_of: datetime.date) -> list[tuple[Any, ...]]:
    return _rows(JOBS_FLOOR, {"consortium": consortium.pk, "as_of": as_of})


def jobs_agree(report: Any, floor: list[tuple[Any, ...]]) -> list[str]:
    wrong: list[str] = []
    # GROUPING(partner, category, contract_type, workpackage, month): the one set column is 0.
    sets = {"by_partner": 15, "by_category": 23, "by_contract_type": 27, "by_workpackage": 29}
    # Where each set's column is in a row: its value keys the row (none for the totals, 31).
    column = {15: 1, 23: 2, 27: 3, 29: 4, 30: 5}
    counted: dict[tuple[Any, ...], tuple[int, Decimal]] = {
        (row[0], row[column[row[0]]] if row[0] in column else None, row[6], row[7]): (
            row[8],
            row[9] or ZERO,
        )
        for row in floor
    }
    for name, grouping in sets.items():
        for row in getattr(report, name):
            for (impact, status), count in row.counts.items():
                found = counted.get((grouping, row.key, impact, status))
                if found != (count.headcount, count.fte):
                    wrong.append(f"{name} {row.key} {impact} {status}: {count} ≠ {found}")
    for (impact, status), count in report.totals.counts.items():
        found = counted.get((31, None, impact, status))
        if found != (count.headcount, count.fte):
            wrong.append(f"total {impact} {status}: {count} ≠ {found}")
    monthly = sum(row[8] for row in floor if row[0] == 30 and row[5] is not None)
    realised = sum(
        count.headcount
        for (impact, status), count in report.totals.counts.items()
        if status == "realised"
    )
    if monthly > realised:
        wrong.append(f"started by month {monthly} > realised {realised}")
    return wrong
