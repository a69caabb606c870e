"""The nightly clean-up, scheduled by default: sessions past their end and wrong-password counts
past their pause are removed; the ones still running are kept."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from consortium.tasks import clear_expired_sign_ins

pytestmark = pytest.mark.django_db


def _session(expires_in: datetime.timedelta) -> str:
    store = SessionStore()
    store["who"] = "someone"
    store.set_expiry(int(expires_in.total_seconds()))
    store.create()
    return str(store.session_key)


def _attempt(age: datetime.timedelta, username: str) -> None:
    attempt = AccessAttempt.objects.create(
        username=username, ip_address="192.0.2.10", user_agent="test", failures_since_start=3
    )
    # The time of an attempt is set when it is written: moved back afterwards.
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=timezone.now() - age)


def test_ended_sessions_and_pauses_go_and_running_ones_stay(settings: Any) -> None:
    ended = _session(datetime.timedelta(seconds=-60))
    running = _session(datetime.timedelta(hours=1))
    _attempt(settings.AXES_COOLOFF_TIME + datetime.timedelta(minutes=1), "old")
    _attempt(datetime.timedelta(minutes=1), "recent")

    assert clear_expired_sign_ins() == 1

    assert list(Session.objects.values_list("session_key", flat=True)) == [running]
    assert not Session.objects.filter(session_key=ended).exists()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["recent"]


def test_the_clean_up_is_scheduled_every_night() -> None:
    schedule = PeriodicTask.objects.get(task="consortium.tasks.clear_expired_sign_ins")
    assert schedule.enabled
    assert (schedule.crontab.hour, schedule.crontab.minute) == ("3", "30")
