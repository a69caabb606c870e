"""The partners' expense statements of one reporting period, seen by the people who oversee the
consortium: its coordinators, and its observers (the funder) who only read.

`/statements/<id>/` shows the consortium's latest ended period (the first one before any has
ended); `/statements/<id>/<period id>/` the period picked with the page's chooser (a GET form,
no script). For each partner: whether and when its statement was submitted and by whom, whether
the coordinators reopened it, how many lines and how much it sent to the coordinators and how
much of it they accepted, and whether it is late (no statement, or a reopened one, after the
period's due date). The figures come from the database in a constant number of queries, and
count only what partners sent: a draft is its partner's own business and counts nowhere.

A coordinator reopens a submitted statement from the page, with the reason its partner reads
(`statement_reopen`); observers see no button, and a reopening they post answers 404. A
consortium the person does not oversee, or a period of another consortium, is a 404.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from consortium.formtools import add_service_error
from consortium.models import Consortium, Partner, ReportingPeriod
from consortium.querysets import coordinates
from workpackages.base import cents
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense, Statement
from workpackages.money.selectors import owes_statements
from workpackages.money.services import statement_reopen

# The lines a partner has sent to the coordinators: what a statement declares, drafts aside
# (never counted here: observers don't read them) and withdrawn lines aside.
SENT = (ExpenseStatus.SUBMITTED, ExpenseStatus.ACCEPTED, ExpenseStatus.REJECTED)
REASON_MAX_LENGTH = 2000


class ReopenForm(forms.Form):
    """Which statement to reopen and why; whether it may be is `statement_reopen`'s to say."""

    statement = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("Reason for reopening"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 30}),
        help_text=gettext_lazy("The partner reads it on its statement."),
    )


@dataclass
class StatementRow:
    """One partner's statement of the period, and the lines it sent the coordinators."""

    partner: Partner
    statement: Statement | None
    lines: int
    declared: Decimal
    accepted_lines: int
    accepted: Decimal
    waiting_lines: int
    state: str  # submitted, reopened, late, pending (period ended), running (not ended)
    days_late: int
    form: ReopenForm | None = None

    @property
    def submitted(self) -> bool:
        return self.state == "submitted"


@dataclass
class PeriodStatements:
    period: ReportingPeriod
    today: datetime.date
    rows: list[StatementRow]

    def _count(self, *states: str) -> int:
        return sum(1 for row in self.rows if row.state in states)

    @property
    def ended(self) -> bool:
        return self.today > self.period.end_date

    @property
    def submitted(self) -> int:
        return self._count("submitted")

    @property
    def late(self) -> int:
        return sum(1 for row in self.rows if row.days_late)

    @property
    def waiting(self) -> int:
        """Statements not submitted (never, or again since reopened)."""
        return self._count("reopened", "late", "pending", "running")

    @property
    def lines(self) -> int:
        return sum(row.lines for row in self.rows)

    @property
    def declared(self) -> Decimal:
        return sum((row.declared for row in self.rows), Decimal("0.00"))

    @property
    def accepted(self) -> Decimal:
        return sum((row.accepted for row in self.rows), Decimal("0.00"))


def period_statements(
    *, user: Any, consortium: Consortium, period: ReportingPeriod, today: datetime.date
) -> PeriodStatements:
    """Each partner's statement of `period` and its figures, in three queries: the partners, the
    statements, the sent lines' sums. A partner is listed if it was in the consortium during the
    period, or if it has a statement or lines in it."""
    return periods_statements(user=user, periods=[period], today=today)[period.pk]


def periods_statements(
    *, user: Any, periods: list[ReportingPeriod], today: datetime.date
) -> dict[int, PeriodStatements]:
    """`period_statements` of several periods (of several consortia: a coordinator's dashboard),
    in the same three queries however many periods."""
    if not periods:
        return {}
    ids = [period.pk for period in periods]
    sent = Q(status__in=SENT)
    figures = {
        (row["period_id"], row["partner_id"]): row
        for row in Expense.objects.restrict(user, "view")
        .filter(sent, period_id__in=ids)
        .order_by()
        .values("period_id", "partner_id")
        .annotate(
            lines=Count("pk"),
            declared=Sum("amount"),
            accepted_lines=Count("pk", filter=Q(status=ExpenseStatus.ACCEPTED)),
            accepted=Sum("accepted_amount", filter=Q(status=ExpenseStatus.ACCEPTED)),
            waiting_lines=Count("pk", filter=Q(status=ExpenseStatus.SUBMITTED)),
        )
    }
    statements = {
        (statement.period_id, statement.partner_id): statement
        for statement in Statement.objects.restrict(user, "view")
        .filter(period_id__in=ids)
        .select_related("submitted_by", "reopened_by")
    }
    sent_keys = {*statements, *figures}
    listed = Q(pk__in=[partner for _period, partner in sent_keys])
    for period in periods:
        # Those who owe the period a statement (`owes_statements`), and any that sent one.
        listed |= (
            Q(consortium_id=period.consortium_id, joined_on__lte=period.end_date)
            & (Q(left_on__isnull=True) | Q(left_on__gte=period.start_date))
            & Q(owes_statements())
        )
    partners = list(
        Partner.objects.filter(consortium_id__in={period.consortium_id for period in periods})
        .filter(listed)
        .annotate(owes=owes_statements())
        .select_related("organisation")
        .order_by("consortium_id", "number")
    )
    return {
        period.pk: PeriodStatements(
            period=period,
            today=today,
            rows=[
                _statement_row(
                    partner,
                    period,
                    statements.get((period.pk, partner.pk)),
                    figures.get((period.pk, partner.pk), {}),
                    today,
                )
                for partner in partners
                if partner.consortium_id == period.consortium_id
                and _listed(partner, period, (period.pk, partner.pk) in sent_keys)
            ],
        )
        for period in periods
    }


def _listed(partner: Partner, period: ReportingPeriod, sent: bool) -> bool:
    """Whether `partner` is on the period's list: it sent something, or it was in the
    consortium during the period and owes statements."""
    if sent:
        return True
    during = partner.joined_on <= period.end_date and (
        partner.left_on is None or partner.left_on >= period.start_date
    )
    return during and partner.owes  # type: ignore[attr-defined]


def _statement_row(
    partner: Partner,
    period: ReportingPeriod,
    statement: Statement | None,
    numbers: dict[str, Any],
    today: datetime.date,
) -> StatementRow:
    days_late = 0
    if statement is not None and not statement.is_reopened:
        state = "submitted"
    elif today > period.statement_due_date:
        state = "reopened" if statement is not None else "late"
        days_late = (today - period.statement_due_date).days
    elif statement is not None:
        state = "reopened"
    else:
        state = "pending" if today > period.end_date else "running"
    return StatementRow(
        partner=partner,
        statement=statement,
        lines=numbers.get("lines", 0),
        declared=cents(numbers.get("declared")),
        accepted_lines=numbers.get("accepted_lines", 0),
        accepted=cents(numbers.get("accepted")),
        waiting_lines=numbers.get("waiting_lines", 0),
        state=state,
        days_late=days_late,
    )


def _overseen(request: HttpRequest, pk: int) -> Consortium:
    return get_object_or_404(Consortium.objects.overseen_by(request.user), pk=pk)


def _periods(consortium: Consortium) -> list[ReportingPeriod]:
    return list(ReportingPeriod.objects.filter(consortium_id=consortium.pk).order_by("number"))


def _latest_ended(periods: list[ReportingPeriod], today: datetime.date) -> ReportingPeriod | None:
    """The latest period ended by today; before any has ended, the first."""
    ended = [period for period in periods if period.end_date < today]
    if ended:
        return ended[-1]
    return periods[0] if periods else None


def _find(periods: list[ReportingPeriod], pk: Any) -> ReportingPeriod:
    """One of the consortium's periods: any other id is as absent as any other row."""
    period = next((p for p in periods if str(p.pk) == str(pk)), None)
    if period is None:
        raise Http404
    return period


@require_safe
@login_required
def statements(request: HttpRequest, pk: int) -> HttpResponse:
    consortium = _overseen(request, pk)
    periods = _periods(consortium)
    # The chooser is a GET form: the period it names gets the page of its own.
    chosen = request.GET.get("period", "")
    if chosen:
        return redirect("statements-period", pk=consortium.pk, period_pk=_find(periods, chosen).pk)
    return _page(request, consortium, periods, _latest_ended(periods, timezone.localdate()))


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def statements_period(request: HttpRequest, pk: int, period_pk: int) -> HttpResponse:
    consortium = _overseen(request, pk)
    periods = _periods(consortium)
    period = _find(periods, period_pk)
    failed = None
    if request.method == "POST":
        form = ReopenForm(request.POST)
        # Only the coordinators reopen: for anyone else the statement is not there to reopen.
        reopenable = Statement.objects.restrict(request.user, "manage").filter(period=period)
        statement_id = str(form.data.get("statement", ""))
        if not statement_id.isdigit():
            raise Http404
        statement = get_object_or_404(reopenable, pk=int(statement_id))
        if form.is_valid():
            try:
                statement_reopen(
                    statement=statement, reason=form.cleaned_data["reason"], user=request.user
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "The statement of %(partner)s for %(period)s is reopened: its partner "
                        "can correct it and submit it again."
                    )
                    % {"partner": statement.partner, "period": period},
                )
                return redirect("statements-period", pk=consortium.pk, period_pk=period.pk)
        failed = form
    return _page(request, consortium, periods, period, failed=failed)


def _page(
    request: HttpRequest,
    consortium: Consortium,
    periods: list[ReportingPeriod],
    period: ReportingPeriod | None,
    *,
    failed: ReopenForm | None = None,
) -> HttpResponse:
    today = timezone.localdate()
    board = None
    if period is not None:
        board = period_statements(
            user=request.user, consortium=consortium, period=period, today=today
        )
    coordinator = coordinates(request.user, consortium.pk)
    failed_row = None
    if coordinator and board is not None:
        for row in board.rows:
            if row.submitted and row.statement is not None:
                if failed is not None and str(failed.data.get("statement")) == str(
                    row.statement.pk
                ):
                    row.form, failed_row = failed, row
                else:
                    row.form = ReopenForm(initial={"statement": row.statement.pk})
    return render(
        request,
        "portal/statements/period.html",
        {
            "consortium": consortium,
            "periods": periods,
            "period": period,
            "board": board,
            "coordinator": coordinator,
            "failed_row": failed_row,
            "failed": failed,
        },
    )


urlpatterns = [
    path("statements/<int:pk>/", statements, name="statements"),
    path("statements/<int:pk>/<int:period_pk>/", statements_period, name="statements-period"),
]
