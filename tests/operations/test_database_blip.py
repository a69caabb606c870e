"""A PostgreSQL restart (or a connection dropped by the server) between two requests: the web
process keeps its connection between requests, checks it before the next request uses it, and
reconnects, instead of answering 500 once per pooled connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client, RequestFactory

from config.settings import base

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pooled_connection() -> Iterator[None]:
    """The connection lives a minute between requests, as in production."""
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = saved


def _get(handler: WSGIHandler, path: str, cookie: str) -> int:
    """A request through the WSGI handler as a server sends it: `request_started` and
    `request_finished` close or keep the connection as they do under gunicorn."""
    environ = RequestFactory()._base_environ(PATH_INFO=path, HTTP_COOKIE=cookie)
    status: list[str] = []
    response = handler(environ, lambda line, headers, *_: status.append(line))
    b"".join(response)
    response.close()
    return int(status[0].split()[0])


def _terminate(pid: int) -> None:
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname="postgres"
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_connection_dropped_by_the_server_costs_no_request(
    pooled_connection: None, coordinator: Any
) -> None:
    assert base.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    client = Client()
    client.force_login(coordinator)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    handler = WSGIHandler()

    assert _get(handler, "/api/v1/consortia/", cookie) == 200
    assert connection.connection is not None  # Kept for the next request.
    pid = connection.connection.info.backend_pid
    _terminate(pid)

    statuses = [_get(handler, "/api/v1/consortia/", cookie) for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert connection.connection.info.backend_pid != pid
