"""Browsing the app as one of the role fixtures, and posting files as a browser names them."""

from __future__ import annotations

from typing import Any

from django.test import Client


def client_for(user: Any) -> Client:
    """A test client signed in as `user`, as if they had logged in through the login page."""
    client = Client()
    client.force_login(user)
    return client


BOUNDARY = "----ConsortiumTestBoundary7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, Any], file_field: str, file_name: str, content: bytes) -> bytes:
    """A form body as a browser sends it, with the file name exactly as given: Django's test
    client would strip the folder from "../evil.pdf" before sending. Post it with
    `content_type=MULTIPART`."""
    parts = [
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
        for name, value in fields.items()
    ]
    parts.append(
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)
