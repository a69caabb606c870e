"""Exports of the partner's own expenses and jobs: the rows of the list page, typed cells, headers in
the reader's language, and no text a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from consortium.exports import neutralise, write_csv, write_xlsx
from consortium.middleware import SESSION_LANGUAGE
from tests import factories
from tests.web import client_for
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.models import Expense
from workpackages.money.services import expense_submit

pytestmark = pytest.mark.django_db

FORMULA_LIKE = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2",
    "@SUM(A1)",
    "\tTab-led text",
    "\rCR-led text\r\nand a second line",
]


def body(response: Any) -> bytes:
    """The file's bytes; a streamed one is read once, then kept for the next reads."""
    if not hasattr(response, "read_body"):
        streamed = response.streaming
        response.read_body = b"".join(response.streaming_content) if streamed else response.content
    return bytes(response.read_body)


def read(response: Any, fmt: str) -> list[list[Any]]:
    """The file's rows, header first: CSV as text, XLSX as the cells' values."""
    data = body(response)
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    sheet = load_workbook(io.BytesIO(data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def xlsx_cells(response: Any) -> list[Any]:
    sheet = load_workbook(io.BytesIO(body(response))).active
    return [cell for row in sheet.iter_rows() for cell in row]


def csv_amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


@pytest.fixture
def expenses(budget_line: Any, budget_line_b: Any, partner_member: Any) -> list[Any]:
    """Three expenses of partner A (one submitted) and one of partner B."""
    own: list[Any] = [
        factories.ExpenseFactory(line=budget_line, amount=Decimal("1200.00")),
        factories.ExpenseFactory(line=budget_line, amount=Decimal("15234.56"), period_number=2),
        factories.ExpenseFactory(line=budget_line, amount=Decimal("0.99")),
    ]
    expense_submit(expense=own[0], user=partner_member)
    factories.ExpenseFactory(line=budget_line_b, description="Their confidential order")
    return own


# Expenses --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_expense_export_holds_the_partners_own_rows(
    partner_member: Any, expenses: list[Expense], fmt: str
) -> None:
    response = client_for(partner_member).get(reverse("expense-export", args=[fmt]))

    assert response.status_code == 200
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="PIT-TEST_P1_expenses_{today}.{fmt}"'
    )
    header, *rows = read(response, fmt)
    assert header[0] == "Date"
    assert "Amount (EUR)" in header
    by_description = {row[4]: row for row in rows}
    own = Expense.objects.filter(partner=expenses[0].partner)
    assert set(by_description) == set(own.values_list("description", flat=True))
    assert "Their confidential order" not in by_description
    for expense in own:
        row = by_description[expense.description]
        if fmt == "csv":
            assert row[0] == expense.incurred_on.isoformat()
            assert row[6] == csv_amount(expense.amount)
        else:
            assert row[0] == datetime.datetime.combine(expense.incurred_on, datetime.time())
            assert Decimal(str(row[6])) == expense.amount
        assert row[2] == "WP1"
        assert row[5] == expense.invoice_reference
        assert row[8] == expense.get_status_display()
        assert row[1].startswith(f"P{expense.period.number} (")


def test_expense_xlsx_has_numbers_and_dates(partner_member: Any, expenses: list[Expense]) -> None:
    response = client_for(partner_member).get(reverse("expense-export", args=["xlsx"]))

    sheet = load_workbook(io.BytesIO(body(response))).active
    row = next(sheet.iter_rows(min_row=2, max_row=2))
    assert row[0].is_date
    assert row[6].data_type == "n"
    assert row[6].number_format == "#,##0.00"
    assert sheet["A1"].font.bold


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_expense_export_neutralises_formula_like_text(
    partner_member: Any, budget_line: Any, fmt: str
) -> None:
    for text in FORMULA_LIKE:
        factories.ExpenseFactory(line=budget_line, description=text, invoice_reference=text)

    response = client_for(partner_member).get(reverse("expense-export", args=[fmt]))

    _header, *rows = read(response, fmt)
    descriptions = sorted(row[4] for row in rows)
    if fmt == "csv":
        assert descriptions == sorted("'" + text for text in FORMULA_LIKE)
        assert sorted(row[5] for row in rows) == descriptions
        # Amounts are numbers, never prefixed.
        assert {row[6] for row in rows} == {"1200,00"}
    else:
        assert descriptions == sorted(FORMULA_LIKE)
        cells = xlsx_cells(response)
        assert not [cell for cell in cells if cell.data_type == "f"]
        text_cells = [cell for cell in cells if cell.value in FORMULA_LIKE]
        assert len(text_cells) == 2 * len(FORMULA_LIKE)
        assert all(cell.data_type == "s" and cell.quotePrefix for cell in text_cells)
        amounts = [cell for cell in cells if cell.column == 7 and cell.row > 1]
        assert all(cell.data_type == "n" for cell in amounts)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_expense_export_honours_the_lists_filters(
    partner_member: Any, expenses: list[Expense], period: Any, fmt: str
) -> None:
    client = client_for(partner_member)

    response = client.get(reverse("expense-export", args=[fmt]), {"status": "submitted"})
    _header, *rows = read(response, fmt)
    assert [row[4] for row in rows] == [expenses[0].description]

    response = client.get(reverse("expense-export", args=[fmt]), {"period": period.pk})
    _header, *rows = read(response, fmt)
    expected = Expense.objects.filter(partner=expenses[0].partner, period=period)
    assert sorted(row[4] for row in rows) == sorted(e.description for e in expected)
    assert len(rows) == 2


def test_expense_export_with_a_bad_filter_goes_back_to_the_list(
    partner_member: Any, expenses: list[Expense]
) -> None:
    response = client_for(partner_member).get(
        reverse("expense-export", args=["csv"]), {"incurred_after": "yesterday"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("expense-list") + "?incurred_after=yesterday"


def test_expense_export_query_count_does_not_grow(partner_member: Any, budget_line: Any) -> None:
    client = client_for(partner_member)

    def queries(fmt: str, rows: int) -> int:
        with CaptureQueriesContext(connection) as context:
            assert len(read(client.get(reverse("expense-export", args=[fmt])), fmt)) == 1 + rows
        return len(context)

    for _ in range(2):
        factories.ExpenseFactory(line=budget_line)
    few = {fmt: queries(fmt, 2) for fmt in ("csv", "xlsx")}
    for _ in range(28):
        factories.ExpenseFactory(line=budget_line)
    many = {fmt: queries(fmt, 30) for fmt in ("csv", "xlsx")}

    assert many == few


# Jobs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_job_export_holds_own_jobs_with_neutralised_text(
    partner_member: Any, partner_a: Any, partner_b: Any, workpackage: Any, fmt: str
) -> None:
    for text in FORMULA_LIKE:
        factories.JobRecordFactory(
            partner=partner_a, position_title=text, fte=Decimal("0.50"), workpackage=workpackage
        )
    factories.JobRecordFactory(partner=partner_b, position_title="Their bioprocess lead")

    response = client_for(partner_member).get(reverse("job-export", args=[fmt]))

    assert response.status_code == 200
    assert (
        f"PIT-TEST_P1_jobs_{timezone.localdate().isoformat()}.{fmt}"
        in (response["Content-Disposition"])
    )
    header, *rows = read(response, fmt)
    assert header[:4] == ["Position title", "Category", "Contract", "FTE"]
    assert len(rows) == JobRecord.objects.filter(partner=partner_a).count() == len(FORMULA_LIKE)
    titles = sorted(row[0] for row in rows)
    if fmt == "csv":
        assert titles == sorted("'" + text for text in FORMULA_LIKE)
        assert {row[3] for row in rows} == {"0,50"}
    else:
        assert titles == sorted(FORMULA_LIKE)
        assert not [cell for cell in xlsx_cells(response) if cell.data_type == "f"]
        assert {row[3] for row in rows} == {0.5}
    assert {row[1] for row in rows} == {"Quality / regulatory"}
    assert {row[8] for row in rows} == {"WP1"}
    assert "Their bioprocess lead" not in str(rows)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_job_export_honours_filters_and_speaks_the_readers_language(
    partner_member: Any, partner_a: Any, fmt: str
) -> None:
    factories.JobRecordFactory(partner=partner_a, position_title="Direct QC analyst")
    factories.JobRecordFactory(
        partner=partner_a,
        position_title="Indirect logistician",
        impact=JobImpact.INDIRECT,
        status=JobStatus.REALISED,
    )
    client = client_for(partner_member)
    session = client.session
    session[SESSION_LANGUAGE] = "fr"
    session.save()

    response = client.get(reverse("job-export", args=[fmt]), {"impact": "indirect"})

    header, *rows = read(response, fmt)
    assert header[0] == "Intitulé du poste"
    assert [row[0] for row in rows] == ["Indirect logistician"]
    with translation.override("fr"):
        assert rows[0][7] == str(JobStatus.REALISED.label) != "Realised"


def test_job_export_query_count_does_not_grow(partner_member: Any, partner_a: Any) -> None:
    client = client_for(partner_member)
    url = reverse("job-export", args=["xlsx"])
    for _ in range(2):
        factories.JobRecordFactory(partner=partner_a)
    with CaptureQueriesContext(connection) as few:
        assert len(read(client.get(url), "xlsx")) == 1 + 2
    for _ in range(28):
        factories.JobRecordFactory(partner=partner_a)
    with CaptureQueriesContext(connection) as many:
        assert len(read(client.get(url), "xlsx")) == 1 + 30

    assert len(many) == len(few)


# Access -----------------------------------------------------------------------------------------


def test_unknown_format_is_not_found(partner_member: Any) -> None:
    client = client_for(partner_member)

    assert client.get(reverse("expense-export", args=["pdf"])).status_code == 404
    assert client.get(reverse("job-export", args=["xls"])).status_code == 404


@pytest.mark.parametrize("name", ["expense-export", "job-export"])
def test_anonymous_visitors_go_to_the_login_page(name: str) -> None:
    response = Client().get(reverse(name, args=["xlsx"]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_person_without_a_partner_gets_no_file(observer: Any, expenses: list[Expense]) -> None:
    response = client_for(observer).get(reverse("expense-export", args=["csv"]))

    assert response.status_code == 302
    assert response["Location"] == reverse("funder")
    assert b"Culture media" not in response.content


# The writers -----------------------------------------------------------------------------------


def test_numbers_are_never_prefixed_but_text_is() -> None:
    assert neutralise("-2") == "'-2"
    assert neutralise("\r=1") == "'\r=1"
    assert neutralise("Media 2") == "Media 2"
    assert neutralise(Decimal("-2.00")) == Decimal("-2.00")
    assert neutralise(None) is None

    lines = b"".join(write_csv([(Decimal("-2.00"), "-2", datetime.date(2026, 1, 31))], ["a"]))
    assert lines.decode("utf-8-sig").splitlines()[1] == "-2,00;'-2;2026-01-31"

    data = write_xlsx([(Decimal("-2.00"), "-2", "#N/A")], ["a", "b", "c"], title="A/B: test")
    sheet = load_workbook(io.BytesIO(data)).active
    number, text, error_like = next(sheet.iter_rows(min_row=2))
    assert (number.data_type, number.value) == ("n", -2)
    assert (text.data_type, text.value, text.quotePrefix) == ("s", "-2", True)
    # Text that looks like an Excel error stays text too.
    assert (error_like.data_type, error_like.value) == ("s", "#N/A")
    assert sheet.title == "A-B- test"
