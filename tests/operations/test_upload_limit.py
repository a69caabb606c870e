"""A request declared larger than any form may send is refused with a 413 before its body is read:
the web process neither receives nor stores the rest, and the proxy's limit is the same."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.assertions import api_errors
from workpackages.models import DeliverableSubmission, Expense
from workpackages.uploads import MAX_REQUEST_BYTES
from workpackages.validators import MAX_UPLOAD_BYTES

ROOT = Path(__file__).resolve().parents[2]
DECLARED = 200 * 1024 * 1024


class CountedBody(io.RawIOBase):
    """A request body that counts what is read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.read_bytes += len(buffer)
        buffer[:] = b"0" * len(buffer)
        return len(buffer)


def _post(path: str, length: int, **headers: str) -> tuple[Any, int]:
    """POST a body declared `length` bytes long, and say how much of it the app read."""
    body = CountedBody()
    response = Client().generic(
        "POST",
        path,
        b"-",
        content_type="multipart/form-data; boundary=BoUnDaRy",
        **{"wsgi.input": body, "CONTENT_LENGTH": str(length)},
        **headers,
    )
    return response, body.read_bytes


@pytest.mark.django_db
def test_a_page_upload_past_the_limit_is_refused_unread() -> None:
    response, read = _post("/deliverables/1/submit/", DECLARED)
    assert response.status_code == 413
    assert read == 0
    assert "larger than 50 MB" in response.content.decode()
    assert not DeliverableSubmission.objects.exists()


@pytest.mark.django_db
def test_an_api_upload_past_the_limit_is_refused_in_json_in_the_sender_s_language() -> None:
    response, read = _post("/api/v1/expenses/", MAX_REQUEST_BYTES + 1, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 413
    assert read == 0
    assert "plus de 50 Mo" in api_errors(response)["detail"]
    assert not Expense.objects.exists()


@pytest.mark.django_db
def test_a_body_within_the_limit_reaches_the_app() -> None:
    """At the limit, the app answers as it would any request (here: who are you?); the forms'
    own size check names a file at fault."""
    response, _read = _post("/api/v1/expenses/", MAX_REQUEST_BYTES)
    assert response.status_code == 401


def test_the_proxy_refuses_the_same_size() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    size = re.search(r"max_size (\d+)MiB", caddyfile)
    assert size is not None
    assert int(size.group(1)) * 1024 * 1024 == MAX_REQUEST_BYTES
    assert MAX_REQUEST_BYTES - MAX_UPLOAD_BYTES == 1024 * 1024


@pytest.mark.django_db(transaction=True)
def test_a_server_answers_before_the_body_is_sent(live_server: Any) -> None:
    """Over a real connection: the server answers the headers alone, without waiting for the
    200 MB they announce."""
    address = urlsplit(live_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(
            (
                "POST /api/v1/expenses/ HTTP/1.1\r\n"
                f"Host: {address.hostname}\r\n"
                "Content-Type: multipart/form-data; boundary=BoUnDaRy\r\n"
                f"Content-Length: {DECLARED}\r\n\r\n"
            ).encode()
        )
        answer = connection.makefile("rb").readline()
    assert answer.startswith(b"HTTP/1.1 413"), answer
