"""Two beats started: only the one holding the schedule lock fires; when it stops, the other
takes over, with the schedules as the first left them, and fires nothing twice."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.beat import SingleBeatScheduler
from config.celery_app import app as celery_app
from reporting.schedules import DEFAULTS

pytestmark = pytest.mark.django_db(transaction=True)

WEEKLY_PROGRESS = DEFAULTS[0][0]
MONDAY_SEVEN = datetime.datetime(2026, 11, 30, 7, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Brussels"))


def _waiting(queue: str) -> int:
    with celery_app.connection_for_write() as connection:
        return int(connection.default_channel.client.llen(queue))


@pytest.fixture
def due_weekly_report(celery_queue: str, time_machine: Any) -> Iterator[str]:
    """Monday, a few seconds past seven in Brussels: the weekly progress report, last fired a
    week ago, is due, into the test's queue."""
    time_machine.move_to(MONDAY_SEVEN + datetime.timedelta(seconds=5), tick=True)
    queue = f"{celery_queue}-weekly"  # Its own, apart from the other schedules' firings.
    PeriodicTask.objects.filter(name=WEEKLY_PROGRESS).update(
        last_run_at=MONDAY_SEVEN - datetime.timedelta(days=7), queue=queue
    )
    yield queue
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)


@pytest.fixture
def beats() -> Iterator[list[SingleBeatScheduler]]:
    started: list[SingleBeatScheduler] = []
    yield started
    for beat in started:
        beat.close()


def _start(beats: list[SingleBeatScheduler]) -> SingleBeatScheduler:
    beat = SingleBeatScheduler(app=celery_app, lazy=False)
    beats.append(beat)
    return beat


def _tick_until_idle(beat: SingleBeatScheduler) -> None:
    """Beat's loop: a tick fires one due entry and answers 0 while more are due."""
    for _ in range(20):
        if beat.tick() > 0:
            return
    raise AssertionError("beat kept firing")


def test_beat_uses_the_single_beat_scheduler() -> None:
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat.SingleBeatScheduler"
    assert celery_app.conf.beat_scheduler == settings.CELERY_BEAT_SCHEDULER


def test_of_two_beats_one_fires_and_the_other_takes_over_when_it_stops(
    due_weekly_report: str, beats: list[SingleBeatScheduler]
) -> None:
    first, second = _start(beats), _start(beats)
    _tick_until_idle(first)
    _tick_until_idle(second)
    assert (first.holds_lock(), second.holds_lock()) == (True, False)
    assert _waiting(due_weekly_report) == 1  # Fired once, not twice.

    first.close()  # Its process ends: the lock goes with its connection.
    second._checked_at = 0.0  # Its next look, a few seconds later.
    _tick_until_idle(second)
    assert second.holds_lock()
    assert _waiting(due_weekly_report) == 1  # The first's firing is not repeated.

    fired_at = PeriodicTask.objects.get(name=WEEKLY_PROGRESS).last_run_at
    assert fired_at is not None and timezone.now() - fired_at < datetime.timedelta(minutes=1)
