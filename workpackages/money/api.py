"""Endpoints of the money: budget lines (cancel), expenses (submit, accept in full or in part,
reject, withdraw) and effort. Each action calls the same service as the admin's; the service checks
the state under a row lock and refuses with a translated message, answered as 400.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api.base import WritableViewSet
from consortium.api.fields import NoInputSerializer, RequiredCommentSerializer
from workpackages.money.filtersets import BudgetLineFilterSet, EffortFilterSet, ExpenseFilterSet
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.selectors import budget_lines_with_consumption
from workpackages.money.serializers import (
    BudgetLineSerializer,
    EffortSerializer,
    ExpenseAcceptSerializer,
    ExpenseEvidenceSerializer,
    ExpenseSerializer,
)
from workpackages.money.services import (
    budget_line_cancel,
    expense_accept,
    expense_reject,
    expense_submit,
    expense_withdraw,
)


class BudgetLineViewSet(WritableViewSet):
    """Budget lines: read by the partner they belong to, written by coordinators."""

    queryset = BudgetLine.objects.all()
    serializer_class = BudgetLineSerializer
    filterset_class = BudgetLineFilterSet
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
            NoInputSerializer,
            lambda obj, data: budget_line_cancel(line=obj, user=request.user),
        )


class ExpenseViewSet(WritableViewSet):
    """Expenses: a partner's people enter drafts and submit them; coordinators decide."""

    queryset = Expense.objects.all()
    serializer_class = ExpenseSerializer
    filterset_class = ExpenseFilterSet
    select_related = ("reviewed_by",)
    search_fields = ["description", "invoice_reference"]
    ordering_fields = ["incurred_on", "amount", "status", "submitted_at", "updated_at"]

    @extend_schema(request=ExpenseEvidenceSerializer, responses=ExpenseSerializer)
    @action(detail=True, methods=["put"], needs="change", parser_classes=[MultiPartParser])
    def evidence(self, request: Request, pk: Any = None) -> Response:
        """Attach or replace a draft's evidence file (the invoice or receipt), as a multipart
        form with one `evidence` part; the same checks as every upload (type, content, size)."""
        expense = self.get_object()
        form = ExpenseEvidenceSerializer(
            expense, data=request.data, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        form.save()
        fresh = self.get_queryset().get(pk=expense.pk)
        return Response(self.get_serializer(fresh).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def submit(self, request: Request, pk: Any = None) -> Response:
        """Send a draft to the coordinators; it can no longer be edited."""
        return self.decision(
            NoInputSerializer,
            lambda obj, data: expense_submit(expense=obj, user=request.user),
        )

    @extend_schema(request=ExpenseAcceptSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def accept(self, request: Request, pk: Any = None) -> Response:
        """Accept a submitted expense, in full or for a lower amount with a comment (coordinators)."""
        return self.decision(
            ExpenseAcceptSerializer,
            lambda obj, data: expense_accept(expense=obj, user=request.user, **data),
        )

    @extend_schema(request=RequiredCommentSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def reject(self, request: Request, pk: Any = None) -> Response:
        """Reject a submitted expense with the reason the partner reads (coordinators)."""
        return self.decision(
            RequiredCommentSerializer,
            lambda obj, data: expense_reject(expense=obj, user=request.user, **data),
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def withdraw(self, request: Request, pk: Any = None) -> Response:
        """Withdraw a draft or submitted expense; it is kept, never deleted."""
        return self.decision(
            NoInputSerializer,
            lambda obj, data: expense_withdraw(expense=obj, user=request.user),
        )


class EffortViewSet(WritableViewSet):
    """Person-months: planned by coordinators, actuals reported by the partner's people."""

    queryset = Effort.objects.all()
    serializer_class = EffortSerializer
    filterset_class = EffortFilterSet
    ordering_fields = ["period", "updated_at"]
