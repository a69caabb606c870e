"""A report's email to each recipient, through a real SMTP server on loopback: its MIME structure
(text and HTML alternatives with the chart inline by Content-ID, the PDF and the spreadsheet
attached), its language, sending at most once, and what an SMTP outage leaves behind."""

from __future__ import annotations

import io
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from openpyxl import load_workbook

from reporting.choices import DeliveryStatus, ReportStatus
from reporting.emails import XLSX
from reporting.models import Report, ReportDelivery
from reporting.outbox import delivery_send, report_resend
from tests.reporting.conftest import OFFICER, SmtpServer, assert_budget_is_the_databases

pytestmark = pytest.mark.django_db

COORDINATOR = "coordinator@example.org"


@pytest.fixture
def report(generated_report: Report) -> Report:
    return generated_report


def _delivery(report: Report, email: str) -> ReportDelivery:
    return report.deliveries.get(email=email)


def _parts(message: Any) -> list[Any]:
    return list(message.iter_parts())


def _text(part: Any) -> str:
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _subject(message: EmailMessage) -> str:
    # A subject with characters outside ASCII (the dash) is encoded and folded onto a line of its
    # own; unfolded, the line break leaves a space before it.
    return str(message["Subject"]).strip()


def _report_parts(message: EmailMessage, language: str) -> tuple[str, str, bytes]:
    """Check the MIME structure of a report's email; return its text, its HTML and the XLSX.

    multipart/mixed
      multipart/related
        multipart/alternative: text/plain, text/html (showing the chart by `cid:chart`)
        image/png, Content-ID <chart>, inline
      application/pdf, attached
      the XLSX, attached
    """
    stem = f"progress-PIT-TEST-20250101-20250630-{language}"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/mixed"
    [related, pdf, xlsx] = _parts(message)

    assert related.get_content_type() == "multipart/related"
    [alternative, chart] = _parts(related)
    assert alternative.get_content_type() == "multipart/alternative"
    [text, html] = _parts(alternative)
    assert [text.get_content_type(), html.get_content_type()] == ["text/plain", "text/html"]
    assert 'src="cid:chart"' in _text(html) and "<" not in _text(text)
    assert chart.get_content_type() == "image/png"
    assert chart["Content-ID"] == "<chart>"
    assert chart.get_content_disposition() == "inline"
    assert chart.get_content().startswith(b"\x89PNG\r\n\x1a\n")

    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_filename() == f"{stem}.pdf"
    assert pdf.get_content().startswith(b"%PDF")

    assert xlsx.get_content_type() == XLSX
    assert xlsx.get_content_disposition() == "attachment"
    assert xlsx.get_filename() == f"{stem}.xlsx"
    content = xlsx.get_content()
    assert isinstance(content, bytes)
    return _text(text), _text(html), content


def _budget_sheet(xlsx: bytes, title: str) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    rows = [tuple(row) for row in book[title].iter_rows(values_only=True)]
    book.close()
    return rows


def test_a_report_email_goes_once_to_each_recipient_in_their_language_with_its_attachments(
    consortium: Any, report: Report, smtp: SmtpServer
) -> None:
    english, french = _delivery(report, COORDINATOR), _delivery(report, OFFICER)
    assert (english.language, french.language) == ("en", "fr")

    assert delivery_send(delivery_id=english.pk) is True
    [to_coordinator] = smtp.messages
    assert to_coordinator["To"] == COORDINATOR
    report.refresh_from_db()
    assert report.status == ReportStatus.GENERATED  # the officer is still waiting
    assert report.sent_at is None

    subject = _subject(to_coordinator)
    assert subject.startswith("[PIT-TEST] Progress report")
    assert "01/01/2025" in subject and "30/06/2025" in subject  # day first, as in Belgium
    text, html, xlsx = _report_parts(to_coordinator, "en")
    assert "Late: 2" in text
    assert "Deliverables" in html and "The GMP audit moved." in html
    # The spreadsheet attached holds the database's totals.
    [header, *rows] = _budget_sheet(xlsx, "Budget by partner")
    assert header[1] == "Planned (EUR)" and header[3] == "Consumed (EUR)"
    assert_budget_is_the_databases(rows, consortium)
    assert sum(Decimal(str(row[3])) for row in rows) == Decimal("1200.00")

    assert delivery_send(delivery_id=french.pk) is True
    [to_officer] = smtp.mailbox.to(OFFICER)
    subject = _subject(to_officer)
    assert subject.startswith("[PIT-TEST] Rapport d'avancement")
    assert "01/01/2025" in subject and "30/06/2025" in subject
    text, html, xlsx = _report_parts(to_officer, "fr")
    assert text.startswith("Rapport d'avancement") and "Livrables" in text
    assert "Livrables" in html and "Deliverables" not in html
    [header, *rows] = _budget_sheet(xlsx, "Budget par partenaire")
    assert header[1] == "Prévu (EUR)"
    assert sum(Decimal(str(row[3])) for row in rows) == Decimal("1200.00")

    for delivery in (english, french):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SENT
        assert delivery.sent_at is not None
        assert (delivery.attempts, delivery.last_error) == (1, "")
    report.refresh_from_db()
    assert report.status == ReportStatus.SENT and report.sent_at is not None

    # A task delivered twice finds the row sent and mails nobody again.
    assert delivery_send(delivery_id=english.pk) is False
    assert delivery_send(delivery_id=french.pk, final=False) is False
    assert len(smtp.messages) == 2
    english.refresh_from_db()
    assert english.attempts == 1


def test_an_smtp_outage_is_recorded_retried_and_finally_marks_the_report_failed(
    report: Report, smtp: SmtpServer, coordinator: Any
) -> None:
    delivery = _delivery(report, COORDINATOR)
    smtp.stop()

    with pytest.raises(OSError):
        delivery_send(delivery_id=delivery.pk, final=False)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == (
        DeliveryStatus.PENDING,
        1,
        None,
    )
    assert delivery.last_error  # e.g. "ConnectionRefusedError: [Errno 111] Connection refused"
    report.refresh_from_db()
    assert (report.status, report.error) == (ReportStatus.GENERATED, "")

    # The last attempt gives up: the delivery and the report are failed, with the error.
    assert delivery_send(delivery_id=delivery.pk, final=True) is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert COORDINATOR in report.error and delivery.last_error in report.error
    assert smtp.messages == []

    # "Send now" once the server is back: another round of attempts, and the email leaves.
    smtp.start()
    to_send = report_resend(report=report, user=coordinator)
    assert {d.email for d in to_send} == {COORDINATOR, OFFICER}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    report.refresh_from_db()
    assert report.status == ReportStatus.GENERATED
    for pending in to_send:
        assert delivery_send(delivery_id=pending.pk) is True
    assert sorted(str(m["To"]) for m in smtp.messages) == [COORDINATOR, OFFICER]
    report.refresh_from_db()
    assert (report.status, report.error) == (ReportStatus.SENT, "")
