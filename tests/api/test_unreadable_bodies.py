"""A body the server cannot read whole (nested too deeply, not text in its character set, JSON
cut short, a multipart body without its end, too large, too many fields) is refused on every
endpoint that reads one, signed in or not: a 400 about the request as a whole (`attr` null) in the
request's language, and
nothing changed. Never a server error, and never a body read in part.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import translation

from tests.api.conftest import api_client
from tests.api.openapi import published_schema
from tests.api.test_permissions_matrix import SPECS, World, _snapshot
from tests.assertions import api_errors

pytestmark = pytest.mark.django_db

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

NOT_UTF8 = "The request body is not valid %(charset)s text."
TOO_DEEP = "The request body nests arrays or objects too deeply to be read."
NOT_JSON_AT = (
    "The request body is not valid JSON: the error is at line %(line)s, column %(column)s."
)
BROKEN_MULTIPART = (
    "The multipart request body is incomplete or malformed: send every part, then the closing "
    "boundary."
)

# What is sent, as what, and the message (with its values) it is refused with.
BODIES: dict[str, tuple[str, bytes, str, dict[str, Any]]] = {
    "deep JSON": (JSON, b"[" * 100_000 + b"]" * 100_000, TOO_DEEP, {}),
    "deep JSON objects": (JSON, b'{"comment": ' * 50_000 + b"1" + b"}" * 50_000, TOO_DEEP, {}),
    "JSON cut short": (JSON, b'{"comment": "Clear and', NOT_JSON_AT, {"line": 1, "column": 13}),
    "JSON not UTF-8": (JSON, b'{"comment": "\xff\xfe"}', NOT_UTF8, {"charset": "UTF-8"}),
    "form not UTF-8": (FORM, b"comment=%FF%FE&note=caf%E9", NOT_UTF8, {"charset": "UTF-8"}),
    "form with raw bytes": (FORM, b"comment=\xe9t\xe9", NOT_UTF8, {"charset": "UTF-8"}),
    "multipart cut short": (
        f"{MULTIPART}; boundary=BoUnDaRy",
        b'--BoUnDaRy\r\nContent-Disposition: form-data; name="note"\r\n\r\nFirst vers',
        BROKEN_MULTIPART,
        {},
    ),
    "multipart file cut short": (
        f"{MULTIPART}; boundary=BoUnDaRy",
        b'--BoUnDaRy\r\nContent-Disposition: form-data; name="file"; filename="d1-1.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n",
        BROKEN_MULTIPART,
        {},
    ),
    "multipart without boundary": (MULTIPART, b"note=First version", BROKEN_MULTIPART, {}),
}


def _french(message: str, values: dict[str, Any]) -> str:
    with translation.override("fr"):
        return translation.gettext(message) % values if values else translation.gettext(message)


def _writes() -> list[tuple[str, str, set[str]]]:
    """Every operation that reads a body, with the media types it reads: the one its request body
    documents, or JSON for an action documented without one (it still reads what is sent). The
    token exchange also reads the forms scripts send."""
    schema = published_schema()
    writes = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"post", "put", "patch"}:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            media_types = set(content) or {JSON}
            if path == "/api/v1/auth/token/":
                media_types |= {FORM, MULTIPART}
            writes.append((method.upper(), path, media_types))
    return sorted(writes)


WRITES = _writes()


def test_every_write_is_covered() -> None:
    assert len(WRITES) == 27
    assert ("POST", "/api/v1/auth/token/", {JSON, FORM, MULTIPART}) in WRITES
    assert ("POST", "/api/v1/deliverables/{id}/submit/", {MULTIPART}) in WRITES
    assert ("PUT", "/api/v1/expenses/{id}/evidence/", {MULTIPART}) in WRITES
    assert ("POST", "/api/v1/expenses/", {JSON}) in WRITES


@pytest.mark.parametrize(
    ("method", "template", "media_types"), WRITES, ids=[f"{m} {p}" for m, p, _t in WRITES]
)
def test_an_unreadable_body_is_refused_and_changes_nothing(
    method: str, template: str, media_types: set[str], request: pytest.FixtureRequest
) -> None:
    world = World(request)
    spec = SPECS[(method, template)]
    token = template == "/api/v1/auth/token/"
    # The token endpoint reads its body before anyone is signed in.
    client = api_client(None if token else world.coordinator)
    client.raise_request_exception = False
    target = spec.target(world) if spec.target else None
    path = template.replace("{id}", str(target.pk)) if target is not None else template
    before = _snapshot(target, spec.creates)

    wrong = []
    for name, (content_type, body, message, values) in BODIES.items():
        cache.clear()  # throttle counters
        answer = client.generic(
            method, path, body, content_type=content_type, HTTP_ACCEPT_LANGUAGE="fr"
        )
        if content_type.split(";")[0] not in media_types:
            expected: tuple[int, Any] = (
                415,
                api_errors(answer) if answer.status_code == 415 else None,
            )
        else:
            expected = (400, {"detail": _french(message, values)})
        got = (
            answer.status_code,
            api_errors(answer) if answer.status_code != 500 else "server error",
        )
        if got != expected or answer["Content-Language"] != "fr":
            wrong.append(f"{name}: {got[0]} {str(got[1])[:160]}")
    assert not wrong, f"{method} {path}:\n" + "\n".join(wrong)
    assert _snapshot(target, spec.creates) == before


@pytest.mark.parametrize("depth", [10, 500, 900, 950, 980, 990, 1_000, 1_100, 5_000, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_json_of_any_depth_is_a_400_signed_in_or_not(
    depth: int, kind: str, submitted_expense: Any, coordinator: Any
) -> None:
    opening, closing = (b"[", b"]") if kind == "array" else (b'{"a": ', b"}")
    body = opening * depth + b"1" + closing * depth
    for client, path in [
        (api_client(), "/api/v1/auth/token/"),
        (api_client(coordinator), f"/api/v1/expenses/{submitted_expense.pk}/accept/"),
    ]:
        cache.clear()
        client.raise_request_exception = False
        answer = client.generic("POST", path, body, content_type=JSON)
        assert answer.status_code == 400, (path, answer.status_code, answer.content[:300])
        assert answer["Content-Type"] == JSON
    submitted_expense.refresh_from_db()
    assert (submitted_expense.status, submitted_expense.accepted_amount) == ("submitted", None)


def test_a_body_over_the_size_limit_is_a_400_with_the_limit(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = api_client()
    client.raise_request_exception = False
    body = b'{"username": "' + b"a" * 4096 + b'", "password": "x"}'
    answer = client.generic(
        "POST", "/api/v1/auth/token/", body, content_type=JSON, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert answer.status_code == 400, answer.content[:300]
    assert api_errors(answer) == {
        "detail": "The request body is over 2.0\xa0KB, uploaded files apart."
    }


@pytest.mark.parametrize("content_type", [FORM, f"{MULTIPART}; boundary=BoUnDaRy"])
def test_a_body_with_too_many_fields_is_a_400_with_the_limit(
    settings: Any, content_type: str
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 20
    fields = [(f"field{n}", "1") for n in range(21)]
    if content_type == FORM:
        body = "&".join(f"{name}={value}" for name, value in fields).encode()
    else:
        body = b"".join(
            b'--BoUnDaRy\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (name.encode(), value.encode())
            for name, value in fields
        )
        body += b"--BoUnDaRy--\r\n"
    client = api_client()
    client.raise_request_exception = False
    answer = client.generic(
        "POST", "/api/v1/auth/token/", body, content_type=content_type, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert answer.status_code == 400, answer.content[:300]
    assert api_errors(answer) == {"detail": "The request body has more than 20 fields."}


def test_a_complete_multipart_body_is_still_read(deliverable: Any, partner_member: Any) -> None:
    """The closing boundary counts wherever the body's chunks split it."""
    body = (
        b"--BoUnDaRy\r\n"
        b'Content-Disposition: form-data; name="file"; filename="d1-1.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n"
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n" + b"%" * 70_000 + b"\r\n"
        b"--BoUnDaRy\r\n"
        b'Content-Disposition: form-data; name="late_justification"\r\n\r\n'
        b"The supplier delivered the reagents late.\r\n"
        b"--BoUnDaRy--\r\n"
    )
    answer = api_client(partner_member).generic(
        "POST",
        f"/api/v1/deliverables/{deliverable.pk}/submit/",
        body,
        content_type=f"{MULTIPART}; boundary=BoUnDaRy",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "submitted"
