"""The coordinators' admin for the work plan: workpackages with their participants, deliverables
and their reviews, milestones.

Decisions (approve, request changes, start, achieve, miss) are admin actions that call the
services, one object at a time, and report per object what was done or why it was refused.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from consortium.adminkit import (
    CommentForm,
    Decision,
    DecisionsMixin,
    badge,
    service_action,
    status_badge,
)
from consortium.permissions import (
    ReadOnlyTabularInline,
    ScopedModelAdmin,
    ScopedTabularInline,
)
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus
from workpackages.workplan.forms import DelayNoteForm, MilestoneAchieveForm, MilestoneMissForm
from workpackages.workplan.models import (
    DELIVERED,
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
    due_soon_deliverable,
    late_deliverable,
    not_yet_due_deliverable,
    overdue_deliverable,
    overdue_milestone,
    sent_on_time_deliverable,
)
from workpackages.workplan.services import (
    delay_note_set,
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
    rows_select_related = ("partner__organisation", "workpackage")


class DeliverableInline(ScopedTabularInline):
    model = Deliverable
    fields = ["number", "title", "lead_partner", "type", "dissemination", "due_month", "status"]
    readonly_fields = ["status"]
    autocomplete_fields = ["lead_partner"]
    rows_select_related = ("workpackage",)


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


class TimelinessFilter(admin.SimpleListFilter):
    """The dashboard's deliverable counters, each the very rule it counts by."""

    title = _("timeliness")
    parameter_name = "timeliness"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("sent_on_time", gettext("Sent on time")),
            ("late", gettext("Late")),
            ("not_yet_due", gettext("Not yet due")),
            ("due_soon", gettext("Due in 30 days")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = timezone.localdate()
        rules: dict[str, Callable[[datetime.date], Q]] = {
            "sent_on_time": sent_on_time_deliverable,
            "late": late_deliverable,
            "not_yet_due": not_yet_due_deliverable,
            "due_soon": due_soon_deliverable,
        }
        rule = rules.get(self.value() or "")
        return queryset.filter(rule(today)) if rule else queryset


class MilestoneDeadlineFilter(admin.SimpleListFilter):
    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", gettext("Overdue")), ("soon", gettext("Due in the next 30 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        today = timezone.localdate()
        if self.value() == "overdue":
            return queryset.filter(overdue_milestone(today))
        if self.value() == "soon":
            return queryset.filter(
                status=MilestoneStatus.PENDING,
                due_date__gte=today,
                due_date__lte=today + datetime.timedelta(days=30),
            )
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
    inlines = [ParticipantInline, DeliverableInline]
    fields = [
        "consortium",
        "number",
        "title",
        "objectives",
        "lead_partner",
        "start_month",
        "end_month",
        "milestone_list",
    ]
    readonly_fields = ["milestone_list"]

    @admin.display(description=_("milestones"))
    def milestone_list(self, obj: Workpackage | None) -> str:
        """The WP's milestones, for reading: which WPs a milestone belongs to is changed on the
        milestone's page, where its history records it."""
        if obj is None or obj.pk is None:
            return "–"
        milestones = Milestone.objects.filter(workpackages=obj).order_by("number")
        rows = format_html_join(
            "",
            '<li><a href="{}">{} {}</a> <span class="cm-when">· {}</span> {}</li>',
            (
                (
                    reverse("admin:workpackages_milestone_change", args=[milestone.pk]),
                    milestone.code,
                    milestone.title,
                    date_format(milestone.due_date, "SHORT_DATE_FORMAT"),
                    status_badge(milestone, STATUS_TONES),
                )
                for milestone in milestones
            ),
        )
        if not rows:
            return gettext("No milestone yet.")
        return format_html('<ul class="cm-milestones">{}</ul>', rows)

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
    rows_select_related = ("deliverable__workpackage", "submitted_by")


class ReviewInline(ReadOnlyTabularInline):
    model = DeliverableReview
    fields = ("decision", "comment", "reviewer", "reviewed_at")
    readonly_fields = fields
    show_change_link = False
    rows_select_related = ("deliverable__workpackage", "reviewer")


def _submitted(deliverable: Deliverable) -> bool:
    return deliverable.status == DeliverableStatus.SUBMITTED


def _latest_submission(deliverable: Deliverable) -> DeliverableSubmission | None:
    return deliverable.submissions.select_related("submitted_by").order_by("-version").first()


@admin.register(Deliverable)
class DeliverableAdmin(DecisionsMixin, ScopedModelAdmin):
    # What a coordinator decides on, to fit 1440 px with the side navigation open (in French
    # too): the type and dissemination level are on the deliverable's page and behind filters.
    list_display = [
        "code",
        "title",
        "lead_partner",
        "due_on",
        "status_badge",
        "days_late",
    ]
    list_display_links = ["code", "title"]
    list_filter = [
        TimelinessFilter,
        OverdueFilter,
        "status",
        "type",
        "dissemination",
        "workpackage",
        "consortium",
    ]
    search_fields = ["title", "description", "lead_partner__organisation__short_name"]
    autocomplete_fields = ["workpackage", "lead_partner"]
    list_select_related = ["workpackage", "lead_partner__organisation"]
    readonly_fields = [
        "status",
        "due_date",
        "first_submitted_at",
        "approved_at",
        "expected_on",
        "delay_reason",
    ]
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
        "expected_on",
        "delay_reason",
    ]
    inlines = [SubmissionInline, ReviewInline]
    actions = ["approve", "request_changes", "start", "delay_note"]
    deletable = True
    ordering = ["workpackage__number", "number"]

    @admin.display(description=_("code"), ordering="workpackage__number")
    def code(self, obj: Deliverable) -> str:
        return obj.code

    @admin.display(description=_("due date"), ordering="due_date")
    def due_on(self, obj: Deliverable) -> str:
        # 31/12/2026 rather than "31 décembre 2026": the short form keeps the column narrow.
        return date_format(obj.due_date, "SHORT_DATE_FORMAT")

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
        description=_("Approve the selected deliverables…"),
        form_class=CommentForm,
        title=_("Approve deliverables"),
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

    delay_note = service_action(
        delay_note_set,
        row="item",
        description=_("Set a delay note on the selected deliverables…"),
        form_class=DelayNoteForm,
        title=_("Delay note: new expected date and reason"),
        done=ngettext_lazy(
            "Delay note set on %(count)s deliverable.",
            "Delay note set on %(count)s deliverables.",
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

    # Reviewing the submitted version from the deliverable's own page.
    decisions = [
        Decision.of("approve", approve, label=_("Approve"), applies=_submitted),
        Decision.of(
            "request_changes", request_changes, label=_("Request changes"), applies=_submitted
        ),
    ]
    review_template = "admin/workpackages/deliverable_review.html"

    def review_context(self, request: HttpRequest, obj: Deliverable) -> dict[str, Any]:
        submission = _latest_submission(obj)
        return {
            "latest_submission": submission,
            "submission_name": PurePosixPath(submission.file.name).name if submission else "",
        }

    def preview_file(self, obj: Deliverable) -> FieldFile | None:
        submission = _latest_submission(obj)
        return submission.file if submission is not None and submission.file else None


@admin.register(Milestone)
class MilestoneAdmin(DecisionsMixin, ScopedModelAdmin):
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
        "expected_on",
        "delay_reason",
    ]
    list_display = ["code", "title", "lead_partner", "due_date", "status_badge", "achieved_on"]
    list_display_links = ["code", "title"]
    list_filter = [MilestoneDeadlineFilter, "status", "workpackages", "consortium"]
    search_fields = ["title", "means_of_verification"]
    autocomplete_fields = ["lead_partner", "workpackages"]
    list_select_related = ["lead_partner__organisation"]
    readonly_fields = [
        "due_date",
        "status",
        "achieved_on",
        "evidence",
        "expected_on",
        "delay_reason",
    ]
    actions = ["achieve", "miss", "delay_note"]
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

    delay_note = service_action(
        delay_note_set,
        row="item",
        description=_("Set a delay note on the selected milestones…"),
        form_class=DelayNoteForm,
        title=_("Delay note: new expected date and reason"),
        done=ngettext_lazy(
            "Delay note set on %(count)s milestone.",
            "Delay note set on %(count)s milestones.",
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

    # The same decisions on the milestone's own page.
    decisions = [
        Decision.of(
            "achieve",
            achieve,
            label=_("Mark as achieved"),
            applies=lambda milestone: (
                milestone.status in {MilestoneStatus.PENDING, MilestoneStatus.MISSED}
            ),
        ),
        Decision.of(
            "miss",
            miss,
            label=_("Mark as missed"),
            applies=lambda milestone: milestone.status == MilestoneStatus.PENDING,
            tone="danger",
        ),
    ]
