"""`send_report progress|jobs --consortium PIT-ATMP --dry-run` on the demo partnership: it writes
the HTML, XLSX, PDF and chart of each shipped language, prints where, archives and sends nothing,
and its totals are those of the coordinators' dashboard. The demo itself comes with last week's
progress report and last month's jobs report in the archive."""

from __future__ import annotations

import datetime
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from consortium.models import Consortium
from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.demo import FUNDER_ADDRESS
from reporting.models import Report, ReportDelivery, ReportDocument
from reporting.services import report_period
from tests.demo.conftest import SeededDemo
from tests.web import client_for
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.overview.selectors import ConsortiumDashboard

pytestmark = pytest.mark.django_db

ACRONYM = "PIT-ATMP"
KINDS = (ReportKind.PROGRESS, ReportKind.JOBS)
EXTENSIONS = ("html", "xlsx", "pdf", "png")


def _archive() -> dict[str, list[tuple[Any, ...]]]:
    """Everything the report archive holds, to tell whether a command changed any of it."""
    return {
        "reports": list(Report.objects.order_by("pk").values_list()),
        "documents": list(ReportDocument.objects.order_by("pk").values_list()),
        "deliveries": list(ReportDelivery.objects.order_by("pk").values_list()),
    }


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


@dataclass
class DryRun:
    """What the dry runs printed, and the archive, the media and the outbox around them."""

    media: Path
    output: Path
    printed: dict[str, list[str]]
    archive_before: dict[str, list[tuple[Any, ...]]]
    archive_after: dict[str, list[tuple[Any, ...]]]
    media_before: list[Path]
    media_after: list[Path]
    emails_before: int
    emails_after: int


@pytest.fixture(scope="module")
def dry_run(
    seeded_demo: SeededDemo, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> DryRun:
    """One dry run of each report on the seeded demo (tests/demo/conftest.py), with the default
    period (last week's, last month's)."""
    seeded_demo.unchanged()
    media = seeded_demo.media
    output = tmp_path_factory.mktemp("dry-run")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        archive_before, media_before = _archive(), _files(media)
        emails_before = len(mail.outbox)
        printed = {}
        for kind in KINDS:
            stdout = io.StringIO()
            call_command(
                "send_report",
                kind,
                "--consortium",
                ACRONYM,
                "--dry-run",
                "--output",
                str(output),
                stdout=stdout,
            )
            printed[kind] = stdout.getvalue().splitlines()
        return DryRun(
            media=media,
            output=output,
            printed=printed,
            archive_before=archive_before,
            archive_after=_archive(),
            media_before=media_before,
            media_after=_files(media),
            emails_before=emails_before,
            emails_after=len(mail.outbox),
        )


@pytest.fixture
def dashboard(dry_run: DryRun) -> tuple[ConsortiumDashboard, str]:
    """The demo's dashboard as its coordinator gets it on the admin's home page, and that page."""
    coordinator = get_user_model().objects.get(username="coordinator")
    response = client_for(coordinator).get(reverse("admin:index"))
    assert response.status_code == 200
    [board] = response.context["dashboards"]
    assert board.consortium.acronym == ACRONYM
    return board, response.content.decode()


def _name(kind: str, language: str) -> str:
    start, end = report_period(kind, timezone.localdate())
    return f"{kind}-{ACRONYM}-{start:%Y%m%d}-{end:%Y%m%d}-{language}"


def _path(run: DryRun, kind: str, extension: str, language: str = "en") -> Path:
    return run.output / f"{_name(kind, language)}.{extension}"


def _sheet(path: Path, title: str) -> list[tuple[Any, ...]]:
    book = load_workbook(path, read_only=True)
    return [tuple(row) for row in book[title].iter_rows(values_only=True)]


def _pdf_text(path: Path) -> str:
    document = pdfium.PdfDocument(path.read_bytes())
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def _money(amount: Decimal) -> str:
    """An amount as the English report writes it: 81,000,000.00."""
    return f"{amount:,.2f}"


def _total(rows: list[tuple[Any, ...]], column: int) -> Decimal:
    return sum((Decimal(str(row[column])) for row in rows), Decimal("0.00"))


def test_the_dry_run_writes_and_prints_each_languages_files(dry_run: DryRun) -> None:
    for kind in KINDS:
        *paths, summary = dry_run.printed[kind]
        expected = [
            _path(dry_run, kind, extension, language).resolve()
            for language in ("en", "fr")
            for extension in EXTENSIONS
        ]
        assert [Path(line) for line in paths] == expected
        for path in expected:
            assert path.is_file() and path.stat().st_size > 0, path
        assert summary.startswith("Dry run: ")
        assert summary.endswith("written, nothing archived or sent.")
        assert _path(dry_run, kind, "pdf").read_bytes().startswith(b"%PDF")
        assert _path(dry_run, kind, "png").read_bytes().startswith(b"\x89PNG")
        assert "<!DOCTYPE html>" in _path(dry_run, kind, "html").read_text()
    assert _files(dry_run.output) == sorted(
        _path(dry_run, kind, extension, language).resolve()
        for kind in KINDS
        for language in ("en", "fr")
        for extension in EXTENSIONS
    )


def test_the_dry_run_archives_nothing_and_sends_nothing(dry_run: DryRun) -> None:
    # The demo's own three reports, their documents and their planned deliveries, untouched.
    assert len(dry_run.archive_before["reports"]) == 3
    assert dry_run.archive_after == dry_run.archive_before
    assert set(ReportDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert dry_run.media_after == dry_run.media_before
    assert dry_run.emails_before == dry_run.emails_after == 0


def test_the_progress_report_totals_are_the_dashboards(
    dry_run: DryRun, dashboard: tuple[ConsortiumDashboard, str]
) -> None:
    board, page = dashboard
    assert board.planned == Decimal("81000000.00")
    assert board.consumed > 0 and board.granted > 0
    [header, *rows] = _sheet(_path(dry_run, ReportKind.PROGRESS, "xlsx"), "Budget by partner")
    assert header[:4] == ("Name", "Planned (EUR)", "Granted (EUR)", "Consumed (EUR)")
    assert len(rows) == board.partners == 26
    assert (_total(rows, 1), _total(rows, 2), _total(rows, 3)) == (
        board.planned,
        board.granted,
        board.consumed,
    )
    # Partner by partner, the same figures as the dashboard's table.
    assert [
        (row[0], Decimal(str(row[1])), Decimal(str(row[2])), Decimal(str(row[3]))) for row in rows
    ] == [(row.label, row.planned, row.granted, row.consumed) for row in board.by_partner]
    [_header, *french_rows] = _sheet(
        _path(dry_run, ReportKind.PROGRESS, "xlsx", "fr"), "Budget par partenaire"
    )
    assert _total(french_rows, 3) == board.consumed

    html = _path(dry_run, ReportKind.PROGRESS, "html").read_text()
    pdf = _pdf_text(_path(dry_run, ReportKind.PROGRESS, "pdf"))
    figures = {
        "planned": _money(board.planned),
        "granted": _money(board.granted),
        "consumed": _money(board.consumed),
    }
    assert figures["planned"] == "81,000,000.00"
    summary = "Planned EUR {planned}, granted EUR {granted}, consumed EUR {consumed}.".format(
        **figures
    )
    assert summary in html
    # The total row under the partner and workpackage tables: planned, then consumed.
    total_row = re.compile(
        r"<td[^>]*>Total</td>\s*<td[^>]*>{planned}</td>\s*<td[^>]*>{consumed}</td>".format(
            planned=re.escape(figures["planned"]), consumed=re.escape(figures["consumed"])
        )
    )
    assert len(total_row.findall(html)) == 2
    for figure in figures.values():
        assert figure in pdf, figure
        # The dashboard shows the same amounts.
        assert f"EUR {figure}" in page, figure


def test_the_jobs_report_totals_are_the_dashboards(
    dry_run: DryRun, dashboard: tuple[ConsortiumDashboard, str]
) -> None:
    board, page = dashboard
    jobs = board.jobs
    assert jobs is not None and jobs.direct_realised > 0 and jobs.indirect_realised > 0
    [header, totals, _new] = _sheet(_path(dry_run, ReportKind.JOBS, "xlsx"), "Totals")
    assert header[1:9] == (
        "Direct realised",
        "Direct realised (FTE)",
        "Direct forecast",
        "Direct forecast (FTE)",
        "Indirect realised",
        "Indirect realised (FTE)",
        "Indirect forecast",
        "Indirect forecast (FTE)",
    )
    assert tuple(Decimal(str(value)) for value in totals[1:9]) == (
        jobs.direct_realised,
        jobs.direct_fte,
        jobs.headcount(JobImpact.DIRECT, JobStatus.FORECAST),
        jobs.fte(JobImpact.DIRECT, JobStatus.FORECAST),
        jobs.indirect_realised,
        jobs.indirect_fte,
        jobs.headcount(JobImpact.INDIRECT, JobStatus.FORECAST),
        jobs.fte(JobImpact.INDIRECT, JobStatus.FORECAST),
    )
    assert f"{jobs.direct_realised} / 470" in page
    assert f"{jobs.indirect_realised} / 1200" in page

    html = _path(dry_run, ReportKind.JOBS, "html").read_text()
    pdf = _pdf_text(_path(dry_run, ReportKind.JOBS, "pdf"))
    for label, realised, fte, target in (
        ("Direct jobs", jobs.direct_realised, jobs.direct_fte, 470),
        ("Indirect jobs", jobs.indirect_realised, jobs.indirect_fte, 1200),
    ):
        line = re.search(rf"<th[^>]*>{label}</th>((?:\s*<td[^>]*>[^<]*</td>)+)", html)
        assert line is not None, label
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", line.group(1))
        assert cells[0] == str(realised) and cells[1] == f"{fte:,.2f}", label
        assert cells[4] == str(target), label
        assert re.search(rf"{label}\s+{realised}\s+{re.escape(cells[1])}\s", pdf), label


def test_the_demo_archives_last_weeks_progress_and_last_months_jobs_reports(
    dry_run: DryRun, dashboard: tuple[ConsortiumDashboard, str]
) -> None:
    board, _page = dashboard
    demo = Consortium.objects.get(acronym=ACRONYM)
    today = timezone.localdate()
    reports = {report.kind: report for report in Report.objects.filter(consortium=demo)}
    assert set(reports) == {*KINDS, ReportKind.SEMESTER}
    for kind, report in reports.items():
        if kind in KINDS:
            assert (report.period_start, report.period_end) == report_period(kind, today)
        assert report.status == ReportStatus.GENERATED and report.generated_at is not None
        documents = {document.language: document for document in report.documents.all()}
        assert set(documents) == {"en", "fr"}
        for document in documents.values():
            assert (dry_run.media / document.pdf.name).read_bytes().startswith(b"%PDF")
            assert (dry_run.media / document.xlsx.name).is_file()
            assert document.html and document.text
    # Last week's and last month's wait for a coordinator to read and send them.
    for kind in KINDS:
        assert reports[kind].released_at is None
        assert not reports[kind].deliveries.exists()
    # The semester report of the period ended yesterday went out: waiting for the worker, to the
    # coordinator, and to the funder's officer in French.
    semester = reports[ReportKind.SEMESTER]
    assert semester.period_end == today - datetime.timedelta(days=1)
    assert semester.released_at is not None
    deliveries = dict(semester.deliveries.values_list("email", "language"))
    assert deliveries[FUNDER_ADDRESS] == "fr"
    assert set(semester.deliveries.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    archived = dry_run.media / reports[ReportKind.PROGRESS].documents.get(language="en").xlsx.name
    [_header, *rows] = _sheet(archived, "Budget by partner")
    assert (_total(rows, 1), _total(rows, 3)) == (board.planned, board.consumed)
