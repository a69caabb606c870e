"""The coordinators' downloads of a whole list of the admin: the expenses and the job records of
every partner of their consortia, as XLSX or CSV.

A link above the list (`templates/admin/export_change_list.html`) carries the list's filters,
search and date drill-down to `<list>/export.<xlsx|csv>`, which rebuilds the same `ChangeList`:
the file holds exactly the rows the list holds, every page of them, among the rows the admin
scopes to the coordinator (`restrict(user, "manage")`). The rows are read in one query and
written by the one formula-safe writer, `consortium/exports.py`. A download writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from consortium.exports import write_csv, write_xlsx
from consortium.portal import CHUNK_SIZE, CONTENT_TYPES, choice_labels
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.money.choices import ExpenseStatus


class ChangelistExport:
    """Mixed into a `ScopedModelAdmin`: the list's rows as a file. A subclass names the file
    (`export_subject`), the columns it reads (`export_columns`), the headers' fields
    (`export_fields`, the model's own names) and turns each row of values into cells
    (`export_row`)."""

    change_list_template = "admin/export_change_list.html"
    export_subject = "export"
    export_fields: Sequence[str] = ()
    export_columns: Sequence[str] = ()

    def export_row(self) -> Callable[..., tuple[Any, ...]]:
        """The function turning one row of `export_columns` into the file's cells; called once
        per download, in the reader's language."""
        raise NotImplementedError

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name  # type: ignore[attr-defined]
        return [
            path(
                "export.<str:fmt>",
                self.admin_site.admin_view(self.export_view),  # type: ignore[attr-defined]
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def export_headers(self) -> list[str]:
        model = self.model  # type: ignore[attr-defined]
        return [
            str(capfirst(model._meta.get_field(name).verbose_name)) for name in self.export_fields
        ]

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
        if fmt not in CONTENT_TYPES:
            raise Http404
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        except IncorrectLookupParameters:
            # Filters the list doesn't know: the list says so, as it does itself.
            info = self.opts.app_label, self.opts.model_name  # type: ignore[attr-defined]
            return redirect(reverse("admin:{}_{}_changelist".format(*info)) + f"?{ERROR_FLAG}=1")
        row = self.export_row()
        values = (
            changelist.get_queryset(request)
            .values_list(*self.export_columns)
            .iterator(chunk_size=CHUNK_SIZE)
        )
        rows: Iterable[Sequence[Any]] = (row(*value) for value in values)
        headers = self.export_headers()
        response: HttpResponse | StreamingHttpResponse
        if fmt == "csv":
            response = StreamingHttpResponse(
                write_csv(rows, headers), content_type=CONTENT_TYPES[fmt]
            )
        else:
            title = str(capfirst(self.opts.verbose_name_plural))  # type: ignore[attr-defined]
            response = HttpResponse(
                write_xlsx(rows, headers, title=title), content_type=CONTENT_TYPES[fmt]
            )
        subject = re.sub(r"[^A-Za-z0-9._-]+", "-", self.export_subject)
        name = f"{subject}_{timezone.localdate().isoformat()}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        # Every partner's money and jobs: no shared cache keeps a copy.
        response["Cache-Control"] = "private, no-store"
        return response


def _partner(number: int, short_name: str) -> str:
    return f"P{number} {short_name}"


class ExpenseExport(ChangelistExport):
    export_subject = "expenses"
    export_fields = (
        "consortium",
        "partner",
        "incurred_on",
        "period",
        "workpackage",
        "category",
        "description",
        "invoice_reference",
        "amount",
        "accepted_amount",
        "status",
    )
    export_columns = (
        "consortium__acronym",
        "partner__number",
        "partner__organisation__short_name",
        "incurred_on",
        "period__number",
        "period__start_date",
        "period__end_date",
        "workpackage__number",
        "category__name",
        "description",
        "invoice_reference",
        "amount",
        "accepted_amount",
        "status",
    )

    def export_row(self) -> Callable[..., tuple[Any, ...]]:
        statuses = choice_labels(ExpenseStatus)
        period_label = _("P%(number)s (%(start)s – %(end)s)")

        def row(
            consortium: str,
            partner: int,
            short_name: str,
            incurred_on: Any,
            period: int,
            start: Any,
            end: Any,
            workpackage: int,
            category: str,
            description: str,
            reference: str,
            amount: Any,
            accepted: Any,
            status: str,
        ) -> tuple[Any, ...]:
            return (
                consortium,
                _partner(partner, short_name),
                incurred_on,
                period_label
                % {
                    "number": period,
                    "start": start.strftime("%m/%Y"),
                    "end": end.strftime("%m/%Y"),
                },
                f"WP{workpackage}",
                category,
                description,
                reference,
                amount,
                accepted,
                statuses.get(status, status),
            )

        return row


class JobRecordExport(ChangelistExport):
    export_subject = "jobs"
    export_fields = (
        "consortium",
        "partner",
        "position_title",
        "category",
        "contract_type",
        "fte",
        "start_date",
        "end_date",
        "impact",
        "status",
        "workpackage",
        "evidence_note",
    )
    export_columns = (
        "consortium__acronym",
        "partner__number",
        "partner__organisation__short_name",
        "position_title",
        "category",
        "contract_type",
        "fte",
        "start_date",
        "end_date",
        "impact",
        "status",
        "workpackage__number",
        "evidence_note",
    )

    def export_row(self) -> Callable[..., tuple[Any, ...]]:
        category, contract, impact, status = (
            choice_labels(JobCategory),
            choice_labels(ContractType),
            choice_labels(JobImpact),
            choice_labels(JobStatus),
        )

        def row(
            consortium: str,
            partner: int,
            short_name: str,
            title: str,
            job_category: str,
            job_contract: str,
            fte: Any,
            start_date: Any,
            end_date: Any,
            job_impact: str,
            job_status: str,
            workpackage: int | None,
            evidence: str,
        ) -> tuple[Any, ...]:
            return (
                consortium,
                _partner(partner, short_name),
                title,
                category.get(job_category, job_category),
                contract.get(job_contract, job_contract),
                fte,
                start_date,
                end_date,
                impact.get(job_impact, job_impact),
                status.get(job_status, job_status),
                f"WP{workpackage}" if workpackage is not None else "",
                evidence,
            )

        return row
