"""Importing a partner's expenses from a CSV or Excel file: all rows or none, with every bad row's
line number and reason."""

from __future__ import annotations

import codecs
import datetime
import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from tests import factories
from tests.web import client_for
from workpackages.imports import MAX_ROWS, expenses_import
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db

IMPORT = reverse("expense-import")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture
def lines(partner_a: Any, workpackage: Any, consortium: Any) -> Any:
    """Partner A's budget lines: WP1 personnel and operating costs, WP3 personnel."""
    wp3 = factories.WorkpackageFactory(consortium=consortium, number=3, lead_partner=partner_a)
    return [
        factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage),
        factories.BudgetLineFactory(
            partner=partner_a, workpackage=workpackage, heading="operating"
        ),
        factories.BudgetLineFactory(partner=partner_a, workpackage=wp3),
    ]


def _csv(text: str, name: str = "expenses.csv", bom: bool = True) -> SimpleUploadedFile:
    data = ("\ufeff" if bom else "") + text
    return SimpleUploadedFile(name, data.encode("utf-8"), content_type="text/csv")


def _errors(response: Any) -> list[tuple[int, str]]:
    return [(error.line, error.column) for error in response.context["result"].errors]


# A Belgian Excel export: French headers, semicolons, decimal commas, day-first dates.
GOOD_CSV = (
    "Date;Lot de travail;Catégorie;Période;Montant (EUR);Libellé;N° de facture\r\n"
    "14/03/2024;WP1;personnel;1;1 234,56;Salaire technicienne mars;SAL-2024-03\r\n"
    "2024-04-02;1;Operating costs;;89,90;Milieux de culture;F-889\r\n"
    "\r\n"
    '15/08/2024;wp3;Personnel;2;"2.500,00";"Salaire ingénieur; août";\r\n'
    "20/09/2024;3;personnel;;1234.5;Prime;SAL-2024-09\r\n"
)


def test_a_good_csv_creates_every_row_with_its_author(
    partner_member: Any, partner_a: Any, lines: Any
) -> None:
    response = client_for(partner_member).post(IMPORT, {"file": _csv(GOOD_CSV)}, follow=True)
    assert response.redirect_chain == [(reverse("expense-list"), 302)]
    assert "4 expenses imported as drafts." in response.content.decode()
    created = Expense.objects.filter(partner=partner_a).order_by("incurred_on")
    assert [
        (e.incurred_on, e.workpackage.number, e.category.code, e.period.number, e.amount)
        for e in created
    ] == [
        (datetime.date(2024, 3, 14), 1, "personnel", 1, Decimal("1234.56")),
        (datetime.date(2024, 4, 2), 1, "operating", 1, Decimal("89.90")),
        (datetime.date(2024, 8, 15), 3, "personnel", 2, Decimal("2500.00")),
        (datetime.date(2024, 9, 20), 3, "personnel", 2, Decimal("1234.50")),
    ]
    assert created[2].description == "Salaire ingénieur; août"
    assert [e.invoice_reference for e in created] == ["SAL-2024-03", "F-889", "", "SAL-2024-09"]
    assert {e.status for e in created} == {ExpenseStatus.DRAFT}
    assert {e.history.get().history_user for e in created} == {partner_member}


def test_english_headers_with_commas_and_no_bom(partner_member: Any, lines: Any) -> None:
    text = (
        "date,workpackage,category,amount,description,invoice,supplier\n"
        '2024-02-01,WP1,personnel,"1,250.00",Lab technician,INV-1,Acme\n'
    )
    response = client_for(partner_member).post(IMPORT, {"file": _csv(text, bom=False)}, follow=True)
    assert "These columns were not read: supplier." in response.content.decode()
    assert Expense.objects.get().amount == Decimal("1250.00")


def test_bad_rows_save_nothing_and_each_is_listed_with_its_line(
    partner_member: Any, lines: Any
) -> None:
    text = (
        "date;workpackage;category;period;amount;description;invoice\n"  # line 1
        "14/03/2024;WP1;personnel;1;100,00;Good row;A-1\n"  # line 2
        "15/03/2024;WP1;personnel;1;0;Zero amount;A-2\n"  # line 3
        "\n"  # line 4: blank, skipped
        "16/03/2024;WP9;personnel;1;10;Unknown workpackage;A-3\n"  # line 5
        '17/03/2024;WP1;personnel;1;10;"Two-line\ndescription";A-4\n'  # lines 6-7
        "01/09/2024;WP1;personnel;1;10;Date outside period;A-5\n"  # line 8
        "18/03/2024;WP1;overheads;1;10;Flat-rate heading;A-6\n"  # line 9
        "19/03/2024;WP1;equipment;1;10;No budget line;A-7\n"  # line 10
        "32/03/2024;WP1;travel;;douze;;A-8\n"  # line 11
        "20/03/2024;WP1;personnel;1;10;Good again;A-9\n"  # line 12
    )
    response = client_for(partner_member).post(IMPORT, {"file": _csv(text)})
    assert response.status_code == 200
    assert not Expense.objects.exists()
    assert _errors(response) == [
        (3, "amount"),
        (5, "workpackage"),
        (8, "date"),
        (9, "category"),
        (10, "category"),
        (11, "date"),
        (11, "category"),
        (11, "amount"),
        (11, "description"),
    ]
    body = response.content.decode()
    assert "Line 3 — amount: An expense amount must be greater than zero." in body
    assert "Line 5 — workpackage: This consortium has no workpackage WP9." in body
    assert "Line 8 — date: The date falls outside the reporting period P1" in body
    assert "Line 9 — cost category: Flat-rate headings are computed, not declared" in body
    assert (
        "Line 10 — cost category: The partner has no budget line for this workpackage and heading."
        in body
    )
    assert "Line 11 — date: This date does not exist." in body
    assert "Nothing was imported: the file has 9 errors." in body


def test_a_row_in_a_period_whose_statement_is_submitted_is_refused(
    partner_member: Any, partner_a: Any, lines: Any, period: Any
) -> None:
    client = client_for(partner_member)
    client.post(reverse("expense-statement", args=[period.pk]))
    text = "date;wp;category;amount;description\n14/03/2024;1;personnel;10;Late line\n"
    response = client.post(IMPORT, {"file": _csv(text)})
    assert _errors(response) == [(2, "period")]
    assert "its lines are locked" in response.content.decode()
    assert not Expense.objects.exists()


def test_missing_columns_are_named_on_line_1(partner_member: Any, lines: Any) -> None:
    text = "date;wp;amout;description\n14/03/2024;1;10;Typo in the header\n"
    response = client_for(partner_member).post(IMPORT, {"file": _csv(text)})
    assert _errors(response) == [(1, "category"), (1, "amount")]
    assert not Expense.objects.exists()


def test_an_xlsx_workbook_is_imported(partner_member: Any, partner_a: Any, lines: Any) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Date", "WP", "Category", "Period", "Amount", "Description", "Invoice"])
    # Excel's date cells carry no time zone: openpyxl reads them back as naive datetimes.
    moment = datetime.datetime(2024, 5, 6, 0, 0)  # noqa: DTZ001
    sheet.append([moment, 1, "Personnel", 1, 1500.1, "Postdoc May", 4711])
    sheet.append(["07/05/2024", "WP3", "personnel", None, "99,99", "Reagents", "F-12"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("expenses.xlsx", buffer.getvalue())
    response = client_for(partner_member).post(IMPORT, {"file": upload})
    assert response.status_code == 302
    created = Expense.objects.filter(partner=partner_a).order_by("incurred_on")
    assert [
        (e.incurred_on, e.workpackage.number, e.amount, e.invoice_reference) for e in created
    ] == [
        (datetime.date(2024, 5, 6), 1, Decimal("1500.10"), "4711"),
        (datetime.date(2024, 5, 7), 3, Decimal("99.99"), "F-12"),
    ]


def test_an_xlsx_with_a_bad_row_reports_its_row_number(partner_member: Any, lines: Any) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["date", "workpackage", "category", "amount", "description"])
    sheet.append([datetime.date(2024, 5, 6), 1, "personnel", 10, "Fine"])
    sheet.append([])
    sheet.append([datetime.date(2024, 5, 7), 1, "personnel", -3, "Negative"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("expenses.xlsx", buffer.getvalue())
    response = client_for(partner_member).post(IMPORT, {"file": upload})
    assert _errors(response) == [(4, "amount")]
    assert not Expense.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("expenses.csv", PNG, "neither a CSV file (text in UTF-8, Windows-1252 or UTF-16)"),
        ("expenses.xlsx", b"PK\x03\x04not really a zip", "neither a CSV file"),
        ("expenses.csv", b"", "The submitted file is empty."),
        ("expenses.csv", b"\xef\xbb\xbf \r\n\r\n", "The file is empty."),
        ("expenses.csv", b"date;wp;category;amount;description\r\n", "no expense rows"),
    ],
)
def test_files_that_are_not_tables_are_refused(
    partner_member: Any, lines: Any, name: str, content: bytes, message: str
) -> None:
    response = client_for(partner_member).post(IMPORT, {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors["file"])
    assert message in response.content.decode()
    assert not Expense.objects.exists()


# What Belgian finance officers type: accents, the euro sign, the French ligature, and the
# apostrophe and dash that Excel's autocorrect puts in, all of them in Windows-1252 too.
ACCENTED = [
    ["Date", "Lot de travail", "Catégorie", "Montant (€)", "Libellé", "N° de facture"],
    ["14/03/2024", "WP1", "operating", "1 234,56 €", "Réactifs et œufs embryonnés", "F-001"],
    ["02/04/2024", "WP1", "personnel", "89,90", "Salaire d’Hélène — mars", "SAL-03"],
]


def _accented(delimiter: str) -> str:
    return "".join(delimiter.join(row) + "\r\n" for row in ACCENTED)


# The text as each of Excel's "Save as" choices writes it on Windows.
ENCODED = [
    pytest.param(codecs.BOM_UTF8 + _accented(";").encode("utf-8"), id="CSV UTF-8"),
    pytest.param(_accented(";").encode("utf-8"), id="UTF-8 without BOM"),
    pytest.param(_accented(";").encode("cp1252"), id="CSV (Windows-1252)"),
    pytest.param(
        codecs.BOM_UTF16_LE + _accented("\t").encode("utf-16-le"), id="Unicode text (UTF-16 LE)"
    ),
    pytest.param(codecs.BOM_UTF16_BE + _accented("\t").encode("utf-16-be"), id="UTF-16 BE"),
]
UNREADABLE = [
    pytest.param("date;libellé\r\n14/03/2024;R\x81actifs".encode("latin-1"), id="byte 0x81"),
    pytest.param(b"date;wp\r\n\x00\x01\x02\x03\xff\xfe\x00\x00", id="binary with NUL bytes"),
    pytest.param(
        codecs.BOM_UTF16_LE + "date;wp\r\n".encode("utf-16-le")[:-1], id="UTF-16 cut short"
    ),
    pytest.param(codecs.BOM_UTF8 + "Réactifs".encode("cp1252"), id="UTF-8 BOM on Windows-1252"),
]
ENCODINGS_NAMED = "UTF-8, Windows-1252 or UTF-16"


def _imported(partner: Any) -> list[tuple[str, Decimal]]:
    rows = Expense.objects.filter(partner=partner).order_by("incurred_on")
    return [(e.description, e.amount) for e in rows]


@pytest.mark.parametrize("content", ENCODED)
def test_a_csv_in_each_encoding_excel_writes_is_imported_from_the_page(
    partner_member: Any, partner_a: Any, lines: Any, content: bytes
) -> None:
    upload = SimpleUploadedFile("dépenses.csv", content, content_type="text/csv")
    response = client_for(partner_member).post(IMPORT, {"file": upload}, follow=True)
    assert response.redirect_chain == [(reverse("expense-list"), 302)]
    assert "2 expenses imported as drafts." in response.content.decode()
    assert _imported(partner_a) == [
        ("Réactifs et œufs embryonnés", Decimal("1234.56")),
        ("Salaire d’Hélène — mars", Decimal("89.90")),
    ]


@pytest.mark.parametrize("content", ENCODED)
def test_a_csv_in_each_encoding_excel_writes_is_read_by_the_import(
    partner_member: Any, partner_a: Any, lines: Any, content: bytes
) -> None:
    upload = SimpleUploadedFile("expenses.csv", content)
    result = expenses_import(partner=partner_a, user=partner_member, file=upload)
    assert result.ok
    assert result.ignored_columns == []
    assert [e.invoice_reference for e in result.created] == ["F-001", "SAL-03"]
    assert _imported(partner_a) == [
        ("Réactifs et œufs embryonnés", Decimal("1234.56")),
        ("Salaire d’Hélène — mars", Decimal("89.90")),
    ]


@pytest.mark.parametrize("content", UNREADABLE)
def test_text_in_no_accepted_encoding_is_refused_on_the_page(
    partner_member: Any, lines: Any, content: bytes
) -> None:
    upload = SimpleUploadedFile("expenses.csv", content)
    response = client_for(partner_member).post(IMPORT, {"file": upload})
    assert response.status_code == 200
    assert [ENCODINGS_NAMED in error for error in response.context["form"].errors["file"]] == [True]
    assert ENCODINGS_NAMED in response.content.decode()
    assert not Expense.objects.exists()


@pytest.mark.parametrize("content", UNREADABLE)
def test_text_in_no_accepted_encoding_is_refused_by_the_import(
    partner_a: Any, partner_member: Any, lines: Any, content: bytes
) -> None:
    upload = SimpleUploadedFile("expenses.csv", content)
    with pytest.raises(ValidationError) as refused:
        expenses_import(partner=partner_a, user=partner_member, file=upload)
    assert refused.value.code == "not_a_table"
    assert ENCODINGS_NAMED in refused.value.messages[0]
    assert not Expense.objects.exists()


def test_a_zip_that_is_not_a_workbook_is_refused(partner_a: Any, partner_member: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    upload = SimpleUploadedFile("expenses.xlsx", buffer.getvalue())
    with pytest.raises(ValidationError) as refused:
        expenses_import(partner=partner_a, user=partner_member, file=upload)
    assert refused.value.code == "not_a_table"


def test_more_rows_than_the_limit_are_refused(
    partner_a: Any, partner_member: Any, lines: Any
) -> None:
    row = "14/03/2024;1;personnel;10;Line\n"
    text = "date;wp;category;amount;description\n" + row * (MAX_ROWS + 1)
    with pytest.raises(ValidationError) as refused:
        expenses_import(partner=partner_a, user=partner_member, file=_csv(text))
    assert refused.value.code == "too_many_rows"
    assert not Expense.objects.exists()


def test_the_template_downloads_and_imports_back(partner_member: Any, lines: Any) -> None:
    client = client_for(partner_member)
    for language, header in [
        ("en", "date;workpackage;category;period;amount;description;invoice"),
        ("fr", "date;lot de travail;catégorie;période;montant;libellé;facture"),
    ]:
        client.cookies["django_language"] = language
        response = client.get(reverse("expense-import-template"))
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        text = response.content.decode("utf-8")
        assert text == f"\ufeff{header}\r\n"
        upload = _csv(text.lstrip("\ufeff") + "14/03/2024;WP1;personnel;;10,00;Line;\r\n")
        assert client.post(IMPORT, {"file": upload}).status_code == 302
    assert Expense.objects.count() == 2
    page = client.get(IMPORT).content.decode()
    assert reverse("expense-import-template") in page
    assert "lot de travail" in page


def _many(count: int) -> SimpleUploadedFile:
    rows = "".join(
        f"2024-03-{1 + number % 28:02d};WP1;personnel;1;{100 + number},50;Ligne {number};\r\n"
        for number in range(count)
    )
    return _csv(
        "Date;Lot de travail;Catégorie;Période;Montant (EUR);Libellé;N° de facture\r\n" + rows
    )


def test_the_import_costs_the_same_queries_for_ten_lines_as_for_two_hundred(
    partner_member: Any, partner_a: Any, lines: Any
) -> None:
    counts = []
    for count in (10, 200):
        with CaptureQueriesContext(connection) as queries:
            result = expenses_import(partner=partner_a, user=partner_member, file=_many(count))
        assert not result.errors
        assert len(result.created) == count
        counts.append(len(queries))
    assert counts[0] == counts[1] < 40
    assert Expense.objects.filter(partner=partner_a).count() == 210
    # Each line has its history row, by its author.
    assert (
        Expense.history.filter(partner_id=partner_a.pk, history_user=partner_member).count() == 210
    )


def test_a_line_the_database_refuses_is_named_and_nothing_is_saved(
    partner_member: Any, partner_a: Any, lines: Any
) -> None:
    text = (
        "Date;Lot de travail;Catégorie;Période;Montant (EUR);Libellé;N° de facture\r\n"
        "2024-03-01;WP1;personnel;1;10,00;Bonne;\r\n"
        "2024-03-02;WP1;personnel;1;0,00;Nulle;\r\n"
        "2024-03-03;WP1;personnel;1;12,00;Bonne;\r\n"
    )
    result = expenses_import(partner=partner_a, user=partner_member, file=_csv(text))
    assert [(error.line, error.column) for error in result.errors] == [(3, "amount")]
    assert not Expense.objects.filter(partner=partner_a).exists()
