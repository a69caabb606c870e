"""The scheduled reports end to end: beat's schedule in the database, a real Celery worker on the
machine's Redis, a real SMTP server on loopback. A report arrives once per recipient whatever
happens to the message on the way: delivered twice, its worker killed, the SMTP server down, or
Redis down when a coordinator presses "send now"."""

from __future__ import annotations

import datetime
import io
import json
import os
import signal
import time
from decimal import Decimal
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from openpyxl import load_workbook

from config.celery_app import app as celery_app
from config.celery_app import worker_queues
from consortium.models import Profile
from reporting import tasks
from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.models import Report, ReportDelivery, ReportRecipient, ReportSchedule
from reporting.schedules import DEFAULTS
from reporting.services import report_generate, report_period, report_release
from tests.polling import wait_for
from tests.reporting.conftest import PERIOD, SmtpServer, WorkerProcess, queue_drained, use_broker
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import BudgetLine, Expense

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def sent_without_review(consortium: Any) -> None:
    """The consortium's scheduled reports go out as soon as they are generated."""
    ReportSchedule.objects.filter(consortium=consortium).update(review_first=False)


REGION = "suivi@region.example"
WEEKLY_PROGRESS = DEFAULTS[0][0]


@pytest.fixture
def recipients(coordinator: Any, consortium: Any) -> list[str]:
    """The coordinator (English) and the funder's officer (French)."""
    get_user_model().objects.filter(pk=coordinator.pk).update(email="coord@biowin.example")
    Profile.objects.create(user=coordinator, language="en")
    ReportRecipient.objects.create(consortium=consortium, email=REGION, language="fr")
    return ["coord@biowin.example", REGION]


def _first_half_report(plan: dict[str, Any]) -> Report:
    """The plan's progress report of the first half of 2025, generated and sent for delivery by
    a coordinator, not planned for anyone yet: the task plans its recipients."""
    report = report_generate(
        kind=ReportKind.PROGRESS,
        consortium=plan["open_late"].consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    Report.objects.filter(pk=report.pk).update(released_at=timezone.now())
    report.refresh_from_db()
    return report


def _parts(message: Any) -> dict[str, Any]:
    return {part.get_content_type(): part for part in message.walk()}


def _fire_weekly_progress(queue: str) -> None:
    """Beat's weekly progress entry, last run eight days ago, is due by its crontab; beat's
    scheduler sends it as it does every Monday at 07:00."""
    model = PeriodicTask.objects.get(name=WEEKLY_PROGRESS)
    model.last_run_at = timezone.now() - datetime.timedelta(days=8)
    model.queue = queue
    model.save()
    scheduler = DatabaseScheduler(app=celery_app, lazy=True)
    entry = scheduler.Entry(model, app=celery_app)
    assert entry.is_due().is_due
    try:
        scheduler.apply_entry(entry, producer=scheduler.producer)
    finally:
        scheduler.close()


def test_the_weekly_progress_report_fired_by_beat_reaches_every_recipient(
    plan: dict[str, Any],
    budget_line: Any,
    recipients: list[str],
    smtp: SmtpServer,
    celery_worker: Any,
    celery_queue: str,
) -> None:
    schedule = PeriodicTask.objects.get(name=WEEKLY_PROGRESS)
    assert (schedule.task, json.loads(schedule.kwargs)) == (
        "reporting.tasks.send_scheduled_reports",
        {"kind": "progress"},
    )
    assert (schedule.crontab.hour, schedule.crontab.day_of_week) == ("7", "1")
    assert str(schedule.crontab.timezone) == "Europe/Brussels"

    _fire_weekly_progress(celery_queue)
    wait_for(lambda: len(smtp.messages) >= 2, what="two report emails")
    report = wait_for(
        lambda: Report.objects.filter(status=ReportStatus.SENT).first(), what="a sent report"
    )
    start, end = report_period(ReportKind.PROGRESS, timezone.localdate())
    assert (report.kind, report.period_start, report.period_end) == ("progress", start, end)
    assert sorted(str(m["To"]) for m in smtp.messages) == sorted(recipients)

    [english] = smtp.mailbox.to("coord@biowin.example")
    [french] = smtp.mailbox.to(REGION)
    assert str(english["Subject"]).strip().startswith("[PIT-TEST] Progress report")
    assert str(french["Subject"]).strip().startswith("[PIT-TEST] Rapport d")
    parts = _parts(english)
    assert {
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "image/png",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    } <= set(parts)
    assert 'src="cid:chart"' in parts["text/html"].get_content()
    assert parts["image/png"]["Content-ID"] == "<chart>"
    assert parts["application/pdf"].get_content().startswith(b"%PDF")

    workbook = load_workbook(
        io.BytesIO(
            parts["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"].get_content()
        ),
        read_only=True,
    )
    [_header, *rows] = list(workbook["Budget by partner"].iter_rows(values_only=True))
    planned = BudgetLine.objects.aggregate(total=Sum("planned_amount"))["total"]
    accepted = Expense.objects.filter(status=ExpenseStatus.ACCEPTED).aggregate(
        total=Sum("accepted_amount")
    )["total"]
    assert sum(Decimal(str(row[1])) for row in rows) == planned
    assert sum(Decimal(str(row[3])) for row in rows) == accepted == Decimal("1200.00")
    assert report.deliveries.filter(status=DeliveryStatus.SENT, attempts=1).count() == 2


def test_the_same_task_twice_and_beat_firing_twice_send_one_email_per_recipient(
    plan: dict[str, Any],
    recipients: list[str],
    smtp: SmtpServer,
    celery_worker: Any,
    celery_queue: str,
) -> None:
    today = timezone.localdate().isoformat()
    for _ in range(2):
        tasks.send_scheduled_reports.delay("progress", today)
    report = wait_for(
        lambda: Report.objects.filter(status=ReportStatus.SENT).first(), what="a sent report"
    )
    delivery = report.deliveries.first()
    assert delivery is not None
    for _ in range(2):
        tasks.generate_report.delay(report.pk)
        tasks.send_report_delivery.delay(delivery.pk)
    # The dispatcher's sweep comes by after them. The duplicates, the sweep and any task they
    # queued in turn have all run, and sent whatever they were to send, once the queue is
    # drained (no message waiting, none taken and unacknowledged): no grace period is needed.
    tasks.dispatch_pending.delay()
    wait_for(
        lambda: queue_drained(celery_queue) and _settled(),
        timeout=20,
        what="the duplicates to run",
    )
    assert sorted(str(m["To"]) for m in smtp.messages) == sorted(recipients)
    assert Report.objects.count() == 1
    assert ReportDelivery.objects.count() == 2


def _settled() -> bool:
    return not ReportDelivery.objects.exclude(status=DeliveryStatus.SENT).exists()


def test_a_worker_killed_mid_way_is_replaced_and_the_email_leaves_once(
    worker_process: WorkerProcess,  # first: the worker boots while the plan is written
    plan: dict[str, Any],
    recipients: list[str],
    smtp: SmtpServer,
) -> None:
    report = _first_half_report(plan)
    [delivery, _other] = report_release(report=report, user=None)
    smtp.mailbox.hold_recipients.set()
    tasks.send_report_delivery.delay(delivery.pk)
    # The worker's child is in the middle of the SMTP conversation when it dies.
    wait_for(smtp.mailbox.in_conversation.is_set, timeout=60, what="the SMTP conversation")
    [child] = worker_process.children()
    smtp.mailbox.hold_recipients.clear()
    os.kill(child, signal.SIGKILL)
    wait_for(
        lambda: ReportDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).exists(),
        timeout=60,
        what="the redelivered task to send",
    )
    # Had the message been handed out twice, a copy would still wait in the queue or be held
    # by the worker: once the queue is drained, no second email can come.
    wait_for(lambda: queue_drained(worker_process.queue), timeout=20, what="the queue to drain")
    assert [str(m["To"]) for m in smtp.messages] == [delivery.email]
    assert worker_process.children() != [child]


def test_with_the_smtp_server_down_the_task_retries_and_sends_once_it_is_back(
    plan: dict[str, Any],
    recipients: list[str],
    smtp: SmtpServer,
    celery_worker: Any,
) -> None:
    report = _first_half_report(plan)
    smtp.stop()
    tasks.enqueue_report(report.pk)
    wait_for(
        lambda: ReportDelivery.objects.filter(attempts__gte=2).count() == 2,
        timeout=30,
        what="two failed attempts for each recipient",
    )
    failing = ReportDelivery.objects.first()
    assert failing is not None
    assert failing.status == DeliveryStatus.PENDING
    assert "Connection refused" in failing.last_error or "Errno" in failing.last_error
    smtp.start()
    wait_for(
        lambda: Report.objects.filter(pk=report.pk, status=ReportStatus.SENT).exists(),
        timeout=30,
        what="the report to go out",
    )
    assert sorted(str(m["To"]) for m in smtp.messages) == sorted(recipients)
    assert all(d.last_error == "" for d in ReportDelivery.objects.all())


def test_the_final_failure_is_recorded_and_shown_in_the_admin(
    plan: dict[str, Any],
    recipients: list[str],
    coordinator: Any,
    smtp: SmtpServer,
    celery_worker: Any,
    settings: Any,
) -> None:
    settings.EMAIL_MAX_RETRIES = 1
    report = _first_half_report(plan)
    smtp.stop()
    tasks.enqueue_report(report.pk)
    wait_for(
        lambda: (
            Report.objects.filter(pk=report.pk, status=ReportStatus.FAILED).exists()
            and ReportDelivery.objects.filter(status=DeliveryStatus.FAILED).count() == 2
        ),
        timeout=30,
        what="the final failure",
    )
    assert set(ReportDelivery.objects.values_list("attempts", flat=True)) == {2}
    client = Client()
    client.force_login(coordinator)
    changelist = client.get(reverse("admin:reporting_report_changelist")).content.decode()
    assert "Failed" in changelist and "2 failed" in changelist
    page = client.get(reverse("admin:reporting_report_change", args=[report.pk])).content.decode()
    assert "Connection refused" in page or "Errno" in page


def test_send_now_answers_quickly_with_redis_down_and_the_report_leaves_once_it_is_back(
    plan: dict[str, Any],
    recipients: list[str],
    coordinator: Any,
    smtp: SmtpServer,
    celery_queue: str,
) -> None:
    report = _first_half_report(plan)
    client = Client()
    client.force_login(coordinator)
    working = celery_app.conf.broker_url
    # Nothing listens on port 1 of the loopback: every connection to "Redis" is refused.
    use_broker("redis://127.0.0.1:1/0")
    try:
        started = time.monotonic()
        response = client.post(
            reverse("admin:reporting_report_changelist"),
            {"action": "send_now", "_selected_action": [report.pk]},
        )
        elapsed = time.monotonic() - started
    finally:
        use_broker(working)
    assert response.status_code == 302
    assert elapsed < 2, elapsed
    page = client.get(response["Location"]).content.decode()
    assert "The task queue (Redis) does not answer." in page
    report.refresh_from_db()
    assert report.queued_at is None
    assert set(report.deliveries.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert smtp.messages == []

    # Redis is back: the dispatcher beat runs every few minutes hands the report to a worker.
    with start_worker(
        celery_app, pool="threads", perform_ping_check=False, queues=worker_queues(celery_queue)
    ):
        assert tasks.dispatch_pending.delay() is not None
        wait_for(
            lambda: Report.objects.filter(pk=report.pk, status=ReportStatus.SENT).exists(),
            timeout=60,
            what="the report to go out",
        )
    assert sorted(str(m["To"]) for m in smtp.messages) == sorted(recipients)
