"""The probes: liveness answers whatever the Host and asks nothing of the database; readiness
names each check and fails, with a 500, when one of them does."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_liveness_answers_any_host_without_a_query(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(0):
        answer = Client(HTTP_HOST="10.0.3.7:8000").get("/health/live/")
    assert (answer.status_code, answer.content) == (200, b"ok\n")


def test_readiness_with_a_worker_running(celery_worker: Any) -> None:
    answer = Client(HTTP_HOST="web:8000").get("/health/ready/?format=json")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "DatabaseAnswers(alias='default')": "OK",
        "MigrationsApplied()": "OK",
        "Broker()": "OK",
        "WorkerAnswers()": "OK",
        "NoAlerts()": "OK",
    }
    assert "no-store" in answer["Cache-Control"]


def test_readiness_reads_as_a_page_for_people_too(settings: Any) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    answer = Client().get("/health/ready/")
    assert answer.status_code == 500
    assert answer["Content-Type"].startswith("text/html")
    assert b"Redis does not answer" in answer.content


def test_readiness_fails_and_says_what_when_redis_is_away(settings: Any) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    answer = Client().get("/health/ready/?format=json")
    assert answer.status_code == 500
    body = answer.json()
    assert body["DatabaseAnswers(alias='default')"] == "OK"
    assert body["MigrationsApplied()"] == "OK"
    assert "Redis does not answer" in body["Broker()"]
