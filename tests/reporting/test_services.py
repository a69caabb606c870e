"""The report archive's services: a report exists once per kind, consortium and period, with one
document per shipped language (HTML, text, a spreadsheet whose totals are the database's, a PDF
showing the same figures and the chart); generating it again refreshes the same report and
replaces its files. The period of a scheduled report, who receives it, and the deliveries planned
and planned again ("send now") never mail anyone twice."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Sum
from openpyxl import load_workbook

from consortium.choices import ConsortiumRoleKind
from consortium.models import ConsortiumRole, Profile
from consortium.services import consortium_role_grant
from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.models import Report, ReportDelivery, ReportDocument
from reporting.outbox import report_recipients, report_resend
from reporting.rendering import report_render
from reporting.services import report_generate, report_period, report_schedule
from tests import factories
from tests.reporting.conftest import PERIOD, add_recipient, assert_budget_is_the_databases
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord

pytestmark = pytest.mark.django_db

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _generate(consortium: Any, kind: str = ReportKind.PROGRESS, **options: Any) -> Report:
    return report_generate(
        kind=kind, consortium=consortium, period_start=PERIOD[0], period_end=PERIOD[1], **options
    )


def _document(report: Report, language: str) -> ReportDocument:
    return report.documents.get(language=language)


def _sheet(document: ReportDocument, title: str) -> list[tuple[Any, ...]]:
    with document.xlsx.open("rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()), read_only=True)
    rows = [tuple(row) for row in book[title].iter_rows(values_only=True)]
    book.close()
    return rows


def _pdf_text(document: ReportDocument) -> str:
    with document.pdf.open("rb") as handle:
        pdf = pdfium.PdfDocument(handle.read())
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def _report_files() -> list[Path]:
    return sorted(
        path for path in (Path(settings.MEDIA_ROOT) / "reports").rglob("*") if path.is_file()
    )


def _document_files(report: Report) -> list[Path]:
    return sorted(
        Path(field.path)
        for document in report.documents.all()
        for field in (document.xlsx, document.pdf, document.chart)
    )


# Generating ------------------------------------------------------------------------------------


def test_the_progress_report_has_one_document_per_language_with_the_databases_totals(
    consortium: Any, plan: dict[str, Any], budget_line: Any
) -> None:
    report = _generate(consortium)
    assert (report.status, report.kind) == (ReportStatus.GENERATED, ReportKind.PROGRESS)
    assert report.generated_at is not None and report.error == ""
    assert list(report.documents.values_list("language", flat=True)) == ["en", "fr"]

    english = _document(report, "en")
    [header, *rows] = _sheet(english, "Budget by partner")
    assert header[:4] == ("Name", "Planned (EUR)", "Granted (EUR)", "Consumed (EUR)")
    assert_budget_is_the_databases(rows, consortium)
    assert sum(Decimal(str(row[3])) for row in rows) == Decimal("1200.00")
    late = _sheet(english, "Late deliverables")[1:]
    assert [(row[0], row[5]) for row in late] == [("D1.1", 181), ("D1.2", 10)]
    assert late[1][6] == "The GMP audit moved."
    assert "D1.2" in english.html and "The GMP audit moved." in english.html
    # The email's HTML shows the chart by its Content-ID; the chart itself is archived as PNG.
    assert 'src="cid:chart"' in english.html
    with english.chart.open("rb") as handle:
        assert handle.read(8) == PNG_SIGNATURE
    assert "Late: 2" in english.text and "<" not in english.text
    assert Path(english.pdf.path).name == "progress-PIT-TEST-20250101-20250630-en.pdf"
    # The PDF shows the same figures as the spreadsheet.
    pdf = _pdf_text(english)
    assert pdf.startswith("Progress report")
    assert "1,200.00" in pdf  # partner A's consumed budget
    assert "The GMP audit moved." in pdf
    assert Path(english.xlsx.path).name == "progress-PIT-TEST-20250101-20250630-en.xlsx"


def test_the_french_document_is_in_french(consortium: Any, plan: dict[str, Any]) -> None:
    french = _document(_generate(consortium), "fr")
    assert "Livrables" in french.html and "Deliverables" not in french.html
    assert french.text.startswith("Rapport d'avancement")
    assert "Période du 01/01/2025 au 30/06/2025" in french.text
    [header, *_rows] = _sheet(french, "Budget par partenaire")
    assert header[1] == "Prévu (EUR)"
    pdf = _pdf_text(french)
    assert pdf.startswith("Rapport d'avancement")
    # The same amount as in the English PDF, written the French way (the PDF's text layer may
    # give the non-breaking space between thousands as a plain one).
    assert "1 200,00" in pdf.replace("\xa0", " ")
    assert Path(french.pdf.path).name == "progress-PIT-TEST-20250101-20250630-fr.pdf"
    # The document says which language it is in (screen readers, the PDF's hyphenation).
    assert '<html lang="fr">' in french.html


def test_the_jobs_spreadsheet_counts_what_the_database_holds(
    consortium: Any, job: Any, partner_b: Any
) -> None:
    JobRecord.objects.filter(pk=job.pk).update(status=JobStatus.REALISED)
    report = _generate(consortium, kind=ReportKind.JOBS)
    english = _document(report, "en")
    [header, total, _new] = _sheet(english, "Totals")
    assert header[1] == "Direct realised"
    realised = JobRecord.objects.filter(
        consortium=consortium, impact=JobImpact.DIRECT, status=JobStatus.REALISED
    )
    assert total[1] == realised.count() == 1
    assert Decimal(str(total[2])) == realised.aggregate(s=Sum("fte"))["s"]
    assert "P1 BioWin" in english.html
    assert _document(report, "fr").text.startswith("Rapport sur les emplois créés")


def test_generating_again_refreshes_the_same_report_and_replaces_its_files(
    consortium: Any,
    plan: dict[str, Any],
    coordinator: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = _generate(consortium)
    first_generated = first.generated_at
    first_documents = dict(first.documents.values_list("language", "pk"))
    assert _report_files() == _document_files(first)
    assert len(_report_files()) == 6  # XLSX, PDF and PNG in two languages

    with django_capture_on_commit_callbacks(execute=True):
        again = _generate(consortium, user=coordinator)
    assert again.pk == first.pk
    assert Report.objects.count() == 1
    assert dict(again.documents.values_list("language", "pk")) == first_documents
    assert ReportDocument.objects.count() == 2
    assert again.generated_at is not None and first_generated is not None
    assert again.generated_at > first_generated
    assert again.history.count() == 3  # created, generated, generated again
    assert again.history.first().history_user == coordinator
    # No file of the first run is left behind: the disk holds exactly the current documents'.
    assert _report_files() == _document_files(again)
    assert len(_report_files()) == 6


def test_reports_documents_and_deliveries_are_read_by_coordinators_and_observers_only(
    consortium: Any,
    other_consortium: Any,
    plan: dict[str, Any],
    coordinator: Any,
    observer: Any,
    partner_member: Any,
    other_coordinator: Any,
    anonymous: Any,
) -> None:
    report = _generate(consortium)
    report_schedule(
        release=True,
        kind=report.kind,
        consortium=consortium,
        period_start=report.period_start,
        period_end=report.period_end,
    )
    other = report_schedule(
        release=True,
        kind=ReportKind.PROGRESS,
        consortium=other_consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    assert ReportDelivery.objects.filter(report=report).exists()
    assert ReportDelivery.objects.filter(report=other).exists()
    for reader, sees in (
        (coordinator, True),
        (observer, True),
        (partner_member, False),
        (other_coordinator, False),
        (anonymous, False),
    ):
        assert Report.objects.restrict(reader).filter(pk=report.pk).exists() is sees, reader
        documents = ReportDocument.objects.restrict(reader).filter(report=report)
        assert documents.count() == (2 if sees else 0), reader
        assert ReportDelivery.objects.restrict(reader).filter(report=report).exists() is sees
    assert list(Report.objects.restrict(coordinator, "manage")) == [report]
    assert not Report.objects.restrict(observer, "manage").exists()
    assert not ReportDelivery.objects.restrict(observer, "manage").exists()
    assert list(Report.objects.restrict(other_coordinator)) == [other]


def test_since_defaults_to_the_end_of_the_previous_reports_period(
    consortium: Any, plan: dict[str, Any]
) -> None:
    first_period = (datetime.date(2024, 7, 1), datetime.date(2024, 12, 31))
    [first] = report_render(
        kind=ReportKind.PROGRESS,
        consortium=consortium,
        period_start=first_period[0],
        period_end=first_period[1],
        languages=["en"],
    )
    assert "Since the previous report" not in first.html
    report_schedule(
        release=True,
        kind=ReportKind.PROGRESS,
        consortium=consortium,
        period_start=first_period[0],
        period_end=first_period[1],
    )
    [second] = report_render(
        kind=ReportKind.PROGRESS,
        consortium=consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        languages=["en"],
    )
    # Since 31 December 2024: D1.2 sent and approved in March, MS2 achieved, the expense accepted.
    assert "Since the previous report" in second.html
    assert "1 deliverable submitted" in second.html
    assert "1 milestone achieved" in second.html
    assert "1 expense accepted (EUR 1,200.00)" in second.html
    # Another kind's report is not "the previous report".
    report_schedule(
        release=True,
        kind=ReportKind.JOBS,
        consortium=consortium,
        period_start=datetime.date(2024, 12, 1),
        period_end=datetime.date(2024, 12, 31),
    )
    assert Report.objects.count() == 2


# The period of a scheduled report --------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "week"),
    [
        # Monday 3 November 2025: the week of 27 October to 2 November.
        (datetime.date(2025, 11, 3), (datetime.date(2025, 10, 27), datetime.date(2025, 11, 2))),
        # A Wednesday and a Sunday of the following week ask for the same week before it.
        (datetime.date(2025, 11, 12), (datetime.date(2025, 11, 3), datetime.date(2025, 11, 9))),
        (datetime.date(2025, 11, 16), (datetime.date(2025, 11, 3), datetime.date(2025, 11, 9))),
        # Across the new year.
        (datetime.date(2026, 1, 1), (datetime.date(2025, 12, 22), datetime.date(2025, 12, 28))),
    ],
)
def test_the_progress_report_covers_the_previous_monday_to_sunday_week(
    day: datetime.date, week: tuple[datetime.date, datetime.date]
) -> None:
    start, end = report_period(ReportKind.PROGRESS, day)
    assert (start, end) == week
    assert start.weekday() == 0 and end.weekday() == 6 and end < day


@pytest.mark.parametrize(
    ("day", "month"),
    [
        (datetime.date(2025, 11, 1), (datetime.date(2025, 10, 1), datetime.date(2025, 10, 31))),
        (datetime.date(2025, 11, 30), (datetime.date(2025, 10, 1), datetime.date(2025, 10, 31))),
        (datetime.date(2024, 3, 31), (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))),
        (datetime.date(2026, 1, 1), (datetime.date(2025, 12, 1), datetime.date(2025, 12, 31))),
        (datetime.date(2026, 1, 15), (datetime.date(2025, 12, 1), datetime.date(2025, 12, 31))),
    ],
)
def test_the_jobs_report_covers_the_previous_calendar_month(
    day: datetime.date, month: tuple[datetime.date, datetime.date]
) -> None:
    assert report_period(ReportKind.JOBS, day) == month


# Recipients and deliveries ---------------------------------------------------------------------


def _coordinator(consortium: Any, username: str, **user_fields: Any) -> Any:
    user = factories.UserFactory(username=username, **user_fields)
    consortium_role_grant(
        consortium=consortium, user=user, kind=ConsortiumRoleKind.COORDINATOR, granted_by=None
    )
    return user


@pytest.fixture
def audience(
    consortium: Any,
    other_consortium: Any,
    coordinator: Any,
    observer: Any,
    partner_member: Any,
    other_coordinator: Any,
) -> None:
    """Who may or may not receive PIT-TEST's reports."""
    Profile.objects.create(user=coordinator, language="fr")
    # A second coordinator without a profile reads the site's default language.
    _coordinator(consortium, "deputy", email="Deputy@Example.org")
    _coordinator(consortium, "no-address", email="")
    _coordinator(consortium, "gone", is_active=False)
    revoked = _coordinator(consortium, "revoked")
    ConsortiumRole.objects.filter(user=revoked).update(is_active=False)
    add_recipient(consortium, "officer@region.example", language="fr")
    add_recipient(consortium, "board@example.org", progress_report=False)
    add_recipient(consortium, "hr@example.org", jobs_report=False)
    add_recipient(consortium, "former@example.org", is_active=False)
    # The deputy coordinator's address again, written otherwise: still one email.
    add_recipient(consortium, "DEPUTY@example.org", language="fr")
    add_recipient(other_consortium, "elsewhere@example.org")


def _unsaved(consortium: Any, kind: str) -> Report:
    return Report(kind=kind, consortium=consortium, period_start=PERIOD[0], period_end=PERIOD[1])


@pytest.mark.usefixtures("audience")
def test_recipients_are_the_active_coordinators_and_the_addresses_for_that_kind(
    consortium: Any,
) -> None:
    coordinators = [("coordinator@example.org", "fr"), ("deputy@example.org", "en")]
    assert report_recipients(_unsaved(consortium, ReportKind.PROGRESS)) == [
        *coordinators,
        ("officer@region.example", "fr"),
        ("hr@example.org", "en"),
    ]
    assert report_recipients(_unsaved(consortium, ReportKind.JOBS)) == [
        *coordinators,
        ("officer@region.example", "fr"),
        ("board@example.org", "en"),
    ]


@pytest.mark.usefixtures("audience")
def test_scheduling_twice_plans_one_report_and_one_delivery_per_recipient(
    consortium: Any,
) -> None:
    schedule = {
        "kind": ReportKind.PROGRESS,
        "consortium": consortium,
        "period_start": PERIOD[0],
        "period_end": PERIOD[1],
    }
    first = report_schedule(release=True, **schedule)
    again = report_schedule(release=True, **schedule)
    assert again.pk == first.pk
    assert Report.objects.count() == 1
    assert (first.status, first.generated_at) == (ReportStatus.PENDING, None)
    deliveries = list(
        ReportDelivery.objects.filter(report=first).values_list("email", "language", "status")
    )
    assert sorted(deliveries) == sorted(
        [
            ("coordinator@example.org", "fr", DeliveryStatus.PENDING),
            ("deputy@example.org", "en", DeliveryStatus.PENDING),
            ("officer@region.example", "fr", DeliveryStatus.PENDING),
            ("hr@example.org", "en", DeliveryStatus.PENDING),
        ]
    )


def test_a_period_ending_before_it_starts_is_refused_and_nothing_is_saved(
    consortium: Any, coordinator: Any
) -> None:
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        report_schedule(
            release=True,
            kind=ReportKind.PROGRESS,
            consortium=consortium,
            period_start=PERIOD[1],
            period_end=PERIOD[0],
        )
    assert not Report.objects.exists()
    assert not ReportDelivery.objects.exists()


def test_send_now_retries_failed_deliveries_and_never_plans_a_sent_one_again(
    consortium: Any, coordinator: Any
) -> None:
    add_recipient(consortium, "officer@region.example")
    add_recipient(consortium, "board@example.org")
    report = report_schedule(
        release=True,
        kind=ReportKind.PROGRESS,
        consortium=consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    deliveries = ReportDelivery.objects.filter(report=report)
    # The outcome of earlier rounds: one recipient served, one given up on after five attempts.
    deliveries.filter(email="coordinator@example.org").update(
        status=DeliveryStatus.SENT, attempts=1, sent_at=datetime.datetime.now(tz=datetime.UTC)
    )
    deliveries.filter(email="officer@region.example").update(
        status=DeliveryStatus.FAILED, attempts=5, last_error="SMTPServerDisconnected: gone"
    )
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED, error="gone")
    # Someone added since the report was planned gets it too.
    add_recipient(consortium, "new@example.org")

    to_send = report_resend(report=report, user=coordinator)

    assert sorted(delivery.email for delivery in to_send) == [
        "board@example.org",
        "new@example.org",
        "officer@region.example",
    ]
    retried = deliveries.get(email="officer@region.example")
    assert (retried.status, retried.attempts) == (DeliveryStatus.PENDING, 0)
    assert retried.history.first().history_user == coordinator
    served = deliveries.get(email="coordinator@example.org")
    assert (served.status, served.attempts) == (DeliveryStatus.SENT, 1)
    assert deliveries.count() == 4
    report.refresh_from_db()
    assert report.status == ReportStatus.PENDING  # never generated: the task generates it first

    # Pressing it again changes nothing more and still leaves the served recipient alone.
    again = report_resend(report=report, user=coordinator)
    assert sorted(d.pk for d in again) == sorted(d.pk for d in to_send)
    assert deliveries.count() == 4
    assert "coordinator@example.org" not in {d.email for d in again}
