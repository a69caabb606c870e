"""How the report archive reads in the API: each report with its documents, one per language, and
the addresses that serve them to those who may read them (the protected `/media/` files, the
funder's page of the report).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reporting.models import Report, ReportDocument


class ReportDocumentSerializer(serializers.ModelSerializer):
    html = serializers.SerializerMethodField(
        help_text=_(
            "The report as its recipients read it, on the funder's pages (for a signed-in browser)."
        )
    )
    pdf = serializers.FileField(
        read_only=True, help_text=_("The PDF, served to those who may read the report.")
    )
    xlsx = serializers.FileField(
        read_only=True, help_text=_("The spreadsheet, served to those who may read the report.")
    )

    class Meta:
        model = ReportDocument
        fields = ["language", "html", "pdf", "xlsx"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_html(self, document: ReportDocument) -> str:
        path = reverse(
            "funder-report",
            args=[document.report.consortium_id, document.report_id, document.language],
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ReportSerializer(serializers.ModelSerializer):
    """A report of the archive. `released_at` is null while it is its coordinators' draft;
    observers read only the reports sent."""

    documents = ReportDocumentSerializer(many=True, read_only=True)

    class Meta:
        model = Report
        fields = [
            "id",
            "consortium",
            "kind",
            "period_start",
            "period_end",
            "status",
            "generated_at",
            "released_at",
            "sent_at",
            "documents",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
