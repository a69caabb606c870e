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
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst

from consortium.exports import write_csv, xlsx_file
from consortium.portal import CHUNK_SIZE, CONTENT_TYPES
from workpackages.jobs.views import JOB_COLUMNS, JOB_FIELDS, job_export_row
from workpackages.money.views import EXPENSE_COLUMNS, EXPENSE_FIELDS, expense_export_row


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
            response = FileResponse(
                xlsx_file(rows, headers, title=title), content_type=CONTENT_TYPES[fmt]
            )
        subject = re.sub(r"[^A-Za-z0-9._-]+", "-", self.export_subject)
        name = f"{subject}_{timezone.localdate().isoformat()}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        # Every partner's money and jobs: no shared cache keeps a copy.
        response["Cache-Control"] = "private, no-store"
        return response


# The coordinators' files are the partners' own, each row led by its consortium and partner.
PREFIX_FIELDS = ("consortium", "partner")
PREFIX_COLUMNS = ("consortium__acronym", "partner__number", "partner__organisation__short_name")


def _with_partner(row: Callable[..., tuple[Any, ...]]) -> Callable[..., tuple[Any, ...]]:
    def prefixed(consortium: str, number: int, short_name: str, *rest: Any) -> tuple[Any, ...]:
        return (consortium, f"P{number} {short_name}", *row(*rest))

    return prefixed


class ExpenseExport(ChangelistExport):
    export_subject = "expenses"
    export_fields = (*PREFIX_FIELDS, *EXPENSE_FIELDS)
    export_columns = (*PREFIX_COLUMNS, *EXPENSE_COLUMNS)

    def export_row(self) -> Callable[..., tuple[Any, ...]]:
        return _with_partner(expense_export_row())


class JobRecordExport(ChangelistExport):
    export_subject = "jobs"
    export_fields = (*PREFIX_FIELDS, *JOB_FIELDS)
    export_columns = (*PREFIX_COLUMNS, *JOB_COLUMNS)

    def export_row(self) -> Callable[..., tuple[Any, ...]]:
        return _with_partner(job_export_row())
