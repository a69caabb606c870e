"""The semester report the region expects: one per reporting period, every figure as of the
period's end, so that a later period's costs accepted afterwards never move it; its totals are
those of a SQL query written here; its workbook holds numbers, totals rows and the milestones; its
PDF opens on a cover page."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from consortium.models import ReportingPeriod
from reporting.choices import ReportKind
from reporting.models import Report, ReportSchedule
from reporting.services import report_generate, report_schedule, reports_due
from tests import factories
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db

# The test consortium's fifth period (January to June 2026), ended by the frozen day.
P5 = (datetime.date(2026, 1, 1), datetime.date(2026, 6, 30))

# The money as of a day, as the funder counts it: accepted amounts of the expenses of the
# periods ended by then, and on a flat-rate line its rate times its base heading's costs,
# rounded to the cent per line; the subsidy is each line's costs times its rate (else the
# partner's), rounded once per partner.
SQL = """
WITH accepted AS (
    SELECT e.partner_id, e.workpackage_id, e.category_id, SUM(e.accepted_amount) AS amount
    FROM workpackages_expense e
    JOIN consortium_reportingperiod p ON p.id = e.period_id
    WHERE e.consortium_id = %(consortium)s AND e.status = 'accepted' AND p.end_date <= %(until)s
    GROUP BY e.partner_id, e.workpackage_id, e.category_id
), lines AS (
    SELECT l.partner_id, l.category_id, l.planned_amount,
           COALESCE(l.funding_rate, pa.default_funding_rate) AS rate,
           CASE WHEN c.kind = 'flat_rate'
                THEN ROUND(COALESCE(base.amount, 0) * c.flat_rate / 100, 2)
                ELSE COALESCE(own.amount, 0) END AS consumed
    FROM workpackages_budgetline l
    JOIN consortium_costcategory c ON c.id = l.category_id
    JOIN consortium_partner pa ON pa.id = l.partner_id
    LEFT JOIN accepted own ON own.partner_id = l.partner_id
        AND own.workpackage_id = l.workpackage_id AND own.category_id = l.category_id
    LEFT JOIN accepted base ON base.partner_id = l.partner_id
        AND base.workpackage_id = l.workpackage_id AND base.category_id = c.flat_rate_base_id
    WHERE l.consortium_id = %(consortium)s AND l.status = 'active'
)
SELECT
    (SELECT SUM(planned_amount) FROM lines),
    (SELECT SUM(consumed) FROM lines),
    (SELECT SUM(subsidy) FROM (
        SELECT ROUND(SUM(consumed * rate / 100), 2) AS subsidy FROM lines GROUP BY partner_id
    ) per_partner)
"""


def _database_figures(consortium: Any, until: datetime.date) -> tuple[Decimal, Decimal, Decimal]:
    with connection.cursor() as cursor:
        cursor.execute(SQL, {"consortium": consortium.pk, "until": until})
        planned, consumed, subsidy = cursor.fetchone()
    return planned, consumed, subsidy


def _accepted(
    line: Any, period_number: int, amount: str, *, partner_member: Any, coordinator: Any
) -> Any:
    expense = factories.ExpenseFactory(
        line=line, period_number=period_number, amount=Decimal(amount)
    )
    expense_submit(expense=expense, user=partner_member)
    return expense_accept(expense=expense, user=coordinator)


@pytest.fixture
def money(
    consortium: Any,
    partner_a: Any,
    workpackage: Any,
    budget_line: Any,
    partner_member: Any,
    coordinator: Any,
) -> dict[str, Any]:
    """Personnel and its flat-rate overheads for partner A, with costs accepted in P1 and P5."""
    personnel = budget_line
    overheads = factories.BudgetLineFactory(
        partner=partner_a,
        workpackage=workpackage,
        heading="overheads",
        planned_amount=Decimal("17000.00"),
    )
    people = {"partner_member": partner_member, "coordinator": coordinator}
    _accepted(personnel, 1, "12345.67", **people)
    _accepted(personnel, 5, "2000.01", **people)
    return {"personnel": personnel, "overheads": overheads, **people}


def _generate(consortium: Any) -> Report:
    key = {
        "kind": ReportKind.SEMESTER,
        "consortium": consortium,
        "period_start": P5[0],
        "period_end": P5[1],
    }
    report_schedule(**key)
    return report_generate(**key)


def _workbook(report: Report, language: str = "en") -> Any:
    document = report.documents.get(language=language)
    return openpyxl.load_workbook(io.BytesIO(document.xlsx.read()), data_only=True)


def _totals(book: Any) -> dict[str, Any]:
    """The total rows of the budget and subsidy sheets, by sheet."""
    return {
        name: [list(row) for row in book[name].iter_rows(values_only=True)][-1]
        for name in ("Budget by heading", "Subsidy due")
    }


def test_a_later_periods_acceptance_does_not_move_the_p5_report_whose_totals_are_the_databases(
    consortium: Any, money: dict[str, Any]
) -> None:
    report = _generate(consortium)
    before = _totals(_workbook(report))

    # A P6 cost, accepted after P5's report was made, then the report made again.
    _accepted(
        money["personnel"],
        6,
        "5000.00",
        partner_member=money["partner_member"],
        coordinator=money["coordinator"],
    )
    report = _generate(consortium)
    after = _totals(_workbook(report))
    assert after == before

    planned, consumed, subsidy = _database_figures(consortium, P5[1])
    heading = after["Budget by heading"]
    # Label, planned, granted, in the period, consumed to date, consumption.
    assert heading[0] == "Total"
    assert Decimal(str(heading[1])) == planned
    assert Decimal(str(heading[4])) == consumed
    # 12,345.67 + 2,000.01 of personnel, and 17 % overheads on them, rounded per line.
    assert consumed == Decimal("14345.68") + Decimal("2438.77")
    # P5's own costs: its personnel and the overheads on it.
    assert Decimal(str(heading[3])) == consumed - (Decimal("12345.67") + Decimal("2098.76"))
    assert Decimal(str(after["Subsidy due"][2])) == subsidy
    # Today's figures count the P6 cost; the report's do not.
    assert _database_figures(consortium, datetime.date(2026, 12, 31))[1] > consumed


def test_the_workbook_holds_numbers_totals_and_the_milestones(
    consortium: Any, money: dict[str, Any], plan: dict[str, Any]
) -> None:
    book = _workbook(_generate(consortium))
    assert {"Budget by heading", "Subsidy due", "Jobs by partner", "Milestones"} <= set(
        book.sheetnames
    )
    for name in ("Budget by heading", "Budget by partner", "Subsidy due", "Jobs by partner"):
        labels = [row[0] for row in book[name].iter_rows(values_only=True)]
        assert "Total" in labels, name
    heading_rows = list(book["Budget by heading"].iter_rows(min_row=2, values_only=True))
    assert all(isinstance(row[1], int | float) for row in heading_rows)
    milestones = list(book["Milestones"].iter_rows(values_only=True))
    assert milestones[0][:3] == ("Code", "Title", "Means of verification")
    by_code = {row[0]: row for row in milestones[1:]}
    achieved = plan["achieved"]
    assert by_code[achieved.code][5] is not None  # its achievement date
    assert by_code[achieved.code][7] == "Batch record signed."
    assert by_code[plan["missed"].code][4] == "Missed"


def test_the_pdf_opens_on_a_cover_with_both_names_and_every_amount_has_separators(
    consortium: Any, money: dict[str, Any]
) -> None:
    consortium.name_fr = "Partenariat d'essai"
    consortium.agreement_number = "PIT-TEST-2024-01"
    consortium.save()
    report = _generate(consortium)
    english = report.documents.get(language="en")
    cover = pdfium.PdfDocument(english.pdf.read())[0].get_textpage().get_text_range()
    assert "Semester report – P5" in cover
    assert "A test partnership" in cover and "Partenariat d'essai" in cover
    assert "PIT-TEST-2024-01" in cover
    assert "Budget" not in cover  # the cover stands alone on its page
    # Personnel consumed to date (P1 and P5), thousands separated in each language's way.
    assert "14,345.68" in english.html
    french = report.documents.get(language="fr")
    assert any(f"14{space}345,68" in french.html for space in ("\u202f", "\xa0", " ", "."))
    assert "break-inside: avoid" in english.html  # table rows are not split across pages


def test_a_semester_report_covers_an_ended_reporting_period_exactly(consortium: Any) -> None:
    with pytest.raises(ValidationError, match="covers one of the consortium's reporting periods"):
        report_schedule(
            kind=ReportKind.SEMESTER,
            consortium=consortium,
            period_start=datetime.date(2026, 1, 1),
            period_end=datetime.date(2026, 5, 31),
        )
    with pytest.raises(ValidationError, match="once its reporting period has ended"):
        report_schedule(
            kind=ReportKind.SEMESTER,
            consortium=consortium,
            period_start=datetime.date(2026, 7, 1),
            period_end=datetime.date(2026, 12, 31),
        )
    assert not Report.objects.exists()


def test_the_schedule_makes_each_periods_report_its_days_after_the_end(consortium: Any) -> None:
    schedule = ReportSchedule.objects.get(consortium=consortium, kind=ReportKind.SEMESTER)
    assert (schedule.enabled, schedule.review_first, schedule.days_after_period_end) == (
        True,
        True,
        45,
    )
    p5 = ReportingPeriod.objects.get(consortium=consortium, number=5)
    p4 = ReportingPeriod.objects.get(consortium=consortium, number=4)
    on_day = p5.end_date + datetime.timedelta(days=45)
    [(_schedule, start, end)] = reports_due(ReportKind.SEMESTER, on_day)
    assert (start, end) == (p5.start_date, p5.end_date)
    [(_schedule, start, end)] = reports_due(
        ReportKind.SEMESTER, on_day - datetime.timedelta(days=1)
    )
    assert (start, end) == (p4.start_date, p4.end_date)
    schedule.enabled = False
    schedule.save()
    assert reports_due(ReportKind.SEMESTER, on_day) == []
