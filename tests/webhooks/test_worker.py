"""Webhooks end to end: a real Celery worker on the machine's Redis posts to a real receiver on the
loopback. A failed delivery is retried and arrives once; a rolled-back decision sends nothing;
a delivery Redis did not take when its decision committed is handed over by the sweep; a worker
killed mid-delivery loses nothing: another sends it, and the receiver acts on it once."""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django_celery_beat.models import PeriodicTask

from config.celery_app import app as celery_app
from config.celery_app import worker_queues
from consortium.models import WebhookDelivery, WebhookDeliveryState
from consortium.tasks import WEBHOOK_SWEEP, sweep_webhook_deliveries
from consortium.webhooks import verify
from tests.polling import wait_for
from tests.reporting.conftest import WorkerProcess, queue_drained, use_broker
from tests.webhooks.conftest import Receiver
from workpackages.jobs.services import job_realise
from workpackages.money.services import expense_accept

pytestmark = pytest.mark.django_db(transaction=True)


def _delivered(count: int = 1) -> bool:
    return (
        WebhookDelivery.objects.filter(state=WebhookDeliveryState.DELIVERED).count() == count
        and not WebhookDelivery.objects.exclude(state=WebhookDeliveryState.DELIVERED).exists()
    )


def test_a_failed_delivery_is_retried_and_arrives_once(
    subscribed: Any,
    receiver: Receiver,
    submitted_expense: Any,
    coordinator: Any,
    settings: Any,
    celery_worker: Any,
    celery_queue: str,
) -> None:
    settings.WEBHOOKS_RETRY_BACKOFF = 0.5  # 0 s, then 1 s: a growing delay, quickly
    receiver.script = [500, 502]

    expense_accept(expense=submitted_expense, user=coordinator)

    wait_for(_delivered, timeout=30, what="the delivery after two failures")
    wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    delivery = WebhookDelivery.objects.get()
    event_id = str(delivery.event_id)
    assert [request.event_id for request in receiver.requests] == [event_id] * 3
    assert receiver.successes == [event_id]
    assert all(verify(subscribed.secret, r.headers, r.body) for r in receiver.requests)
    # Each attempt is signed anew, at its own moment, over the same body.
    assert len({r.headers["Webhook-Signature"] for r in receiver.requests}) >= 2
    assert len({r.body for r in receiver.requests}) == 1
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (3, 200, "")
    statuses = delivery.history.order_by("history_id").values_list("response_status", flat=True)
    assert list(statuses) == [None, 500, 502, 200]


def test_a_rolled_back_decision_sends_nothing(
    subscribed: Any,
    receiver: Receiver,
    submitted_expense: Any,
    coordinator: Any,
    job: Any,
    celery_worker: Any,
    celery_queue: str,
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        expense_accept(
            expense=submitted_expense,
            user=coordinator,
            accepted_amount=Decimal(1),
            comment="Capped.",
        )
        raise RuntimeError("the page failed after the decision")
    # A decision that commits afterwards: once it has arrived and the queue is empty, anything
    # the rolled-back one might have queued would have arrived too.
    job_realise(job=job, user=coordinator)

    wait_for(_delivered, timeout=30, what="the job's event")
    wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    assert [request.json["type"] for request in receiver.requests] == ["job.realised"]
    assert WebhookDelivery.objects.count() == 1


def test_a_delivery_redis_did_not_take_is_handed_over_by_the_sweep(
    subscribed: Any,
    receiver: Receiver,
    submitted_expense: Any,
    coordinator: Any,
    settings: Any,
    celery_queue: str,
) -> None:
    working = celery_app.conf.broker_url
    # Nothing listens on port 1 of the loopback: Redis is away when the decision commits.
    use_broker("redis://127.0.0.1:1/0")
    try:
        started = time.monotonic()
        expense_accept(expense=submitted_expense, user=coordinator)
        assert time.monotonic() - started < 3
    finally:
        use_broker(working)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == WebhookDeliveryState.PENDING
    # Not yet stale: the sweep leaves a delivery that may still be on its way alone.
    assert sweep_webhook_deliveries() == 0

    settings.DISPATCH_STALE_MINUTES = 0
    with start_worker(
        celery_app, pool="threads", perform_ping_check=False, queues=worker_queues(celery_queue)
    ):
        assert sweep_webhook_deliveries() == 1
        wait_for(_delivered, timeout=30, what="the swept delivery")
        wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    assert receiver.successes == [str(delivery.event_id)]


def test_the_sweep_runs_every_minute_from_the_installation_s_schedule() -> None:
    schedule = PeriodicTask.objects.get(name=WEBHOOK_SWEEP)
    assert schedule.task == "consortium.tasks.sweep_webhook_deliveries"
    assert (schedule.interval.every, schedule.interval.period) == (1, "minutes")
    assert schedule.enabled


class _NoMail:
    """The worker process sends no email here: it needs no SMTP server's address."""

    def environment(self) -> dict[str, str]:
        return {}


def _worker(queue: str) -> WorkerProcess:
    worker = WorkerProcess(queue, _NoMail())
    # A lost worker's message is back in another after 4 seconds instead of minutes.
    worker.env["CELERY_VISIBILITY_TIMEOUT"] = "4"
    worker.env["WEBHOOKS_RETRY_BACKOFF"] = "1"
    return worker


def test_a_worker_killed_mid_delivery_loses_nothing_and_the_event_is_acted_on_once(
    subscribed: Any,
    receiver: Receiver,
    job: Any,
    coordinator: Any,
    celery_queue: str,
) -> None:
    receiver.hold.set()
    first = _worker(celery_queue)
    first.start()
    try:
        job_realise(job=job, user=coordinator)
        wait_for(receiver.holding.is_set, timeout=40, what="the first worker's request")
        # The main process and its child die at once: nobody gives the message back, and the
        # child's transaction ends with its connection.
        assert first.process is not None
        for pid in [*first.children(), first.process.pid]:
            os.kill(pid, signal.SIGKILL)
        first.process.wait(10)
    finally:
        receiver.hold.clear()
        first.stop()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("pending", 0)

    second = _worker(celery_queue)
    second.start()
    try:
        wait_for(_delivered, timeout=40, what="the other worker to deliver")
        wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    finally:
        second.stop()

    delivery.refresh_from_db()
    event_id = str(delivery.event_id)
    # The worker processes run on the machine's clock, not the suite's.
    now = time_machine.escape_hatch.time.time()
    arrivals = receiver.arrived(event_id)
    assert len(arrivals) == 2
    assert all(verify(subscribed.secret, r.headers, r.body, now=now) for r in arrivals)
    assert receiver.processed == [event_id]
    # The attempt cut short left nothing behind; the one that arrived is the only one logged.
    assert (delivery.attempts, delivery.response_status) == (1, 200)


def test_deliveries_wait_in_a_queue_of_their_own(celery_queue: str) -> None:
    """A receiver that is down, with its retries, never stands in a report's emails' queue:
    the deliveries go to the webhooks' queue beside it, which every worker also consumes."""
    router = celery_app.amqp.router
    assert router.route({}, "consortium.tasks.deliver_webhook")["queue"].name == (
        f"{celery_queue}.webhooks"
    )
    assert router.route({}, "consortium.tasks.send_email")["queue"].name == celery_queue
    assert router.route({}, "consortium.tasks.sweep_webhook_deliveries")["queue"].name == (
        celery_queue
    )
    assert worker_queues(celery_queue) == [celery_queue, f"{celery_queue}.webhooks"]
