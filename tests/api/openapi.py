"""The OpenAPI document the API publishes, as the tests read it."""

from __future__ import annotations

import copy
import functools
from typing import Any

from drf_spectacular.generators import SchemaGenerator


@functools.cache
def _generated() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def published_schema() -> dict[str, Any]:
    """The schema `/api/v1/schema/` serves, generated once per test process (a quarter of a
    second each time): a copy each caller may change."""
    return copy.deepcopy(_generated())
