"""The production topology on this machine: gunicorn (two processes unless told otherwise), two
Celery workers and one beat, started by the scripts of `bin/` with the production settings, on a
database of their own in the machine's PostgreSQL, a Redis of their own on another port (which a
drill stops and starts by its process id), and an SMTP server on loopback that keeps every message
it accepts."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import secrets
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import redis
from aiosmtpd.controller import Controller

from tests.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
# The visibility timeout of the drills: a whole worker lost gives its messages back after half a
# minute instead of seven and a half (every other setting is production's).
VISIBILITY_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: every accepted message, parsed, with the client's port of each
    conversation; `hold` keeps conversations waiting before their recipients are accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.hold = threading.Event()
        self.conversations: list[int] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.conversations.append(session.peer[1])
        while self.hold.is_set():
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def received(self) -> list[tuple[str, str]]:
        """(recipient, subject) of every message received."""
        return [(str(m["To"]), " ".join(str(m["Subject"]).split())) for m in self.messages]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tree(self) -> list[int]:
        """This process and its descendants."""
        found, queue = [], [self.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            children = subprocess.run(  # noqa: S603
                ["pgrep", "-P", str(pid)],  # noqa: S607
                capture_output=True,
                text=True,
                check=False,
            )
            queue += [int(child) for child in children.stdout.split()]
        return found

    def kill(self) -> None:
        """SIGKILL to the process and all its descendants at once: nothing hands work back."""
        for pid in self.tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Topology:
    workdir: Path
    # A database of the run's own: two runs on one machine never share one.
    database: str = field(default_factory=lambda: f"cm_drills_{secrets.token_hex(4)}")
    redis_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    smtp: Mailbox = field(default_factory=Mailbox)
    smtp_port: int = 0
    processes: dict[str, Process] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(50))
    # gunicorn's processes (WEB_WORKERS), and any other variable an operator would set, over the
    # values below.
    web_workers: int = 2
    overrides: dict[str, str] = field(default_factory=dict)
    _controller: Controller | None = None
    _counter: int = 0

    # The environment -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Production settings, as an operator's environment file gives them, on loopback."""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": self.secret_key,
            "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{self.database}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "VAR_DIR": str(self.workdir / "var"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: no proxy in front to do HTTPS.
            "PROXY_HANDLES_HTTPS": "true",
            "SECURE_COOKIES": "false",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp_port),
            "EMAIL_TIMEOUT": "10",
            "EMAIL_RETRY_BACKOFF": "2",
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
            "SITE_URL": self.url(""),
            "WEB_BIND": f"127.0.0.1:{self.web_port}",
            "WEB_WORKERS": str(self.web_workers),
            "WORKER_CONCURRENCY": "2",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **self.overrides,
        }

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def manage(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(  # noqa: S603
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(dbname=self.database, autocommit=True, **PG) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    # The pieces ----------------------------------------------------------------------------

    def start(self, name: str, command: list[str]) -> Process:
        self._counter += 1
        log = self.workdir / f"{name}.log"
        popen = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=self.env(),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log)
        self.processes[name] = process
        return process

    def start_smtp(self) -> None:
        self.smtp_port = free_port()
        self._controller = Controller(self.smtp, hostname="127.0.0.1", port=self.smtp_port)
        self._controller.start()

    def start_redis(self) -> Process:
        process = self.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), 20, "the drills' Redis")
        return process

    def prepare_database(self) -> None:
        """A database of the drills' own, released as in production, with the demo in it."""
        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{self.database}"')
        release = subprocess.run(  # noqa: S603
            [str(ROOT / "bin" / "release")],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if release.returncode:
            raise RuntimeError(f"bin/release failed:\n{release.stdout}\n{release.stderr}")
        self.manage("seed_demo", "--force")

    def start_web(self) -> Process:
        process = self.start("web", [str(ROOT / "bin" / "web")])
        wait_for(self.answers, 60, "gunicorn to answer")
        return process

    def answers(self) -> bool:
        import requests

        try:
            return requests.get(self.url("/accounts/login/"), timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self) -> Process:
        name = f"worker-{uuid.uuid4().hex[:6]}"
        process = self.start(name, [str(ROOT / "bin" / "worker")])
        wait_for(lambda: "ready." in process.log_text(), 60, f"{name} to be ready")
        return process

    def start_beat(self, name: str = "beat") -> Process:
        return self.start(name, [str(ROOT / "bin" / "beat")])

    def workers(self) -> list[Process]:
        return [p for name, p in self.processes.items() if name.startswith("worker-") and p.alive()]

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self._controller is not None:
            self._controller.stop()

    def logs(self) -> Iterator[tuple[str, str]]:
        for name, process in self.processes.items():
            yield name, process.log_text()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def owner_of_port(port: int) -> int | None:
    """The process whose TCP socket has `port` as its local port (an SMTP client's end)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(entry.name)
    return None
