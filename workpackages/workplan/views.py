"""Partner pages of the work plan: the consortium's workpackages, deliverables and milestones, and
a deliverable's own page, where its lead partner sends new versions.

The work plan is the whole consortium's: every partner reads every row of it (`restrict(user,
"view")` on the person's consortium). Sending a version is for the lead partner's people only.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from consortium.formtools import add_service_error, flash_service_error
from consortium.portal import consortium_rows, partner_view, querystring_without_page
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus, ReviewDecision
from workpackages.workplan.forms import (
    DelayNoteForm,
    DeliverableSubmitForm,
    PartnerDeliverableFilterSet,
    PartnerMilestoneFilterSet,
    PartnerWorkpackageFilterSet,
)
from workpackages.workplan.models import (
    OPEN_DELIVERABLE,
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
    open_deliverable,
    overdue_deliverable,
)
from workpackages.workplan.services import delay_note_set, deliverable_submit

PAGE_SIZE = 50


def flag(condition: Q) -> ExpressionWrapper:
    """A condition as a true/false column, e.g. whether a row is overdue."""
    return ExpressionWrapper(condition, output_field=BooleanField())


def filtered_page(request: HttpRequest, filterset: Any) -> dict[str, Any]:
    """The context of a filtered, paginated list. An invalid filter shows its message above an
    empty list, never rows it didn't ask for."""
    today = timezone.localdate()
    rows = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    if hasattr(filterset, "overdue_condition"):
        # Marked by the very rule the "overdue" filter applies.
        rows = rows.annotate(is_overdue=flag(filterset.overdue_condition(today)))
    return {
        "filterset": filterset,
        "page_obj": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "query": querystring_without_page(request),
        "filtered": any(value for key, value in request.GET.items() if key != "page"),
        "today": today,
        "section": "workplan",
    }


@partner_view
def index(request: HttpRequest) -> HttpResponse:
    """The workpackages, with counts that lead to the deliverables and milestones."""
    scope = request.scope  # type: ignore[attr-defined]
    today = timezone.localdate()
    takes_part = WorkpackageParticipant.objects.filter(
        workpackage=OuterRef("pk"), partner=scope.partner
    )
    workpackages = (
        consortium_rows(request, Workpackage)
        .select_related("lead_partner__organisation")
        .annotate(takes_part=Exists(takes_part))
        .order_by("number")
    )
    filterset = PartnerWorkpackageFilterSet(
        data=request.GET, queryset=workpackages, request=request
    )
    mine = Q(lead_partner=scope.partner)
    deliverables = consortium_rows(request, Deliverable).aggregate(
        total=Count("pk"),
        overdue=Count("pk", filter=overdue_deliverable(today)),
        mine_open=Count("pk", filter=mine & open_deliverable()),
        mine_overdue=Count("pk", filter=mine & overdue_deliverable(today)),
    )
    pending = Q(status=MilestoneStatus.PENDING)
    milestones = consortium_rows(request, Milestone).aggregate(
        total=Count("pk"),
        pending=Count("pk", filter=pending),
        overdue=Count("pk", filter=pending & Q(due_date__lt=today)),
    )
    context = filtered_page(request, filterset)
    context.update({"tab": "workpackages", "deliverables": deliverables, "milestones": milestones})
    return render(request, "portal/workplan/index.html", context)


@partner_view
def deliverable_list(request: HttpRequest) -> HttpResponse:
    rows = (
        consortium_rows(request, Deliverable)
        .select_related("workpackage", "lead_partner__organisation")
        .order_by("due_date", "workpackage__number", "number")
    )
    filterset = PartnerDeliverableFilterSet(data=request.GET, queryset=rows, request=request)
    context = filtered_page(request, filterset)
    context["tab"] = "deliverables"
    return render(request, "portal/workplan/deliverables.html", context)


@partner_view
def milestone_list(request: HttpRequest) -> HttpResponse:
    rows = (
        consortium_rows(request, Milestone)
        .select_related("lead_partner__organisation")
        .prefetch_related("workpackages")
        .order_by("due_date", "number")
    )
    filterset = PartnerMilestoneFilterSet(data=request.GET, queryset=rows, request=request)
    context = filtered_page(request, filterset)
    context["tab"] = "milestones"
    return render(request, "portal/workplan/milestones.html", context)


@dataclass(frozen=True)
class Event:
    """A line of a deliverable's history: a version sent, or a coordinator's decision on one."""

    when: datetime.datetime
    submission: DeliverableSubmission | None = None
    review: DeliverableReview | None = None

    @property
    def file_name(self) -> str:
        """The version's file name without the storage folders."""
        return os.path.basename(self.submission.file.name) if self.submission else ""


def history(
    submissions: list[DeliverableSubmission], reviews: list[DeliverableReview]
) -> list[Event]:
    """Versions and reviews in one timeline, the latest first."""
    events = [Event(when=s.submitted_at, submission=s) for s in submissions]
    events += [Event(when=r.reviewed_at, review=r) for r in reviews]
    # A decision taken in the same instant as a version comes after it.
    return sorted(events, key=lambda event: (event.when, event.review is not None), reverse=True)


def may_submit(request: HttpRequest, deliverable: Deliverable) -> bool:
    """Whether the person sends versions of this deliverable: they work for its lead partner and
    may change it. Whether its status still allows a version is the service's to say."""
    scope = request.scope  # type: ignore[attr-defined]
    return (
        deliverable.lead_partner_id == scope.partner.pk
        and Deliverable.objects.restrict(request.user, "change")
        .filter(pk=deliverable.pk, lead_partner=scope.partner)
        .exists()
    )


@require_http_methods(["GET", "HEAD", "POST"])
@partner_view
def deliverable_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A deliverable's facts, its versions and reviews, and, for its lead partner while it is
    open, the form that sends a new version."""
    deliverable = get_object_or_404(
        consortium_rows(request, Deliverable).select_related(
            "workpackage", "lead_partner__organisation"
        ),
        pk=pk,
    )
    today = timezone.localdate()
    lead = may_submit(request, deliverable)
    if request.method == "POST" and not lead:
        # They see the deliverable (the page answers them), so it isn't hidden as absent: the
        # sending of versions is what they may not do.
        raise PermissionDenied
    form = None
    if lead and (request.method == "POST" or deliverable.status in OPEN_DELIVERABLE):
        posted = request.method == "POST"
        form = DeliverableSubmitForm(
            request.POST if posted else None,
            request.FILES if posted else None,
            deliverable=deliverable,
            today=today,
        )
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            submission = deliverable_submit(
                deliverable=deliverable, user=request.user, **form.service_arguments()
            )
        except ValidationError as error:
            if deliverable.status in OPEN_DELIVERABLE:
                add_service_error(form, error)
            else:
                # Sent meanwhile (another tab, a colleague): the page says so, without the form.
                flash_service_error(request, error)
                return redirect("deliverable-detail", pk=deliverable.pk)
        else:
            messages.success(
                request,
                _("Version %(version)s of %(code)s was sent to the coordinators for review.")
                % {"version": submission.version, "code": deliverable.code},
            )
            return redirect("deliverable-detail", pk=deliverable.pk)
    submissions = list(deliverable.submissions.select_related("submitted_by"))
    reviews = list(deliverable.reviews.select_related("reviewer", "submission"))
    # What the coordinators asked for, shown first while the partner has it to do.
    changes_requested = (
        next((r for r in reviews if r.decision == ReviewDecision.CHANGES_REQUESTED), None)
        if deliverable.status == DeliverableStatus.CHANGES_REQUESTED
        else None
    )
    return render(
        request,
        "portal/workplan/deliverable.html",
        {
            "section": "workplan",
            "deliverable": deliverable,
            "today": today,
            "days_late": deliverable.days_late(today),
            "overdue": deliverable.status in OPEN_DELIVERABLE and deliverable.due_date < today,
            "events": history(submissions, reviews),
            "changes_requested": changes_requested,
            "is_lead": deliverable.lead_partner_id == request.scope.partner.pk,  # type: ignore[attr-defined]
            "form": form,
        },
    )


def _delay_note(request: HttpRequest, item: Deliverable | Milestone, back: str) -> HttpResponse:
    """The delay note of an overdue deliverable or milestone: when it is now expected and why,
    set by its lead partner's people through `delay_note_set`, which says what is refused."""
    scope = request.scope  # type: ignore[attr-defined]
    if item.lead_partner_id != scope.partner.pk:
        # They see the item (the page answers them): noting its delay is its lead's.
        raise PermissionDenied
    posted = request.method == "POST"
    form = DelayNoteForm(
        request.POST if posted else None,
        initial={"expected_on": item.expected_on, "reason": item.delay_reason},
    )
    if posted and form.is_valid():
        try:
            delay_note_set(item=item, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("The delay note of %(code)s is saved: now expected on %(day)s.")
                % {"code": item.code, "day": form.cleaned_data["expected_on"].isoformat()},
            )
            return redirect(back)
    return render(
        request,
        "portal/workplan/delay_note.html",
        {
            "section": "workplan",
            "item": item,
            "today": timezone.localdate(),
            "form": form,
            "back": back,
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@partner_view
def deliverable_delay(request: HttpRequest, pk: int) -> HttpResponse:
    deliverable = get_object_or_404(
        consortium_rows(request, Deliverable).select_related("workpackage"), pk=pk
    )
    return _delay_note(request, deliverable, reverse("deliverable-detail", args=[pk]))


@require_http_methods(["GET", "HEAD", "POST"])
@partner_view
def milestone_delay(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = get_object_or_404(consortium_rows(request, Milestone), pk=pk)
    return _delay_note(request, milestone, reverse("workplan-milestones"))


urlpatterns = [
    path("workplan/", index, name="workplan"),
    path("workplan/deliverables/", deliverable_list, name="workplan-deliverables"),
    path("workplan/milestones/", milestone_list, name="workplan-milestones"),
    path("deliverables/<int:pk>/", deliverable_detail, name="deliverable-detail"),
    path("deliverables/<int:pk>/delay/", deliverable_delay, name="deliverable-delay"),
    path("workplan/milestones/<int:pk>/delay/", milestone_delay, name="milestone-delay"),
]
