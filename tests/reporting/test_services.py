"""Generating a report writes one archive record per kind, consortium and period, with its HTML,
a spreadsheet whose totals are the database's and a PDF showing the same; generating it again
refreshes the same record."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django.db.models import Sum
from openpyxl import load_workbook

from reporting.choices import ReportKind, ReportStatus
from reporting.models import Report
from reporting.services import report_generate
from workpackages.choices import ExpenseStatus, JobImpact, JobStatus
from workpackages.models import BudgetLine, Expense, JobRecord

from .conftest import PERIOD

pytestmark = pytest.mark.django_db


def _generate(consortium: Any, kind: str = ReportKind.PROGRESS, **options: Any) -> Report:
    return report_generate(
        kind=kind, consortium=consortium, period_start=PERIOD[0], period_end=PERIOD[1], **options
    )


def _sheet(report: Report, title: str) -> list[tuple[Any, ...]]:
    with report.xlsx.open("rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()), read_only=True)
    return [tuple(row) for row in book[title].iter_rows(values_only=True)]


def test_the_progress_spreadsheet_holds_the_databases_totals(
    consortium: Any, plan: dict[str, Any], budget_line: Any
) -> None:
    report = _generate(consortium)
    assert (report.status, report.kind) == (ReportStatus.GENERATED, ReportKind.PROGRESS)
    [header, *rows] = _sheet(report, "Budget by partner")
    assert header[:4] == ("Name", "Planned (EUR)", "Granted (EUR)", "Consumed (EUR)")
    planned = BudgetLine.objects.filter(consortium=consortium).aggregate(s=Sum("planned_amount"))
    accepted = Expense.objects.filter(
        consortium=consortium, status=ExpenseStatus.ACCEPTED
    ).aggregate(s=Sum("accepted_amount"))
    assert sum(Decimal(str(row[1])) for row in rows) == planned["s"]
    assert sum(Decimal(str(row[3])) for row in rows) == accepted["s"] == Decimal("1200.00")
    late = _sheet(report, "Late deliverables")[1:]
    assert [(row[0], row[5]) for row in late] == [("D1.1", 181), ("D1.2", 10)]
    assert late[1][6] == "The GMP audit moved."
    assert "D1.2" in report.html and "The GMP audit moved." in report.html


def test_the_jobs_spreadsheet_counts_what_the_database_holds(
    consortium: Any, job: Any, partner_b: Any
) -> None:
    JobRecord.objects.filter(pk=job.pk).update(status=JobStatus.REALISED)
    report = _generate(consortium, kind=ReportKind.JOBS)
    [header, total, _new] = _sheet(report, "Totals")
    assert header[1] == "Direct realised"
    realised = JobRecord.objects.filter(
        consortium=consortium, impact=JobImpact.DIRECT, status=JobStatus.REALISED
    )
    assert total[1] == realised.count() == 1
    assert Decimal(str(total[2])) == realised.aggregate(s=Sum("fte"))["s"]
    assert "P1 BioWin" in report.html


def test_generating_again_refreshes_the_same_report(consortium: Any, plan: dict[str, Any]) -> None:
    first = _generate(consortium)
    first_file = Path(first.xlsx.path)
    again = _generate(consortium)
    assert again.pk == first.pk
    assert Report.objects.count() == 1
    assert again.history.count() == 2
    assert not first_file.exists() or first_file == Path(again.xlsx.path)
    files = sorted((Path(settings.MEDIA_ROOT) / "reports").rglob("*.*"))
    assert files == sorted([Path(again.xlsx.path), Path(again.pdf.path)])


def test_a_report_is_rendered_in_the_language_asked_for(
    consortium: Any, plan: dict[str, Any]
) -> None:
    french = _generate(consortium, language="fr")
    assert "Livrables" in french.html and "Deliverables" not in french.html
    [header, *_rows] = _sheet(french, "Budget par partenaire")
    assert header[1] == "Prévu (EUR)"


def test_reports_are_read_by_coordinators_and_observers_only(
    consortium: Any,
    plan: dict[str, Any],
    coordinator: Any,
    observer: Any,
    partner_member: Any,
    other_coordinator: Any,
    anonymous: Any,
) -> None:
    report = _generate(consortium)
    report.deliveries.create(email="coordinator@example.org")
    for reader, sees in (
        (coordinator, True),
        (observer, True),
        (partner_member, False),
        (other_coordinator, False),
        (anonymous, False),
    ):
        assert Report.objects.restrict(reader).filter(pk=report.pk).exists() is sees
        assert report.deliveries.model.objects.restrict(reader).exists() is sees
    assert list(Report.objects.restrict(coordinator, "manage")) == [report]
    assert not Report.objects.restrict(observer, "manage").exists()


def test_the_pdf_shows_the_same_figures_as_the_spreadsheet(
    consortium: Any, plan: dict[str, Any], budget_line: Any
) -> None:
    report = _generate(consortium)
    with report.pdf.open("rb") as handle:
        document = pdfium.PdfDocument(handle.read())
    text = "\n".join(page.get_textpage().get_text_range() for page in document)
    assert text.startswith("Progress report")
    assert "1,200.00" in text  # partner A's consumed budget, as in the spreadsheet
    assert "The GMP audit moved." in text
    assert Path(report.pdf.path).name == "progress-PIT-TEST-20250101-20250630.pdf"
