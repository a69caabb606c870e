"""Redis away: the API keeps answering. Its throttle counters live in the Redis cache; when the
cache is unreachable, throttling opens (logged) instead of every call failing, the token endpoint
included, and the cache is asked again a few seconds later."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from consortium.api.policies import _LiveRates
from tests.factories import PASSWORD

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
