"""Alerts: a report that could not be sent, a scheduled report not created in its window, beat
silent. Each consortium's go to its coordinators on the admin's dashboard; the readiness probe
counts them without naming anything."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from consortium.models import Consortium
from reporting import tasks
from reporting.alerts import SWEEP, alerts
from reporting.choices import ReportKind
from reporting.models import Heartbeat, Report
from reporting.schedules import DEFAULTS
from reporting.services import report_failure_record, report_schedule

pytestmark = pytest.mark.django_db

BRUSSELS = zoneinfo.ZoneInfo("Europe/Brussels")
MONDAY_SEVEN = datetime.datetime(2026, 11, 30, 7, 0, tzinfo=BRUSSELS)


def _dashboard(user: Any) -> str:
    client = Client()
    client.force_login(user)
    answer = client.get("/admin/")
    assert answer.status_code == 200
    return answer.content.decode()


def _failed_report(consortium: Consortium) -> Report:
    report = report_schedule(
        release=True,
        kind=ReportKind.PROGRESS,
        consortium=consortium,
        period_start=datetime.date(2026, 11, 16),
        period_end=datetime.date(2026, 11, 22),
    )
    report_failure_record(report=report, error="suivi@region.example: 550 mailbox unavailable")
    return report


def test_a_report_that_could_not_be_sent_is_on_its_coordinators_dashboard_only(
    consortium: Consortium, coordinator: Any, other_coordinator: Any
) -> None:
    _failed_report(consortium)
    page = _dashboard(coordinator)
    assert 'data-alert="delivery_failed"' in page
    assert "550 mailbox unavailable" in page
    assert "delivery_failed" not in _dashboard(other_coordinator)


def test_a_scheduled_report_not_created_half_an_hour_after_its_minute(
    consortium: Consortium, coordinator: Any
) -> None:
    PeriodicTask.objects.filter(name=DEFAULTS[0][0]).update(last_run_at=MONDAY_SEVEN)
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(minutes=20), tick=False):
        assert alerts(Consortium.objects.all()) == []  # The sweep may still create it.
    with time_machine.travel(MONDAY_SEVEN + datetime.timedelta(minutes=40), tick=False):
        [alert] = alerts(Consortium.objects.all())
        assert (alert.kind, alert.consortium_id) == ("report_missed", consortium.pk)
        assert "23/11/2026 – 29/11/2026" in alert.message
        assert 'data-alert="report_missed"' in _dashboard(coordinator)
        report_schedule(
            release=True,
            kind=ReportKind.PROGRESS,
            consortium=consortium,
            period_start=datetime.date(2026, 11, 23),
            period_end=datetime.date(2026, 11, 29),
        )
        assert alerts(Consortium.objects.all()) == []


def test_beat_silent_for_a_quarter_of_an_hour_until_the_sweep_runs_again(
    consortium: Consortium, coordinator: Any, celery_queue: str
) -> None:
    Heartbeat.objects.create(name=SWEEP, beat_at=timezone.now() - datetime.timedelta(minutes=20))
    [alert] = alerts(Consortium.objects.all())
    assert alert.kind == "beat_silent" and alert.consortium_id is None
    assert 'data-alert="beat_silent"' in _dashboard(coordinator)
    tasks.dispatch_pending()
    assert alerts(Consortium.objects.all()) == []


@pytest.mark.django_db(transaction=True)
def test_readiness_counts_the_alerts_without_naming_anything(consortium: Consortium) -> None:
    _failed_report(consortium)
    answer = Client().get("/health/ready/?format=json")
    assert answer.status_code == 500
    assert answer.json()["NoAlerts()"] == "Warning: delivery_failed: 1"
    assert consortium.acronym not in answer.content.decode()
    assert "region.example" not in answer.content.decode()
