"""Endpoints of the work plan: workpackages, deliverables (submit a version, approve, request
changes) and milestones (achieve). Each action calls the same service as the admin's; the service
checks the state under a row lock and refuses with a translated message, answered as 400.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api.base import ReadOnlyViewSet
from consortium.api.fields import CommentSerializer, RequiredCommentSerializer
from workpackages.workplan.filtersets import (
    DeliverableFilterSet,
    MilestoneFilterSet,
    WorkpackageFilterSet,
)
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
)
from workpackages.workplan.serializers import (
    DeliverableSerializer,
    DeliverableSubmitSerializer,
    MilestoneAchieveSerializer,
    MilestoneSerializer,
    WorkpackageSerializer,
)
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
    milestone_achieve,
)


class WorkpackageViewSet(ReadOnlyViewSet):
    queryset = Workpackage.objects.all()
    serializer_class = WorkpackageSerializer
    filterset_class = WorkpackageFilterSet
    prefetch_related = ("participations",)
    search_fields = ["title", "objectives"]
    ordering_fields = ["number", "start_month", "end_month", "updated_at"]


class DeliverableViewSet(ReadOnlyViewSet):
    queryset = Deliverable.objects.all()
    serializer_class = DeliverableSerializer
    filterset_class = DeliverableFilterSet
    select_related = ("workpackage",)
    # Each with the rows it names, in one query apiece.
    prefetch_related = (
        Prefetch("submissions", DeliverableSubmission.objects.select_related("submitted_by")),
        Prefetch("reviews", DeliverableReview.objects.select_related("reviewer", "submission")),
    )
    search_fields = ["title", "description"]
    ordering_fields = ["due_date", "status", "number", "updated_at"]

    @extend_schema(request={"multipart/form-data": DeliverableSubmitSerializer})
    @action(detail=True, methods=["post"], needs="change", parser_classes=[MultiPartParser])
    def submit(self, request: Request, pk: Any = None) -> Response:
        """Send a new version for review (the lead partner's people or a coordinator). Past the
        due date, `late_justification` is required."""
        return self.decision(
            DeliverableSubmitSerializer,
            lambda obj, data: deliverable_submit(deliverable=obj, user=request.user, **data),
        )

    @extend_schema(request=CommentSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def approve(self, request: Request, pk: Any = None) -> Response:
        """Approve the submitted version (coordinators)."""
        return self.decision(
            CommentSerializer,
            lambda obj, data: deliverable_approve(deliverable=obj, user=request.user, **data),
        )

    @extend_schema(request=RequiredCommentSerializer)
    @action(detail=True, methods=["post"], needs="manage", url_path="request-changes")
    def request_changes(self, request: Request, pk: Any = None) -> Response:
        """Send the submitted version back with what to change (coordinators)."""
        return self.decision(
            RequiredCommentSerializer,
            lambda obj, data: deliverable_request_changes(
                deliverable=obj, user=request.user, **data
            ),
        )


class MilestoneViewSet(ReadOnlyViewSet):
    queryset = Milestone.objects.all()
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilterSet
    prefetch_related = ("workpackages",)
    search_fields = ["title", "means_of_verification"]
    ordering_fields = ["number", "due_date", "status", "updated_at"]

    @extend_schema(request=MilestoneAchieveSerializer)
    @action(detail=True, methods=["post"], needs="manage")
    def achieve(self, request: Request, pk: Any = None) -> Response:
        """Record that the milestone is reached, when, and the evidence (coordinators)."""
        return self.decision(
            MilestoneAchieveSerializer,
            lambda obj, data: milestone_achieve(milestone=obj, user=request.user, **data),
        )
