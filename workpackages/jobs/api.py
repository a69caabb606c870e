"""Endpoints of the job records (realise, withdraw). Each action calls the same service as the
admin's; the service checks the state under a row lock and refuses with a translated message,
answered as 400.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api.base import WritableViewSet
from consortium.api.fields import NoInputSerializer
from workpackages.jobs.filtersets import JobRecordFilterSet
from workpackages.jobs.models import JobRecord
from workpackages.jobs.serializers import JobRecordSerializer
from workpackages.jobs.services import job_realise, job_withdraw


class JobRecordViewSet(WritableViewSet):
    """Jobs created: declared and kept up to date by the partner's people."""

    queryset = JobRecord.objects.all()
    serializer_class = JobRecordSerializer
    filterset_class = JobRecordFilterSet
    search_fields = ["position_title", "evidence_note"]
    ordering_fields = ["start_date", "fte", "status", "updated_at"]

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def realise(self, request: Request, pk: Any = None) -> Response:
        """A forecast position is filled: it counts as realised from now on."""
        return self.decision(
            NoInputSerializer,
            lambda obj, data: job_realise(job=obj, user=request.user),
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def withdraw(self, request: Request, pk: Any = None) -> Response:
        """Withdraw a job record declared by mistake or abandoned; it stays in the history."""
        return self.decision(
            NoInputSerializer,
            lambda obj, data: job_withdraw(job=obj, user=request.user),
        )
