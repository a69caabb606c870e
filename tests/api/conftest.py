"""API clients for the role fixtures, authenticated by token as integrations are."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from consortium.services import api_token_issue


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Any:
    # Throttle counters live in the cache: each test starts with none.
    cache.clear()
    yield
    cache.clear()


def api_client(user: Any = None) -> APIClient:
    """A client sending `Authorization: Token <key>` for `user`; anonymous without one."""
    client = APIClient()
    if user is not None:
        token = api_token_issue(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
