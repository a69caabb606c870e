"""`manage.py send_report`: bad arguments are refused with a clear error and change nothing; a dry
run writes each language's HTML, XLSX, PDF and chart to a folder and archives and sends nothing;
a real run archives the report and emails each recipient once, through a real SMTP server on
loopback, however many times it runs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.utils import translation

from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.models import Report, ReportDelivery, ReportDocument, ReportRecipient
from reporting.services import report_schedule
from tests.reporting.conftest import PERIOD, SmtpServer

pytestmark = pytest.mark.django_db

OFFICER = "officer@region.example"
PERIOD_ARGUMENT = f"{PERIOD[0]:%Y-%m-%d}:{PERIOD[1]:%Y-%m-%d}"
STEM = "progress-PIT-TEST-20250101-20250630"


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("send_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _send(*extra: str) -> tuple[str, str]:
    """The progress report of PIT-TEST's first half of 2025, sent by an operator who means it."""
    return _run(
        "progress",
        "--consortium",
        "PIT-TEST",
        "--period",
        PERIOD_ARGUMENT,
        *([] if "--dry-run" in extra else ["--without-review"]),
        *extra,
    )


@pytest.fixture
def officer(consortium: Any) -> ReportRecipient:
    recipient = ReportRecipient(consortium=consortium, email=OFFICER, language="fr")
    recipient.full_clean()
    recipient.save()
    return recipient


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["weekly"], "invalid choice: 'weekly'"),
        (["progress", "--period", "2025-01-01"], "--period must be START:END"),
        (["progress", "--period", "2025-01-01:2025-13-01"], "--period must be START:END"),
        (["jobs", "--period", "2025-01-01:2025-02-01:2025-03-01"], "--period must be START:END"),
        (["progress", "--period", "2025-06-30:2025-01-01"], "The period ends before it starts."),
        (["jobs", "--consortium", "PIT-NOPE"], "No consortium has the acronym PIT-NOPE."),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(
    consortium: Any, coordinator: Any, mailoutbox: list[Any], args: list[str], message: str
) -> None:
    existing = report_schedule(
        release=True,
        kind=ReportKind.JOBS,
        consortium=consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _run(*args)
    assert list(Report.objects.all()) == [existing]
    assert ReportDelivery.objects.count() == 1
    assert not ReportDocument.objects.exists()
    assert mailoutbox == []


def test_a_dry_run_writes_each_languages_files_and_archives_and_sends_nothing(
    plan: dict[str, Any], officer: ReportRecipient, smtp: SmtpServer, tmp_path: Path
) -> None:
    folder = tmp_path / "dry-run"
    out, err = _send("--dry-run", "--output", str(folder))

    expected = [
        folder / f"{STEM}-{language}.{extension}"
        for language in ("en", "fr")
        for extension in ("html", "xlsx", "pdf", "png")
    ]
    printed = [Path(line) for line in out.splitlines() if line.startswith("/")]
    assert printed == [path.resolve() for path in expected]
    assert sorted(folder.iterdir()) == sorted(expected)
    for language, deliverables in (("en", "Deliverables"), ("fr", "Livrables")):
        assert deliverables in (folder / f"{STEM}-{language}.html").read_text()
        assert (folder / f"{STEM}-{language}.pdf").read_bytes().startswith(b"%PDF")
        assert (folder / f"{STEM}-{language}.xlsx").read_bytes().startswith(b"PK")
        assert (folder / f"{STEM}-{language}.png").read_bytes().startswith(b"\x89PNG")
    assert "Dry run:" in out and "nothing archived or sent" in out
    assert err == ""

    assert not Report.objects.exists()
    assert not ReportDelivery.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "reports").exists()
    assert smtp.messages == []


def test_sending_mails_each_recipient_once_however_often_it_runs(
    plan: dict[str, Any], coordinator: Any, officer: ReportRecipient, smtp: SmtpServer
) -> None:
    out, err = _send()
    assert err == ""
    lines = out.splitlines()
    assert sorted(lines[:2]) == [f"{coordinator.email}: sent.", f"{OFFICER}: sent."]
    assert lines[2].startswith("Progress report PIT-TEST") and lines[2].endswith(": Sent.")
    assert sorted(str(message["To"]) for message in smtp.messages) == [coordinator.email, OFFICER]
    [to_officer] = smtp.mailbox.to(OFFICER)
    assert "Rapport d'avancement" in str(to_officer["Subject"])

    report = Report.objects.get()
    assert (report.status, report.kind) == (ReportStatus.SENT, ReportKind.PROGRESS)
    assert report.sent_at is not None
    assert ReportDocument.objects.filter(report=report).count() == 2

    # Again: what was sent is kept as sent, and nobody is mailed twice.
    out, err = _send()
    assert err == ""
    lines = out.splitlines()
    assert "its documents are kept as they were sent" in lines[0]
    assert not [line for line in lines if line.endswith(": sent.")]
    assert lines[-1].endswith(": Sent.")
    assert len(smtp.messages) == 2
    assert Report.objects.count() == 1
    assert set(ReportDelivery.objects.values_list("status", "attempts")) == {
        (DeliveryStatus.SENT, 1)
    }


def test_an_smtp_outage_leaves_the_deliveries_for_the_task_queue(
    plan: dict[str, Any], coordinator: Any, smtp: SmtpServer
) -> None:
    smtp.stop()
    out, err = _send()
    assert f"{coordinator.email}: not sent (" in err
    assert "the task queue tries again later." in err
    assert out.strip().endswith(": Generated.")
    delivery = ReportDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == (
        DeliveryStatus.PENDING,
        1,
        None,
    )
    assert delivery.last_error
    assert Report.objects.get().status == ReportStatus.GENERATED
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("command", "english", "french"),
    [
        (
            "send_report",
            "Generate a progress, jobs-created or semester report",
            "Produit maintenant",
        ),
        ("seed_demo", "Create the PIT-ATMP demo partnership", "Crée le partenariat"),
    ],
)
def test_help_is_printed_in_the_active_language(command: str, english: str, french: str) -> None:
    """`manage.py <command> --help` works: argparse gets the translated description as text."""
    for language, expected in (("en", english), ("fr", french)):
        with translation.override(language):
            app = get_commands()[command]
            parser = load_command_class(app, command).create_parser("manage.py", command)
            assert expected in parser.format_help()


def test_a_consortium_that_reviews_its_reports_gets_a_draft_unless_told_otherwise(
    plan: dict[str, Any], officer: ReportRecipient, smtp: SmtpServer
) -> None:
    out, _err = _run("progress", "--consortium", "PIT-TEST", "--period", PERIOD_ARGUMENT)
    report = Report.objects.get()
    assert "waiting for a coordinator to read and send it" in out
    assert report.released_at is None and report.generated_at is not None
    assert not ReportDelivery.objects.exists()
    assert smtp.messages == []


@pytest.mark.parametrize(
    "period", ["2026-01-01:2026-05-31", "2026-07-01:2026-12-31"], ids=["not-a-period", "running"]
)
def test_a_semester_report_of_no_ended_reporting_period_is_refused(
    consortium: Any, period: str
) -> None:
    with pytest.raises(CommandError, match="semester report"):
        _run("semester", "--consortium", "PIT-TEST", "--period", period, "--without-review")
    assert not Report.objects.exists()
