"""The coordinators' admin for the money: budget lines with their consumption, expenses and their
decisions (accept in full or for a lower amount, reject, withdraw), effort.

Decisions are admin actions that call the services, one object at a time, and report per object
what was done or why it was refused.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from consortium.admin import PARTNER_INLINES
from consortium.adminkit import (
    CommentForm,
    Decision,
    DecisionsMixin,
    badge,
    money,
    service_action,
    status_badge,
)
from consortium.formtools import add_service_error
from consortium.models import Consortium, ReportingPeriod
from consortium.permissions import (
    ScopedModelAdmin,
    ScopedTabularInline,
)
from consortium.querysets import coordinates
from workpackages.admin_exports import ExpenseExport
from workpackages.base import percent
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.forms import PARTIAL_ACCEPT_MAX_ROWS, PartialAcceptForm
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.money.selectors import (
    budget_lines_with_consumption,
    effort_matrix,
    expenses_with_line_balance,
    with_consumption_percent,
)
from workpackages.money.services import (
    budget_line_cancel,
    expense_accept,
    expense_reject,
    expense_withdraw,
)

STATUS_TONES = {
    BudgetLineStatus.ACTIVE: "green",
    BudgetLineStatus.CANCELLED: "grey",
    ExpenseStatus.DRAFT: "grey",
    ExpenseStatus.SUBMITTED: "amber",
    ExpenseStatus.ACCEPTED: "green",
    ExpenseStatus.REJECTED: "red",
    ExpenseStatus.WITHDRAWN: "grey",
}


def _accept_each(decisions: list[PartialAcceptForm], *, user: Any) -> bool:
    """Accept each expense for its own amount, all or none: the service's refusal of one row is
    put on that row's form and every acceptance is rolled back."""
    savepoint = transaction.savepoint()
    for form in decisions:
        try:
            expense_accept(
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


class ConsumptionMixin:
    """List columns for money annotated with `consumed` by the selectors (and, to sort by the
    percentage in SQL, `consumption_percent` by `with_consumption_percent`)."""

    @admin.display(description=_("consumed (EUR)"), ordering="consumed")
    def consumed_amount(self, obj: Any) -> str:
        return money(obj.consumed)

    @admin.display(description=_("consumption"), ordering="consumption_percent")
    def consumption(self, obj: Any) -> str:
        value = percent(obj.consumed, obj.planned_amount)
        if value is None:
            return "–"
        tone = "red" if value > 100 else "amber" if value > 90 else "green"
        # The euros consumed, which the list no longer has a column for, on hovering the badge.
        return format_html(
            '<span title="{}">{}</span>',
            gettext("%(amount)s EUR consumed") % {"amount": money(obj.consumed)},
            badge(f"{value} %", tone),
        )


class OverspentFilter(admin.SimpleListFilter):
    """The dashboard's overspent lines: active lines whose consumption exceeds the plan."""

    title = _("consumption")
    parameter_name = "consumption"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overspent", gettext("Overspent (active lines)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "overspent":
            return queryset.filter(status=BudgetLineStatus.ACTIVE, consumed__gt=F("planned_amount"))
        return queryset


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
    rows_select_related = ("partner__organisation", "workpackage", "category")


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
    # What a coordinator decides on, to fit 1440 px with the side navigation open (in French
    # too): the rate, the granted and consumed euros are on the line's page, the status a filter.
    list_display = ["partner", "workpackage_code", "category", "planned", "consumption"]
    list_filter = [OverspentFilter, "status", "category", "workpackage", "partner", "consortium"]
    search_fields = ["partner__organisation__short_name", "workpackage__title"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage", "category"]
    readonly_fields = ["status"]
    actions = ["cancel"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[BudgetLine]:
        lines = budget_lines_with_consumption(super().get_queryset(request))
        return with_consumption_percent(lines)

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
        return status_badge(obj, STATUS_TONES)

    cancel = service_action(
        budget_line_cancel,
        row="line",
        description=_("Cancel the selected budget lines"),
        done=ngettext_lazy(
            "%(count)s budget line cancelled.",
            "%(count)s budget lines cancelled.",
            "count",
        ),
    )


def _submitted(expense: Expense) -> bool:
    return expense.status == ExpenseStatus.SUBMITTED


@admin.register(Expense)
class ExpenseAdmin(ExpenseExport, DecisionsMixin, ScopedModelAdmin):
    # What a coordinator decides on, to fit 1440 px with the side navigation open (in French
    # too): the date, WP and invoice are on the expense's page, behind the period and WP filters
    # and the search. No date hierarchy: its years and bounds were read from every expense of
    # the coordinator's consortia on each page; the reporting period is how costs are sorted.
    list_display = [
        "partner",
        "period",
        "category",
        "amount_display",
        "accepted_display",
        "status_badge",
    ]
    list_filter = ["status", "period", "category", "workpackage", "partner", "consortium"]
    search_fields = ["description", "invoice_reference", "partner__organisation__short_name"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage", "category", "period"]
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
        return status_badge(obj, STATUS_TONES)

    accept = service_action(
        expense_accept,
        row="expense",
        description=_("Accept the selected expenses in full"),
        done=ngettext_lazy(
            "%(count)s expense accepted.",
            "%(count)s expenses accepted.",
            "count",
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

    reject = service_action(
        expense_reject,
        row="expense",
        description=_("Reject the selected expenses…"),
        form_class=CommentForm,
        title=_("Reject expenses"),
        done=ngettext_lazy(
            "%(count)s expense rejected.",
            "%(count)s expenses rejected.",
            "count",
        ),
    )

    withdraw = service_action(
        expense_withdraw,
        row="expense",
        description=_("Withdraw the selected expenses"),
        done=ngettext_lazy(
            "%(count)s expense withdrawn.",
            "%(count)s expenses withdrawn.",
            "count",
        ),
    )

    # The same decisions on the expense's own page, next to its evidence and its line's balance.
    decisions = [
        Decision.of("accept", accept, label=_("Accept in full"), applies=_submitted),
        Decision(
            name="accept_partially",
            label=_("Accept for a lower amount"),
            service=expense_accept,
            row="expense",
            done=ngettext_lazy(
                "%(count)s expense accepted.", "%(count)s expenses accepted.", "count"
            ),
            applies=_submitted,
            form_factory=lambda data, expense: PartialAcceptForm(data, expense=expense),
        ),
        Decision.of("reject", reject, label=_("Reject"), applies=_submitted, tone="danger"),
    ]
    review_template = "admin/workpackages/expense_review.html"

    def review_context(self, request: HttpRequest, obj: Expense) -> dict[str, Any]:
        """The evidence, the budget line's planned, accepted and remaining money (as the
        partial acceptance's page reads them), and the partner's statement of the period."""
        balance = expenses_with_line_balance(Expense.objects.filter(pk=obj.pk)).get()
        statement = (
            Statement.objects.filter(partner_id=obj.partner_id, period_id=obj.period_id)
            .select_related("submitted_by", "reopened_by")
            .first()
        )
        return {
            "line_balance": balance,
            "evidence_url": obj.evidence.url if obj.evidence else "",
            "evidence_name": PartialAcceptForm(expense=obj).evidence_name,
            "statement": statement,
            "statement_url": reverse("statements-period", args=[obj.consortium_id, obj.period_id]),
        }

    def preview_file(self, obj: Expense) -> FieldFile | None:
        return obj.evidence or None


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

    def get_urls(self) -> list[Any]:
        return [
            path(
                "matrix/<int:consortium_id>/",
                self.admin_site.admin_view(self.matrix_view),
                name="workpackages_effort_matrix",
            ),
            *super().get_urls(),
        ]

    def matrix_view(self, request: HttpRequest, consortium_id: int) -> HttpResponse:
        """Planned and actual person-months as a partner x workpackage matrix, for the period
        chosen (GET `period`; the running one, else the latest begun) and cumulated to its end,
        with the plan of the periods ended by today. Only for the consortium's coordinators."""
        consortium = Consortium.objects.filter(pk=consortium_id).first()
        if consortium is None or not coordinates(request.user, consortium.pk):
            raise Http404
        today = timezone.localdate()
        periods = list(
            ReportingPeriod.objects.filter(consortium_id=consortium.pk).order_by("number")
        )
        chosen = request.GET.get("period")
        if chosen:
            period = next((p for p in periods if str(p.pk) == chosen), None)
            if period is None:
                raise Http404
        else:
            begun = [p for p in periods if p.start_date <= today]
            period = begun[-1] if begun else periods[0] if periods else None
            if period is None:
                raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Effort of %(consortium)s") % {"consortium": consortium.acronym},
            "opts": self.model._meta,
            "consortium": consortium,
            "periods": periods,
            "matrix": effort_matrix(consortium, period, today),
            "today": today,
        }
        return TemplateResponse(request, "admin/workpackages/effort_matrix.html", context)


PARTNER_INLINES.append(BudgetLineInline)
