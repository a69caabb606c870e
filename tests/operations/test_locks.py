"""One lock order everywhere: whoever locks a consortium and one of its reports takes the
consortium's row first; a worker generating a report locks the report's row alone. A coordinator
adding a report while a worker renders another of the same consortium waits, never deadlocks."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.db import connection, transaction

from consortium.models import Consortium
from reporting.choices import ReportKind
from reporting.models import Report
from reporting.services import report_generate, report_schedule

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD = {
    "kind": ReportKind.PROGRESS,
    "period_start": datetime.date(2026, 11, 16),
    "period_end": datetime.date(2026, 11, 22),
}


def _hold_consortium(
    consortium: Consortium, holding: threading.Event, done: threading.Event
) -> None:
    """Another request in the middle of `report_schedule`: the consortium's row is locked."""
    try:
        with transaction.atomic():
            Consortium.objects.select_for_update(no_key=True).filter(
                pk=consortium.pk
            ).order_by().first()
            holding.set()
            done.wait(20)
    finally:
        connection.close()


def test_a_worker_locks_its_report_without_waiting_for_the_consortium(
    consortium: Consortium,
) -> None:
    report_schedule(release=True, consortium=consortium, **PERIOD)
    report_generate(consortium=consortium, **PERIOD)
    holding, done = threading.Event(), threading.Event()
    other = threading.Thread(target=_hold_consortium, args=(consortium, holding, done))
    other.start()
    try:
        assert holding.wait(10)
        with transaction.atomic():
            # Waiting for the consortium's row would be an error after a second, not a hang.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            report = report_generate(consortium=consortium, only_if_missing=True, **PERIOD)
            assert report.generated_at is not None
    finally:
        done.set()
        other.join(20)


def test_adding_reports_while_workers_render_them_never_deadlocks(consortium: Consortium) -> None:
    """Ten coordinators add the same report while two workers render it, all at once."""
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def run(work: Any) -> None:
        try:
            start.wait(10)
            work()
        except BaseException as error:  # Collected for the assertion below.
            errors.append(error)
        finally:
            connection.close()

    def add() -> None:
        report_schedule(release=True, consortium=consortium, **PERIOD)

    def render() -> None:
        report_generate(consortium=consortium, only_if_missing=True, **PERIOD)

    threads = [threading.Thread(target=run, args=(add,)) for _ in range(10)]
    threads += [threading.Thread(target=run, args=(render,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Report.objects.filter(consortium=consortium).count() == 1
    assert Report.objects.get(consortium=consortium).generated_at is not None
