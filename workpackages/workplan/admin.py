"""The coordinators' admin for the work plan: workpackages with their participants, deliverables
and their reviews, milestones.

Decisions (approve, request changes, start, achieve, miss) are admin actions that call the
services, one object at a time, and report per object what was done or why it was refused.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from consortium.adminkit import CommentForm, badge, service_action, status_badge
from consortium.permissions import (
    ReadOnlyTabularInline,
    ScopedModelAdmin,
    ScopedTabularInline,
)
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus
from workpackages.workplan.forms import MilestoneAchieveForm, MilestoneMissForm
from workpackages.workplan.models import (
    DELIVERED,
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
    overdue_deliverable,
)
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_start,
    milestone_achieve,
    milestone_miss,
)

STATUS_TONES = {
    DeliverableStatus.PLANNED: "grey",
    DeliverableStatus.IN_PROGRESS: "blue",
    DeliverableStatus.SUBMITTED: "amber",
    DeliverableStatus.CHANGES_REQUESTED: "red",
    DeliverableStatus.APPROVED: "green",
    MilestoneStatus.PENDING: "grey",
    MilestoneStatus.ACHIEVED: "green",
    MilestoneStatus.MISSED: "red",
}


class ParticipantInline(ScopedTabularInline):
    model = WorkpackageParticipant
    fields = ["partner", "planned_person_months"]
    autocomplete_fields = ["partner"]
    show_change_link = False


class DeliverableInline(ScopedTabularInline):
    model = Deliverable
    fields = ["number", "title", "lead_partner", "type", "dissemination", "due_month", "status"]
    readonly_fields = ["status"]
    autocomplete_fields = ["lead_partner"]


class MilestoneLinkInline(ReadOnlyTabularInline):
    """The WP's milestones, for reading: links are edited on the milestone, where they are
    recorded in its history."""

    model = Milestone.workpackages.through
    verbose_name = _("milestone")
    verbose_name_plural = _("milestones")
    fields = ["milestone"]
    readonly_fields = ["milestone"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return Milestone.workpackages.through.objects.filter(
            milestone__in=Milestone.objects.restrict(request.user, "manage")
        ).select_related("milestone")


class OverdueFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", gettext("Overdue")), ("soon", gettext("Due in the next 30 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.overdue(today)  # type: ignore[attr-defined]
        if self.value() == "soon":
            return queryset.due_soon(today)  # type: ignore[attr-defined]
        return queryset


@admin.register(Workpackage)
class WorkpackageAdmin(ScopedModelAdmin):
    list_display = [
        "code",
        "title",
        "lead_partner",
        "start_month",
        "end_month",
        "n_participants",
        "n_deliverables",
        "n_late",
    ]
    list_display_links = ["code", "title"]
    list_filter = ["consortium"]
    search_fields = ["title", "objectives"]
    autocomplete_fields = ["lead_partner"]
    list_select_related = ["lead_partner__organisation"]
    inlines = [ParticipantInline, DeliverableInline, MilestoneLinkInline]
    fields = [
        "consortium",
        "number",
        "title",
        "objectives",
        "lead_partner",
        "start_month",
        "end_month",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workpackage]:
        today = timezone.localdate()
        return (
            super()
            .get_queryset(request)
            .annotate(
                participants_count=Count("participations", distinct=True),
                deliverables_count=Count("deliverables", distinct=True),
                late_count=Count(
                    "deliverables",
                    filter=overdue_deliverable(today, prefix="deliverables__"),
                    distinct=True,
                ),
            )
            .order_by("consortium", "number")
        )

    @admin.display(description=_("WP"), ordering="number")
    def code(self, obj: Workpackage) -> str:
        return obj.code

    @admin.display(description=_("partners"), ordering="participants_count")
    def n_participants(self, obj: Any) -> int:
        return obj.participants_count

    @admin.display(description=_("deliverables"), ordering="deliverables_count")
    def n_deliverables(self, obj: Any) -> int:
        return obj.deliverables_count

    @admin.display(description=_("overdue"), ordering="late_count")
    def n_late(self, obj: Any) -> str:
        return badge(str(obj.late_count), "red") if obj.late_count else "0"


class SubmissionInline(ReadOnlyTabularInline):
    model = DeliverableSubmission
    fields = ("version", "file", "note", "submitted_by", "submitted_at")
    readonly_fields = fields
    show_change_link = False


class ReviewInline(ReadOnlyTabularInline):
    model = DeliverableReview
    fields = ("decision", "comment", "reviewer", "reviewed_at")
    readonly_fields = fields
    show_change_link = False


@admin.register(Deliverable)
class DeliverableAdmin(ScopedModelAdmin):
    list_display = [
        "code",
        "title",
        "lead_partner",
        "type_code",
        "dissemination_code",
        "due_date",
        "status_badge",
        "days_late",
    ]
    list_display_links = ["code", "title"]
    list_filter = [OverdueFilter, "status", "type", "dissemination", "workpackage", "consortium"]
    search_fields = ["title", "description", "lead_partner__organisation__short_name"]
    autocomplete_fields = ["workpackage", "lead_partner"]
    list_select_related = ["workpackage", "lead_partner__organisation"]
    readonly_fields = ["status", "due_date", "first_submitted_at", "approved_at"]
    fields = [
        "workpackage",
        "number",
        "title",
        "description",
        "lead_partner",
        "type",
        "dissemination",
        "due_month",
        "due_date",
        "status",
        "first_submitted_at",
        "approved_at",
        "late_justification",
    ]
    inlines = [SubmissionInline, ReviewInline]
    actions = ["approve", "request_changes", "start"]
    deletable = True
    ordering = ["workpackage__number", "number"]

    @admin.display(description=_("code"), ordering="workpackage__number")
    def code(self, obj: Deliverable) -> str:
        return obj.code

    @admin.display(description=_("type"), ordering="type")
    def type_code(self, obj: Deliverable) -> str:
        return format_html('<abbr title="{}">{}</abbr>', obj.get_type_display(), obj.type)

    @admin.display(description=_("dissemination"), ordering="dissemination")
    def dissemination_code(self, obj: Deliverable) -> str:
        return format_html(
            '<abbr title="{}">{}</abbr>', obj.get_dissemination_display(), obj.dissemination
        )

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Deliverable) -> str:
        return status_badge(obj, STATUS_TONES)

    @admin.display(description=_("days late"), ordering="due_date")
    def days_late(self, obj: Deliverable) -> str:
        days = obj.days_late()
        if not days:
            return "–"
        tone = "amber" if obj.status in DELIVERED else "red"
        return badge(str(days), tone)

    approve = service_action(
        deliverable_approve,
        row="deliverable",
        description=_("Approve the selected deliverables"),
        done=ngettext_lazy(
            "%(count)s deliverable approved.",
            "%(count)s deliverables approved.",
            "count",
        ),
    )

    request_changes = service_action(
        deliverable_request_changes,
        row="deliverable",
        description=_("Request changes on the selected deliverables…"),
        form_class=CommentForm,
        title=_("Request changes"),
        done=ngettext_lazy(
            "Changes requested on %(count)s deliverable.",
            "Changes requested on %(count)s deliverables.",
            "count",
        ),
    )

    start = service_action(
        deliverable_start,
        row="deliverable",
        description=_("Mark the selected deliverables as in progress"),
        done=ngettext_lazy(
            "%(count)s deliverable marked as in progress.",
            "%(count)s deliverables marked as in progress.",
            "count",
        ),
    )


@admin.register(Milestone)
class MilestoneAdmin(ScopedModelAdmin):
    fields = [
        "number",
        "title",
        "workpackages",
        "lead_partner",
        "due_month",
        "due_date",
        "means_of_verification",
        "status",
        "achieved_on",
        "evidence",
    ]
    list_display = ["code", "title", "lead_partner", "due_date", "status_badge", "achieved_on"]
    list_display_links = ["code", "title"]
    list_filter = ["status", "workpackages", "consortium"]
    search_fields = ["title", "means_of_verification"]
    autocomplete_fields = ["lead_partner", "workpackages"]
    list_select_related = ["lead_partner__organisation"]
    readonly_fields = ["due_date", "status", "achieved_on", "evidence"]
    actions = ["achieve", "miss"]
    deletable = True

    @admin.display(description=_("code"), ordering="number")
    def code(self, obj: Milestone) -> str:
        return obj.code

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Milestone) -> str:
        return status_badge(obj, STATUS_TONES)

    achieve = service_action(
        milestone_achieve,
        row="milestone",
        description=_("Mark the selected milestones as achieved…"),
        form_class=MilestoneAchieveForm,
        title=_("Mark as achieved"),
        done=ngettext_lazy(
            "%(count)s milestone marked as achieved.",
            "%(count)s milestones marked as achieved.",
            "count",
        ),
    )

    miss = service_action(
        milestone_miss,
        row="milestone",
        description=_("Mark the selected milestones as missed…"),
        form_class=MilestoneMissForm,
        title=_("Mark as missed"),
        done=ngettext_lazy(
            "%(count)s milestone marked as missed.",
            "%(count)s milestones marked as missed.",
            "count",
        ),
    )
