"""Downloads of the signed-in partner's own expenses and jobs, as XLSX or CSV.

Each export takes the querystring of its list page and applies the same filterset, so that the
file holds exactly the rows the page lists (all pages), in the page's order. Headers and labels
are in the reader's language; the file formats and the neutralisation of formula-like text are
described in `workpackages.exports`. The rows come from one `values_list` query, read through a
cursor: the number of queries doesn't depend on the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from consortium.portal import PortalScope, partner_view
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense

from ..exports import write_csv, write_xlsx
from ..forms.expenses import PartnerExpenseFilterSet
from ..forms.jobs import PartnerJobFilterSet

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Batches read from the database cursor while the file is written.
CHUNK_SIZE = 500


def filename(scope: PortalScope, subject: str, fmt: str) -> str:
    """`PIT-ATMP_P3_expenses_2026-11-27.xlsx`: consortium, partner number, subject, day."""
    acronym = re.sub(r"[^A-Za-z0-9._-]+", "-", scope.consortium.acronym).strip("-") or "export"
    today = timezone.localdate().isoformat()
    return f"{acronym}_P{scope.partner.number}_{subject}_{today}.{fmt}"


def _headers(model: Any, names: Sequence[str]) -> list[str]:
    """Column headers in the reader's language: the fields' own names."""
    return [str(capfirst(model._meta.get_field(name).verbose_name)) for name in names]


def _labels(enum: Any) -> dict[str, str]:
    # Translated now, while the reader's language is active: the CSV is written after the view.
    return {value: str(label) for value, label in enum.choices}


def _respond(
    request: HttpRequest,
    *,
    fmt: str,
    subject: str,
    headers: list[str],
    rows: Iterable[Sequence[Any]],
    title: str,
) -> HttpResponse | StreamingHttpResponse:
    response: HttpResponse | StreamingHttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(write_csv(rows, headers), content_type=CONTENT_TYPES[fmt])
    else:
        response = HttpResponse(
            write_xlsx(rows, headers, title=title), content_type=CONTENT_TYPES[fmt]
        )
    name = filename(request.scope, subject, fmt)  # type: ignore[attr-defined]
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # Partner-private money and jobs: no shared cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response


def _check_format(fmt: str) -> None:
    if fmt not in CONTENT_TYPES:
        raise Http404


def _back_to_list(request: HttpRequest, list_name: str) -> HttpResponse:
    """Invalid filters: back to the list, which shows what is wrong with them."""
    messages.error(request, _("Nothing was exported: correct the filters first."))
    query = request.GET.urlencode()
    return redirect(reverse(list_name) + (f"?{query}" if query else ""))


def _export(
    request: HttpRequest,
    fmt: str,
    *,
    filterset: Any,
    list_name: str,
    subject: str,
    fields: Sequence[str],
    columns: Sequence[str],
    row: Callable[..., tuple[Any, ...]],
) -> HttpResponse | StreamingHttpResponse:
    """The rows of `filterset` as a file: `columns` read in one query, each row of values turned
    into the file's cells by `row`, under the headers of the model's `fields`."""
    _check_format(fmt)
    if not filterset.is_valid():
        return _back_to_list(request, list_name)
    model = filterset.queryset.model
    values = filterset.qs.values_list(*columns).iterator(chunk_size=CHUNK_SIZE)
    return _respond(
        request,
        fmt=fmt,
        subject=subject,
        headers=_headers(model, fields),
        rows=(row(*value) for value in values),
        title=str(capfirst(model._meta.verbose_name_plural)),
    )


EXPENSE_FIELDS = (
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


@partner_view
def expense_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    expenses = Expense.objects.restrict(request.user, "view").filter(partner=scope.partner)
    statuses = _labels(ExpenseStatus)
    period_label = _("P%(number)s (%(start)s – %(end)s)")

    def row(
        incurred_on: Any,
        period: int,
        period_start: Any,
        period_end: Any,
        workpackage: int,
        category: str,
        description: str,
        reference: str,
        amount: Any,
        accepted: Any,
        status: str,
    ) -> tuple[Any, ...]:
        return (
            incurred_on,
            period_label
            % {
                "number": period,
                "start": period_start.strftime("%m/%Y"),
                "end": period_end.strftime("%m/%Y"),
            },
            f"WP{workpackage}",
            category,
            description,
            reference,
            amount,
            accepted,
            statuses.get(status, status),
        )

    return _export(
        request,
        fmt,
        filterset=PartnerExpenseFilterSet(
            data=request.GET, queryset=expenses, request=request, partner=scope.partner
        ),
        list_name="expense-list",
        subject="expenses",
        fields=EXPENSE_FIELDS,
        columns=(
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
        ),
        row=row,
    )


JOB_FIELDS = (
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


@partner_view
def job_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    jobs = JobRecord.objects.restrict(request.user, "view").filter(partner=scope.partner)
    category, contract, impact, status = (
        _labels(JobCategory),
        _labels(ContractType),
        _labels(JobImpact),
        _labels(JobStatus),
    )

    def row(
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
            title,
            category.get(job_category, job_category),
            contract.get(job_contract, job_contract),
            fte,
            start_date,
            end_date,
            impact.get(job_impact, job_impact),
            status.get(job_status, job_status),
            f"WP{workpackage}" if workpackage is not None else None,
            evidence,
        )

    return _export(
        request,
        fmt,
        filterset=PartnerJobFilterSet(data=request.GET, queryset=jobs, request=request),
        list_name="job-list",
        subject="jobs",
        fields=JOB_FIELDS,
        columns=(*JOB_FIELDS[:-2], "workpackage__number", "evidence_note"),
        row=row,
    )


urlpatterns = [
    path("expenses/export.<str:fmt>", expense_export, name="expense-export"),
    path("jobs/export.<str:fmt>", job_export, name="job-export"),
]
