"""What keeps an email from going twice, or going when it shouldn't: a delivery that failed for
good stays failed until "send now", a digest whose reader opted out is cancelled, an unexpected
error fails the row at once, a recipient added after sending reopens the report, and retries come
back before Redis would hand them to another worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from consortium.models import Profile
from consortium.tasks import backoff
from reporting.choices import DeliveryStatus, ReportStatus
from reporting.models import ReminderDigest, Report, ReportDelivery
from reporting.outbox import delivery_send, report_deliveries_plan, report_resend
from reporting.reminders import reminder_send, reminders_plan
from reporting.services import report_generate
from tests.reporting.conftest import SmtpServer, add_recipient

pytestmark = pytest.mark.django_db


def _delivery(report: Report) -> ReportDelivery:
    delivery = report.deliveries.order_by("pk").first()
    assert delivery is not None
    return delivery


def test_a_delivery_failed_for_good_is_not_sent_by_a_late_duplicate_task(
    generated_report: Report, smtp: SmtpServer
) -> None:
    delivery = _delivery(generated_report)
    ReportDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=6)
    assert delivery_send(delivery_id=delivery.pk, final=False) is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 6)
    assert smtp.messages == []


def test_a_file_missing_from_the_archive_is_retried_then_recorded_as_the_failure(
    generated_report: Report, smtp: SmtpServer
) -> None:
    delivery = _delivery(generated_report)
    document = generated_report.documents.get(language=delivery.language)
    Path(document.pdf.path).unlink()  # The archive lost a file.
    with pytest.raises(FileNotFoundError):
        delivery_send(delivery_id=delivery.pk, final=False)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING  # A missing file may come back: retried.
    assert delivery_send(delivery_id=delivery.pk, final=True) is False
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 2
    assert "FileNotFoundError" in delivery.last_error
    generated_report.refresh_from_db()
    assert generated_report.status == ReportStatus.FAILED
    assert smtp.messages == []


def test_a_missing_document_fails_the_delivery_without_retrying(
    generated_report: Report, smtp: SmtpServer
) -> None:
    delivery = _delivery(generated_report)
    generated_report.documents.all().delete()
    with pytest.raises(ValueError, match="no document"):
        delivery_send(delivery_id=delivery.pk, final=False)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "no document" in delivery.last_error
    assert smtp.messages == []


def test_a_recipient_added_after_sending_reopens_the_report(
    generated_report: Report, smtp: SmtpServer, consortium: Any
) -> None:
    for delivery in report_deliveries_plan(report=generated_report):
        delivery_send(delivery_id=delivery.pk)
    generated_report.refresh_from_db()
    assert generated_report.status == ReportStatus.SENT
    add_recipient(consortium, "board@example.org")
    [waiting] = report_resend(report=generated_report, user=None)
    assert waiting.email == "board@example.org"
    generated_report.refresh_from_db()
    assert generated_report.status == ReportStatus.GENERATED
    assert generated_report.queued_at is None  # The dispatcher looks after it until queued.
    delivery_send(delivery_id=waiting.pk)
    generated_report.refresh_from_db()
    assert generated_report.status == ReportStatus.SENT
    assert len(smtp.messages) == 3


def test_a_report_gone_to_someone_is_not_regenerated(
    generated_report: Report, smtp: SmtpServer
) -> None:
    delivery_send(delivery_id=_delivery(generated_report).pk)
    names = sorted(generated_report.documents.values_list("pdf", flat=True))
    with pytest.raises(ValidationError, match="kept as they were sent"):
        report_generate(
            kind=generated_report.kind,
            consortium=generated_report.consortium,
            period_start=generated_report.period_start,
            period_end=generated_report.period_end,
        )
    assert sorted(generated_report.documents.values_list("pdf", flat=True)) == names


def test_a_digest_whose_reader_opted_out_since_it_was_planned_is_cancelled(
    deliverable: Any, partner_member: Any, smtp: SmtpServer
) -> None:
    partner_member.email = "member@partner.example"
    partner_member.save()
    day = deliverable.due_date - timezone.timedelta(days=7)
    [digest] = reminders_plan(day=day)
    assert [row.history_type for row in digest.history.all()] == ["+"]
    Profile.objects.create(user=partner_member, deadline_reminders=False)
    assert reminder_send(digest_id=digest.pk) is False
    digest.refresh_from_db()
    assert digest.status == DeliveryStatus.CANCELLED
    assert [row.status for row in digest.history.order_by("history_date")] == [
        DeliveryStatus.PENDING,
        DeliveryStatus.CANCELLED,
    ]
    assert smtp.messages == []
    assert not ReminderDigest.objects.filter(status=DeliveryStatus.PENDING).exists()


@pytest.mark.parametrize("retries", [0, 3, 10, 30])
def test_a_retry_comes_back_before_redis_hands_it_to_another_worker(retries: int) -> None:
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT < visibility
    delay = backoff(retries)
    assert delay > 0
    assert delay + settings.CELERY_TASK_TIME_LIMIT < visibility
    assert delay >= min(settings.EMAIL_RETRY_BACKOFF * 2**retries, 60)
