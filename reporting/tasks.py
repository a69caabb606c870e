"""Celery tasks of the scheduled reports and deadline reminders.

Every task takes ids, not objects, and may run twice: the work it does is recorded in the database
(one report per kind, consortium and period; one delivery per recipient; one digest per user and
day), so a message delivered again, a worker killed mid-way or a beat firing twice sends nothing
twice. Tasks are acknowledged late and requeued when their worker dies; sending retries with a
growing delay on SMTP and connection errors, and the last failure is recorded for the admin.
"""

from __future__ import annotations

import datetime
import logging
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from consortium.tasks import ReliableTask
from reporting.alerts import SWEEP, beat_record
from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.emails import SEND_ERRORS
from reporting.models import ReminderDigest, Report
from reporting.outbox import delivery_send, report_deliveries_plan
from reporting.reminders import reminder_send, reminders_plan
from reporting.schedules import scheduled_reports_due
from reporting.services import (
    report_failure_record,
    report_generate,
    report_schedule,
    reports_due,
)

logger = logging.getLogger(__name__)


def enqueue_report(report_id: int) -> bool:
    """Hand a report to the queue to be generated and sent (callers do it once their transaction
    has committed); record when the broker took it, so that the dispatcher leaves it alone."""
    if not generate_report.enqueue(report_id):
        return False
    Report.objects.filter(pk=report_id).update(queued_at=timezone.now())
    return True


@shared_task(base=ReliableTask)
def send_scheduled_reports(kind: str, day: str | None = None) -> list[int]:
    """Beat's entry point: the `kind` report of every consortium whose schedule creates one."""
    return schedule_reports(kind, datetime.date.fromisoformat(day) if day else timezone.localdate())


def schedule_reports(kind: str, today: datetime.date, *, only_missing: bool = False) -> list[int]:
    """Create (or find) the `kind` report each consortium's schedule creates on `today` (the last
    complete week or month; the semester report of the last reporting period ended long enough
    ago), sent for delivery at once where the schedule says so, and hand each to the queue once
    committed. With `only_missing`, reports already in the archive are left alone."""
    reports = []
    # A semester report is due every day for months after its period: it is made once, and a
    # coordinator's "send" is what adds recipients to it afterwards.
    only_missing = only_missing or kind == ReportKind.SEMESTER
    for schedule, start, end in reports_due(kind, today, only_missing=only_missing):
        try:
            report = report_schedule(
                kind=kind,
                consortium=schedule.consortium,
                period_start=start,
                period_end=end,
                release=not schedule.review_first,
            )
        except Exception:
            # One consortium's bad data must not keep the others' reports from going out.
            logger.exception(
                "The %s report of %s could not be scheduled", kind, schedule.consortium
            )
            continue
        transaction.on_commit(partial(enqueue_report, report.pk))
        reports.append(report.pk)
    return reports


@shared_task(bind=True, base=ReliableTask, max_retries=3)
def generate_report(self: Any, report_id: int) -> None:
    """Render a report if it isn't yet, then send it to each recipient still without it."""
    report = Report.objects.select_related("consortium").get(pk=report_id)
    if report.generated_at is None:
        try:
            report_generate(**report.key, only_if_missing=True)
        except OSError as error:
            if self.request.retries < self.max_retries:
                raise self.retry_later(error) from error
            report_failure_record(report=report, error=f"{type(error).__name__}: {error}")
            return
        except Exception as error:
            report_failure_record(report=report, error=f"{type(error).__name__}: {error}")
            raise
    waiting = [
        delivery.pk
        for delivery in report_deliveries_plan(report=report)
        if delivery.status == DeliveryStatus.PENDING
    ]
    if not all([send_report_delivery.enqueue(pk) for pk in waiting]):
        # Redis went away meanwhile: the sweep hands the report to the queue again once it is
        # back, instead of waiting for it to look lost.
        Report.objects.filter(pk=report_id).update(queued_at=None)


@shared_task(bind=True, base=ReliableTask)
def send_report_delivery(self: Any, delivery_id: int) -> None:
    """Email a report to one recipient, at most once, retrying on SMTP and connection errors."""
    try:
        delivery_send(delivery_id=delivery_id, final=self.final_attempt)
    except SEND_ERRORS as error:
        raise self.retry_later(error) from error


@shared_task(base=ReliableTask)
def send_reminders(day: str | None = None) -> int:
    """Beat's daily entry point: plan today's digests and send each."""
    planned = reminders_plan(day=datetime.date.fromisoformat(day) if day else timezone.localdate())
    for digest in planned:
        send_reminder.enqueue_on_commit(digest.pk)
    return len(planned)


@shared_task(bind=True, base=ReliableTask)
def send_reminder(self: Any, digest_id: int) -> None:
    try:
        reminder_send(digest_id=digest_id, final=self.final_attempt)
    except SEND_ERRORS as error:
        raise self.retry_later(error) from error


@shared_task(base=ReliableTask)
def dispatch_pending() -> int:
    """The outbox's sweep, every few minutes: scheduled reports a beat firing lost (Redis was
    down at that minute), reports the queue never took (Redis was down when "send now" was
    pressed or the report was created) and recipients still waiting long after their last
    attempt (a task lost with its worker), then digests of today still unsent."""
    now = timezone.now()
    beat_record(SWEEP, now)
    for kind, fired in scheduled_reports_due(now):
        missing = schedule_reports(kind, fired.date(), only_missing=True)
        if missing:
            logger.warning("The sweep created %s %s report(s) beat did not", len(missing), kind)
    stale = now - datetime.timedelta(minutes=settings.DISPATCH_STALE_MINUTES)
    never_queued = Q(queued_at__isnull=True) & (
        Q(status=ReportStatus.PENDING) | Q(deliveries__status=DeliveryStatus.PENDING)
    )
    lost = Q(queued_at__lt=stale) & (
        Q(status=ReportStatus.PENDING)
        | Q(deliveries__status=DeliveryStatus.PENDING, deliveries__updated_at__lt=stale)
    )
    waiting = Report.objects.filter(never_queued | lost).values_list("pk", flat=True).distinct()
    count = 0
    for report_id in list(waiting):
        if not enqueue_report(report_id):
            return count  # Redis is still away: the next sweep tries again.
        count += 1
    digests = ReminderDigest.objects.filter(
        status=DeliveryStatus.PENDING, day=timezone.localdate(), updated_at__lt=stale
    ).values_list("pk", flat=True)
    for digest_id in list(digests):
        count += send_reminder.enqueue(digest_id)
    count += dispatch_notification_digests(stale)
    return count


# The daily digest of workflow notifications (reporting/notifications.py) ------------------------


@shared_task(base=ReliableTask)
def send_notification_digests(day: str | None = None) -> int:
    """Beat's daily entry point (17:00): plan today's digests of notifications and send each."""
    from reporting.notifications import notifications_plan

    planned = notifications_plan(
        day=datetime.date.fromisoformat(day) if day else timezone.localdate()
    )
    for digest in planned:
        send_notification_digest.enqueue_on_commit(digest.pk)
    return len(planned)


@shared_task(bind=True, base=ReliableTask)
def send_notification_digest(self: Any, digest_id: int) -> None:
    """Email one digest of notifications, at most once, retrying on SMTP and connection errors."""
    from reporting.notifications import notification_send

    try:
        notification_send(digest_id=digest_id, final=self.final_attempt)
    except SEND_ERRORS as error:
        raise self.retry_later(error) from error


def dispatch_notification_digests(stale: datetime.datetime) -> int:
    """The sweep's share (`dispatch_pending`): today's digests of notifications still unsent long
    after they were planned or last tried (a task lost with its worker, Redis away)."""
    from consortium.models import DigestStatus, NotificationDigest

    digests = NotificationDigest.objects.filter(
        status=DigestStatus.PENDING, day=timezone.localdate(), updated_at__lt=stale
    ).values_list("pk", flat=True)
    return sum(send_notification_digest.enqueue(digest_id) for digest_id in list(digests))
