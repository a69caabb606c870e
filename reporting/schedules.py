"""The installation's clock: when the reports are made, the reminders sent and the nightly
clean-up run, kept in django-celery-beat's tables so that superusers change times in the admin.
Which reports each consortium receives, and whether a coordinator reviews them first, is the
consortium's own `ReportSchedule`. Created when missing on every `migrate` (and by `seed_demo`);
an existing schedule, even disabled or moved to another time, is left as it is."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from reporting.choices import ReportKind

SCHEDULED_REPORTS = "reporting.tasks.send_scheduled_reports"
# A report due less than this long ago is left to beat, which fires it at its minute. (Were
# both to create it, they would find each other's: one report, one email per recipient.)
CATCH_UP_AFTER = datetime.timedelta(minutes=1)
# How far back a schedule's last firing is looked for (the longest schedule is monthly).
LOOK_BACK_DAYS = 62

# name, task, keyword arguments, crontab (minute, hour, day of week, day of month) or minutes
DEFAULTS: list[tuple[str, str, dict[str, Any], tuple[str, str, str, str] | int]] = [
    (
        gettext_noop("Weekly progress report"),
        SCHEDULED_REPORTS,
        {"kind": ReportKind.PROGRESS.value},
        ("0", "7", "1", "*"),
    ),
    (
        gettext_noop("Monthly jobs-created report"),
        SCHEDULED_REPORTS,
        {"kind": ReportKind.JOBS.value},
        ("0", "7", "*", "1"),
    ),
    (
        gettext_noop("Daily semester reports"),
        SCHEDULED_REPORTS,
        {"kind": ReportKind.SEMESTER.value},
        ("15", "7", "*", "*"),
    ),
    (
        gettext_noop("Daily deadline reminders"),
        "reporting.tasks.send_reminders",
        {},
        ("0", "8", "*", "*"),
    ),
    (
        gettext_noop("Hand waiting reports and reminders to the queue"),
        "reporting.tasks.dispatch_pending",
        {},
        5,
    ),
    (
        gettext_noop("Nightly clean-up of ended sessions and sign-in pauses"),
        "consortium.tasks.clear_expired_sign_ins",
        {},
        ("30", "3", "*", "*"),
    ),
    (
        gettext_noop("Daily digest of workflow notifications"),
        "reporting.tasks.send_notification_digests",
        {},
        ("0", "17", "*", "*"),
    ),
]


def ensure_default_schedules(**_signal: Any) -> int:
    """Create the default periodic tasks that don't exist yet; return how many were created."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = 0
    for name, task, kwargs, when in DEFAULTS:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        if isinstance(when, int):
            interval, _new = IntervalSchedule.objects.get_or_create(
                every=when, period=IntervalSchedule.MINUTES
            )
            schedule: dict[str, Any] = {"interval": interval}
        else:
            minute, hour, day_of_week, day_of_month = when
            crontab, _new = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week=day_of_week,
                day_of_month=day_of_month,
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            schedule = {"crontab": crontab}
        PeriodicTask.objects.create(name=name, task=task, kwargs=json.dumps(kwargs), **schedule)
        created += 1
    return created


def last_firing(crontab: Any, now: datetime.datetime) -> datetime.datetime | None:
    """The last moment at or before `now` at which a django-celery-beat crontab fires, in its own
    time zone; None if it has not fired in the last `LOOK_BACK_DAYS` days."""
    spec = crontab.schedule  # celery's crontab: each field parsed into a set of numbers
    local = now.astimezone(crontab.timezone)
    for back in range(LOOK_BACK_DAYS + 1):
        day = local.date() - datetime.timedelta(days=back)
        if (
            day.month not in spec.month_of_year
            or day.day not in spec.day_of_month
            or day.isoweekday() % 7 not in spec.day_of_week  # celery counts Sunday as 0
        ):
            continue
        moments = [
            datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=local.tzinfo)
            for hour in spec.hour
            for minute in spec.minute
        ]
        past = [moment for moment in moments if moment <= local]
        if past:
            return max(past)
    return None


def scheduled_reports_due(now: datetime.datetime) -> Iterator[tuple[str, datetime.datetime]]:
    """(kind, moment) of the last firing of each enabled report schedule, for the sweep to
    create the reports a firing lost (Redis down at that minute: beat moves `last_run_at` on all
    the same). A schedule beat has never fired yet (a new installation) is left to beat."""
    from django_celery_beat.models import PeriodicTask

    schedules = PeriodicTask.objects.filter(
        enabled=True, task=SCHEDULED_REPORTS, crontab__isnull=False, last_run_at__isnull=False
    ).select_related("crontab")
    for schedule in schedules.order_by("pk"):
        kind = json.loads(schedule.kwargs or "{}").get("kind")
        fired = last_firing(schedule.crontab, now)
        if kind not in ReportKind.values or fired is None or fired > now - CATCH_UP_AFTER:
            continue
        if schedule.start_time is not None and fired < schedule.start_time:
            continue
        yield kind, fired


def schedule_when(schedule: Any) -> str:
    """When a consortium's schedule creates its report, in words: the installation's firing of
    its kind (set by a superuser), and for the semester report the days after a period's end."""
    from django.utils.translation import gettext
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(
            task=SCHEDULED_REPORTS, kwargs__contains=f'"{schedule.kind}"', enabled=True
        )
        .select_related("crontab")
        .order_by("pk")
        .first()
    )
    if schedule.kind == ReportKind.SEMESTER:
        return gettext("%(days)s days after each reporting period ends") % {
            "days": schedule.days_after_period_end
        }
    if task is None or task.crontab is None:
        return gettext("not scheduled on this installation")
    return str(task.crontab.human_readable)
