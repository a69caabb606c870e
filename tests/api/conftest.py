"""API clients for the role fixtures, authenticated by token as integrations are, and the world
the API tests share."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from consortium.accounts import api_token_issue

# The world the API tests share (`world.py`), and the smallest PDF the upload checks accept.
from tests.api.world import PDF, _world, _world_media, world  # noqa: F401  (fixtures, and PDF for the tests)


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
