"""Pagination, ordering and throttling of every list and request of the API.

Kept apart from `base` because DRF imports these classes from its settings while it loads its own
views: this module must not import them.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from redis.exceptions import RedisError
from rest_framework import filters
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=` by any listed field, with the primary key last so that pages never overlap."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> Any:
        ordering = super().get_ordering(request, queryset, view) or list(
            queryset.model._meta.ordering
        )
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            return [*ordering, "pk"]
        return ordering

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """`ordering` documented as what it reads: a comma-separated list of the view's fields,
        each ascending or, with `-`, descending."""
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        fields = [
            name for name in getattr(view, "ordering_fields", None) or [] if name != "__all__"
        ]
        for parameter in parameters:
            if parameter["name"] == self.ordering_param and fields:
                choices = [variant for name in fields for variant in (name, f"-{name}")]
                parameter["schema"] = {
                    "type": "array",
                    "items": {"type": "string", "enum": choices},
                }
                parameter["style"] = "form"
                parameter["explode"] = False
        return parameters


class _LiveRates:
    """Throttle rates read from the settings at each request (DRF binds them at import).

    The counters live in the cache (Redis in production). When it is unreachable, throttling
    opens rather than the API failing: the request is let through, a warning is logged, and the
    cache is not asked again for `CACHE_RETRY_SECONDS`, so that an outage costs no request more
    than one connection timeout. Sign-in throttling (django-axes) keeps its counts in the
    database and holds meanwhile."""

    CACHE_RETRY_SECONDS: ClassVar[float] = 10.0
    cache_down_until: ClassVar[float] = 0.0

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope)  # type: ignore[attr-defined]

    def allow_request(self, request: Request, view: Any) -> bool:
        if time.monotonic() < _LiveRates.cache_down_until:
            return True
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except (RedisError, OSError) as error:
            _LiveRates.cache_down_until = time.monotonic() + self.CACHE_RETRY_SECONDS
            logger.warning(
                "API throttling is off for %s s: its cache is unreachable (%s)",
                self.CACHE_RETRY_SECONDS,
                error,
            )
            return True


class UserThrottle(_LiveRates, UserRateThrottle):
    pass


class AnonThrottle(_LiveRates, AnonRateThrottle):
    pass


class TokenThrottle(_LiveRates, SimpleRateThrottle):
    """Password guessing through the token endpoint: a few tries a minute per address, whoever
    asks (a signed-in caller must not switch the limit off to guess someone else's password)."""

    scope = "auth-token"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
