"""Handing work to Celery, the base class of every task, the one email task of the accounts
and team pages, and the delivery of webhooks.

Pages never send email themselves: they queue it once their transaction has committed, and a
worker sends it, retrying on SMTP and connection errors with a growing delay. Every task is a
`ReliableTask`: acknowledged once done, given back to the queue if its worker dies, retried with
the same growing delay, and queued after the caller's transaction commits.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from functools import partial
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from celery import Task, shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_noop
from kombu.exceptions import KombuError, OperationalError

from consortium.webhook_delivery import webhook_attempt, webhook_deliveries_lost

logger = logging.getLogger(__name__)

# What sending may raise and is worth trying again later.
SEND_ERRORS = (smtplib.SMTPException, OSError)


def backoff(retries: int) -> int:
    """Seconds before the next attempt: EMAIL_RETRY_BACKOFF, doubled at each retry. A retry
    waits unacknowledged in its worker, so it must come back before Redis's visibility timeout
    hands it to another one: the delay stays below that timeout less a task's time limit."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    ceiling = max(visibility - settings.CELERY_TASK_TIME_LIMIT - 60, 1)
    return int(min(settings.EMAIL_RETRY_BACKOFF * 2**retries, ceiling))


def enqueue(task: Any, *args: Any) -> bool:
    """Hand a task to the broker now, without the broker's own retries: when Redis is down this
    answers in about a second instead of hanging. Returns whether the broker took it."""
    try:
        with task.app.connection_for_write() as connection:
            # One attempt to connect, not kombu's default of retrying for seconds.
            connection.ensure_connection(max_retries=0)
            task.apply_async(args=args, connection=connection, retry=False)
    except (OperationalError, KombuError, OSError) as error:
        logger.warning("The task queue is unreachable, %s%r waits: %s", task.name, args, error)
        return False
    return True


class ReliableTask(Task):
    """The base of every task. A message is acknowledged only once its task is done and given
    back to the queue if the worker running it dies; no result is kept (the work is recorded in
    the database). A task retries for as long as it says (`max_retries`, unlimited unless set)."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    max_retries = None

    @property
    def final_attempt(self) -> bool:
        """Whether this run is the last an email gets before it is marked failed."""
        return bool(self.request.retries >= settings.EMAIL_MAX_RETRIES)

    def retry_later(self, error: Exception) -> Exception:
        """Try again after `backoff`'s growing delay (raise what this returns)."""
        return self.retry(exc=error, countdown=backoff(self.request.retries))

    def enqueue(self, *args: Any) -> bool:
        """Hand the task to the broker now (see `enqueue`)."""
        return enqueue(self, *args)

    def enqueue_on_commit(self, *args: Any) -> None:
        """Hand the task to the broker once the current transaction has committed."""
        transaction.on_commit(partial(enqueue, self, *args))


@shared_task(bind=True, base=ReliableTask)
def send_email(self: Any, subject: str, text: str, html: str, to: list[str]) -> None:
    """Send one email already rendered in its reader's language (a password reset link, an
    invitation). It holds a one-time link, not a record: a lost message is asked for again."""
    message = EmailMultiAlternatives(subject=subject, body=text, to=to)
    if html:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except SEND_ERRORS as error:
        if self.final_attempt:
            logger.error("Giving up sending %r to %s: %s", subject, to, error)
            return
        raise self.retry_later(error) from error


@shared_task(base=ReliableTask)
def clear_expired_sign_ins() -> int:
    """Every night: sessions past their end (Django's `clearsessions`) and wrong-password counts
    past their pause (django-axes), which nothing reads any more and would only fill their
    tables. Returns how many counts were removed."""
    call_command("clearsessions")
    # django-axes measures the pause from the moment of the request it is handed.
    now = HttpRequest()
    now.axes_attempt_time = timezone.now()  # type: ignore[attr-defined]
    return int(AxesProxyHandler.get_implementation().clean_expired_user_attempts(now, None))


# Webhooks (consortium/webhooks.py, consortium/webhook_delivery.py) ------------------------------

# The sweep's schedule, created on `migrate` when missing (`ensure_webhook_sweep_schedule`); a
# superuser may change or disable it in the admin, and it is then left as it is.
WEBHOOK_SWEEP = gettext_noop("Hand waiting webhook deliveries to the queue")


def enqueue_all(task: Any, calls: Iterable[tuple[Any, ...]]) -> int:
    """Hand a task to the broker once for each argument tuple of `calls`, through one
    connection; stop at the first refusal (the sweeps hand over the rest later). Returns how
    many the broker took."""
    calls = list(calls)
    if not calls:
        return 0
    taken = 0
    try:
        with task.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0)
            for args in calls:
                task.apply_async(args=args, connection=connection, retry=False)
                taken += 1
    except (OperationalError, KombuError, OSError) as error:
        logger.warning(
            "The task queue is unreachable, %s of %s %s wait: %s",
            len(calls) - taken,
            len(calls),
            task.name,
            error,
        )
    return taken


@shared_task(bind=True, base=ReliableTask)
def deliver_webhook(self: Any, delivery_id: int, key: str) -> None:
    """Post one webhook delivery, the attempt the message `key` names (see `webhook_attempt`);
    after a failure, the next attempt follows with a growing delay."""
    retry = webhook_attempt(delivery_id=delivery_id, key=key)
    if retry is not None:
        raise self.retry(args=(delivery_id, retry.key), countdown=retry.delay)


@shared_task(base=ReliableTask)
def sweep_webhook_deliveries() -> int:
    """Every minute: the waiting deliveries whose message was lost (Redis away when it was to be
    queued, a task that died without its retry) go back to the queue. Returns how many."""
    return enqueue_all(deliver_webhook, webhook_deliveries_lost())


def ensure_webhook_sweep_schedule(**_signal: Any) -> bool:
    """Create the webhook sweep's schedule (every minute) unless it exists; whether it was
    created. Runs after every `migrate`, as the reports' default schedules do."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=WEBHOOK_SWEEP).exists():
        return False
    interval, _new = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.MINUTES
    )
    PeriodicTask.objects.create(
        name=WEBHOOK_SWEEP, task="consortium.tasks.sweep_webhook_deliveries", interval=interval
    )
    return True
