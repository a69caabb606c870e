"""Logs as JSON lines in production: each line of a request carries its id and the signed-in
user's id; errors go to Sentry when SENTRY_DSN is set, otherwise by email to ADMINS."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from django.test import Client

from config.logs import logging_config
from tests.reporting.conftest import settings_module_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """What production's handler writes, into a buffer: its formatter, on the root logger."""
    structured = logging_config(level="INFO", json=True, mail_admins=False)["formatters"]
    options = {key: value for key, value in structured["structured"].items() if key != "()"}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(**options))
    root = logging.getLogger()
    # At production's level (a Celery worker started by an earlier test leaves its own).
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_every_line_of_a_request_names_the_request_and_the_user(
    json_logs: io.StringIO, coordinator: Any
) -> None:
    client = Client()
    client.force_login(coordinator)
    assert client.get("/admin/reporting/report/").status_code == 200
    assert client.get("/admin/reporting/report/").status_code == 200
    lines = _lines(json_logs.getvalue())
    finished = [line for line in lines if line["event"] == "request_finished"]
    assert len(finished) == 2
    assert {line["user_id"] for line in finished} == {coordinator.pk}
    assert len({line["request_id"] for line in finished}) == 2  # One id per request.
    assert all({"timestamp", "level", "logger"} <= set(line) for line in lines)
    assert finished[0]["code"] == 200 and finished[0]["level"] == "info"


def _production(**env: str) -> str:
    """What the production settings configure for errors, in a process of their own."""
    code = (
        "import django, logging, sentry_sdk; django.setup(); "
        "handlers = [type(h).__name__ for h in logging.getLogger().handlers]; "
        "print(sentry_sdk.get_client().is_active(), handlers)"
    )
    answer = subprocess.run(  # noqa: S603  (this interpreter, a fixed snippet)
        [sys.executable, "-c", code],
        cwd=settings_module_root(),
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "k" * 25 + "-production-like-for-this-test",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "ADMINS": "Operations <ops@biowin.example>",
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.strip()


def test_errors_are_emailed_to_the_admins_without_sentry() -> None:
    assert _production() == "False ['StreamHandler', 'AdminEmailHandler']"


def test_errors_go_to_sentry_when_it_is_set() -> None:
    assert _production(SENTRY_DSN="https://public@127.0.0.1:9/1") == "True ['StreamHandler']"


def test_gunicorn_s_own_lines_are_json_too(tmp_path: Any) -> None:
    """The web process as `bin/web` starts it in production: gunicorn's lines (started, a worker
    booted, stopped) are JSON lines like the app's."""
    port = _free_port()
    # Static files as `bin/release` leaves them (none are asked for here).
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    web = subprocess.Popen(  # noqa: S603
        [os.path.join(settings_module_root(), "bin", "web")],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "a-production-like-key-for-this-test-only-" + "x" * 20,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "VAR_DIR": str(tmp_path),
            "WEB_BIND": f"127.0.0.1:{port}",
            "WEB_WORKERS": "1",
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert web.stderr is not None
        for line in web.stderr:
            lines.append(line)
            if "Booting worker" in line or len(lines) > 20:
                break
    finally:
        web.terminate()
        rest, _ = web.communicate(timeout=30)
    lines += rest.splitlines() if rest else []
    events = [json.loads(line) for line in lines if line.strip()]
    assert any(event["event"].startswith("Booting worker") for event in events), lines
    assert any(event["event"].startswith("Starting gunicorn") for event in events), lines
    assert all({"timestamp", "level", "logger"} <= event.keys() for event in events)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
