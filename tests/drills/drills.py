"""The drills, each breaking one thing in the running topology and returning its figures."""

from __future__ import annotations

import datetime
import socket
import threading
import time
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.drills.client import Answers, Browser, Integration
from tests.drills.topology import VISIBILITY_SECONDS, Topology, owner_of_port
from tests.polling import wait_for

BRUSSELS = zoneinfo.ZoneInfo("Europe/Brussels")


@dataclass
class Figures:
    """What a drill measured: `values` are printed, `failures` say what went wrong."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def expect(self, what: str, value: Any, wanted: Any) -> None:
        self.values[what] = value
        if value != wanted:
            self.failures.append(f"{what}: {value}, expected {wanted}")


def consortium_id(topology: Topology) -> int:
    [(pk,)] = topology.sql("SELECT id FROM consortium_consortium ORDER BY id LIMIT 1")
    return int(pk)


def report_state(topology: Topology, kind: str, start: datetime.date) -> tuple[int, str] | None:
    rows = topology.sql(
        "SELECT id, status FROM reporting_report WHERE kind = %s AND period_start = %s",
        kind,
        start,
    )
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def deliveries(topology: Topology, report_id: int) -> list[tuple[str, str]]:
    return [
        (str(email), str(status))
        for email, status in topology.sql(
            "SELECT email, status FROM reporting_reportdelivery WHERE report_id = %s", report_id
        )
    ]


def emails_of(topology: Topology, report_id: int) -> Counter[str]:
    """How many emails each recipient of a report received (by the report's subject)."""
    [(start, end)] = topology.sql(
        "SELECT period_start, period_end FROM reporting_report WHERE id = %s", report_id
    )
    marks = {start.strftime("%d/%m/%Y"), end.strftime("%d/%m/%Y")}
    return Counter(
        to for to, subject in topology.smtp.received() if all(mark in subject for mark in marks)
    )


def wait_sent(topology: Topology, kind: str, start: datetime.date, timeout: float) -> int:
    state = wait_for(
        lambda: (s := report_state(topology, kind, start)) and s[1] == "sent" and s,
        timeout,
        f"the {kind} report of {start} to be sent",
    )
    return int(state[0])


def count_delivery(figures: Figures, topology: Topology, report_id: int) -> None:
    recipients = {email for email, _status in deliveries(topology, report_id)}
    received = emails_of(topology, report_id)
    figures.values["recipients"] = len(recipients)
    figures.expect("duplicate emails", sum(n - 1 for n in received.values() if n > 1), 0)
    figures.expect("missing emails", len(recipients - set(received)), 0)


def monday(weeks_ago: int) -> datetime.date:
    today = datetime.datetime.now(BRUSSELS).date()
    return today - datetime.timedelta(days=today.weekday() + 7 * weeks_ago)


def add_report(browser: Browser, consortium: int, start: datetime.date) -> Any:
    return browser.post_form(
        "/admin/reporting/report/add/",
        {
            "kind": "progress",
            "consortium": str(consortium),
            "period_start": start.isoformat(),
            "period_end": (start + datetime.timedelta(days=6)).isoformat(),
            # A coordinator who adds a report to send it, not to read it first.
            "send_when_generated": "on",
        },
    )


# 1 ---------------------------------------------------------------------------------------------


def scheduled_report(topology: Topology) -> Figures:
    """Beat fires the jobs-created report every 15 s (the demo's monthly schedule, sped up): the
    first firing creates last month's report and sends it, the next ones find it there."""
    figures = Figures("a scheduled report, fired again and again")
    today = datetime.datetime.now(BRUSSELS).date()
    first = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    report_id = wait_sent(topology, "jobs", first, 120)
    beat = topology.processes["beat"]
    runs = lambda: beat.log_text().count("Sending due task Monthly jobs-created report")  # noqa: E731
    fired = runs()
    wait_for(lambda: runs() >= fired + 2, 60, "two more firings")
    time.sleep(3)
    figures.values["firings"] = runs()
    count_delivery(figures, topology, report_id)
    return figures


# 2 ---------------------------------------------------------------------------------------------


def worker_killed(topology: Topology) -> Figures:
    """A whole worker (main process and children) killed while its email is mid-conversation
    with the SMTP server; a new one is started, as a supervisor would."""
    figures = Figures("a worker killed mid-send")
    browser = Browser(topology.url(""), "coordinator")
    start = monday(5)
    before = len(topology.smtp.conversations)
    topology.smtp.hold.set()
    try:
        answer = add_report(browser, consortium_id(topology), start)
        assert answer is not None and answer.status_code == 302, answer
        wait_for(lambda: len(topology.smtp.conversations) > before, 120, "an SMTP conversation")
        pid = owner_of_port(topology.smtp.conversations[before])
        [victim] = [w for w in topology.workers() if pid in w.tree()]
        victim.kill()
        killed_at = time.monotonic()
    finally:
        topology.smtp.hold.clear()
    topology.start_worker()
    report_id = wait_sent(topology, "progress", start, VISIBILITY_SECONDS + 180)
    figures.values["seconds until every email left"] = round(time.monotonic() - killed_at)
    count_delivery(figures, topology, report_id)
    return figures


# 3 ---------------------------------------------------------------------------------------------


def _clients(topology: Topology) -> tuple[Browser, Browser, Integration]:
    """A partner's browser, a coordinator's and a partner's integration, signed in."""
    base = topology.url("")
    return Browser(base, "partner1"), Browser(base, "coordinator"), Integration(base, "partner1")


def _traffic(clients: tuple[Browser, Browser, Integration], until: float, answers: Answers) -> None:
    """Pages, the admin, the API and its token endpoint, one after the other, until `until`."""
    partner, coordinator, api = clients
    while time.monotonic() < until:
        answers.add(partner.get("/"))
        answers.add(coordinator.get("/admin/reporting/report/"))
        answers.add(api.get("/api/v1/expenses/"))
        answers.add(api.token_request())
        time.sleep(0.2)


def redis_outage(topology: Topology) -> Figures:
    """Redis stopped (by its process id) across the minute a scheduled report is due, then
    started again: no request fails meanwhile, and the report beat could not hand over is
    created by the next sweep and sent."""
    figures = Figures("Redis stopped and started")
    now = datetime.datetime.now(BRUSSELS)
    due = (now + datetime.timedelta(seconds=90)).replace(second=0, microsecond=0)
    [(crontab,)] = topology.sql(
        "INSERT INTO django_celery_beat_crontabschedule "
        "(minute, hour, day_of_week, day_of_month, month_of_year, timezone) "
        "VALUES (%s, %s, '*', '*', '*', 'Europe/Brussels') RETURNING id",
        str(due.minute),
        str(due.hour),
    )
    topology.sql(
        "UPDATE django_celery_beat_periodictask SET crontab_id = %s, start_time = now(), "
        "last_run_at = now() WHERE name = 'Weekly progress report'",
        crontab,
    )
    topology.sql("UPDATE django_celery_beat_periodictasks SET last_update = now()")
    start = monday(1)
    assert report_state(topology, "progress", start) is None
    clients = _clients(topology)
    # Down from half a minute before the report's minute to half a minute after.
    wait_for(
        lambda: datetime.datetime.now(BRUSSELS) >= due - datetime.timedelta(seconds=30),
        120,
        "half a minute before the report's minute",
    )
    topology.processes["redis"].stop()
    answers = Answers()
    try:
        _traffic(clients, time.monotonic() + 60, answers)
    finally:
        topology.start_redis()
    back = datetime.datetime.now(datetime.UTC)
    figures.values["requests while Redis was down"] = answers.total
    figures.expect("server errors", answers.server_errors, 0)
    beat_log = topology.processes["beat"].log_text()
    figures.expect(
        "beat could not hand the report over", "Couldn't apply scheduled task" in beat_log, True
    )
    report_id = wait_sent(topology, "progress", start, 240)
    [(created,)] = topology.sql("SELECT created_at FROM reporting_report WHERE id = %s", report_id)
    figures.expect("created by the sweep once Redis was back", created >= back, True)
    count_delivery(figures, topology, report_id)
    return figures


# 4 ---------------------------------------------------------------------------------------------


def database_connections_dropped(topology: Topology) -> Figures:
    """Every connection of the app to PostgreSQL ended by the server (`pg_terminate_backend`),
    as after a restart: the next requests and the next report do not notice."""
    figures = Figures("PostgreSQL connections dropped")
    answers = Answers()
    clients = _clients(topology)
    _traffic(clients, time.monotonic() + 5, Answers())  # Every process holds a connection.
    dropped = topology.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        topology.database,
    )
    figures.values["connections dropped"] = len(dropped)
    _traffic(clients, time.monotonic() + 10, answers)
    figures.values["requests after the drop"] = answers.total
    figures.expect("server errors", answers.server_errors, 0)
    start = monday(6)
    answer = add_report(Browser(topology.url(""), "coordinator"), consortium_id(topology), start)
    figures.expect("report added after the drop", getattr(answer, "status_code", None), 302)
    count_delivery(figures, topology, wait_sent(topology, "progress", start, 120))
    return figures


# 5 ---------------------------------------------------------------------------------------------


def simultaneous_report_additions(topology: Topology) -> Figures:
    """Ten coordinators' sessions add reports at the same instant (five periods, each twice),
    while the two workers generate the ones already added."""
    figures = Figures("ten simultaneous report additions")
    consortium = consortium_id(topology)
    starts = [monday(weeks) for weeks in range(7, 12)]
    browsers = [Browser(topology.url(""), "coordinator") for _ in range(10)]
    gate = threading.Barrier(10)
    answers = Answers()

    def add(browser: Browser, start: datetime.date) -> None:
        gate.wait(30)
        answers.add(add_report(browser, consortium, start))

    threads = [
        threading.Thread(target=add, args=(browser, starts[i % 5]))
        for i, browser in enumerate(browsers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    figures.values["answers"] = dict(sorted(answers.statuses.items()))
    figures.expect("server errors", answers.server_errors, 0)
    for start in starts:
        wait_sent(topology, "progress", start, 180)
    figures.expect(
        "reports",
        len(
            topology.sql(
                "SELECT id FROM reporting_report WHERE kind = 'progress' AND period_start = ANY(%s)",
                starts,
            )
        ),
        5,
    )
    deadlocks = sum(text.count("deadlock detected") for _name, text in topology.logs())
    figures.expect("deadlocks", deadlocks, 0)
    return figures


# 6 ---------------------------------------------------------------------------------------------


def _firings(text: str) -> int:
    return text.count("Sending due task")


def two_beats(topology: Topology) -> Figures:
    """A second beat started beside the first: it stands by while the first runs, and takes
    over when the first stops."""
    figures = Figures("two beats started")
    first = topology.processes["beat"]
    second = topology.start_beat("beat-2")
    before = _firings(first.log_text())
    time.sleep(30)
    figures.expect(
        "beats firing",
        sum(1 for n in (_firings(first.log_text()) - before, _firings(second.log_text())) if n),
        1,
    )
    figures.expect("firings by the second beat", _firings(second.log_text()), 0)
    first.stop()
    stopped = time.monotonic()
    wait_for(lambda: _firings(second.log_text()) > 0, 60, "the second beat to take over")
    figures.values["seconds until the second beat fired"] = round(time.monotonic() - stopped)
    return figures


def everything_sent_once(topology: Topology) -> Figures:
    """Over all the drills: every email once, every delivery sent."""
    figures = Figures("all the drills together")
    counts = Counter(topology.smtp.received())
    figures.values["emails"] = sum(counts.values())
    figures.expect("duplicate emails", sum(n - 1 for n in counts.values() if n > 1), 0)
    unsent = topology.sql("SELECT count(*) FROM reporting_reportdelivery WHERE status <> 'sent'")
    figures.expect("deliveries not sent", unsent[0][0], 0)
    return figures


def oversized_upload(topology: Topology) -> Figures:
    """An upload declaring 200 MB, of which 64 KB are sent: gunicorn's answer is a 413 before the
    rest comes."""
    figures = Figures("an upload over the limit")
    with socket.create_connection(("127.0.0.1", topology.web_port), timeout=20) as connection:
        connection.sendall(
            (
                "POST /api/v1/expenses/ HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\n"
                "Content-Type: multipart/form-data; boundary=drill\r\n"
                f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        connection.sendall(b"0" * 64 * 1024)
        status = connection.makefile("rb").readline().decode().strip()
    figures.expect("answer", status.split(" ", 2)[1] if status else "none", "413")
    figures.values["bytes sent"] = 64 * 1024
    return figures


DRILLS = [
    oversized_upload,
    scheduled_report,
    worker_killed,
    redis_outage,
    database_connections_dropped,
    simultaneous_report_additions,
    two_beats,
]


def probes(topology: Topology, name: str) -> Figures:
    """The liveness and readiness probes (database, migrations, Redis, a worker)."""
    figures = Figures(name)
    live = requests.get(topology.url("/health/live/"), timeout=10)
    figures.expect("liveness", live.status_code, 200)
    ready = requests.get(topology.url("/health/ready/?format=json"), timeout=30)
    figures.expect("readiness", ready.status_code, 200)
    if ready.status_code != 200:
        figures.values["checks"] = ready.text
    return figures
