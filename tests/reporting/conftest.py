"""The work plan of the report tests: a consortium half-way through, with late, sent, approved
and coming deliverables and milestones, an accepted expense and reported effort."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email
import email.policy
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.db import connection, connections
from django.db.models import Sum

from config.celery_app import app as celery_app
from config.celery_app import worker_queues
from reporting.choices import ReportKind
from reporting.models import Report, ReportRecipient
from reporting.services import report_generate, report_schedule
from tests import factories
from tests.api.conftest import PDF
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import BudgetLine, Expense
from workpackages.money.services import expense_accept
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

PERIOD = (datetime.date(2025, 1, 1), datetime.date(2025, 6, 30))
OFFICER = "officer@region.example"


def at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)


@pytest.fixture
def plan(
    deliverable: Any,
    milestone: Any,
    workpackage: Any,
    partner_a: Any,
    partner_member: Any,
    coordinator: Any,
    submitted_expense: Any,
) -> dict[str, Any]:
    """D1.1 open past due; D1.2 due in the period, sent late and approved; D1.3 due on the
    period's last day; D1.4 due a month after; MS1 due on the last day, MS2 achieved, MS3 missed."""
    sent_late = factories.DeliverableFactory(workpackage=workpackage, due_month=14)
    deliverable_submit(
        deliverable=sent_late,
        user=partner_member,
        file=ContentFile(PDF, name="d12.pdf"),
        late_justification="The GMP audit moved.",
        now=at(datetime.date(2025, 3, 10)),
    )
    deliverable_approve(deliverable=sent_late, user=coordinator, now=at(datetime.date(2025, 3, 20)))
    on_last_day = factories.DeliverableFactory(workpackage=workpackage, due_month=18)
    next_month = factories.DeliverableFactory(workpackage=workpackage, due_month=19)
    achieved = factories.MilestoneFactory(
        lead_partner=partner_a, due_month=15, workpackages=[workpackage]
    )
    milestone_achieve(
        milestone=achieved,
        user=coordinator,
        achieved_on=datetime.date(2025, 3, 31),
        evidence="Batch record signed.",
    )
    missed = factories.MilestoneFactory(
        lead_partner=partner_a, due_month=16, workpackages=[workpackage]
    )
    milestone_miss(milestone=missed, user=coordinator, reason="The GMP batch failed release.")
    expense_accept(expense=submitted_expense, user=coordinator)
    factories.EffortFactory(
        partner=partner_a, workpackage=workpackage, actual_person_months=Decimal("4.50")
    )
    return {
        "open_late": deliverable,
        "sent_late": sent_late,
        "on_last_day": on_last_day,
        "next_month": next_month,
        "due_on_last_day": milestone,
        "achieved": achieved,
        "missed": missed,
    }


def add_recipient(consortium: Any, email: str, **fields: Any) -> ReportRecipient:
    """An extra address for the consortium's reports, saved after its validation."""
    recipient = ReportRecipient(consortium=consortium, email=email, **fields)
    recipient.full_clean()
    recipient.save()
    return recipient


@pytest.fixture
def generated_report(
    consortium: Any, plan: dict[str, Any], budget_line: Any, coordinator: Any
) -> Report:
    """PIT-TEST's progress report of the first half of 2025, generated, for its coordinator
    (English) and the region's officer (French), none sent yet."""
    add_recipient(consortium, OFFICER, language="fr")
    period = {
        "kind": ReportKind.PROGRESS,
        "consortium": consortium,
        "period_start": PERIOD[0],
        "period_end": PERIOD[1],
    }
    report_schedule(release=True, **period)
    return report_generate(**period)


def assert_budget_is_the_databases(rows: list[tuple[Any, ...]], consortium: Any) -> None:
    """The planned and consumed columns of a "Budget by partner" sheet add up to the database's
    planned budget lines and accepted expenses."""
    planned = BudgetLine.objects.filter(consortium=consortium).aggregate(s=Sum("planned_amount"))
    accepted = Expense.objects.filter(
        consortium=consortium, status=ExpenseStatus.ACCEPTED
    ).aggregate(s=Sum("accepted_amount"))
    assert sum(Decimal(str(row[1])) for row in rows) == planned["s"]
    assert sum(Decimal(str(row[3])) for row in rows) == accepted["s"]


# A real SMTP server on loopback ----------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler keeping every message it accepted, parsed.

    `hold_recipients` makes the server wait before accepting recipients (before any message data
    is sent), so that a test can kill the sending worker mid-conversation: nothing is delivered.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.in_conversation = threading.Event()
        self.hold_recipients = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.in_conversation.set()
        while self.hold_recipients.is_set():
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class SmtpServer:
    """aiosmtpd on 127.0.0.1, which a test can stop (connections refused) and start again."""

    ATTEMPTS = 5

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = 0
        self.controller: Controller | None = None

    def start(self) -> None:
        """Start again on the same port, so that a worker configured with it reaches it."""
        controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        try:
            controller.start()
        except BaseException:
            # A start that failed half-way (a timeout on a busy machine) must not leave its
            # thread serving the port.
            with contextlib.suppress(Exception):
                controller.stop(no_assert=True)
            raise
        self.controller = controller

    def open(self) -> None:
        """Start on a port the system has just found free. Another test worker may take it
        between the probe and the server's bind: then try another port."""
        for attempt in range(1, self.ATTEMPTS + 1):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            try:
                self.start()
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == self.ATTEMPTS:
                    raise
            else:
                return

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

    def environment(self) -> dict[str, str]:
        """What a worker in another process needs to send here."""
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "5"}


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    """Email goes out through Django's SMTP backend to a real server on loopback."""
    server = SmtpServer()
    server.open()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    try:
        yield server
    finally:
        server.stop()


# Real Celery workers on the real Redis ---------------------------------------------------------


def celery_setting(name: str, value: Any) -> None:
    """Change one of the Celery app's settings for a test. The app reads them from Django's
    settings under their `CELERY_` names, which come first: the change is made under that name."""
    celery_app.conf[f"CELERY_{name.upper()}"] = value


def use_broker(url: str) -> None:
    """Point the app's producers at another broker, as if Redis had moved or died."""
    celery_setting("broker_url", url)
    celery_setting("broker_write_url", url)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _route_to(queue: str) -> None:
    """Send the app's tasks to `queue` from now on (Celery keeps the default queue and its router
    once computed: they are computed again)."""
    celery_setting("task_default_queue", queue)
    for computed in ("default_queue", "queues", "router"):
        celery_app.amqp.__dict__.pop(computed, None)


@pytest.fixture
def celery_queue(settings: Any) -> Iterator[str]:
    """A queue of this test's own on the machine's Redis, so that no other worker (a `make run`
    in another terminal, another test run) takes its tasks, and emptied afterwards."""
    queue = f"cm-test-{uuid.uuid4().hex[:12]}"
    previous = celery_app.conf.task_default_queue
    _route_to(queue)
    # `backoff` counts whole seconds (int(0.5 * 2**n)): a failed send is retried at once, then
    # after 1 s, then 2 s; still a growing delay, through the worker's ETA timer after the first.
    settings.EMAIL_RETRY_BACKOFF = 0.5
    settings.EMAIL_MAX_RETRIES = 3
    try:
        yield queue
    finally:
        _route_to(previous)
        with celery_app.connection_for_write() as connection:
            for name in worker_queues(queue):
                connection.default_channel.queue_delete(name)


def queue_drained(queue: str) -> bool:
    """Whether the broker has nothing left for `queue`: no message waiting in its list, and none
    that a worker took and has not acknowledged yet (tasks are acknowledged once done, so a task
    running, or a retry held for its countdown, is there: kombu's Redis transport keeps such
    messages in its `unacked` hash, with their routing key). Once drained, no task of the queue
    runs again: any email its tasks were to send has reached the SMTP server.

    Both are read in one MULTI; then again 50 ms later, since a message a worker has just popped
    from the list is, for an instant, in neither place before it is recorded as unacknowledged.
    """
    for check in range(2):
        if check:
            time.sleep(0.05)
        names = worker_queues(queue)  # the test's queue and its webhooks'
        with celery_app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            with channel.client.pipeline(transaction=True) as pipe:
                for name in names:
                    pipe.llen(name)
                *waiting, unacked = pipe.hvals(channel.unacked_key).execute()
        if any(waiting) or any(json.loads(raw)[2] in names for raw in unacked):
            return False
    return True


@pytest.fixture
def celery_worker(celery_queue: str, transactional_db: Any) -> Iterator[Any]:
    """A Celery worker in a thread of this process (celery.contrib.testing), consuming the
    test's queue on Redis. It reads the test database, so tests using it commit their data."""
    celery_app.loader.import_default_modules()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=worker_queues(celery_queue),
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        yield worker
    connections.close_all()


class WorkerProcess:
    """`celery worker` in a process of its own (prefork, one child), on the test's database and
    queue, sending email to the test's SMTP server: it can be killed like a real one."""

    def __init__(self, queue: str, smtp: SmtpServer) -> None:
        database = connection.settings_dict
        self.env = {
            **os.environ,
            **smtp.environment(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                f"{database['NAME']}"
            ),
            "CELERY_QUEUE": queue,
            "MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
            "EMAIL_RETRY_BACKOFF": "1",
            "EMAIL_MAX_RETRIES": "3",
        }
        self.queue = queue
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603  (a fixed command line)
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "-Q",
                ",".join(worker_queues(self.queue)),
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            env=self.env,
            cwd=settings_module_root(),
        )

    def children(self) -> list[int]:
        assert self.process is not None
        found = subprocess.run(  # noqa: S603
            ["pgrep", "-P", str(self.process.pid)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in found.stdout.split()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def settings_module_root() -> str:
    return str(Path(__file__).resolve().parents[2])


@pytest.fixture
def worker_process(
    celery_queue: str, smtp: SmtpServer, transactional_db: Any
) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(celery_queue, smtp)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
