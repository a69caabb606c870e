"""The consortium's endpoint with its summary (the figures of the dashboards) and the two
breakdowns the region asks for (budget by partner × workpackage × heading, jobs by partner ×
impact × status × period), computed by the database, for the partners the caller may see; and
the rows deleted since a moment (`/changes/`), for integrations that keep a copy.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api import views as consortium_views
from consortium.api.base import ScopedViewSet
from consortium.filtersets import UtcIsoDateTimeFilter
from consortium.querysets import member_partners, overseen_consortia
from workpackages.jobs.selectors import jobs_breakdown
from workpackages.money.selectors import budget_breakdown
from workpackages.overview.changes import Tombstone
from workpackages.overview.selectors import consortium_summary
from workpackages.overview.serializers import (
    BudgetBreakdownSerializer,
    ChangeSerializer,
    JobsBreakdownSerializer,
    SummarySerializer,
    summary_data,
)


class ConsortiumViewSet(consortium_views.ConsortiumViewSet):
    def _partners_only(self, consortium: Any) -> Any:
        """None for those who oversee the consortium (its coordinators and observers), else the
        partners the person works for: theirs is the only money and jobs they read."""
        user = self.request.user
        oversees = (
            user.is_superuser
            or overseen_consortia(user).filter(consortium_id=consortium.pk).exists()
        )
        return None if oversees else member_partners(user)

    @extend_schema(responses=SummarySerializer)
    @action(detail=True, methods=["get"], needs="view", filterset_class=None, pagination_class=None)
    def summary(self, request: Request, pk: Any = None) -> Response:
        """Budget planned / granted / consumed per partner and per workpackage, deliverables by
        status and lateness, milestones, and jobs against the targets, computed by the database."""
        consortium = self.get_object()
        summary = consortium_summary(consortium, partners_only=self._partners_only(consortium))
        return Response(SummarySerializer(summary_data(summary)).data)

    @extend_schema(responses=BudgetBreakdownSerializer)
    @action(
        detail=True,
        methods=["get"],
        needs="view",
        filterset_class=None,
        pagination_class=None,
        url_path="budget-breakdown",
    )
    def budget_breakdown(self, request: Request, pk: Any = None) -> Response:
        """The budget by partner × workpackage × cost heading, planned, granted and consumed, in
        one request (the summary's figures, line by line)."""
        consortium = self.get_object()
        partners_only = self._partners_only(consortium)
        data = {
            "consortium": consortium,
            "as_of": timezone.now(),
            "scope": "consortium" if partners_only is None else "partner",
            "rows": budget_breakdown(consortium.pk, partners_only),
        }
        return Response(BudgetBreakdownSerializer(data).data)

    @extend_schema(responses=JobsBreakdownSerializer)
    @action(
        detail=True,
        methods=["get"],
        needs="view",
        filterset_class=None,
        pagination_class=None,
        url_path="jobs-breakdown",
    )
    def jobs_breakdown(self, request: Request, pk: Any = None) -> Response:
        """Jobs by partner × direct/indirect × status × reporting period (of their start date),
        headcount and FTE, in one request."""
        consortium = self.get_object()
        partners_only = self._partners_only(consortium)
        data = {
            "consortium": consortium,
            "as_of": timezone.now(),
            "scope": "consortium" if partners_only is None else "partner",
            "rows": jobs_breakdown(consortium.pk, partners_only),
        }
        return Response(JobsBreakdownSerializer(data).data)


class ChangeFilterSet(filters.FilterSet):
    since = UtcIsoDateTimeFilter(
        field_name="deleted_at",
        lookup_expr="gte",
        required=True,
        label=_("deleted at or after (ISO 8601 date and time, with its offset)"),
    )

    class Meta:
        model = Tombstone
        fields: list[str] = []


class ChangesViewSet(mixins.ListModelMixin, ScopedViewSet):
    """The rows deleted from the API's lists at or after `since`, oldest first, each with its
    list's name, its id and when it went: what an integration drops from its copy. Paged by
    cursor like a synchronisation of any list (by deletion time, then id); a row one could not
    read is not told either."""

    queryset = Tombstone.objects.all()
    serializer_class = ChangeSerializer
    filterset_class = ChangeFilterSet
    ordering_fields: list[str] = []
    # Always a synchronisation: by deletion time, started by `since`, never by page number.
    sync_by = ("deleted_at", "since")
    sync_only = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # In the order of deletion only: no `?ordering=` (the shared base gives every list one).
        self.filter_backends = [DjangoFilterBackend]
