"""What coordinators and operators must hear about without looking for it: a report that could
not be sent to someone, a scheduled report that was not created in its window, and beat (or
every worker) silent. Shown on the admin's dashboard, each consortium's to its coordinators, and
counted, without names, by the readiness probe (`config/health.py`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext

from consortium.models import Consortium
from reporting.choices import ReportKind, ReportStatus
from reporting.models import Heartbeat, Report
from reporting.schedules import scheduled_reports_due
from reporting.services import reports_due

SWEEP = "sweep"
# The sweep runs every five minutes: three missed is a silence.
SILENT_AFTER = datetime.timedelta(minutes=15)
# A scheduled report the sweep has not created half an hour after its minute will not come.
MISSED_AFTER = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class Alert:
    kind: str  # "delivery_failed", "report_missed" or "beat_silent"
    message: str
    consortium_id: int | None = None


def beat_record(name: str, now: datetime.datetime) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"beat_at": now})


def _when(moment: datetime.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _failed(consortia: QuerySet[Consortium]) -> list[Alert]:
    reports = Report.objects.filter(consortium__in=consortia, status=ReportStatus.FAILED)
    return [
        Alert(
            "delivery_failed",
            gettext("%(report)s could not be sent: %(error)s")
            % {
                "report": report,
                "error": report.error or gettext("see its deliveries"),
            },
            report.consortium_id,
        )
        for report in reports.select_related("consortium").order_by("pk")
    ]


def _missed(consortia: QuerySet[Consortium], now: datetime.datetime) -> list[Alert]:
    found = []
    for kind, fired in scheduled_reports_due(now):
        if fired > now - MISSED_AFTER:
            continue
        found += [
            Alert(
                "report_missed",
                gettext(
                    "The %(kind)s report of %(consortium)s for %(start)s – %(end)s was due at "
                    "%(when)s and has not been created: are beat and the workers running?"
                )
                % {
                    "kind": ReportKind(kind).label.lower(),
                    "consortium": schedule.consortium.acronym,
                    "start": formats.date_format(start, "SHORT_DATE_FORMAT"),
                    "end": formats.date_format(end, "SHORT_DATE_FORMAT"),
                    "when": _when(fired),
                },
                schedule.consortium_id,
            )
            for schedule, start, end in reports_due(
                kind, fired.date(), only_missing=True, consortia=consortia
            )
        ]
    return found


def _silent(now: datetime.datetime) -> list[Alert]:
    heartbeat = Heartbeat.objects.filter(name=SWEEP).first()
    if heartbeat is None or heartbeat.beat_at > now - SILENT_AFTER:
        return []
    return [
        Alert(
            "beat_silent",
            gettext(
                "No scheduled work has run since %(when)s: reports and reminders wait until beat "
                "and a worker run again."
            )
            % {"when": _when(heartbeat.beat_at)},
        )
    ]


def alerts(consortia: QuerySet[Consortium], now: datetime.datetime | None = None) -> list[Alert]:
    """The alerts of these consortia, and the installation's."""
    now = now or timezone.now()
    return [*_silent(now), *_missed(consortia, now), *_failed(consortia)]
