"""Writes on the money: budget lines, expenses (submit, accept, reject, withdraw), statements and
effort. Every door calls these functions; each checks who acts (`authorize`), the current state
and the row's fixed fields under the row's lock, and a partner's statement and its lines take the
partner's row first.

Whole-row creates and edits go through `record_create` / `record_update` (`consortium/records.py`)
with the write rules registered at the end of this module.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from consortium.models import Partner, ReportingPeriod, WebhookEventType
from consortium.notifications import (
    notify_expense_partly_accepted,
    notify_expense_rejected,
    notify_statement_reopened,
    notify_statement_submitted,
)
from consortium.querysets import authorize, authorize_all, coordinates
from consortium.records import (
    WriteRule,
    check_state,
    keeps,
    locked,
    record_create,
    record_update,
    save_all_with_history,
    save_with_history,
    write_rule_register,
)
from consortium.webhooks import emit
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Effort, Expense, Statement


def lock_partner_for_statements(row: Any) -> None:
    """Serialise a write of a partner's expense or effort with the submission of that partner's
    statement: both take the partner's row first (a statement `FOR UPDATE`, a line `FOR KEY
    SHARE`, which lines don't refuse each other), so that a line saved while the statement is
    being submitted waits for it, then sees it, and a statement waits for the lines in flight."""
    partner_id = getattr(row, "partner_id", None)
    if partner_id is None:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {Partner._meta.db_table} WHERE id = %s FOR KEY SHARE",  # noqa: S608  (the table's own name)
                [partner_id],
            )
    else:
        # SQLite writes one transaction at a time: a write lock now keeps the same order.
        Partner.objects.filter(pk=partner_id).update(updated_at=F("updated_at"))


def _check_effort_plan(
    effort: Effort, *, user: Any, changes: dict[str, Any], creating: bool
) -> None:
    """The plan is the coordinators': partner people report actual person-months, but neither set
    the planned ones nor move a planned row to another workpackage or period."""
    if effort.partner_id is None:
        return
    if coordinates(user, effort.partner.consortium_id) or user is None:
        return
    # A new row's plan is zero until a coordinator sets it.
    planned = Decimal(0) if creating else effort.planned_person_months
    errors = {}
    if changes.get("planned_person_months", planned) != planned:
        errors["planned_person_months"] = _("Only the coordinators change the plan.")
    if not creating and planned:
        for name in ("workpackage", "period"):
            if name in changes:
                errors[name] = _("Only the coordinators move planned effort.")
    if errors:
        raise ValidationError(errors, code="coordinators_plan")


def _check_effort_statement(
    effort: Effort, *, user: Any, changes: dict[str, Any], creating: bool
) -> None:
    """Actual person-months of a period whose expense statement is submitted are the record the
    statement was judged on: its partner's people no longer change them, nor move a row with
    actuals into or out of that period or workpackage. The coordinators correct them."""
    partner = changes.get("partner") or (effort.partner if effort.partner_id else None)
    if user is None or partner is None or coordinates(user, partner.consortium_id):
        return
    if not {"actual_person_months", "period", "workpackage"} & changes.keys():
        return
    stored_actuals = None if creating else effort.actual_person_months
    if changes.get("actual_person_months", stored_actuals) is None and stored_actuals is None:
        return
    periods = {period.pk for period in (changes.get("period"),) if period is not None}
    if not creating and effort.period_id is not None:
        periods.add(effort.period_id)
    locked = (
        Statement.objects.filter(partner_id=partner.pk, period_id__in=periods)
        .submitted()
        .select_related("period")
        .order_by("period__number")
        .first()
    )
    if locked is not None:
        raise ValidationError(
            {
                "actual_person_months": ValidationError(
                    _(
                        "The statement of %(period)s has been submitted: its actual "
                        "person-months no longer change. Ask the coordinators."
                    )
                    % {"period": locked.period},
                    code="statement_submitted",
                )
            }
        )


def _granted_follows_plan(line: BudgetLine, changes: dict[str, Any]) -> dict[str, Any]:
    """A new planned amount or rate recomputes the granted amount, unless one is given."""
    if {"planned_amount", "funding_rate"} & changes.keys() and "granted_amount" not in changes:
        return {**changes, "granted_amount": None}
    return changes


def _period_follows_date(expense: Expense, changes: dict[str, Any]) -> dict[str, Any]:
    """A new date without a period takes the period it falls in (`Expense.clean`)."""
    if "incurred_on" in changes and "period" not in changes:
        return {**changes, "period": None}
    return changes


def _missing_evidence(expense: Expense) -> str | None:
    """Why `expense` may not be sent without its evidence file: its heading requires one."""
    if expense.evidence or not expense.category.evidence_required:
        return None
    return _(
        "The expense “%(description)s” (%(expense)s) has no evidence file: expenses of the "
        "heading “%(heading)s” are sent with their invoice or receipt. Attach it first."
    ) % {"description": expense.description, "expense": expense, "heading": expense.category}


@transaction.atomic
def expense_submit(*, expense: Expense, user: Any, now: datetime.datetime | None = None) -> Expense:
    """Send a draft expense to the coordinator; it can no longer be edited. An expense of a
    heading that requires evidence goes with its evidence file."""
    expense = locked(Expense, expense.pk)
    authorize(user, expense, "change")
    check_state(expense, {ExpenseStatus.DRAFT}, _("Cannot submit %(object)s: it is %(status)s."))
    if refusal := _missing_evidence(expense):
        raise ValidationError({"evidence": refusal}, code="evidence_required")
    expense.status = ExpenseStatus.SUBMITTED
    expense.submitted_at = now or timezone.now()
    save_with_history(expense, user=user, update_fields=["status", "submitted_at"])
    emit(WebhookEventType.EXPENSE_SUBMITTED, expense)
    return expense


@transaction.atomic
def statement_submit(
    *, partner: Partner, period: ReportingPeriod, user: Any, now: datetime.datetime | None = None
) -> Statement:
    """Submit a partner's expense statement for an ended period: every draft line of the period
    goes to the coordinators, and the period takes no new lines from the partner. The statement
    records the lines it declares: all the period's lines but the withdrawn ones.

    A statement the coordinators reopened (`statement_reopen`) is submitted again on the same
    row: its moment, author, lines and total are those of this submission, the reopening is
    cleared, and the history keeps every earlier state."""
    now = now or timezone.now()
    partner = locked(Partner, partner.pk)
    authorize(user, partner, "change")
    if period.consortium_id != partner.consortium_id:
        raise ValidationError(
            {"period": _("This period belongs to another consortium.")}, code="other_consortium"
        )
    statement = (
        Statement.objects.select_for_update(of=("self",))
        .filter(partner=partner, period=period)
        .first()
    )
    if statement is not None and not statement.is_reopened:
        raise ValidationError(
            _("The statement for %(period)s has already been submitted.") % {"period": period},
            code="statement_submitted",
        )
    if timezone.localdate(now) <= period.end_date:
        raise ValidationError(
            _(
                "The statement for %(period)s can be submitted once the period has ended, after %(end)s."
            )
            % {"period": period, "end": period.end_date.isoformat()},
            code="period_not_ended",
        )
    drafts = list(
        Expense.objects.select_for_update(of=("self",))
        .filter(partner=partner, period=period, status=ExpenseStatus.DRAFT)
        .select_related("category")
        .order_by("pk")
    )
    # A draft of a heading that requires evidence goes with its file: one without sends nothing.
    if missing := [refusal for expense in drafts if (refusal := _missing_evidence(expense))]:
        raise ValidationError(missing, code="evidence_required")
    for expense in drafts:
        expense.status = ExpenseStatus.SUBMITTED
        expense.submitted_at = now
    save_all_with_history(drafts, user=user, update_fields=["status", "submitted_at"])
    emit(WebhookEventType.EXPENSE_SUBMITTED, *drafts)
    lines, total = Expense.objects.filter(partner=partner, period=period).declared_totals()
    if statement is not None:
        statement.submitted_at, statement.submitted_by = now, user
        statement.lines, statement.total = lines, total
        statement.reopened_at, statement.reopened_by, statement.reopen_reason = None, None, ""
        save_with_history(
            statement,
            user=user,
            update_fields=[
                "submitted_at",
                "submitted_by",
                "lines",
                "total",
                "reopened_at",
                "reopened_by",
                "reopen_reason",
            ],
        )
        notify_statement_submitted(statement=statement, user=user)
        emit(WebhookEventType.STATEMENT_SUBMITTED, statement)
        return statement
    statement = Statement(
        partner=partner,
        period=period,
        submitted_at=now,
        submitted_by=user,
        lines=lines,
        total=total,
    )
    save_with_history(statement, user=user)
    notify_statement_submitted(statement=statement, user=user)
    emit(WebhookEventType.STATEMENT_SUBMITTED, statement)
    return statement


@transaction.atomic
def statement_reopen(
    *, statement: Statement, reason: str, user: Any, now: datetime.datetime | None = None
) -> Statement:
    """Reopen a partner's submitted statement, with the reason its partner reads (coordinators
    only): the period takes the partner's lines again (a rejected line declared anew, say) until
    the partner submits the statement again (`statement_submit`). The lines already sent stay
    with the coordinators. Takes the partner's row first, as `statement_submit` does."""
    locked(Partner, statement.partner_id)
    statement = locked(Statement, statement.pk)
    authorize(user, statement, "manage")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Give the reason for reopening the statement: its partner reads it.")},
            code="reason_required",
        )
    if statement.is_reopened:
        raise ValidationError(
            _("%(statement)s is already reopened: its partner has not submitted it again yet.")
            % {"statement": statement},
            code="statement_reopened",
        )
    statement.reopened_at = now or timezone.now()
    statement.reopened_by = user
    statement.reopen_reason = reason
    save_with_history(
        statement, user=user, update_fields=["reopened_at", "reopened_by", "reopen_reason"]
    )
    notify_statement_reopened(statement=statement, reason=reason, user=user)
    emit(WebhookEventType.STATEMENT_REOPENED, statement)
    return statement


@transaction.atomic
def expense_accept(
    *,
    expense: Expense,
    user: Any,
    accepted_amount: Decimal | None = None,
    comment: str = "",
    now: datetime.datetime | None = None,
) -> Expense:
    """Accept a submitted expense, in full or for a lower eligible amount."""
    expense = locked(Expense, expense.pk)
    authorize(user, expense, "manage")
    check_state(
        expense, {ExpenseStatus.SUBMITTED}, _("Cannot accept %(object)s: it is %(status)s.")
    )
    amount = expense.amount if accepted_amount is None else Decimal(accepted_amount)
    if not Decimal(0) <= amount <= expense.amount:
        raise ValidationError(
            {
                "accepted_amount": _(
                    "The accepted amount lies between zero and the declared amount."
                )
            },
            code="accepted_amount_range",
        )
    if amount < expense.amount and not comment.strip():
        raise ValidationError(
            {"comment": _("Explain why only part of the expense is accepted.")},
            code="comment_required",
        )
    expense.status = ExpenseStatus.ACCEPTED
    expense.accepted_amount = amount
    expense.reviewed_by = user
    expense.reviewed_at = now or timezone.now()
    expense.review_comment = comment.strip()
    save_with_history(
        expense,
        user=user,
        update_fields=["status", "accepted_amount", "reviewed_by", "reviewed_at", "review_comment"],
    )
    _consumption_moved([expense], expense.reviewed_at)
    notify_expense_partly_accepted(expense=expense, user=user)
    emit(WebhookEventType.EXPENSE_ACCEPTED, expense)
    return expense


def _consumption_moved(expenses: list[Expense], at: datetime.datetime) -> None:
    """The budget lines whose consumed amount the acceptance of `expenses` changed (each
    expense's line, and the flat-rate lines computed on its heading) are changed at `at`: an
    integration syncing by `updated_since` reads their new figure. Not a change of the line
    itself, so not a row of its history."""
    moved = Q()
    for expense in expenses:
        moved |= Q(partner_id=expense.partner_id, workpackage_id=expense.workpackage_id) & (
            Q(category_id=expense.category_id) | Q(category__flat_rate_base_id=expense.category_id)
        )
    if expenses:
        BudgetLine.objects.filter(moved).update(updated_at=at)


@transaction.atomic
def expenses_accept(
    *, expenses: list[Expense], user: Any, now: datetime.datetime | None = None
) -> list[Expense]:
    """Accept several submitted expenses in full at once (a statement's lines, say): the rules
    of `expense_accept` for each, under one lock and one check of who acts, written in one
    update. One expense that may not be accepted refuses them all."""
    ids = sorted({expense.pk for expense in expenses})
    rows = list(Expense.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
    if len(rows) != len(ids):
        raise Expense.DoesNotExist("Some of these expenses do not exist.")
    authorize_all(user, rows, "manage")
    moment = now or timezone.now()
    for expense in rows:
        check_state(
            expense, {ExpenseStatus.SUBMITTED}, _("Cannot accept %(object)s: it is %(status)s.")
        )
        expense.status = ExpenseStatus.ACCEPTED
        expense.accepted_amount = expense.amount
        expense.reviewed_by = user
        expense.reviewed_at = moment
        expense.review_comment = ""
    save_all_with_history(
        rows,
        user=user,
        update_fields=["status", "accepted_amount", "reviewed_by", "reviewed_at", "review_comment"],
    )
    _consumption_moved(rows, moment)
    emit(WebhookEventType.EXPENSE_ACCEPTED, *rows)
    return rows


@transaction.atomic
def expense_reject(
    *, expense: Expense, user: Any, comment: str, now: datetime.datetime | None = None
) -> Expense:
    """Reject a submitted expense with the reason the partner will read."""
    if not comment.strip():
        raise ValidationError(
            {"comment": _("Give the reason for rejecting the expense.")}, code="comment_required"
        )
    expense = locked(Expense, expense.pk)
    authorize(user, expense, "manage")
    check_state(
        expense, {ExpenseStatus.SUBMITTED}, _("Cannot reject %(object)s: it is %(status)s.")
    )
    expense.status = ExpenseStatus.REJECTED
    expense.reviewed_by = user
    expense.reviewed_at = now or timezone.now()
    expense.review_comment = comment.strip()
    save_with_history(
        expense, user=user, update_fields=["status", "reviewed_by", "reviewed_at", "review_comment"]
    )
    notify_expense_rejected(expense=expense, user=user)
    emit(WebhookEventType.EXPENSE_REJECTED, expense)
    return expense


@transaction.atomic
def expense_withdraw(*, expense: Expense, user: Any) -> Expense:
    """Withdraw an expense: financial rows are kept, never deleted. Partners take back their
    drafts; a submitted line is the coordinators' to decide on, and one they withdraw leaves the
    statement that declared it, whose figures follow."""
    _lock_partner_of(expense)
    expense = locked(Expense, expense.pk)
    authorize(user, expense, "change")
    coordinator = user is None or coordinates(user, expense.consortium_id)
    if expense.status == ExpenseStatus.SUBMITTED and not coordinator:
        raise ValidationError(
            _(
                "%(object)s has been submitted: the coordinators decide on it now. Ask them to "
                "withdraw it if it was sent by mistake."
            )
            % {"object": expense},
            code="submitted_to_coordinators",
        )
    check_state(
        expense,
        {ExpenseStatus.DRAFT, ExpenseStatus.SUBMITTED},
        _("Cannot withdraw %(object)s: it is %(status)s."),
    )
    expense.status = ExpenseStatus.WITHDRAWN
    save_with_history(expense, user=user, update_fields=["status"])
    _statement_follows(expense, user=user)
    return expense


def _lock_partner_of(expense: Expense) -> None:
    """The partner's row before the expense's, in the order `statement_submit` takes them."""
    lock_partner_for_statements(Expense.objects.only("partner_id").get(pk=expense.pk))


def _statement_follows(expense: Expense, *, user: Any) -> None:
    """A submitted statement's lines and total are what it declares: after a line leaves it, they
    are counted again (the history keeps what they were)."""
    statement = (
        Statement.objects.select_for_update(of=("self",))
        .filter(partner_id=expense.partner_id, period_id=expense.period_id)
        .first()
    )
    if statement is None or statement.is_reopened:
        # Reopened, it declares what it declared until the partner submits it again.
        return
    lines, total = Expense.objects.filter(
        partner_id=expense.partner_id, period_id=expense.period_id
    ).declared_totals()
    if (lines, total) != (statement.lines, statement.total):
        statement.lines, statement.total = lines, total
        save_with_history(statement, user=user, update_fields=["lines", "total"])


@transaction.atomic
def budget_line_cancel(*, line: BudgetLine, user: Any) -> BudgetLine:
    """Cancel a budget line (kept for the audit trail); lines with live expenses stay."""
    line = locked(BudgetLine, line.pk)
    authorize(user, line, "manage")
    check_state(line, {BudgetLineStatus.ACTIVE}, _("Cannot cancel %(object)s: it is %(status)s."))
    live = Expense.objects.filter(
        partner_id=line.partner_id,
        workpackage_id=line.workpackage_id,
        category_id=line.category_id,
        status__in=[ExpenseStatus.DRAFT, ExpenseStatus.SUBMITTED, ExpenseStatus.ACCEPTED],
    )
    if live.exists():
        raise ValidationError(
            _("Cannot cancel %(line)s: expenses are recorded against it.") % {"line": line},
            code="line_has_expenses",
        )
    line.status = BudgetLineStatus.CANCELLED
    save_with_history(line, user=user, update_fields=["status"])
    return line


# How every door writes whole rows of the money (`record_create`, `record_update`,
# `record_delete` in consortium/records.py). Decided rows are the audit record: `editable_states`
# are the only states in which a row still changes.

write_rule_register(
    BudgetLine,
    WriteRule(
        editable_states=frozenset({BudgetLineStatus.ACTIVE}),
        fixed=keeps(
            ("partner", "workpackage", "category"),
            gettext_noop(
                "A line keeps its partner, workpackage and heading: cancel it and add a new one."
            ),
        ),
        prepare=_granted_follows_plan,
    ),
)
_STAYS_WITH_PARTNER = gettext_noop(
    "A record stays with its partner: withdraw it and add a new one."
)
write_rule_register(
    Expense,
    WriteRule(
        action="change",
        editable_states=frozenset({ExpenseStatus.DRAFT}),
        fixed=keeps(("partner",), _STAYS_WITH_PARTNER),
        prepare=_period_follows_date,
        lock=lock_partner_for_statements,
    ),
)
write_rule_register(
    Effort,
    WriteRule(
        action="change",
        fixed=keeps(("partner",), _STAYS_WITH_PARTNER),
        checks=(_check_effort_plan, _check_effort_statement),
        lock=lock_partner_for_statements,
    ),
)


@transaction.atomic
def effort_actuals_report(
    *,
    partner: Partner,
    period: ReportingPeriod,
    actuals: list[tuple[Any, Decimal | None]],
    user: Any,
) -> list[Effort]:
    """A partner's actual person-months of one period, per workpackage: each row created or
    changed through the effort's write rule, as the API does (`record_create`,
    `record_update`), so its checks (the plan is the coordinators', a submitted statement locks
    its period, the partner's workpackages) apply. All or nothing: any refusal, reported per
    workpackage, leaves every row as it was."""
    stored = {
        row.workpackage_id: row
        for row in Effort.objects.filter(partner_id=partner.pk, period_id=period.pk)
    }
    saved: list[Effort] = []
    refusals: list[str] = []
    for workpackage, actual in actuals:
        row = stored.get(workpackage.pk)
        try:
            with transaction.atomic():
                if row is not None:
                    saved.append(
                        record_update(instance=row, user=user, actual_person_months=actual)
                    )
                elif actual is not None:
                    saved.append(
                        record_create(
                            model=Effort,
                            user=user,
                            partner=partner,
                            workpackage=workpackage,
                            period=period,
                            actual_person_months=actual,
                        )
                    )
        except ValidationError as error:
            refusals.extend(
                _("%(workpackage)s: %(reason)s")
                % {"workpackage": workpackage.code, "reason": message}
                for message in error.messages
            )
    if refusals:
        raise ValidationError(refusals, code="effort_refused")
    return saved
