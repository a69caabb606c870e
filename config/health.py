"""The probes of an installation (docs/deploy.md, "Monitoring").

- `/health/live/`: the process answers. Nothing else is asked: a restart would not mend the
  database. For the container's health check and the process supervisor.
- `/health/ready/`: the installation can do its work: the database answers and has every
  migration applied, Redis answers, a Celery worker answers a ping, and no alert is raised
  (`reporting/alerts.py`: counted by kind, never named). JSON with `?format=json` or
  `Accept: application/json`; 500 when a check fails. For monitoring.

Both are answered before any other middleware: a probe carries no session, no CSRF token and
whatever `Host` its network gives it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.exceptions import ServiceUnavailable, ServiceWarning
from health_check.views import HealthCheckView
from kombu.exceptions import KombuError
from redis import Redis as RedisClient
from redis.exceptions import RedisError

LIVE, READY = "/health/live/", "/health/ready/"


# The checks run in threads of an executor: each closes the connections it opened there, so that
# no probe leaves a database session behind.


@dataclasses.dataclass
class DatabaseAnswers(Database):
    """The database answers a query."""

    def run(self) -> None:
        try:
            super().run()
        finally:
            connections.close_all()


@dataclasses.dataclass
class MigrationsApplied(HealthCheck):
    """Every migration of the code running is applied to the database."""

    def run(self) -> None:
        try:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        finally:
            connections.close_all()
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migrations not applied: run bin/release")


@dataclasses.dataclass
class Broker(HealthCheck):
    """Redis, the Celery broker, answers."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=2), repr=False
    )

    def run(self) -> None:
        client = RedisClient.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            client.ping()
        except RedisError as error:
            raise ServiceUnavailable("Redis does not answer") from error
        finally:
            client.close()


@dataclasses.dataclass
class WorkerAnswers(HealthCheck):
    """A Celery worker answers a ping (the first to answer will do)."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=2), repr=False
    )

    def run(self) -> None:
        from config.celery_app import app

        try:
            # A connection of its own: one the pool kept may be from before a Redis restart.
            with app.connection_for_write() as connection:
                answers = app.control.ping(
                    timeout=self.timeout.total_seconds(), limit=1, connection=connection
                )
        except (OSError, RedisError, KombuError) as error:
            raise ServiceUnavailable("the workers cannot be reached") from error
        if not answers:
            raise ServiceUnavailable("no Celery worker answers")


@dataclasses.dataclass
class NoAlerts(HealthCheck):
    """No report failed, none was missed, beat is not silent: how many of each otherwise."""

    def run(self) -> None:
        from consortium.models import Consortium
        from reporting.alerts import alerts

        try:
            found = Counter(alert.kind for alert in alerts(Consortium.objects.all()))
        finally:
            connections.close_all()
        if found:
            raise ServiceWarning(", ".join(f"{kind}: {n}" for kind, n in sorted(found.items())))


class ReadinessView(HealthCheckView):
    checks = (DatabaseAnswers, MigrationsApplied, Broker, WorkerAnswers, NoAlerts)


readiness = async_to_sync(ReadinessView.as_view())


class HealthProbeMiddleware:
    """Answers the probes first in the chain (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        if request.path == LIVE:
            return HttpResponse("ok\n", content_type="text/plain")
        if request.path == READY:
            answer = readiness(request)
            # The page for people is a template response, which only views get rendered.
            if hasattr(answer, "render") and not answer.is_rendered:
                answer.render()
            return answer
        return self.get_response(request)
