"""The report archive in the API, read-only: the reports a person reads on the funder's pages
and in the admin (`Report.objects.restrict(user, "view")`: coordinators every report of their
consortia, observers those sent, partners' people none), each with its documents.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from consortium.api.base import ReadOnlyViewSet
from consortium.filtersets import IncrementalFilterSet
from reporting.choices import ReportKind
from reporting.models import Report, ReportDocument
from reporting.serializers import ReportSerializer


class ReportFilterSet(IncrementalFilterSet):
    kind = filters.ChoiceFilter(choices=ReportKind.choices, label=_("kind"))

    class Meta:
        model = Report
        fields: list[str] = []


class ReportViewSet(ReadOnlyViewSet):
    """The consortium's report archive: each report with its documents, one per language (the
    report as its recipients read it, its PDF and its spreadsheet). Observers read the reports
    a coordinator sent; coordinators their drafts too."""

    queryset = Report.objects.all()
    serializer_class = ReportSerializer
    filterset_class = ReportFilterSet
    ordering_fields = ["period_end", "kind", "updated_at"]
    # The latest period first, by the report's own columns (the model's goes through its
    # consortium's).
    ordering = ["-period_end", "kind"]

    def get_queryset(self) -> Any:
        # The documents' addresses only: not their HTML and text bodies.
        documents = ReportDocument.objects.only(
            "pk", "report_id", "language", "pdf", "xlsx"
        ).order_by("language")
        return super().get_queryset().prefetch_related(Prefetch("documents", queryset=documents))
