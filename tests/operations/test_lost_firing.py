"""A scheduled report whose minute came while Redis was down: beat logged "Couldn't apply
scheduled task" and moved `last_run_at` on, so it will not fire again before next week. The
outbox's sweep, the next thing to run once Redis is back, finds which scheduled reports are
missing for their period and creates them: the outage only delays the report."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from reporting import tasks
from reporting.choices import ReportKind
from reporting.models import Report, ReportSchedule
from reporting.schedules import DEFAULTS, last_firing

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sent_without_review(consortium: Any) -> None:
    """The consortium's scheduled reports go out as soon as they are generated."""
    ReportSchedule.objects.filter(consortium=consortium).update(review_first=False)


BRUSSELS = zoneinfo.ZoneInfo("Europe/Brussels")
WEEKLY_PROGRESS, MONTHLY_JOBS = DEFAULTS[0][0], DEFAULTS[1][0]
# Monday 30 November 2026, 07:00 in Brussels: the weekly progress report's minute.
MONDAY_SEVEN = datetime.datetime(2026, 11, 30, 7, 0, tzinfo=BRUSSELS)
LAST_WEEK = (datetime.date(2026, 11, 23), datetime.date(2026, 11, 29))


def _local(*moment: int) -> datetime.datetime:
    return datetime.datetime(*moment, tzinfo=BRUSSELS)


def _fired_while_redis_was_down(name: str, at: datetime.datetime) -> None:
    PeriodicTask.objects.filter(name=name).update(last_run_at=at)


def test_the_sweep_creates_the_report_a_lost_firing_did_not(
    consortium: Any, coordinator: Any, celery_queue: str
) -> None:
    _fired_while_redis_was_down(WEEKLY_PROGRESS, MONDAY_SEVEN)
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(minutes=20), tick=False):
        assert not Report.objects.exists()
        tasks.dispatch_pending()
        report = Report.objects.get()
        assert (report.kind, report.consortium, report.period_start, report.period_end) == (
            ReportKind.PROGRESS,
            consortium,
            *LAST_WEEK,
        )
        assert list(report.deliveries.values_list("email", flat=True)) == [coordinator.email]
        assert report.queued_at == timezone.now()  # Handed to the queue at once.

        tasks.dispatch_pending()  # The next sweep finds it there.
        assert Report.objects.count() == 1


def test_a_report_beat_is_firing_right_now_is_left_to_beat(consortium: Any) -> None:
    _fired_while_redis_was_down(WEEKLY_PROGRESS, MONDAY_SEVEN)
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(seconds=50), tick=False):
        tasks.dispatch_pending()
    assert not Report.objects.exists()


@pytest.mark.parametrize("change", ["disabled", "never fired", "starts later"])
def test_schedules_that_are_off_never_fired_or_not_started_create_nothing(
    consortium: Any, change: str
) -> None:
    schedule = PeriodicTask.objects.get(name=WEEKLY_PROGRESS)
    schedule.last_run_at = MONDAY_SEVEN
    if change == "disabled":
        schedule.enabled = False
    elif change == "never fired":
        schedule.last_run_at = None  # A new installation: beat has not run it yet.
    else:
        schedule.start_time = MONDAY_SEVEN + datetime.timedelta(hours=1)
    schedule.save()
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(hours=2), tick=False):
        tasks.dispatch_pending()
    assert not Report.objects.exists()


def test_the_monthly_report_is_caught_up_for_the_month_before(
    consortium: Any, celery_queue: str
) -> None:
    first_of_december = datetime.datetime(2026, 12, 1, 7, 0, tzinfo=BRUSSELS)
    _fired_while_redis_was_down(MONTHLY_JOBS, first_of_december)
    with time_machine.travel(first_of_december + datetime.timedelta(hours=3), tick=False):
        tasks.dispatch_pending()
    report = Report.objects.get()
    assert (report.kind, report.period_start, report.period_end) == (
        ReportKind.JOBS,
        datetime.date(2026, 11, 1),
        datetime.date(2026, 11, 30),
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Wednesday: the Monday before, at seven.
        (_local(2026, 11, 25, 12, 0), _local(2026, 11, 23, 7, 0)),
        # Monday at 06:59: the Monday a week before.
        (_local(2026, 11, 30, 6, 59), _local(2026, 11, 23, 7, 0)),
        (_local(2026, 11, 30, 7, 0), _local(2026, 11, 30, 7, 0)),
        # Across the change to winter time (25 October 2026).
        (_local(2026, 10, 27, 9, 0), _local(2026, 10, 26, 7, 0)),
    ],
)
def test_the_last_firing_of_a_crontab_is_in_its_own_time_zone(
    now: datetime.datetime, expected: datetime.datetime
) -> None:
    crontab = CrontabSchedule(
        minute="0",
        hour="7",
        day_of_week="1",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Brussels",
    )
    fired = last_firing(crontab, now.astimezone(datetime.UTC))
    assert fired == expected


def test_a_crontab_silent_for_over_two_months_has_no_last_firing() -> None:
    crontab = CrontabSchedule(
        minute="0",
        hour="7",
        day_of_week="*",
        day_of_month="1",
        month_of_year="6",
        timezone="Europe/Brussels",
    )
    assert last_firing(crontab, MONDAY_SEVEN) is None
