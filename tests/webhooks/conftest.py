"""A real webhook receiver on the loopback, and the Celery queue and workers of the report tests.

The receiver is a `ThreadingHTTPServer` on 127.0.0.1 at a port the system picks, in a thread of
the test process. It records every request as it arrives (before answering), answers each with
the status a test scripted for it (200 by default), can hold requests until the test releases
them, and acts on each event once (`processed`): a second request with the same `Webhook-Id` is
answered 200 and recorded, not acted on again, as a careful receiver does.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consortium.webhooks import webhook_subscribe
from tests.reporting.conftest import celery_queue, celery_worker

__all__ = ["Receiver", "celery_queue", "celery_worker", "receiver", "subscribed"]

HOLD_AT_MOST = 30  # seconds a held request waits for the test to release it


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers.get("Webhook-Id", "")

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """What the server does with each request; the test reads and steers it."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        # Statuses of the next answers, in order; 200 once they are used up.
        self.script: list[int] = []
        self.redirect_to = ""
        self.hold = threading.Event()
        self.holding = threading.Event()
        # Seconds between the bytes of an answer sent a byte at a time; 0: at once.
        self.drip = 0.0
        # The event id of every request answered 2xx, a repeated one included.
        self.successes: list[str] = []
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/erp"

    def arrived(self, event_id: str) -> list[Received]:
        return [request for request in self.requests if request.event_id == event_id]

    def answer(self, request: Received) -> int:
        """Record the request and choose its answer's status."""
        with self._lock:
            self.requests.append(request)
            status = self.script.pop(0) if self.script else 200
        if self.hold.is_set():
            self.holding.set()
            released = threading.Event()
            for _ in range(HOLD_AT_MOST * 20):
                if not self.hold.is_set():
                    break
                released.wait(0.05)
        if 200 <= status < 300:
            with self._lock:
                self.successes.append(request.event_id)
        return status

    @property
    def processed(self) -> list[str]:
        """The events the receiver acted on: each once, however many times it came."""
        return list(dict.fromkeys(self.successes))


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if receiver.drip:
                # A receiver that never finishes its answer: a byte now and then, for a while.
                with contextlib.suppress(OSError):
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(receiver.drip)
                self.close_connection = True
                return
            request = Received(path=self.path, headers=dict(self.headers.items()), body=body)
            status = receiver.answer(request)
            answer = b'{"received": true}' if status < 400 else b"boom: the ERP is down"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.redirect_to)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender killed mid-request leaves a broken connection: nothing to report.
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = QuietServer(("127.0.0.1", 0), _handler(receiver))
    receiver.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.hold.clear()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def subscribed(consortium: Any, coordinator: Any, receiver: Receiver) -> Any:
    """The receiver, subscribed by the consortium's coordinator to every event."""
    return webhook_subscribe(
        consortium=consortium,
        url=receiver.url,
        events=["expense.accepted", "expense.rejected", "job.realised", "milestone.achieved"],
        description="Finance office ERP",
        user=coordinator,
    )
