"""Partner pages: the partner's own expenses, their totals, the period statements and the import
of a spreadsheet. Every write goes through the money's services or the expense import."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consortium.formtools import add_service_error, flash_service_error
from consortium.models import Partner, ReportingPeriod
from consortium.portal import (
    choice_labels,
    export_rows,
    partner_rows,
    partner_view,
    querystring_without_page,
    writing_partner,
)
from consortium.records import editable_refusal, record_create, record_update
from workpackages.imports import (
    COLUMN_LABELS,
    MAX_ROWS,
    TEMPLATE_HEADERS,
    expenses_import,
    template_csv,
)
from workpackages.money.choices import ExpenseStatus
from workpackages.money.forms import (
    EffortForm,
    ExpenseForm,
    ExpenseImportForm,
    PartnerExpenseFilterSet,
    actual_cost_headings,
)
from workpackages.money.models import DECLARED, Effort, Expense, ExpenseQuerySet, Statement
from workpackages.money.selectors import MONEY_FIELD
from workpackages.money.services import (
    effort_actuals_report,
    expense_withdraw,
    statement_submit,
)
from workpackages.workplan.models import Workpackage, WorkpackageParticipant

PAGE_SIZE = 50
BADGES = {
    ExpenseStatus.SUBMITTED: "blue",
    ExpenseStatus.ACCEPTED: "green",
    ExpenseStatus.REJECTED: "red",
}


def _sums() -> dict[str, Any]:
    """Declared (every line but the withdrawn ones) and accepted amounts, in SQL."""
    live = DECLARED
    return {
        "lines": Count("pk", filter=live),
        "declared": Coalesce(
            Sum("amount", filter=live), Value(Decimal(0)), output_field=MONEY_FIELD
        ),
        "accepted": Coalesce(
            Sum("accepted_amount", filter=Q(status=ExpenseStatus.ACCEPTED)),
            Value(Decimal(0)),
            output_field=MONEY_FIELD,
        ),
    }


def _totals(rows: QuerySet[Expense], *keys: str) -> list[dict[str, Any]]:
    return list(rows.order_by().values(*keys).annotate(**_sums()).order_by(*keys))


def totals_of(rows: QuerySet[Expense]) -> dict[str, Any]:
    """The rows' totals by period, by heading and by workpackage, and overall: four queries.
    Each total row carries the `label` and `note` its table shows."""
    by_period = _totals(rows, "period__number", "period__start_date", "period__end_date")
    for row in by_period:
        row["label"] = f"P{row['period__number']}"
        row["note"] = "({} – {})".format(
            date_format(row["period__start_date"], "SHORT_DATE_FORMAT"),
            date_format(row["period__end_date"], "SHORT_DATE_FORMAT"),
        )
    by_category = _totals(rows, "category__position", "category__code", "category__name")
    for row in by_category:
        # The seeded headings' names are in the catalogue.
        row["label"], row["note"] = _(row["category__name"]), ""
    by_workpackage = _totals(rows, "workpackage__number", "workpackage__title")
    for row in by_workpackage:
        row["label"], row["note"] = f"WP{row['workpackage__number']}", row["workpackage__title"]
    return {
        "by_period": by_period,
        "by_category": by_category,
        "by_workpackage": by_workpackage,
        "grand": rows.order_by().aggregate(**_sums()),
    }


def _decorate(expenses: Any) -> None:
    """What each row shows, from the row alone (no query)."""
    for expense in expenses:
        partial = (
            expense.status == ExpenseStatus.ACCEPTED
            and expense.accepted_amount is not None
            and expense.accepted_amount < expense.amount
        )
        expense.partial = partial
        expense.badge = "amber" if partial else BADGES.get(expense.status, "")
        expense.status_label = _("Partially accepted") if partial else expense.get_status_display()
        expense.show_comment = bool(expense.review_comment) and (
            partial or expense.status == ExpenseStatus.REJECTED
        )
        expense.evidence_name = os.path.basename(expense.evidence.name) if expense.evidence else ""


@partner_view
def index(request: HttpRequest) -> HttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    today = timezone.localdate()
    filterset = PartnerExpenseFilterSet(
        data=request.GET,
        queryset=partner_rows(request, Expense).select_related("workpackage", "category", "period"),
        request=request,
        partner=scope.partner,
    )
    # A filter that doesn't validate lists nothing rather than rows it didn't narrow down: a
    # total shown under the filters must be the total of what the filters say.
    rows = filterset.qs if filterset.is_valid() else Expense.objects.none()
    page_obj = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    _decorate(page_obj.object_list)
    periods = ReportingPeriod.objects.restrict(request.user, "view").filter(
        consortium=scope.consortium
    )
    drafts = Q(expenses__partner=scope.partner, expenses__status=ExpenseStatus.DRAFT)
    own_statement = Statement.objects.filter(partner=scope.partner, period=OuterRef("pk"))
    # A statement the coordinators reopened is to submit again.
    open_periods = (
        periods.filter(end_date__lt=today)
        .exclude(Exists(own_statement.submitted()))
        .annotate(
            reopened=Exists(own_statement),
            drafts=Count("expenses", filter=drafts),
            draft_total=Coalesce(
                Sum("expenses__amount", filter=drafts), Value(Decimal(0)), output_field=MONEY_FIELD
            ),
        )
        .order_by("number")
    )
    statements = (
        Statement.objects.restrict(request.user, "view")
        .filter(partner=scope.partner)
        .select_related("period", "submitted_by", "reopened_by")
        .order_by("period__number")
    )
    context = {
        "section": "expenses",
        "filterset": filterset,
        "page_obj": page_obj,
        "query": querystring_without_page(request),
        # The downloads hold the rows the filters list, every page of them.
        "export_query": querystring_without_page(request).rstrip("&"),
        "totals": totals_of(rows),
        "open_periods": open_periods,
        "current_period": periods.filter(start_date__lte=today, end_date__gte=today).first(),
        "statements": statements,
        "today": today,
    }
    return render(request, "portal/expenses/index.html", context)


def _saved(request: HttpRequest, expense: Expense) -> HttpResponse:
    messages.success(
        request, _("The expense “%(description)s” is saved.") % {"description": expense.description}
    )
    if "another" in request.POST:
        return redirect("expense-add")
    return redirect("expense-list")


@partner_view
def add(request: HttpRequest) -> HttpResponse:
    partner = writing_partner(request)
    if request.method == "POST":
        form = ExpenseForm(request.POST, request.FILES, user=request.user, partner=partner)
        if form.is_valid():
            try:
                expense = record_create(
                    model=Expense, user=request.user, partner=partner, **form.changes()
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return _saved(request, expense)
    else:
        form = ExpenseForm(user=request.user, partner=partner)
    return render(
        request,
        "portal/expenses/form.html",
        {"section": "expenses", "form": form, "expense": None},
    )


@partner_view
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    partner = writing_partner(request)
    expense = get_object_or_404(partner_rows(request, Expense, "change"), pk=pk)
    # Submitted and decided lines are the record the coordinators judge: the list says why.
    refusal = editable_refusal(expense)
    if refusal:
        messages.error(request, refusal)
        return redirect("expense-list")
    if request.method == "POST":
        form = ExpenseForm(
            request.POST, request.FILES, instance=expense, user=request.user, partner=partner
        )
        if form.is_valid():
            try:
                # The form has copied its values onto `expense`; the service reloads the row
                # under a lock and checks its state before applying them.
                saved = record_update(instance=expense, user=request.user, **form.changes())
            except ValidationError as error:
                add_service_error(form, error)
            else:
                return _saved(request, saved)
    else:
        form = ExpenseForm(instance=expense, user=request.user, partner=partner)
    return render(
        request,
        "portal/expenses/form.html",
        {"section": "expenses", "form": form, "expense": expense},
    )


@partner_view
@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    expense = get_object_or_404(partner_rows(request, Expense, "change"), pk=pk)
    try:
        expense_withdraw(expense=expense, user=request.user)
    except ValidationError as error:
        flash_service_error(request, error)
    else:
        messages.success(
            request,
            _("The expense “%(description)s” is withdrawn; it stays in the history.")
            % {"description": expense.description},
        )
    return redirect("expense-list")


@partner_view
def statement(request: HttpRequest, period_pk: int) -> HttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    period = get_object_or_404(
        ReportingPeriod.objects.restrict(request.user, "view").filter(consortium=scope.consortium),
        pk=period_pk,
    )
    errors: list[str] = []
    if request.method == "POST":
        partner = writing_partner(request)
        try:
            submitted = statement_submit(partner=partner, period=period, user=request.user)
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(
                request,
                ngettext(
                    "The statement for %(period)s is submitted: %(count)s line, %(total)s EUR.",
                    "The statement for %(period)s is submitted: %(count)s lines, %(total)s EUR.",
                    submitted.lines,
                )
                % {
                    "period": period,
                    "count": submitted.lines,
                    "total": number_format(submitted.total, decimal_pos=2, force_grouping=True),
                },
            )
            return redirect("expense-list")
    existing = (
        Statement.objects.restrict(request.user, "view")
        .filter(partner=scope.partner, period=period)
        .select_related("submitted_by", "reopened_by")
        .first()
    )
    # A reopened statement is submitted again like one never sent: the form shows again.
    sent = existing is not None and not existing.is_reopened
    # The lines the statement declares (or will): the period's, withdrawn ones aside. Before it,
    # the drafts among them are what submitting sends.
    lines = (
        cast(ExpenseQuerySet, partner_rows(request, Expense))
        .filter(period=period)
        .declared()
        .select_related("workpackage", "category")
    )
    drafts = lines.filter(status=ExpenseStatus.DRAFT).order_by().aggregate(**_sums())
    page_obj = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    _decorate(page_obj.object_list)
    today = timezone.localdate()
    context = {
        "section": "expenses",
        "period": period,
        "statement": existing,
        "submitted": sent,
        "ended": today > period.end_date,
        "overdue": not sent and today > period.statement_due_date,
        "page_obj": page_obj,
        "query": "",
        "totals": totals_of(lines),
        "drafts": drafts,
        "errors": errors,
    }
    return render(request, "portal/expenses/statement.html", context)


def _import_columns(request: HttpRequest) -> list[dict[str, Any]]:
    """The import page's description of each column."""
    headings = actual_cost_headings(request.user, request.scope.partner)  # type: ignore[attr-defined]
    names = ", ".join(f"{h.code} ({h})" for h in headings)
    formats = {
        "date": _("2026-03-14 or 14/03/2026"),
        "workpackage": _("WP3 or 3"),
        "category": _("The code or the name of a heading: %(headings)s") % {"headings": names},
        "period": _("Its number, like 3; leave empty to use the period of the date"),
        "amount": _("In EUR: 1234.56 or 1 234,56"),
        "description": _("Text, at most 255 characters"),
        "invoice": _("Text, at most 100 characters"),
    }
    return [
        {
            "label": COLUMN_LABELS[column],
            "names": " / ".join(dict.fromkeys([english, french])),
            "format": formats[column],
            "required": column not in {"period", "invoice"},
        }
        for column, english, french in zip(
            formats, TEMPLATE_HEADERS["en"], TEMPLATE_HEADERS["fr"], strict=True
        )
    ]


@partner_view
def import_file(request: HttpRequest) -> HttpResponse:
    partner = writing_partner(request)
    result = None
    if request.method == "POST":
        form = ExpenseImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = expenses_import(
                    partner=partner, user=request.user, file=form.cleaned_data["file"]
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                if result.ok:
                    count = len(result.created)
                    messages.success(
                        request,
                        ngettext(
                            "%(count)s expense imported as a draft.",
                            "%(count)s expenses imported as drafts.",
                            count,
                        )
                        % {"count": count},
                    )
                    if result.ignored_columns:
                        messages.warning(
                            request,
                            _("These columns were not read: %(columns)s.")
                            % {"columns": ", ".join(result.ignored_columns)},
                        )
                    return redirect("expense-list")
    else:
        form = ExpenseImportForm()
    context = {
        "section": "expenses",
        "form": form,
        "result": result,
        "columns": _import_columns(request),
        "max_rows": MAX_ROWS,
    }
    return render(request, "portal/expenses/import.html", context)


@partner_view
def import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(template_csv(get_language() or "en"), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="expenses-import-template.csv"'
    return response


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


EXPENSE_COLUMNS = (
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


def expense_export_row() -> Callable[..., tuple[Any, ...]]:
    """An exported expense's cells from `EXPENSE_COLUMNS`, in the request's language: the
    partner's own export and the coordinators' (which adds the consortium and the partner)."""
    statuses = choice_labels(ExpenseStatus)
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

    return row


@partner_view
def expense_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    expenses = Expense.objects.restrict(request.user, "view").filter(partner=scope.partner)
    return export_rows(
        request,
        fmt,
        filterset=PartnerExpenseFilterSet(
            data=request.GET, queryset=expenses, request=request, partner=scope.partner
        ),
        list_name="expense-list",
        subject="expenses",
        fields=EXPENSE_FIELDS,
        columns=EXPENSE_COLUMNS,
        row=expense_export_row(),
    )


def _effort_page(
    request: HttpRequest, posted: tuple[int, EffortForm] | None = None
) -> HttpResponse:
    """The partner's periods begun by today, newest first, each with the workpackages the partner
    takes part in, their planned and actual person-months; a form for each period whose statement
    is not submitted, the others read-only. Four queries, however many periods."""
    scope = request.scope  # type: ignore[attr-defined]
    partner = scope.partner
    today = timezone.localdate()
    periods = list(
        ReportingPeriod.objects.restrict(request.user, "view")
        .filter(consortium_id=partner.consortium_id, start_date__lte=today)
        .annotate(
            locked=Exists(
                Statement.objects.filter(partner_id=partner.pk, period=OuterRef("pk")).submitted()
            )
        )
        .order_by("-number")
    )
    workpackages = list(
        Workpackage.objects.restrict(request.user, "view")
        .filter(
            consortium_id=partner.consortium_id,
            pk__in=WorkpackageParticipant.objects.filter(partner_id=partner.pk).values(
                "workpackage_id"
            ),
        )
        .order_by("number")
    )
    efforts = {
        (row.period_id, row.workpackage_id): row
        for row in partner_rows(request, Effort).filter(period__in=[p.pk for p in periods])
    }
    may_write = Partner.objects.restrict(request.user, "change").filter(pk=partner.pk).exists()
    sections = []
    for period in periods:
        rows = []
        for workpackage in workpackages:
            effort = efforts.get((period.pk, workpackage.pk))
            rows.append(
                {
                    "workpackage": workpackage,
                    "planned": effort.planned_person_months if effort else None,
                    "actual": effort.actual_person_months if effort else None,
                }
            )
        form = None
        if posted is not None and posted[0] == period.pk:
            form = posted[1]  # With its errors, in a locked period too.
        elif may_write and not period.locked:
            form = EffortForm(
                workpackages=workpackages,
                actuals={wp.pk: row["actual"] for wp, row in zip(workpackages, rows, strict=True)},
                prefix=f"p{period.pk}",
            )
        if form is not None:
            for row in rows:
                row["field"] = form[EffortForm.field_name(row["workpackage"])]
        sections.append({"period": period, "rows": rows, "form": form})
    context = {"section": "effort", "sections": sections, "workpackages": workpackages}
    return render(request, "portal/effort/index.html", context)


@partner_view
def effort(request: HttpRequest) -> HttpResponse:
    return _effort_page(request)


@partner_view
@require_POST
def effort_period(request: HttpRequest, period_pk: int) -> HttpResponse:
    """The partner's actual person-months of one period, through `effort_actuals_report`: a
    refused value (a submitted statement, a bad number) changes nothing and shows why."""
    partner = writing_partner(request)
    period = get_object_or_404(
        ReportingPeriod.objects.restrict(request.user, "view").filter(
            consortium_id=partner.consortium_id, start_date__lte=timezone.localdate()
        ),
        pk=period_pk,
    )
    workpackages = list(
        Workpackage.objects.restrict(request.user, "view")
        .filter(
            consortium_id=partner.consortium_id,
            pk__in=WorkpackageParticipant.objects.filter(partner_id=partner.pk).values(
                "workpackage_id"
            ),
        )
        .order_by("number")
    )
    form = EffortForm(request.POST, workpackages=workpackages, actuals={}, prefix=f"p{period.pk}")
    if form.is_valid():
        try:
            effort_actuals_report(
                partner=partner, period=period, actuals=form.actuals(), user=request.user
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request, _("Actual person-months of %(period)s saved.") % {"period": period}
            )
            return redirect("effort")
    return _effort_page(request, posted=(period.pk, form))


urlpatterns = [
    path("expenses/", index, name="expense-list"),
    path("expenses/add/", add, name="expense-add"),
    path("expenses/<int:pk>/edit/", edit, name="expense-edit"),
    path("expenses/<int:pk>/withdraw/", withdraw, name="expense-withdraw"),
    path("expenses/statement/<int:period_pk>/", statement, name="expense-statement"),
    path("expenses/import/", import_file, name="expense-import"),
    path("expenses/import/template.csv", import_template, name="expense-import-template"),
    path("expenses/export.<str:fmt>", expense_export, name="expense-export"),
    path("effort/", effort, name="effort"),
    path("effort/<int:period_pk>/", effort_period, name="effort-period"),
]
