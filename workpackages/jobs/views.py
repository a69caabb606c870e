"""Partner pages: the jobs the partner creates, against its commitment, and their declaration."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consortium.formtools import add_service_error, flash_service_error
from consortium.portal import (
    choice_labels,
    export_rows,
    partner_rows,
    partner_view,
    querystring_without_page,
)
from consortium.records import editable_refusal, record_create, record_update
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.forms import (
    JobDeclareForm,
    JobForm,
    PartnerJobFilterSet,
    consortium_workpackages,
)
from workpackages.jobs.models import JobRecord
from workpackages.jobs.selectors import partner_jobs
from workpackages.jobs.services import job_realise, job_withdraw

PAGE_SIZE = 50


@partner_view
def index(request: HttpRequest) -> HttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    jobs = partner_rows(request, JobRecord)
    filterset = PartnerJobFilterSet(
        data=request.GET, queryset=jobs.select_related("workpackage"), request=request
    )
    # An invalid filter shows its message and an empty list, never rows it didn't ask for.
    rows = filterset.qs if filterset.is_valid() else jobs.none()
    page_obj = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = querystring_without_page(request)
    return render(
        request,
        "portal/jobs/index.html",
        {
            "section": "jobs",
            "filterset": filterset,
            "page_obj": page_obj,
            "query": query,
            "export_query": query.rstrip("&"),
            "filtered": any(value for key, value in request.GET.items() if key != "page"),
            "commitments": partner_jobs(scope.partner).commitments(),
            "today": timezone.localdate(),
        },
    )


@partner_view
def declare(request: HttpRequest) -> HttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    form = JobDeclareForm(
        request.POST or None,
        instance=JobRecord(partner=scope.partner),
        workpackages=consortium_workpackages(request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = record_create(
                model=JobRecord, user=request.user, partner=scope.partner, **form.cleaned_data
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request, _("The job “%(job)s” is declared.") % {"job": job.position_title}
            )
            return redirect("job-list")
    return render(request, "portal/jobs/form.html", {"section": "jobs", "form": form, "job": None})


@partner_view
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(partner_rows(request, JobRecord, "change"), pk=pk)
    refusal = editable_refusal(job)
    if refusal:
        messages.error(request, refusal)
        return redirect("job-list")
    # The form writes the posted values on its instance; the page keeps showing the saved job.
    form = JobForm(
        request.POST or None,
        instance=copy.copy(job),
        workpackages=consortium_workpackages(request),
    )
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            if changes:
                record_update(instance=job, user=request.user, **changes)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if changes:
                messages.success(
                    request, _("The job “%(job)s” is saved.") % {"job": job.position_title}
                )
            return redirect("job-list")
    return render(request, "portal/jobs/form.html", {"section": "jobs", "form": form, "job": job})


@partner_view
@require_POST
def realise(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(partner_rows(request, JobRecord, "change"), pk=pk)
    try:
        job_realise(job=job, user=request.user)
    except ValidationError as error:
        flash_service_error(request, error)
    else:
        messages.success(
            request,
            _("The job “%(job)s” now counts as realised.") % {"job": job.position_title},
        )
    return redirect("job-list")


@partner_view
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST withdraws."""
    job = get_object_or_404(
        partner_rows(request, JobRecord, "change").select_related("workpackage"), pk=pk
    )
    if request.method != "POST":
        if job.status == JobStatus.WITHDRAWN:
            messages.info(
                request,
                _("The job “%(job)s” has already been withdrawn.") % {"job": job.position_title},
            )
            return redirect("job-list")
        return render(request, "portal/jobs/withdraw.html", {"section": "jobs", "job": job})
    try:
        job_withdraw(job=job, user=request.user)
    except ValidationError as error:
        flash_service_error(request, error)
    else:
        messages.success(
            request,
            _("The job “%(job)s” is withdrawn: it no longer counts.") % {"job": job.position_title},
        )
    return redirect("job-list")


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


JOB_COLUMNS = (*JOB_FIELDS[:-2], "workpackage__number", "evidence_note")


def job_export_row() -> Callable[..., tuple[Any, ...]]:
    """An exported job record's cells from `JOB_COLUMNS`, in the request's language: the
    partner's own export and the coordinators' (which adds the consortium and the partner)."""
    category, contract, impact, status = (
        choice_labels(JobCategory),
        choice_labels(ContractType),
        choice_labels(JobImpact),
        choice_labels(JobStatus),
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

    return row


@partner_view
def job_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    jobs = JobRecord.objects.restrict(request.user, "view").filter(partner=scope.partner)
    return export_rows(
        request,
        fmt,
        filterset=PartnerJobFilterSet(data=request.GET, queryset=jobs, request=request),
        list_name="job-list",
        subject="jobs",
        fields=JOB_FIELDS,
        columns=JOB_COLUMNS,
        row=job_export_row(),
    )


urlpatterns = [
    path("jobs/", index, name="job-list"),
    path("jobs/add/", declare, name="job-add"),
    path("jobs/<int:pk>/edit/", edit, name="job-edit"),
    path("jobs/<int:pk>/realise/", realise, name="job-realise"),
    path("jobs/<int:pk>/withdraw/", withdraw, name="job-withdraw"),
    path("jobs/export.<str:fmt>", job_export, name="job-export"),
]
