"""Writes on the work plan, the budget and the jobs. Admin actions, API actions, partner pages,
commands and tasks all call these functions; each checks who acts (`authorize`), the current state
and the row's fixed fields under the row's lock.

Whole-row creates and edits go through `record_create` / `record_update` (`consortium/records.py`)
with the write rules registered at the end of this module.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from consortium.choices import ConsortiumRoleKind
from consortium.models import Consortium, ConsortiumRole, Partner, ReportingPeriod
from consortium.querysets import authorize, coordinates
from consortium.records import (
    WriteRule,
    check_state,
    editable_refusal,
    fixed_fields,
    is_editable,
    keeps,
    record_create,
    record_update,
    save_with_history,
    with_changes,
    write_rule_extend,
    write_rule_register,
)

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
    WorkpackageParticipant,
)

__all__ = ["editable_refusal", "fixed_fields", "is_editable", "record_create", "record_update"]

OPEN_DELIVERABLE = {
    DeliverableStatus.PLANNED,
    DeliverableStatus.IN_PROGRESS,
    DeliverableStatus.CHANGES_REQUESTED,
}


# Decided rows are the audit record: these states are the only ones in which a row still changes.
EDITABLE_STATES: dict[type, frozenset[str]] = {
    Expense: frozenset({ExpenseStatus.DRAFT}),
    BudgetLine: frozenset({BudgetLineStatus.ACTIVE}),
    JobRecord: frozenset({JobStatus.FORECAST, JobStatus.REALISED}),
    Milestone: frozenset({MilestoneStatus.PENDING}),
}


def _locked(model: Any, pk: int) -> Any:
    return model.objects.select_for_update(of=("self",)).get(pk=pk)


def _deliverable_fixed(deliverable: Deliverable) -> tuple[tuple[str, ...], str]:
    if deliverable.first_submitted_at is None:
        return ("consortium",), _("A deliverable stays in its consortium.")
    # What it is and when it was due are the record its lateness is judged on.
    return (
        ("workpackage", "number", "lead_partner", "due_month", "late_justification"),
        _("The deliverable has been submitted: this no longer changes."),
    )


def _job_fixed(job: JobRecord) -> tuple[tuple[str, ...], str]:
    if job.status == JobStatus.REALISED:
        return (
            ("partner", "impact", "start_date"),
            _("A realised job keeps its partner, its impact and its start date."),
        )
    return ("partner",), _("A record stays with its partner: withdraw it and add a new one.")


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
        .select_related("period")
        .order_by("period__number")
        .first()
    )
    if locked is not None:
        raise ValidationError(
            {
                "actual_person_months": _(
                    "The statement of %(period)s has been submitted: its actual person-months "
                    "no longer change. Ask the coordinators."
                )
                % {"period": locked.period}
            },
            code="statement_submitted",
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


def _milestone_workpackages(
    milestone: Milestone, *, user: Any, changes: dict[str, Any], creating: bool
) -> None:
    partner = changes.get("lead_partner") or (
        milestone.lead_partner if milestone.lead_partner_id else None
    )
    workpackages = changes.get("workpackages") or []
    if partner is not None and any(
        wp.consortium_id != partner.consortium_id for wp in workpackages
    ):
        raise ValidationError(
            {
                "workpackages": _(
                    "The related workpackages must be in the lead partner's consortium."
                )
            },
            code="other_consortium",
        )


def _deliverable_deletable(deliverable: Deliverable) -> str | None:
    if deliverable.status == DeliverableStatus.PLANNED:
        return None
    return _("%(object)s has been worked on: it is kept for the record.") % {"object": deliverable}


def _milestone_deletable(milestone: Milestone) -> str | None:
    if milestone.status == MilestoneStatus.PENDING:
        return None
    return _("%(object)s has been decided on: it is kept for the record.") % {"object": milestone}


def _participant_deletable(participant: WorkpackageParticipant) -> str | None:
    filters = {"partner_id": participant.partner_id, "workpackage_id": participant.workpackage_id}
    if (
        BudgetLine.objects.filter(**filters).exists()
        or Expense.objects.filter(**filters).exists()
        or Effort.objects.filter(**filters).exists()
    ):
        return _(
            "%(object)s has a budget, expenses or effort in the workpackage: it stays a "
            "participant."
        ) % {"object": participant}
    return None


def _schedule_follows(consortium: Consortium, *, user: Any, changes: Any, creating: bool) -> None:
    if creating:
        return
    conflicts = consortium_schedule_conflicts(consortium=with_changes(consortium, changes))
    if conflicts:
        raise ValidationError(conflicts, code="work_after_end")


def _jobs_follow(consortium: Consortium, *, user: Any, changes: Any, creating: bool) -> None:
    """A job counts within the programme's window (`JobRecord.clean`): a new start date or jobs
    horizon that would leave live jobs outside it is refused, or they could never change again."""
    if creating or not {"start_date", "jobs_horizon_years"} & changes.keys():
        return
    candidate = with_changes(consortium, changes)
    outside = (
        JobRecord.objects.filter(consortium_id=consortium.pk)
        .exclude(status=JobStatus.WITHDRAWN)
        .filter(
            Q(start_date__lt=candidate.start_date) | Q(start_date__gte=candidate.jobs_horizon_date)
        )
        .count()
    )
    if outside:
        raise ValidationError(
            ngettext(
                "%(count)s job record would start outside the programme's new window: move or "
                "withdraw it first.",
                "%(count)s job records would start outside the programme's new window: move or "
                "withdraw them first.",
                outside,
            )
            % {"count": outside},
            code="jobs_outside_window",
        )


def _schedule_sync(consortium: Consortium, *, user: Any, creating: bool) -> None:
    if not creating:
        consortium_schedule_sync(consortium=consortium, user=user)


@transaction.atomic
def deliverable_start(*, deliverable: Deliverable, user: Any) -> Deliverable:
    """Mark a planned deliverable as in progress (its lead partner, or a coordinator)."""
    deliverable = _locked(Deliverable, deliverable.pk)
    authorize(user, deliverable, "change")
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
    authorize(user, deliverable, "change")
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
    authorize(user, deliverable, "manage")
    check_state(deliverable, {DeliverableStatus.SUBMITTED}, refusal)
    submission = deliverable.submissions.order_by("-version").first()
    self_approved = (
        decision == ReviewDecision.APPROVED
        and submission is not None
        and user is not None
        and submission.submitted_by_id == user.pk
    )
    if self_approved and _other_coordinators(deliverable, user):
        # Separation of duties: who sent a version doesn't approve it while a colleague can.
        raise ValidationError(
            _(
                "You sent this version of %(object)s yourself: another coordinator of the "
                "consortium approves it."
            )
            % {"object": deliverable},
            code="self_approval",
        )
    review = DeliverableReview.objects.create(
        deliverable=deliverable,
        submission=submission,
        decision=decision,
        comment=comment,
        reviewer=user,
        reviewed_at=now or timezone.now(),
    )
    deliverable.status = decision
    deliverable.approved_at = review.reviewed_at if decision == ReviewDecision.APPROVED else None
    if self_approved:
        # The consortium's only coordinator approved what they sent: the history says so.
        deliverable._change_reason = SELF_APPROVED  # type: ignore[attr-defined]  # simple-history's
    save_with_history(deliverable, user=user, update_fields=["status", "approved_at"])
    return review


# The history's change reason of an approval by the coordinator who sent the version, recorded in
# the consortium's own words whatever the language of the page.
SELF_APPROVED = "self-approved: the consortium's only coordinator sent this version"


def _other_coordinators(deliverable: Deliverable, user: Any) -> bool:
    """Whether the consortium has an active coordinator besides `user`."""
    return (
        ConsortiumRole.objects.filter(
            consortium_id=deliverable.consortium_id,
            kind=ConsortiumRoleKind.COORDINATOR,
            is_active=True,
            user__is_active=True,
        )
        .exclude(user_id=user.pk)
        .exists()
    )


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
    authorize(user, milestone, "manage")
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
    authorize(user, milestone, "manage")
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
    authorize(user, expense, "change")
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
    authorize(user, partner, "change")
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
        Expense.objects.select_for_update(of=("self",))
        .filter(partner=partner, period=period, status=ExpenseStatus.DRAFT)
        .order_by("pk")
    )
    for expense in drafts:
        expense.status = ExpenseStatus.SUBMITTED
        expense.submitted_at = now
        save_with_history(expense, user=user, update_fields=["status", "submitted_at"])
    lines, total = Expense.objects.filter(partner=partner, period=period).declared_totals()
    statement = Statement(
        partner=partner,
        period=period,
        submitted_at=now,
        submitted_by=user,
        lines=lines,
        total=total,
    )
    save_with_history(statement, user=user)
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
    return expense


@transaction.atomic
def expense_withdraw(*, expense: Expense, user: Any) -> Expense:
    """Withdraw an expense: financial rows are kept, never deleted. Partners take back their
    drafts; a submitted line is the coordinators' to decide on, and one they withdraw leaves the
    statement that declared it, whose figures follow."""
    _lock_partner_of(expense)
    expense = _locked(Expense, expense.pk)
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
    if statement is None:
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
    line = _locked(BudgetLine, line.pk)
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


@transaction.atomic
def job_realise(*, job: JobRecord, user: Any) -> JobRecord:
    """A forecast position is filled: it counts as realised from now on."""
    job = _locked(JobRecord, job.pk)
    authorize(user, job, "change")
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
    authorize(user, job, "change")
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
    authorize(user, consortium, "manage")
    changed = 0
    for model in (Deliverable, Milestone):
        for item in model.objects.select_for_update().filter(consortium_id=consortium.pk):
            due = consortium.month_due_date(item.due_month)
            if item.due_date != due:
                item.due_date = due
                save_with_history(item, user=user, update_fields=["due_date"])
                changed += 1
    return changed


# How every door writes whole rows of the work plan, the budget and the jobs (`record_create`,
# `record_update`, `record_delete` in consortium/records.py).

write_rule_register(
    Workpackage,
    WriteRule(fixed=keeps(("consortium",), gettext_noop("A workpackage stays in its consortium."))),
)
write_rule_register(
    WorkpackageParticipant,
    WriteRule(
        fixed=keeps(
            ("workpackage", "partner"),
            gettext_noop("A participation keeps its workpackage and its partner."),
        ),
        deletable=_participant_deletable,
    ),
)
write_rule_register(
    Deliverable, WriteRule(fixed=_deliverable_fixed, deletable=_deliverable_deletable)
)
write_rule_register(
    Milestone,
    WriteRule(
        editable_states=EDITABLE_STATES[Milestone],
        fixed=keeps(("consortium",), gettext_noop("A milestone stays in its consortium.")),
        checks=(_milestone_workpackages,),
        deletable=_milestone_deletable,
    ),
)
write_rule_register(
    BudgetLine,
    WriteRule(
        editable_states=EDITABLE_STATES[BudgetLine],
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
        editable_states=EDITABLE_STATES[Expense],
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
write_rule_register(
    JobRecord,
    WriteRule(
        action="change",
        editable_states=EDITABLE_STATES[JobRecord],
        fixed=_job_fixed,
    ),
)
write_rule_extend(Consortium, checks=(_schedule_follows, _jobs_follow), after=(_schedule_sync,))
