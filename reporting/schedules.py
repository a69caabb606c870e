"""The default schedules of the reports and reminders, kept in django-celery-beat's tables so that
coordinators' superusers change times in the admin. Created when missing on every `migrate` (and by
`seed_demo`); an existing schedule, even disabled or moved to another time, is left as it is."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop

from reporting.choices import ReportKind

# name, task, keyword arguments, crontab (minute, hour, day of week, day of month) or minutes
DEFAULTS: list[tuple[str, str, dict[str, Any], tuple[str, str, str, str] | int]] = [
    (
        gettext_noop("Weekly progress report"),
        "reporting.tasks.send_scheduled_reports",
        {"kind": ReportKind.PROGRESS.value},
        ("0", "7", "1", "*"),
    ),
    (
        gettext_noop("Monthly jobs-created report"),
        "reporting.tasks.send_scheduled_reports",
        {"kind": ReportKind.JOBS.value},
        ("0", "7", "*", "1"),
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
