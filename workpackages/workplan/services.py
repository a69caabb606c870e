"""Writes on the work plan: workpackages, deliverables (start, submit, review), milestones, and
the due dates that follow the consortium's start. Admin actions, API actions, partner pages,
commands and tasks all call these functions; each checks who acts (`authorize`), the current state
and the row's fixed fields under the row's lock.

Whole-row creates and edits go through `record_create` / `record_update` (`consortium/records.py`)
with the write rules registered at the end of this module.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from consortium.choices import ConsortiumRoleKind
from consortium.models import Consortium, ConsortiumRole, WebhookEventType
from consortium.notifications import (
    notify_deliverable_changes_requested,
    notify_deliverable_submitted,
)
from consortium.querysets import authorize, coordinates, member_partners
from consortium.records import (
    WriteRule,
    check_state,
    keeps,
    locked,
    save_with_history,
    with_changes,
    write_rule_extend,
    write_rule_register,
)
from consortium.webhooks import emit
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus, ReviewDecision
from workpackages.workplan.models import (
    OPEN_DELIVERABLE,
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)


def _deliverable_fixed(deliverable: Deliverable) -> tuple[tuple[str, ...], str]:
    if deliverable.first_submitted_at is None:
        return ("consortium",), _("A deliverable stays in its consortium.")
    # What it is and when it was due are the record its lateness is judged on.
    return (
        ("workpackage", "number", "lead_partner", "due_month", "late_justification"),
        _("The deliverable has been submitted: this no longer changes."),
    )


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


def _schedule_sync(consortium: Consortium, *, user: Any, creating: bool) -> None:
    if not creating:
        consortium_schedule_sync(consortium=consortium, user=user)


@transaction.atomic
def deliverable_start(*, deliverable: Deliverable, user: Any) -> Deliverable:
    """Mark a planned deliverable as in progress (its lead partner, or a coordinator)."""
    deliverable = locked(Deliverable, deliverable.pk)
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
    deliverable = locked(Deliverable, deliverable.pk)
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
    notify_deliverable_submitted(submission=submission, user=user)
    emit(WebhookEventType.DELIVERABLE_SUBMITTED, deliverable, version=submission.version)
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
    deliverable = locked(Deliverable, deliverable.pk)
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
    review = _deliverable_review(
        deliverable=deliverable,
        user=user,
        decision=ReviewDecision.APPROVED,
        comment=comment,
        refusal=_("Cannot approve %(object)s: it is %(status)s."),
        now=now,
    )
    emit(
        WebhookEventType.DELIVERABLE_APPROVED,
        review.deliverable,
        version=review.submission.version if review.submission is not None else None,
    )
    return review


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
    review = _deliverable_review(
        deliverable=deliverable,
        user=user,
        decision=ReviewDecision.CHANGES_REQUESTED,
        comment=comment.strip(),
        refusal=_("Cannot request changes on %(object)s: it is %(status)s."),
        now=now,
    )
    notify_deliverable_changes_requested(review=review, user=user)
    emit(
        WebhookEventType.DELIVERABLE_CHANGES_REQUESTED,
        review.deliverable,
        version=review.submission.version if review.submission is not None else None,
        comment=review.comment,
    )
    return review


@transaction.atomic
def milestone_achieve(
    *, milestone: Milestone, user: Any, achieved_on: datetime.date, evidence: str
) -> Milestone:
    """Record that a milestone is reached, when, and the evidence for it."""
    milestone = locked(Milestone, milestone.pk)
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
    emit(WebhookEventType.MILESTONE_ACHIEVED, milestone)
    return milestone


@transaction.atomic
def milestone_miss(*, milestone: Milestone, user: Any, reason: str) -> Milestone:
    """Record that a pending milestone was not reached by its due date, and why: the funder
    reads the reason in the semester report."""
    milestone = locked(Milestone, milestone.pk)
    authorize(user, milestone, "manage")
    check_state(
        milestone,
        {MilestoneStatus.PENDING},
        _("Cannot mark %(object)s as missed: it is %(status)s."),
    )
    if not reason.strip():
        raise ValidationError(
            {"reason": _("Say why the milestone was missed: the funder reads it.")},
            code="reason_required",
        )
    milestone.status = MilestoneStatus.MISSED
    milestone.evidence = reason.strip()
    save_with_history(milestone, user=user, update_fields=["status", "evidence"])
    emit(WebhookEventType.MILESTONE_MISSED, milestone)
    return milestone


def _may_note_delay(user: Any, item: Deliverable | Milestone) -> bool:
    """The item's lead partner's people, or its consortium's coordinators."""
    if user is None:
        return True
    if coordinates(user, item.consortium_id):
        return True
    return member_partners(user).filter(partner_id=item.lead_partner_id).exists()


DELAY_REASON_MAX_LENGTH = 2000


@transaction.atomic
def delay_note_set(
    *,
    item: Deliverable | Milestone,
    expected_on: datetime.date | None,
    reason: str,
    user: Any,
) -> Deliverable | Milestone:
    """Say when an open item past its due date is now expected, and why it is late: its lead
    partner's people or a coordinator, in the history; the reports show it. The date is after
    today, the reason is written."""
    model = type(item)
    item = locked(model, item.pk)
    authorize(user, item, "view")
    if not _may_note_delay(user, item):
        raise PermissionDenied(_("You may not do this here."))
    today = timezone.localdate()
    if isinstance(item, Deliverable):
        is_open = item.status in OPEN_DELIVERABLE
    else:
        is_open = item.status == MilestoneStatus.PENDING
    if not is_open or item.due_date >= today:
        raise ValidationError(
            _("%(object)s is not overdue: a delay note is for an open item past its due date.")
            % {"object": item},
            code="not_overdue",
        )
    if expected_on is None or expected_on <= today:
        raise ValidationError(
            {"expected_on": _("The new expected date is after today.")},
            code="expected_in_past",
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say why it is late: the coordinators and the funder read it.")},
            code="reason_required",
        )
    if len(reason) > DELAY_REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": _("Keep the reason under %(max)s characters.")
                % {"max": DELAY_REASON_MAX_LENGTH}
            },
            code="reason_too_long",
        )
    item.expected_on = expected_on
    item.delay_reason = reason
    save_with_history(item, user=user, update_fields=["expected_on", "delay_reason"])
    return item


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
        for item in model.objects.select_for_update(of=("self",)).filter(
            consortium_id=consortium.pk
        ):
            due = consortium.month_due_date(item.due_month)
            if item.due_date != due:
                item.due_date = due
                save_with_history(item, user=user, update_fields=["due_date"])
                changed += 1
    return changed


# How every door writes whole rows of the work plan (`record_create`, `record_update`,
# `record_delete` in consortium/records.py). Decided rows are the audit record: `editable_states`
# are the only states in which a row still changes.

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
        editable_states=frozenset({MilestoneStatus.PENDING}),
        fixed=keeps(("consortium",), gettext_noop("A milestone stays in its consortium.")),
        checks=(_milestone_workpackages,),
        deletable=_milestone_deletable,
    ),
)
write_rule_extend(Consortium, checks=(_schedule_follows,), after=(_schedule_sync,))
