"""A whole worker lost (a power cut, an out-of-memory kill of its main process): Redis hands its
unacknowledged messages to another worker after the visibility timeout, and the emails they were
sending leave once, under ten minutes later. The sweep that hands waiting work to the queue
again leaves work under way alone."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from django.conf import settings

from consortium.tasks import backoff
from reporting import tasks
from reporting.choices import DeliveryStatus
from reporting.models import ReportDelivery
from reporting.services import report_generate, report_release
from tests.polling import wait_for
from tests.reporting.conftest import PERIOD, SmtpServer, WorkerProcess, queue_drained

TEN_MINUTES = 600


def _restore_sweep(options: dict[str, Any]) -> int:
    """Seconds between two looks of a worker for messages past their visibility timeout."""
    return int(options["unacked_restore_interval"] * options["unacked_restore_throttle"])


def test_a_dead_worker_s_messages_are_back_in_another_worker_within_ten_minutes() -> None:
    from config.settings import base

    options = base.CELERY_BROKER_TRANSPORT_OPTIONS
    # At worst, the dead worker held the lock of the restore sweeps when it died.
    worst = (
        options["visibility_timeout"] + options["unacked_mutex_expire"] + _restore_sweep(options)
    )
    assert worst < TEN_MINUTES


def test_no_running_task_or_waiting_retry_is_handed_out_twice() -> None:
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    longest_retry = max(backoff(retries) for retries in range(settings.EMAIL_MAX_RETRIES + 1))
    assert longest_retry + settings.CELERY_TASK_TIME_LIMIT < visibility
    # Nor handed to the queue again by the sweep while it runs or waits.
    assert longest_retry + settings.CELERY_TASK_TIME_LIMIT < settings.DISPATCH_STALE_MINUTES * 60


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_whole_mid_send_is_replaced_and_the_email_leaves_once(
    celery_queue: str, smtp: SmtpServer, plan: dict[str, Any], coordinator: Any
) -> None:
    visibility = 4  # seconds, instead of minutes, for the test
    report = report_generate(
        kind="progress",
        consortium=plan["open_late"].consortium,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    [delivery] = report_release(report=report, user=None)
    first = WorkerProcess(celery_queue, smtp)
    first.env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility)
    first.start()
    smtp.mailbox.hold_recipients.set()
    try:
        tasks.send_report_delivery.delay(delivery.pk)
        wait_for(smtp.mailbox.in_conversation.is_set, timeout=60, what="the SMTP conversation")
        # The main process and its child die at once: nobody gives the message back.
        assert first.process is not None
        for pid in [*first.children(), first.process.pid]:
            os.kill(pid, signal.SIGKILL)
        first.process.wait(10)
        died = time.monotonic()
    finally:
        smtp.mailbox.hold_recipients.clear()
        first.stop()
    second = WorkerProcess(celery_queue, smtp)
    second.env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility)
    second.start()
    try:
        wait_for(
            lambda: ReportDelivery.objects.filter(
                pk=delivery.pk, status=DeliveryStatus.SENT
            ).exists(),
            timeout=60,
            what="the other worker to send",
        )
        waited = time.monotonic() - died
        wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    finally:
        second.stop()
    assert [str(m["To"]) for m in smtp.messages] == [delivery.email]
    # Back after the visibility timeout, at the next restore sweep (every second here).
    assert visibility <= waited < visibility + 30
