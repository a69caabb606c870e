"""Endpoints of the work plan, the budget, the expenses, the effort and the jobs.

Each action calls the same service as the admin's; the service checks the state under a row lock
and refuses with a translated message, answered as 400.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api import views as consortium_views
from consortium.api.base import ReadOnlyViewSet, WritableViewSet
from consortium.querysets import member_partners, overseen_consortia
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_realise, job_withdraw
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.selectors import budget_lines_with_consumption
from workpackages.money.services import (
    budget_line_cancel,
    expense_accept,
    expense_reject,
    expense_submit,
    expense_withdraw,
)
from workpackages.overview.selectors import consortium_summary
from workpackages.workplan.models import Deliverable, Milestone, Workpackage
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
    milestone_achieve,
)

from .. import filtersets
from . import serializers

FILE_PARSERS = [JSONParser, MultiPartParser, FormParser]


class ConsortiumViewSet(consortium_views.ConsortiumViewSet):
    @extend_schema(responses=serializers.SummarySerializer)
    @action(detail=True, methods=["get"], needs="view", filterset_class=None, pagination_class=None)
    def summary(self, request: Request, pk: Any = None) -> Response:
        """Budget planned / granted / consumed per partner and per workpackage, deliverables by
        status and lateness, milestones, and jobs against the targets, computed by the database."""
        consortium = self.get_object()
        user = request.user
        oversees = (
            user.is_superuser
            or overseen_consortia(user).filter(consortium_id=consortium.pk).exists()
        )
        summary = consortium_summary(
            consortium, partners_only=None if oversees else member_partners(user)
        )
        return Response(serializers.SummarySerializer(serializers.summary_data(summary)).data)


class WorkpackageViewSet(ReadOnlyViewSet):
    queryset = Workpackage.objects.all()
    serializer_class = serializers.WorkpackageSerializer
    filterset_class = filtersets.WorkpackageFilterSet
    prefetch_related = ("participations",)
    search_fields = ["title", "objectives"]
    ordering_fields = ["number", "start_month", "end_month", "updated_at"]


class DeliverableViewSet(ReadOnlyViewSet):
    queryset = Deliverable.objects.all()
    serializer_class = serializers.DeliverableSerializer
    filterset_class = filtersets.DeliverableFilterSet
    select_related = ("workpackage",)
    prefetch_related = (
        "submissions__submitted_by",
        "reviews__reviewer",
        "reviews__submission",
    )
    search_fields = ["title", "description"]
    ordering_fields = ["due_date", "status", "number", "updated_at"]

    @extend_schema(request={"multipart/form-data": serializers.DeliverableSubmitSerializer})
    @action(detail=True, methods=["post"], needs="change", parser_classes=[MultiPartParser])
    def submit(self, request: Request, pk: Any = None) -> Response:
        """Send a new version for review (the lead partner's people or a coordinator). Past the
        due date, `late_justification` is required."""
        return self.decision(
            serializers.DeliverableSubmitSerializer,
            lambda obj, data: deliverable_submit(deliverable=obj, user=request.user, **data),
        )

    @extend_schema(request=serializers.CommentSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def approve(self, request: Request, pk: Any = None) -> Response:
        """Approve the submitted version (coordinators)."""
        return self.decision(
            serializers.CommentSerializer,
            lambda obj, data: deliverable_approve(deliverable=obj, user=request.user, **data),
        )

    @extend_schema(request=serializers.RequiredCommentSerializer)
    @action(detail=True, methods=["post"], needs="manage", url_path="request-changes")
    def request_changes(self, request: Request, pk: Any = None) -> Response:
        """Send the submitted version back with what to change (coordinators)."""
        return self.decision(
            serializers.RequiredCommentSerializer,
            lambda obj, data: deliverable_request_changes(
                deliverable=obj, user=request.user, **data
            ),
        )


class MilestoneViewSet(ReadOnlyViewSet):
    queryset = Milestone.objects.all()
    serializer_class = serializers.MilestoneSerializer
    filterset_class = filtersets.MilestoneFilterSet
    prefetch_related = ("workpackages",)
    search_fields = ["title", "means_of_verification"]
    ordering_fields = ["number", "due_date", "status", "updated_at"]

    @extend_schema(request=serializers.MilestoneAchieveSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def achieve(self, request: Request, pk: Any = None) -> Response:
        """Record that the milestone is reached, when, and the evidence (coordinators)."""
        return self.decision(
            serializers.MilestoneAchieveSerializer,
            lambda obj, data: milestone_achieve(milestone=obj, user=request.user, **data),
        )


class BudgetLineViewSet(WritableViewSet):
    """Budget lines: read by the partner they belong to, written by coordinators."""

    queryset = BudgetLine.objects.all()
    serializer_class = serializers.BudgetLineSerializer
    filterset_class = filtersets.BudgetLineFilterSet
    search_fields = ["workpackage__title", "category__name"]
    ordering_fields = ["planned_amount", "granted_amount", "updated_at"]

    def scope(self) -> Any:
        # The planned budget and the funding rates are the coordinators' decision.
        return "view" if self.action in {"list", "retrieve"} else "manage"

    def get_queryset(self) -> Any:
        return budget_lines_with_consumption(super().get_queryset())

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="manage")
    def cancel(self, request: Request, pk: Any = None) -> Response:
        """Cancel a line without live expenses; it stays in the history (coordinators)."""
        return self.decision(
            serializers.NoInputSerializer,
            lambda obj, data: budget_line_cancel(line=obj, user=request.user),
        )


class ExpenseViewSet(WritableViewSet):
    """Expenses: a partner's people enter drafts and submit them; coordinators decide."""

    queryset = Expense.objects.all()
    serializer_class = serializers.ExpenseSerializer
    filterset_class = filtersets.ExpenseFilterSet
    parser_classes = FILE_PARSERS
    select_related = ("reviewed_by",)
    search_fields = ["description", "invoice_reference"]
    ordering_fields = ["incurred_on", "amount", "status", "submitted_at", "updated_at"]

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def submit(self, request: Request, pk: Any = None) -> Response:
        """Send a draft to the coordinators; it can no longer be edited."""
        return self.decision(
            serializers.NoInputSerializer,
            lambda obj, data: expense_submit(expense=obj, user=request.user),
        )

    @extend_schema(request=serializers.ExpenseAcceptSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def accept(self, request: Request, pk: Any = None) -> Response:
        """Accept a submitted expense, in full or for a lower amount with a comment (coordinators)."""
        return self.decision(
            serializers.ExpenseAcceptSerializer,
            lambda obj, data: expense_accept(expense=obj, user=request.user, **data),
        )

    @extend_schema(request=serializers.RequiredCommentSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def reject(self, request: Request, pk: Any = None) -> Response:
        """Reject a submitted expense with the reason the partner reads (coordinators)."""
        return self.decision(
            serializers.RequiredCommentSerializer,
            lambda obj, data: expense_reject(expense=obj, user=request.user, **data),
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def withdraw(self, request: Request, pk: Any = None) -> Response:
        """Withdraw a draft or submitted expense; it is kept, never deleted."""
        return self.decision(
            serializers.NoInputSerializer,
            lambda obj, data: expense_withdraw(expense=obj, user=request.user),
        )


class EffortViewSet(WritableViewSet):
    """Person-months: planned by coordinators, actuals reported by the partner's people."""

    queryset = Effort.objects.all()
    serializer_class = serializers.EffortSerializer
    filterset_class = filtersets.EffortFilterSet
    ordering_fields = ["period", "updated_at"]


class JobRecordViewSet(WritableViewSet):
    """Jobs created: declared and kept up to date by the partner's people."""

    queryset = JobRecord.objects.all()
    serializer_class = serializers.JobRecordSerializer
    filterset_class = filtersets.JobRecordFilterSet
    search_fields = ["position_title", "evidence_note"]
    ordering_fields = ["start_date", "fte", "status", "updated_at"]

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def realise(self, request: Request, pk: Any = None) -> Response:
        """A forecast position is filled: it counts as realised from now on."""
        return self.decision(
            serializers.NoInputSerializer,
            lambda obj, data: job_realise(job=obj, user=request.user),
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def withdraw(self, request: Request, pk: Any = None) -> Response:
        """Withdraw a job record declared by mistake or abandoned; it stays in the history."""
        return self.decision(
            serializers.NoInputSerializer,
            lambda obj, data: job_withdraw(job=obj, user=request.user),
        )
