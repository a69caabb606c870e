"""The funder's pages: the region's observers (and the consortium's coordinators) read each
consortium they oversee, server-rendered like the partner pages and without a script.

`/funder/` lists the consortia a person oversees (one: straight to it); `/funder/<id>/` is a
consortium's overview as of today, or as of the end of an ended reporting period the reader picks
(`?period=<id>`: the costs of the periods ended by then, jobs and deliverables by their dates,
time elapsed at that day): budget planned, granted and consumed against time elapsed per
partner and per workpackage, deliverables and milestones, and jobs against the targets. A
consortium the person does not oversee is a 404. The figures are the dashboard's, computed by the
database (`consortium_summary`): accepted costs only, so a partner's draft counts nowhere."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_safe

from consortium.models import Consortium, ReportingPeriod
from workpackages.overview.selectors import consortium_summary
from workpackages.workplan.choices import MilestoneStatus


def overseen(user: Any) -> QuerySet[Consortium]:
    """The consortia whose funder pages the person reads, by acronym."""
    return Consortium.objects.overseen_by(user).order_by("acronym")


@require_safe
@login_required
def funder_index(request: HttpRequest) -> HttpResponse:
    consortia = list(overseen(request.user))
    if len(consortia) == 1:
        return redirect("funder-overview", pk=consortia[0].pk)
    return render(
        request,
        "portal/funder/index.html",
        {"consortia": consortia},
        status=200 if consortia else 404,
    )


def ended_periods(consortium: Consortium) -> list[ReportingPeriod]:
    """The consortium's reporting periods ended by today, the latest first: those whose end a
    reader may pick."""
    return list(
        ReportingPeriod.objects.filter(
            consortium_id=consortium.pk, end_date__lt=timezone.localdate()
        ).order_by("-end_date")
    )


@require_safe
@login_required
def funder_overview(request: HttpRequest, pk: int) -> HttpResponse:
    consortium = get_object_or_404(overseen(request.user), pk=pk)
    periods = ended_periods(consortium)
    chosen = request.GET.get("period", "")
    period = None
    if chosen:
        # A period that is not one of this consortium's ended ones is as absent as any other row.
        period = next((p for p in periods if str(p.pk) == chosen), None)
        if period is None:
            raise Http404
    summary = consortium_summary(consortium, until=period.end_date if period else None)
    board = summary.dashboard
    milestones = [
        (label, summary.milestones_by_status.get(value, 0))
        for value, label in MilestoneStatus.choices
    ]
    return render(
        request,
        "portal/funder/overview.html",
        {
            "consortium": consortium,
            "summary": summary,
            "board": board,
            "milestones": milestones,
            "several": overseen(request.user).count() > 1,
            "periods": periods,
            "period": period,
        },
    )


urlpatterns = [
    path("funder/", funder_index, name="funder"),
    path("funder/<int:pk>/", funder_overview, name="funder-overview"),
]
