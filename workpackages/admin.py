"""The coordinators' admin for the work plan, the budget and the jobs.

Decisions (approve, request changes, accept, reject, achieve…) are admin actions that call the
services, one object at a time, and report per object what was done or why it was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from consortium.admin import PartnerAdmin as BasePartnerAdmin
from consortium.formtools import add_service_error
from consortium.models import Partner
from consortium.permissions import (
    ReadOnlyTabularInline,
    ScopedModelAdmin,
    ScopedTabularInline,
)

from . import services
from .choices import (
    BudgetLineStatus,
    DeliverableStatus,
    ExpenseStatus,
    JobStatus,
    MilestoneStatus,
)
from .forms.decisions import (
    PARTIAL_ACCEPT_MAX_ROWS,
    CommentForm,
    MilestoneAchieveForm,
    PartialAcceptForm,
)
from .models import (
    BudgetLine,
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Effort,
    Expense,
    JobRecord,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)
from .models.workplan import DELIVERED, overdue_deliverable
from .selectors import budget_lines_with_consumption, expenses_with_line_balance, percent

BADGE_TONES: dict[str, str] = {
    DeliverableStatus.PLANNED: "grey",
    DeliverableStatus.IN_PROGRESS: "blue",
    DeliverableStatus.SUBMITTED: "amber",
    DeliverableStatus.CHANGES_REQUESTED: "red",
    DeliverableStatus.APPROVED: "green",
    MilestoneStatus.PENDING: "grey",
    MilestoneStatus.ACHIEVED: "green",
    MilestoneStatus.MISSED: "red",
    ExpenseStatus.DRAFT: "grey",
    ExpenseStatus.ACCEPTED: "green",
    ExpenseStatus.REJECTED: "red",
    ExpenseStatus.WITHDRAWN: "grey",
    JobStatus.FORECAST: "blue",
    JobStatus.REALISED: "green",
    BudgetLineStatus.ACTIVE: "green",
    BudgetLineStatus.CANCELLED: "grey",
}


def badge(value: str, label: str, tone: str | None = None) -> str:
    return format_html(
        '<span class="cm-badge cm-{}">{}</span>', tone or BADGE_TONES.get(value, "grey"), label
    )


def money(value: Any) -> str:
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


def run_service(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    service: Callable[[Any], Any],
    done: Callable[[int], str],
) -> None:
    """Apply `service` to each selected object; report successes and each refusal with its reason."""
    succeeded = 0
    for obj in queryset:
        try:
            service(obj)
        except ValidationError as error:
            modeladmin.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.ERROR)
        except PermissionDenied as error:
            modeladmin.message_user(request, f"{obj}: {error}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, done(succeeded), messages.SUCCESS)


def action_with_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    form_class: type[forms.Form],
    title: str,
    apply: Callable[[Any, dict[str, Any]], Any],
    done: Callable[[int], str],
) -> HttpResponse | None:
    """An admin action that first asks for the fields of `form_class`, then applies the service."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        run_service(modeladmin, request, queryset, lambda obj: apply(obj, form.cleaned_data), done)
        return None
    return TemplateResponse(
        request,
        "admin/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "objects": queryset,
            "form": form,
            "action": request.POST.get("action"),
            "opts": modeladmin.model._meta,
            "select_across": request.POST.get("select_across", "0"),
        },
    )


def _accept_each(decisions: list[PartialAcceptForm], *, user: Any) -> bool:
    """Accept each expense for its own amount, all or none: the service's refusal of one row is
    put on that row's form and every acceptance is rolled back."""
    savepoint = transaction.savepoint()
    for form in decisions:
        try:
            services.expense_accept(
                expense=form.expense,
                user=user,
                accepted_amount=form.cleaned_data["accepted_amount"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            add_service_error(form, error)
    if any(form.errors for form in decisions):
        transaction.savepoint_rollback(savepoint)
        return False
    transaction.savepoint_commit(savepoint)
    return True


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
        return badge("", str(obj.late_count), "red") if obj.late_count else "0"


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
        return badge(obj.status, obj.get_status_display())

    @admin.display(description=_("days late"), ordering="due_date")
    def days_late(self, obj: Deliverable) -> str:
        days = obj.days_late()
        if not days:
            return "–"
        tone = "amber" if obj.status in DELIVERED else "red"
        return badge("", str(days), tone)

    @admin.action(description=_("Approve the selected deliverables"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Deliverable]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda d: services.deliverable_approve(deliverable=d, user=request.user),
            lambda n: (
                ngettext("%(count)s deliverable approved.", "%(count)s deliverables approved.", n)
                % {"count": n}
            ),
        )

    @admin.action(description=_("Request changes on the selected deliverables…"))
    def request_changes(
        self, request: HttpRequest, queryset: QuerySet[Deliverable]
    ) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            form_class=CommentForm,
            title=gettext("Request changes"),
            apply=lambda d, data: services.deliverable_request_changes(
                deliverable=d, user=request.user, comment=data["comment"]
            ),
            done=lambda n: (
                ngettext(
                    "Changes requested on %(count)s deliverable.",
                    "Changes requested on %(count)s deliverables.",
                    n,
                )
                % {"count": n}
            ),
        )

    @admin.action(description=_("Mark the selected deliverables as in progress"))
    def start(self, request: HttpRequest, queryset: QuerySet[Deliverable]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda d: services.deliverable_start(deliverable=d, user=request.user),
            lambda n: (
                ngettext(
                    "%(count)s deliverable marked as in progress.",
                    "%(count)s deliverables marked as in progress.",
                    n,
                )
                % {"count": n}
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
        return badge(obj.status, obj.get_status_display())

    @admin.action(description=_("Mark the selected milestones as achieved…"))
    def achieve(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            form_class=MilestoneAchieveForm,
            title=gettext("Mark as achieved"),
            apply=lambda m, data: services.milestone_achieve(
                milestone=m, user=request.user, **data
            ),
            done=lambda n: (
                ngettext(
                    "%(count)s milestone marked as achieved.",
                    "%(count)s milestones marked as achieved.",
                    n,
                )
                % {"count": n}
            ),
        )

    @admin.action(description=_("Mark the selected milestones as missed"))
    def miss(self, request: HttpRequest, queryset: QuerySet[Milestone]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda m: services.milestone_miss(milestone=m, user=request.user),
            lambda n: (
                ngettext(
                    "%(count)s milestone marked as missed.",
                    "%(count)s milestones marked as missed.",
                    n,
                )
                % {"count": n}
            ),
        )


class ConsumptionMixin:
    """List columns for money annotated with `consumed` by the selectors."""

    @admin.display(description=_("consumed (EUR)"), ordering="consumed")
    def consumed_amount(self, obj: Any) -> str:
        return money(obj.consumed)

    @admin.display(description=_("consumption"), ordering="consumed")
    def consumption(self, obj: Any) -> str:
        value = percent(obj.consumed, obj.planned_amount)
        if value is None:
            return "–"
        tone = "red" if value > 100 else "amber" if value > 90 else "green"
        return badge("", f"{value} %", tone)


class BudgetLineInline(ScopedTabularInline):
    model = BudgetLine
    fields = [
        "workpackage",
        "category",
        "planned_amount",
        "funding_rate",
        "granted_amount",
        "status",
    ]
    readonly_fields = ["status"]
    autocomplete_fields = ["workpackage"]
    fk_name = "partner"


@admin.register(BudgetLine)
class BudgetLineAdmin(ConsumptionMixin, ScopedModelAdmin):
    fields = [
        "partner",
        "workpackage",
        "category",
        "planned_amount",
        "funding_rate",
        "granted_amount",
        "status",
    ]
    list_display = [
        "partner",
        "workpackage_code",
        "category",
        "planned",
        "funding_rate",
        "granted",
        "consumed_amount",
        "consumption",
        "status_badge",
    ]
    list_filter = ["status", "category", "workpackage", "partner", "consortium"]
    search_fields = ["partner__organisation__short_name", "workpackage__title"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage", "category"]
    readonly_fields = ["status"]
    actions = ["cancel"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BudgetLine]:
        return budget_lines_with_consumption(super().get_queryset(request))

    @admin.display(description=_("WP"), ordering="workpackage__number")
    def workpackage_code(self, obj: BudgetLine) -> str:
        return obj.workpackage.code

    @admin.display(description=_("planned (EUR)"), ordering="planned_amount")
    def planned(self, obj: BudgetLine) -> str:
        return money(obj.planned_amount)

    @admin.display(description=_("granted (EUR)"), ordering="granted_amount")
    def granted(self, obj: BudgetLine) -> str:
        return money(obj.granted_amount)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: BudgetLine) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.action(description=_("Cancel the selected budget lines"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[BudgetLine]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda line: services.budget_line_cancel(line=line, user=request.user),
            lambda n: (
                ngettext("%(count)s budget line cancelled.", "%(count)s budget lines cancelled.", n)
                % {"count": n}
            ),
        )


@admin.register(Expense)
class ExpenseAdmin(ScopedModelAdmin):
    list_display = [
        "incurred_on",
        "partner",
        "workpackage_code",
        "category",
        "period",
        "amount_display",
        "accepted_display",
        "status_badge",
        "invoice_reference",
    ]
    list_filter = ["status", "period", "category", "workpackage", "partner", "consortium"]
    search_fields = ["description", "invoice_reference", "partner__organisation__short_name"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage", "category", "period"]
    date_hierarchy = "incurred_on"
    readonly_fields = [
        "status",
        "accepted_amount",
        "submitted_at",
        "reviewed_by",
        "reviewed_at",
        "review_comment",
    ]
    actions = ["accept", "accept_partially", "reject", "withdraw"]

    @admin.display(description=_("WP"), ordering="workpackage__number")
    def workpackage_code(self, obj: Expense) -> str:
        return obj.workpackage.code

    @admin.display(description=_("amount (EUR)"), ordering="amount")
    def amount_display(self, obj: Expense) -> str:
        return money(obj.amount)

    @admin.display(description=_("accepted (EUR)"), ordering="accepted_amount")
    def accepted_display(self, obj: Expense) -> str:
        return "–" if obj.accepted_amount is None else money(obj.accepted_amount)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Expense) -> str:
        tone = "amber" if obj.status == ExpenseStatus.SUBMITTED else None
        return badge(obj.status, obj.get_status_display(), tone)

    @admin.action(description=_("Accept the selected expenses in full"))
    def accept(self, request: HttpRequest, queryset: QuerySet[Expense]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda e: services.expense_accept(expense=e, user=request.user),
            lambda n: (
                ngettext("%(count)s expense accepted.", "%(count)s expenses accepted.", n)
                % {"count": n}
            ),
        )

    @admin.action(description=_("Accept the selected expenses for a lower amount…"))
    def accept_partially(
        self, request: HttpRequest, queryset: QuerySet[Expense]
    ) -> HttpResponse | None:
        """Ask each selected expense's own amount and reason, shown against its evidence and its
        budget line's balance, then accept each for its amount.

        `expense_accept` judges every row; one it refuses applies nothing, and the page shows again
        with the refusal next to that row. The page posts back the ids of the rows it shows, so
        "select all" across pages decides exactly those; more rows than a page can ask about are
        refused.
        """
        expenses = list(
            expenses_with_line_balance(
                queryset.select_related("partner__organisation", "workpackage", "category")
            )[: PARTIAL_ACCEPT_MAX_ROWS + 1]
        )
        if len(expenses) > PARTIAL_ACCEPT_MAX_ROWS:
            self.message_user(
                request,
                gettext(
                    "Accepting for a lower amount asks for an amount per expense: select at most "
                    "%(limit)s expenses at a time (filter the list to narrow it down). Nothing "
                    "was changed."
                )
                % {"limit": PARTIAL_ACCEPT_MAX_ROWS},
                messages.ERROR,
            )
            return None
        applying = "apply" in request.POST
        decisions = [
            PartialAcceptForm(request.POST if applying else None, expense=expense)
            for expense in expenses
        ]
        # Every form is read, not only up to the first wrong one: each row shows its errors.
        if (
            applying
            and all([form.is_valid() for form in decisions])
            and _accept_each(decisions, user=request.user)
        ):
            self.message_user(
                request,
                ngettext(
                    "%(count)s expense accepted.", "%(count)s expenses accepted.", len(decisions)
                )
                % {"count": len(decisions)},
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/partial_accept_form.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Accept for a lower amount"),
                "opts": self.model._meta,
                "action": request.POST.get("action"),
                "decisions": decisions,
                "errors": sum(len(form.errors) for form in decisions),
            },
        )

    @admin.action(description=_("Reject the selected expenses…"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Expense]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            form_class=CommentForm,
            title=gettext("Reject expenses"),
            apply=lambda e, data: services.expense_reject(
                expense=e, user=request.user, comment=data["comment"]
            ),
            done=lambda n: (
                ngettext("%(count)s expense rejected.", "%(count)s expenses rejected.", n)
                % {"count": n}
            ),
        )

    @admin.action(description=_("Withdraw the selected expenses"))
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Expense]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda e: services.expense_withdraw(expense=e, user=request.user),
            lambda n: (
                ngettext("%(count)s expense withdrawn.", "%(count)s expenses withdrawn.", n)
                % {"count": n}
            ),
        )


@admin.register(Effort)
class EffortAdmin(ScopedModelAdmin):
    list_display = [
        "partner",
        "workpackage",
        "period",
        "planned_person_months",
        "actual_person_months",
    ]
    list_filter = ["period", "workpackage", "partner", "consortium"]
    search_fields = ["partner__organisation__short_name"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage", "period"]


@admin.register(JobRecord)
class JobRecordAdmin(ScopedModelAdmin):
    list_display = [
        "position_title",
        "partner",
        "workpackage",
        "category",
        "contract_type",
        "fte",
        "impact",
        "status_badge",
        "start_date",
        "end_date",
    ]
    list_filter = ["status", "impact", "category", "contract_type", "partner", "consortium"]
    search_fields = ["position_title", "partner__organisation__short_name"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage"]
    readonly_fields = ["status"]
    actions = ["realise", "withdraw"]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: JobRecord) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.action(description=_("Mark the selected job records as realised"))
    def realise(self, request: HttpRequest, queryset: QuerySet[JobRecord]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda j: services.job_realise(job=j, user=request.user),
            lambda n: (
                ngettext(
                    "%(count)s job record marked as realised.",
                    "%(count)s job records marked as realised.",
                    n,
                )
                % {"count": n}
            ),
        )

    @admin.action(description=_("Withdraw the selected job records"))
    def withdraw(self, request: HttpRequest, queryset: QuerySet[JobRecord]) -> None:
        run_service(
            self,
            request,
            queryset,
            lambda j: services.job_withdraw(job=j, user=request.user),
            lambda n: (
                ngettext("%(count)s job record withdrawn.", "%(count)s job records withdrawn.", n)
                % {"count": n}
            ),
        )


class PartnerAdmin(BasePartnerAdmin):
    """The partner page also shows its budget lines."""

    inlines = [*BasePartnerAdmin.inlines, BudgetLineInline]  # type: ignore[list-item]


admin.site.unregister(Partner)
admin.site.register(Partner, PartnerAdmin)
