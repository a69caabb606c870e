"""The consortium's endpoint with its summary (the figures of the dashboards) and the two
breakdowns the region asks for (budget by partner × workpackage × heading, jobs by partner ×
impact × status × period), computed by the database, for the partners the caller may see.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api import views as consortium_views
from consortium.querysets import member_partners, overseen_consortia
from workpackages.jobs.selectors import jobs_breakdown
from workpackages.money.selectors import budget_breakdown
from workpackages.overview.selectors import consortium_summary
from workpackages.overview.serializers import (
    BudgetBreakdownSerializer,
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
