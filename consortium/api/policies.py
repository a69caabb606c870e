"""Pagination, ordering and throttling of every list and request of the API.

Kept apart from `base` because DRF imports these classes from its settings while it loads its own
views: this module must not import them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import filters
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


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


class _LiveRates:
    """Throttle rates read from the settings at each request (DRF binds them at import)."""

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope)  # type: ignore[attr-defined]


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
