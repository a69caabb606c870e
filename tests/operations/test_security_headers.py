"""Every page carries a Content Security Policy without inline scripts and a Permissions-Policy;
what is someone's own (a signed-in page, an API answer, an uploaded file) is never cached."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import api_client

pytestmark = pytest.mark.django_db


def _directives(answer: Any) -> dict[str, list[str]]:
    policy = answer["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def test_pages_allow_scripts_from_this_site_only(coordinator: Any) -> None:
    client = Client()
    client.force_login(coordinator)
    for path in ("/", "/admin/", "/accounts/login/"):
        directives = _directives(client.get(path))
        assert directives["script-src"] == ["'self'"], path
        assert directives["default-src"] == ["'self'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["object-src"] == ["'none'"]


def test_no_page_may_use_the_camera_the_microphone_or_the_location() -> None:
    policy = Client().get("/accounts/login/")["Permissions-Policy"]
    assert {"camera=()", "microphone=()", "geolocation=()"} <= set(policy.split(", "))


def test_a_signed_in_page_an_api_answer_and_a_file_are_never_cached(
    coordinator: Any, partner_member: Any
) -> None:
    client = Client()
    client.force_login(coordinator)
    answers = [
        client.get("/admin/"),
        api_client(partner_member).get("/api/v1/consortia/"),
        client.get("/media/evidence/none.pdf"),
    ]
    for answer in answers:
        directives = {part.strip() for part in answer["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives, answer.wsgi_request.path
