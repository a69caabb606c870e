"""The consortium's endpoint with its summary: the figures of the dashboards, computed by the
database, for the partners the caller may see.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from consortium.api import views as consortium_views
from consortium.querysets import member_partners, overseen_consortia
from workpackages.overview.selectors import consortium_summary
from workpackages.overview.serializers import SummarySerializer, summary_data


class ConsortiumViewSet(consortium_views.ConsortiumViewSet):
    @extend_schema(responses=SummarySerializer)
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
        return Response(SummarySerializer(summary_data(summary)).data)
