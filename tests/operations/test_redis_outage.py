"""Redis away: the API keeps answering. Its throttle counters live in the Redis cache; when the
cache is unreachable, throttling opens (logged) instead of every call failing, the token endpoint
included, and the cache is asked again a few seconds later. A report generated as Redis goes
away is handed over again by the next sweep."""

from __future__ import annotations

import datetime
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from config.celery_app import app as celery_app
from consortium.api.policies import _LiveRates
from reporting import tasks
from reporting.choices import DeliveryStatus, ReportKind
from reporting.models import Report
from reporting.services import report_schedule
from tests.factories import PASSWORD
from tests.reporting.conftest import use_broker

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A loopback port nothing listens on (found free, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_away(settings: Any) -> Iterator[None]:
    """The production cache configuration, pointing at a Redis that is not there."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    _LiveRates.cache_down_until = 0.0
    yield
    _LiveRates.cache_down_until = 0.0


def test_the_api_answers_and_says_throttling_is_off_while_redis_is_away(
    redis_away: None, coordinator: Any, consortium: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RedisConnectionError):
        cache.get("anything")  # The cache is really away.
    client = APIClient()
    with caplog.at_level(logging.WARNING, logger="consortium.api.policies"):
        token = client.post(
            "/api/v1/auth/token/",
            {"username": coordinator.username, "password": PASSWORD},
            format="json",
        )
        assert token.status_code == 200, token.content
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
        answers = [client.get("/api/v1/consortia/") for _ in range(5)]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].json()["results"][0]["acronym"] == consortium.acronym
    warnings = [r for r in caplog.records if "API throttling is off" in r.getMessage()]
    # Once per outage, not once per request: the cache is not asked again for ten seconds.
    assert len(warnings) == 1


def test_the_cache_is_asked_again_once_the_pause_is_over(
    redis_away: None, coordinator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = APIClient()
    client.force_authenticate(coordinator)
    with caplog.at_level(logging.WARNING, logger="consortium.api.policies"):
        assert client.get("/api/v1/consortia/").status_code == 200
        _LiveRates.cache_down_until = 0.0  # Ten seconds later.
        assert client.get("/api/v1/consortia/").status_code == 200
    assert sum("API throttling is off" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.django_db(transaction=True)
def test_a_report_generated_as_redis_goes_away_is_left_to_the_sweep(
    plan: dict[str, Any], celery_queue: str
) -> None:
    """The worker generated the report, then could not queue its emails: the report is marked
    as never queued, so that the next sweep hands it over again at once."""
    report = report_schedule(
        release=True,
        kind=ReportKind.PROGRESS,
        consortium=plan["open_late"].consortium,
        period_start=datetime.date(2025, 1, 1),
        period_end=datetime.date(2025, 6, 30),
    )
    Report.objects.filter(pk=report.pk).update(queued_at=timezone.now())
    working = celery_app.conf.broker_url
    use_broker(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        tasks.generate_report(report.pk)
    finally:
        use_broker(working)
    report.refresh_from_db()
    assert report.generated_at is not None and report.queued_at is None
    assert set(report.deliveries.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert tasks.dispatch_pending() == 1  # Redis is back: handed over by the next sweep.
    report.refresh_from_db()
    assert report.queued_at is not None
