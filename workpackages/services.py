"""Writes on the work plan, the budget and the jobs. Admin actions, API actions, partner pages,
commands and tasks all call these functions; each checks the current state under a row lock."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from consortium.models import Consortium, Partner, ReportingPeriod
from consortium.services import check_state, save_with_history

from .choices import (
    BudgetLineStatus,
    DeliverableStatus,
    ExpenseStatus,
    JobStatus,
    MilestoneStatus,
    ReviewDecision,
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
    Statement,
    Workpackage,
)

OPEN_DELIVERABLE = {
    DeliverableStatus.PLANNED,
    DeliverableStatus.IN_PROGRESS,
    DeliverableStatus.CHANGES_REQUESTED,
}


# Decided rows are the audit record: these states are the only ones in which a row still changes.
EDITABLE_STATES: dict[type, set[str]] = {
    Expense: {ExpenseStatus.DRAFT},
    BudgetLine: {BudgetLineStatus.ACTIVE},
    JobRecord: {JobStatus.FORECAST, JobStatus.REALISED},
    Milestone: {MilestoneStatus.PENDING},
}


def _locked(model: Any, pk: int) -> Any:
    return model.objects.select_for_update().get(pk=pk)


def is_editable(instance: Any) -> bool:
    """Whether the row's state still lets anyone change it."""
    allowed = EDITABLE_STATES.get(type(instance))
    return allowed is None or instance.status in allowed


def fixed_fields(instance: Any) -> tuple[tuple[str, ...], str]:
    """The fields a saved row keeps in its current state, and why. The admin's forms and
    `record_update` both enforce them."""
    if isinstance(instance, Deliverable) and instance.first_submitted_at is not None:
        # What it is and when it was due are the record its lateness is judged on.
        return (
            ("workpackage", "number", "lead_partner", "due_month", "late_justification"),
            _("The deliverable has been submitted: this no longer changes."),
        )
    if isinstance(instance, BudgetLine):
        return (
            ("partner", "workpackage", "category"),
            _("A line keeps its partner, workpackage and heading: cancel it and add a new one."),
        )
    if isinstance(instance, JobRecord) and instance.status == JobStatus.REALISED:
        return (
            ("partner", "impact", "start_date"),
            _("A realised job keeps its partner, its impact and its start date."),
        )
    if isinstance(instance, Expense | Effort):
        return (("partner",), _("A record stays with its partner: withdraw it and add a new one."))
    return ((), "")


def _save_checked(instance: Any, *, user: Any) -> None:
    """Save with history; a row another request saved meanwhile (a unique rule checked before
    the insert, broken by the time it lands) is refused with that rule's message."""
    try:
        with transaction.atomic():
            save_with_history(instance, user=user)
    except IntegrityError:
        instance.validate_constraints()
        raise


def _check_effort_plan(*, effort: Any, user: Any, changes: dict[str, Any]) -> None:
    """The plan is the coordinators': partner people report actual person-months, but neither set
    the planned ones nor move a planned row to another workpackage or period."""
    if not isinstance(effort, Effort) or effort.partner_id is None:
        return
    if Consortium.objects.restrict(user, "manage").filter(pk=effort.partner.consortium_id).exists():
        return
    # A new row's plan is zero until a coordinator sets it.
    planned = effort.planned_person_months if effort.pk else Decimal(0)
    errors = {}
    if changes.get("planned_person_months", planned) != planned:
        errors["planned_person_months"] = _("Only the coordinators change the plan.")
    if effort.pk and planned:
        for name in ("workpackage", "period"):
            if name in changes and changes[name] != getattr(effort, name):
                errors[name] = _("Only the coordinators move planned effort.")
    if errors:
        raise ValidationError(errors, code="coordinators_plan")


@transaction.atomic
def record_create(*, model: type, user: Any, **fields: Any) -> Any:
    """Create a budget line, an expense, effort or a job record in its first state, validated,
    with `user` as the author in its history."""
    instance = model(**fields)
    _check_effort_plan(effort=instance, user=user, changes=fields)
    _save_checked(instance, user=user)
    return instance


@transaction.atomic
def record_update(*, instance: Any, user: Any, **changes: Any) -> Any:
    """Change the fields a row's state still allows; refuse the whole change otherwise."""
    instance = _locked(type(instance), instance.pk)
    allowed = EDITABLE_STATES.get(type(instance))
    if allowed is not None:
        check_state(instance, allowed, _("Cannot change %(object)s: it is %(status)s."))
    fixed, reason = fixed_fields(instance)
    moved = [name for name in fixed if name in changes and changes[name] != getattr(instance, name)]
    if moved:
        raise ValidationError({name: reason for name in moved}, code="fixed_field")
    _check_effort_plan(effort=instance, user=user, changes=changes)
    replanned = [
        name
        for name in ("planned_amount", "funding_rate")
        if name in changes and changes[name] != getattr(instance, name)
    ]
    if isinstance(instance, BudgetLine) and replanned and "granted_amount" not in changes:
        # Recomputed from the new plan unless the coordinator gives a granted amount.
        changes["granted_amount"] = None
    consortium_id = instance.consortium_id
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.derive_consortium()
    if instance.consortium_id != consortium_id:
        raise ValidationError(
            {"partner": _("A record stays in its consortium.")}, code="other_consortium"
        )
    _save_checked(instance, user=user)
    return instance


@transaction.atomic
def deliverable_start(*, deliverable: Deliverable, user: Any) -> Deliverable:
    """Mark a planned deliverable as in progress."""
    deliverable = _locked(Deliverable, deliverable.pk)
    check_state(
        deliverable, {DeliverableStatus.PLANNED}, _("Cannot start %(object)s: it is %(status)s.")
    )
    deliverable.status = DeliverableStatus.IN_PROGRESS
    save_with_history(deliverable, user=user, update_fields=["status"])
    return deliverable


@transaction.atomic
def deliverable_submit(
    *,
    deliverable: Deliverable,
    user: Any,
    file: File,
    note: str = "",
    late_justification: str = "",
    now: datetime.datetime | None = None,
) -> DeliverableSubmission:
    """Send a new version for review; past the due date a written justification is required."""
    now = now or timezone.now()
    deliverable = _locked(Deliverable, deliverable.pk)
    check_state(deliverable, OPEN_DELIVERABLE, _("Cannot submit %(object)s: it is %(status)s."))
    late_justification = late_justification.strip() or deliverable.late_justification
    if timezone.localdate(now) > deliverable.due_date and not late_justification:
        raise ValidationError(
            {
                "late_justification": _(
                    "This deliverable was due on %(date)s: explain the delay before submitting."
                )
                % {"date": deliverable.due_date.isoformat()}
            },
            code="late_justification_required",
        )
    version = (deliverable.submissions.aggregate(last=Max("version"))["last"] or 0) + 1
    submission = DeliverableSubmission(
        deliverable=deliverable,
        version=version,
        file=file,
        note=note,
        submitted_by=user,
        submitted_at=now,
    )
    submission.full_clean()
    submission.save()
    deliverable.status = DeliverableStatus.SUBMITTED
    deliverable.late_justification = late_justification
    if deliverable.first_submitted_at is None:
        deliverable.first_submitted_at = now
    save_with_history(
        deliverable,
        user=user,
        update_fields=["status", "late_justification", "first_submitted_at"],
    )
    return submission


def _deliverable_review(
    *,
    deliverable: Deliverable,
    user: Any,
    decision: str,
    comment: str,
    refusal: str,
    now: datetime.datetime | None,
) -> DeliverableReview:
    deliverable = _locked(Deliverable, deliverable.pk)
    check_state(deliverable, {DeliverableStatus.SUBMITTED}, refusal)
    review = DeliverableReview.objects.create(
        deliverable=deliverable,
        submission=deliverable.submissions.order_by("-version").first(),
        decision=decision,
        comment=comment,
        reviewer=user,
        reviewed_at=now or timezone.now(),
    )
    deliverable.status = decision
    deliverable.approved_at = review.reviewed_at if decision == ReviewDecision.APPROVED else None
    save_with_history(deliverable, user=user, update_fields=["status", "approved_at"])
    return review


@transaction.atomic
def deliverable_approve(
    *,
    deliverable: Deliverable,
    user: Any,
    comment: str = "",
    now: datetime.datetime | None = None,
) -> DeliverableReview:
    """Approve the submitted version."""
    return _deliverable_review(
        deliverable=deliverable,
        user=user,
        decision=ReviewDecision.APPROVED,
        comment=comment,
        refusal=_("Cannot approve %(object)s: it is %(status)s."),
        now=now,
    )


@transaction.atomic
def deliverable_request_changes(
    *, deliverable: Deliverable, user: Any, comment: str, now: datetime.datetime | None = None
) -> DeliverableReview:
    """Send the submitted version back to its lead partner with what to change."""
    if not comment.strip():
        raise ValidationError(
            {"comment": _("Say what must change before sending the deliverable back.")},
            code="comment_required",
        )
    return _deliverable_review(
        deliverable=deliverable,
        user=user,
        decision=ReviewDecision.CHANGES_REQUESTED,
        comment=comment.strip(),
        refusal=_("Cannot request changes on %(object)s: it is %(status)s."),
        now=now,
    )


@transaction.atomic
def milestone_achieve(
    *, milestone: Milestone, user: Any, achieved_on: datetime.date, evidence: str
) -> Milestone:
    """Record that a milestone is reached, when, and the evidence for it."""
    milestone = _locked(Milestone, milestone.pk)
    check_state(
        milestone,
        {MilestoneStatus.PENDING, MilestoneStatus.MISSED},
        _("Cannot mark %(object)s as achieved: it is %(status)s."),
    )
    if achieved_on > timezone.localdate():
        raise ValidationError(
            {"achieved_on": _("A milestone cannot be achieved in the future.")},
            code="achieved_in_future",
        )
    if not evidence.strip():
        raise ValidationError(
            {"evidence": _("Describe the evidence that the milestone is reached.")},
            code="evidence_required",
        )
    milestone.status = MilestoneStatus.ACHIEVED
    milestone.achieved_on = achieved_on
    milestone.evidence = evidence.strip()
    save_with_history(milestone, user=user, update_fields=["status", "achieved_on", "evidence"])
    return milestone


@transaction.atomic
def milestone_miss(*, milestone: Milestone, user: Any) -> Milestone:
    """Record that a pending milestone was not reached by its due date."""
    milestone = _locked(Milestone, milestone.pk)
    check_state(
        milestone,
        {MilestoneStatus.PENDING},
        _("Cannot mark %(object)s as missed: it is %(status)s."),
    )
    milestone.status = MilestoneStatus.MISSED
    save_with_history(milestone, user=user, update_fields=["status"])
    return milestone


@transaction.atomic
def expense_submit(*, expense: Expense, user: Any, now: datetime.datetime | None = None) -> Expense:
    """Send a draft expense to the coordinator; it can no longer be edited."""
    expense = _locked(Expense, expense.pk)
    check_state(expense, {ExpenseStatus.DRAFT}, _("Cannot submit %(object)s: it is %(status)s."))
    expense.status = ExpenseStatus.SUBMITTED
    expense.submitted_at = now or timezone.now()
    save_with_history(expense, user=user, update_fields=["status", "submitted_at"])
    return expense


@transaction.atomic
def statement_submit(
    *, partner: Partner, period: ReportingPeriod, user: Any, now: datetime.datetime | None = None
) -> Statement:
    """Submit a partner's expense statement for an ended period: every draft line of the period
    goes to the coordinators, and the period takes no new lines from the partner. The statement
    records the lines it declares: all the period's lines but the withdrawn ones."""
    now = now or timezone.now()
    partner = _locked(Partner, partner.pk)
    if period.consortium_id != partner.consortium_id:
        raise ValidationError(
            {"period": _("This period belongs to another consortium.")}, code="other_consortium"
        )
    if Statement.objects.filter(partner=partner, period=period).exists():
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
        Expense.objects.select_for_update()
        .filter(partner=partner, period=period, status=ExpenseStatus.DRAFT)
        .order_by("pk")
    )
    for expense in drafts:
        expense.status = ExpenseStatus.SUBMITTED
        expense.submitted_at = now
        save_with_history(expense, user=user, update_fields=["status", "submitted_at"])
    # The statement declares every line of the period but the withdrawn ones: the drafts it
    # sends and any line sent earlier on its own (through the API).
    declared = (
        Expense.objects.filter(partner=partner, period=period)
        .exclude(status=ExpenseStatus.WITHDRAWN)
        .aggregate(lines=Count("pk"), total=Sum("amount"))
    )
    statement = Statement(
        partner=partner,
        period=period,
        submitted_at=now,
        submitted_by=user,
        lines=declared["lines"],
        total=declared["total"] or Decimal(0),
    )
    _save_checked(statement, user=user)
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
    expense = _locked(Expense, expense.pk)
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
    return expense


@transaction.atomic
def expense_reject(
    *, expense: Expense, user: Any, comment: str, now: datetime.datetime | None = None
) -> Expense:
    """Reject a submitted expense with the reason the partner will read."""
    if not comment.strip():
        raise ValidationError(
            {"comment": _("Give the reason for rejecting the expense.")}, code="comment_required"
        )
    expense = _locked(Expense, expense.pk)
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
    return expense


@transaction.atomic
def expense_withdraw(*, expense: Expense, user: Any) -> Expense:
    """Withdraw a draft or submitted expense: financial rows are kept, never deleted."""
    expense = _locked(Expense, expense.pk)
    check_state(
        expense,
        {ExpenseStatus.DRAFT, ExpenseStatus.SUBMITTED},
        _("Cannot withdraw %(object)s: it is %(status)s."),
    )
    expense.status = ExpenseStatus.WITHDRAWN
    save_with_history(expense, user=user, update_fields=["status"])
    return expense


@transaction.atomic
def budget_line_cancel(*, line: BudgetLine, user: Any) -> BudgetLine:
    """Cancel a budget line (kept for the audit trail); lines with live expenses stay."""
    line = _locked(BudgetLine, line.pk)
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


@transaction.atomic
def job_realise(*, job: JobRecord, user: Any) -> JobRecord:
    """A forecast position is filled: it counts as realised from now on."""
    job = _locked(JobRecord, job.pk)
    check_state(
        job, {JobStatus.FORECAST}, _("Cannot mark %(object)s as realised: it is %(status)s.")
    )
    if job.start_date > timezone.localdate():
        raise ValidationError(
            {"start_date": _("A job that starts in the future is still a forecast.")},
            code="realised_in_future",
        )
    job.status = JobStatus.REALISED
    save_with_history(job, user=user, update_fields=["status"])
    return job


@transaction.atomic
def job_withdraw(*, job: JobRecord, user: Any) -> JobRecord:
    """Withdraw a job record declared by mistake or abandoned; it stays in the history."""
    job = _locked(JobRecord, job.pk)
    check_state(
        job,
        {JobStatus.FORECAST, JobStatus.REALISED},
        _("Cannot withdraw %(object)s: it is %(status)s."),
    )
    job.status = JobStatus.WITHDRAWN
    save_with_history(job, user=user, update_fields=["status"])
    return job


def consortium_schedule_conflicts(*, consortium: Consortium) -> list[str]:
    """Why the consortium's dates can't change: work planned after its new last month."""
    if consortium.pk is None:
        return []
    last = consortium.duration_months
    late = (
        Workpackage.objects.filter(consortium_id=consortium.pk, end_month__gt=last).count()
        + Deliverable.objects.filter(consortium_id=consortium.pk, due_month__gt=last).count()
        + Milestone.objects.filter(consortium_id=consortium.pk, due_month__gt=last).count()
    )
    if not late:
        return []
    return [
        ngettext(
            "%(count)s workpackage, deliverable or milestone is planned after month %(last)s, "
            "the new last month: move it first.",
            "%(count)s workpackages, deliverables or milestones are planned after month "
            "%(last)s, the new last month: move them first.",
            late,
        )
        % {"count": late, "last": last}
    ]


@transaction.atomic
def consortium_schedule_sync(*, consortium: Consortium, user: Any) -> int:
    """Recompute the due dates of deliverables and milestones after the start date moved."""
    changed = 0
    for model in (Deliverable, Milestone):
        for item in model.objects.select_for_update().filter(consortium_id=consortium.pk):
            due = consortium.month_due_date(item.due_month)
            if item.due_date != due:
                item.due_date = due
                save_with_history(item, user=user, update_fields=["due_date"])
                changed += 1
    return changed
