"""Pagination, ordering and throttling of every list and request of the API.

Kept apart from `base` because DRF imports these classes from its settings while it loads its own
views: this module must not import them.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any, ClassVar

from django.core import signing
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError
from rest_framework import exceptions, filters
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework.utils.urls import replace_query_param

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# The column every list of consortium rows is synchronised by, and the filter that starts a sync.
SYNC_FIELD = "updated_at"
SYNC_PARAMETER = "updated_since"


def sync_order(view: Any) -> tuple[str, str] | None:
    """The column a list is synchronised by and the query parameter that starts a sync: the
    view's own `sync_by`, else `updated_at` and `updated_since` for every list whose filters read
    `updated_since`; None for a list that is not synchronised (a person's own tokens)."""
    declared: tuple[str, str] | None = getattr(view, "sync_by", None)
    if declared is not None:
        return declared
    filterset = getattr(view, "filterset_class", None)
    if filterset is not None and SYNC_PARAMETER in filterset.base_filters:
        return SYNC_FIELD, SYNC_PARAMETER
    return None


class Pagination(PageNumberPagination):
    """Page numbers for reading a list; a keyset cursor for synchronising it.

    A list read with its sync parameter (`updated_since`) or with a `cursor` is ordered by
    (`updated_at`, id) and paged forward from the last row handed out: `next` carries a `cursor`
    naming that row's `updated_at` and id, and the next page holds the rows after it. A row that
    changes while a client pages through moves behind the cursor and comes again later with its
    change; no row is skipped, none is handed out twice in one state, whatever is written between
    two pages (page numbers would shift under such writes). The cursor is signed for the list
    that handed it out: any other value is a 400, and so are `page` and `ordering` beside it.
    The answer keeps the shape of a page: `count` (the rows the filters match), `next`,
    `previous` (always null: forward only), `results`.

    A view that is only ever synchronised (`sync_only`, the deletions' feed) takes no page
    number at all.
    """

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 200
    cursor_query_param = "cursor"
    cursor_query_description = _(
        "Where the previous page of a synchronisation ended: the `cursor` of its `next` link, as "
        "is. Pages forward through the rows in the order they changed, then by id."
    )
    # While synchronising, the rows of the current page and the cursor after its last one.
    sync_rows: list[Any] | None = None
    sync_next: str | None = None
    sync_count = 0
    sync_url = ""

    def query_parameters(self, view: Any) -> list[str]:
        """The query parameters the pagination of `view` reads."""
        names = [self.page_size_query_param or ""]
        if not getattr(view, "sync_only", False):
            names.insert(0, self.page_query_param)
        if sync_order(view) is not None:
            names.append(self.cursor_query_param)
        return [name for name in names if name]

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        self.sync_rows = None
        order = sync_order(view)
        cursor = request.query_params.get(self.cursor_query_param, "")
        if order is None or not (cursor or request.query_params.get(order[1])):
            return super().paginate_queryset(queryset, request, view)
        field, parameter = order
        for refused in (self.page_query_param, api_settings.ORDERING_PARAM):
            if refused in request.query_params:
                message = _(
                    "%(refused)s does not go with %(parameter)s or %(cursor)s: a "
                    "synchronisation pages by cursor, in the order the rows changed."
                ) % {"refused": refused, "parameter": parameter, "cursor": self.cursor_query_param}
                raise exceptions.ValidationError({refused: [message]})
        self.sync_count = queryset.count()
        self.sync_url = request.build_absolute_uri()
        rows = queryset.order_by(field, "pk")
        if cursor:
            moment, pk = self._read_cursor(request, cursor, parameter)
            rows = rows.filter(Q(**{f"{field}__gt": moment}) | Q(**{field: moment, "pk__gt": pk}))
        page_size = self.get_page_size(request) or PAGE_SIZE
        page = list(rows[: page_size + 1])
        self.sync_rows = page[:page_size]
        self.sync_next = None
        if len(page) > page_size:
            last = self.sync_rows[-1]
            self.sync_next = self._cursor_signer(request).sign_object(
                [getattr(last, field).isoformat(), last.pk]
            )
        return self.sync_rows

    def _cursor_signer(self, request: Request) -> signing.Signer:
        # Signed for this list: a cursor of another list, or one made up, is refused.
        return signing.Signer(salt=f"consortium.api.cursor:{request.path}")

    def _read_cursor(
        self, request: Request, cursor: str, parameter: str
    ) -> tuple[datetime.datetime, int]:
        try:
            moment, pk = self._cursor_signer(request).unsign_object(cursor)
            return datetime.datetime.fromisoformat(moment), int(pk)
        except (signing.BadSignature, TypeError, ValueError):
            message = _(
                "This is not a cursor this list handed out: follow the `next` link of its "
                "previous page, or start again with %(parameter)s."
            ) % {"parameter": parameter}
            raise exceptions.ValidationError({self.cursor_query_param: [message]}) from None

    def get_paginated_response(self, data: Any) -> Response:
        if self.sync_rows is None:
            return super().get_paginated_response(data)
        next_link = None
        if self.sync_next is not None:
            next_link = replace_query_param(self.sync_url, self.cursor_query_param, self.sync_next)
        return Response(
            {"count": self.sync_count, "next": next_link, "previous": None, "results": data}
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        reads = self.query_parameters(view)
        parameters: list[dict[str, Any]] = [
            parameter
            for parameter in super().get_schema_operation_parameters(view)
            if parameter["name"] in reads
        ]
        if self.cursor_query_param in reads:
            parameters.append(
                {
                    "name": self.cursor_query_param,
                    "required": False,
                    "in": "query",
                    "description": str(self.cursor_query_description),
                    "schema": {"type": "string"},
                }
            )
        return parameters


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
