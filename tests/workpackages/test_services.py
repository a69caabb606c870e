"""The state machines of deliverables, milestones, expenses, budget lines and jobs, driven through
their services: each refused transition says why and leaves the rows and their history untouched."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consortium.records import record_create, record_update, save_with_history
from tests import factories
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_withdraw
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Expense
from workpackages.money.services import (
    budget_line_cancel,
    expense_accept,
    expense_reject,
    expense_submit,
    expense_withdraw,
    expenses_accept,
    statement_submit,
)
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus, ReviewDecision
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
)
from workpackages.workplan.services import (
    SELF_APPROVED,
    deliverable_approve,
    deliverable_request_changes,
    deliverable_start,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

pytestmark = pytest.mark.django_db

D = datetime.date
AFTER_DUE = datetime.datetime(2025, 1, 10, 9, 0, tzinfo=datetime.UTC)


def pdf(name="report.pdf"):
    return ContentFile(b"%PDF-1.4 test", name=name)


def snapshot(instance):
    """What a refused transition must leave as it was: the row and the length of its history."""
    row = type(instance).objects.filter(pk=instance.pk).values().get()
    return row, instance.history.count()


def refusal(service, **kwargs):
    with pytest.raises(ValidationError) as exc:
        service(**kwargs)
    return exc.value


def last_change(instance):
    """The latest history row and what it changed, as {field: (old, new)}, foreign keys as ids.

    Compared field by field: simple_history's `diff_against` covers editable fields only, and every
    status field here is non-editable (see test_history_diff_shows_the_status_change).
    """
    latest = instance.history.first()
    previous = latest.prev_record
    changes = {}
    for field in latest.tracked_fields:
        old, new = getattr(previous, field.attname), getattr(latest, field.attname)
        if field.name != "updated_at" and old != new:
            changes[field.name] = (old, new)
    return latest, changes


# Deliverables


def test_deliverable_start(deliverable, partner_member):
    started = deliverable_start(deliverable=deliverable, user=partner_member)
    assert started.status == DeliverableStatus.IN_PROGRESS
    latest, changes = last_change(started)
    assert latest.history_user == partner_member
    assert changes == {"status": ("planned", "in_progress")}
    error = refusal(deliverable_start, deliverable=deliverable, user=partner_member)
    assert error.messages == ["Cannot start D1.1 Exosome QC protocol: it is in progress."]


def test_deliverable_submit_creates_version_1(deliverable, partner_member, before_due):
    submission = deliverable_submit(
        deliverable=deliverable, user=partner_member, file=pdf(), note="First draft", now=before_due
    )
    assert submission.version == 1
    assert str(submission) == "D1.1 v1"
    assert submission.submitted_by == partner_member
    assert submission.file.read() == b"%PDF-1.4 test"
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.SUBMITTED
    assert deliverable.first_submitted_at == before_due
    latest, changes = last_change(deliverable)
    assert latest.history_user == partner_member
    assert changes["status"] == ("planned", "submitted")


def test_resubmission_after_changes_requested_is_version_2(
    deliverable, partner_member, coordinator, before_due
):
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=before_due)
    deliverable_request_changes(
        deliverable=deliverable, user=coordinator, comment="  Add the potency assay.  "
    )
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.CHANGES_REQUESTED
    later = before_due + datetime.timedelta(days=30)
    second = deliverable_submit(
        deliverable=deliverable, user=partner_member, file=pdf("v2.pdf"), now=later
    )
    assert second.version == 2
    assert list(deliverable.submissions.values_list("version", flat=True)) == [2, 1]
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.SUBMITTED
    # Lateness is judged on the first submission.
    assert deliverable.first_submitted_at == before_due
    review = deliverable.reviews.get()
    assert review.comment == "Add the potency assay."
    assert review.submission.version == 1
    assert review.reviewer == coordinator


def test_late_submission_needs_a_justification(deliverable, partner_member):
    before = snapshot(deliverable)
    error = refusal(
        deliverable_submit,
        deliverable=deliverable,
        user=partner_member,
        file=pdf(),
        late_justification="   ",
        now=AFTER_DUE,
    )
    assert error.message_dict == {
        "late_justification": [
            "This deliverable was due on 2024-12-31: explain the delay before submitting."
        ]
    }
    assert not DeliverableSubmission.objects.exists()
    assert snapshot(deliverable) == before
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.PLANNED


def test_late_submission_with_a_justification(deliverable, partner_member):
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=pdf(),
        late_justification=" GMP suite unavailable in December. ",
        now=AFTER_DUE,
    )
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.SUBMITTED
    assert deliverable.late_justification == "GMP suite unavailable in December."
    assert deliverable.days_late() == 10


def test_submitting_on_the_due_day_is_on_time(deliverable, partner_member):
    # 23:30 in Brussels on 31 December is still the due day, although it is 22:30 UTC.
    due_evening = datetime.datetime(2024, 12, 31, 22, 30, tzinfo=datetime.UTC)
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=due_evening)
    just_after = datetime.datetime(2024, 12, 31, 23, 30, tzinfo=datetime.UTC)
    other = factories.DeliverableFactory(workpackage=deliverable.workpackage, due_month=12)
    error = refusal(
        deliverable_submit, deliverable=other, user=partner_member, file=pdf(), now=just_after
    )
    assert "late_justification" in error.message_dict


def test_late_resubmission_reuses_the_stored_justification(
    deliverable, partner_member, coordinator
):
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=pdf(),
        late_justification="Supplier delay.",
        now=AFTER_DUE,
    )
    deliverable_request_changes(deliverable=deliverable, user=coordinator, comment="More data.")
    second = deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=pdf(),
        now=AFTER_DUE + datetime.timedelta(days=5),
    )
    assert second.version == 2


def test_submitting_a_submitted_deliverable_is_refused(deliverable, partner_member, before_due):
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=before_due)
    error = refusal(
        deliverable_submit,
        deliverable=deliverable,
        user=partner_member,
        file=pdf(),
        now=before_due,
    )
    assert error.messages == ["Cannot submit D1.1 Exosome QC protocol: it is submitted."]
    assert deliverable.submissions.count() == 1


def test_approve(deliverable, partner_member, coordinator, before_due):
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=before_due)
    review = deliverable_approve(deliverable=deliverable, user=coordinator, comment="Fine.")
    assert review.decision == ReviewDecision.APPROVED
    assert str(review) == "D1.1: Approved"
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.APPROVED
    assert deliverable.approved_at == review.reviewed_at
    latest, changes = last_change(deliverable)
    assert latest.history_user == coordinator
    assert changes["status"] == ("submitted", "approved")


def test_approving_twice_is_refused(deliverable, partner_member, coordinator, before_due):
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=before_due)
    deliverable_approve(deliverable=deliverable, user=coordinator)
    before = snapshot(deliverable)
    error = refusal(deliverable_approve, deliverable=deliverable, user=coordinator)
    assert error.messages == ["Cannot approve D1.1 Exosome QC protocol: it is approved."]
    assert error.code == "invalid_state"
    assert snapshot(deliverable) == before
    assert DeliverableReview.objects.count() == 1


def test_approving_an_unsubmitted_deliverable_is_refused(deliverable, coordinator):
    error = refusal(deliverable_approve, deliverable=deliverable, user=coordinator)
    assert error.messages == ["Cannot approve D1.1 Exosome QC protocol: it is planned."]
    assert not DeliverableReview.objects.exists()


def test_requesting_changes_needs_a_comment(deliverable, partner_member, coordinator, before_due):
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=before_due)
    before = snapshot(deliverable)
    error = refusal(
        deliverable_request_changes, deliverable=deliverable, user=coordinator, comment=" \n "
    )
    assert error.message_dict == {
        "comment": ["Say what must change before sending the deliverable back."]
    }
    assert snapshot(deliverable) == before
    assert not DeliverableReview.objects.exists()


def test_requesting_changes_on_an_approved_deliverable_is_refused(
    deliverable, partner_member, coordinator, before_due
):
    deliverable_submit(deliverable=deliverable, user=partner_member, file=pdf(), now=before_due)
    deliverable_approve(deliverable=deliverable, user=coordinator)
    error = refusal(
        deliverable_request_changes, deliverable=deliverable, user=coordinator, comment="Redo."
    )
    assert error.messages == ["Cannot request changes on D1.1 Exosome QC protocol: it is approved."]
    assert Deliverable.objects.get(pk=deliverable.pk).status == DeliverableStatus.APPROVED


# Milestones


def test_milestone_achieve(milestone, coordinator):
    achieved_on = timezone.localdate() - datetime.timedelta(days=3)
    milestone_achieve(
        milestone=milestone, user=coordinator, achieved_on=achieved_on, evidence=" Batch 7. "
    )
    milestone.refresh_from_db()
    assert milestone.status == MilestoneStatus.ACHIEVED
    assert milestone.achieved_on == achieved_on
    assert milestone.evidence == "Batch 7."
    latest, changes = last_change(milestone)
    assert latest.history_user == coordinator
    assert changes["status"] == ("pending", "achieved")
    assert changes["achieved_on"] == (None, achieved_on)


def test_milestone_achieved_today_is_allowed(milestone, coordinator):
    today = timezone.localdate()
    milestone_achieve(milestone=milestone, user=coordinator, achieved_on=today, evidence="Done")
    assert Milestone.objects.get(pk=milestone.pk).achieved_on == today


def test_milestone_cannot_be_achieved_in_the_future(milestone, coordinator):
    before = snapshot(milestone)
    error = refusal(
        milestone_achieve,
        milestone=milestone,
        user=coordinator,
        achieved_on=timezone.localdate() + datetime.timedelta(days=1),
        evidence="Planned batch.",
    )
    assert error.message_dict == {"achieved_on": ["A milestone cannot be achieved in the future."]}
    assert snapshot(milestone) == before


def test_milestone_needs_evidence(milestone, coordinator):
    before = snapshot(milestone)
    error = refusal(
        milestone_achieve,
        milestone=milestone,
        user=coordinator,
        achieved_on=D(2024, 5, 1),
        evidence="  ",
    )
    assert error.message_dict == {
        "evidence": ["Describe the evidence that the milestone is reached."]
    }
    assert snapshot(milestone) == before


def test_milestone_achieved_twice_is_refused(milestone, coordinator):
    milestone_achieve(
        milestone=milestone, user=coordinator, achieved_on=D(2024, 5, 1), evidence="Batch 7."
    )
    before = snapshot(milestone)
    error = refusal(
        milestone_achieve,
        milestone=milestone,
        user=coordinator,
        achieved_on=D(2024, 6, 1),
        evidence="Batch 8.",
    )
    assert error.messages == [f"Cannot mark {milestone} as achieved: it is achieved."]
    assert snapshot(milestone) == before


def test_a_milestone_is_missed_with_its_reason_only(milestone, coordinator):
    before = snapshot(milestone)
    for reason in ("", "   "):
        error = refusal(milestone_miss, milestone=milestone, user=coordinator, reason=reason)
        assert error.message_dict == {
            "reason": ["Say why the milestone was missed: the funder reads it."]
        }
        assert snapshot(milestone) == before


def test_missed_milestone_can_still_be_achieved(milestone, coordinator):
    milestone_miss(milestone=milestone, user=coordinator, reason=" The site closed. ")
    milestone.refresh_from_db()
    assert milestone.status == MilestoneStatus.MISSED
    assert milestone.achieved_on is None
    assert milestone.evidence == "The site closed."
    latest, changes = last_change(milestone)
    assert latest.history_user == coordinator
    assert changes == {"status": ("pending", "missed"), "evidence": ("", "The site closed.")}
    error = refusal(milestone_miss, milestone=milestone, user=coordinator, reason="Again.")
    assert error.messages == [f"Cannot mark {milestone} as missed: it is missed."]
    milestone_achieve(
        milestone=milestone, user=coordinator, achieved_on=D(2025, 8, 1), evidence="Late batch."
    )
    assert Milestone.objects.get(pk=milestone.pk).status == MilestoneStatus.ACHIEVED


# Expenses


def test_expense_submit(expense, partner_member):
    submitted = expense_submit(expense=expense, user=partner_member)
    assert submitted.status == ExpenseStatus.SUBMITTED
    assert submitted.submitted_at is not None
    latest, changes = last_change(submitted)
    assert latest.history_user == partner_member
    assert changes["status"] == ("draft", "submitted")
    error = refusal(expense_submit, expense=expense, user=partner_member)
    assert error.messages == [f"Cannot submit {expense}: it is submitted."]


def test_expense_accept_in_full_records_who_and_what(
    submitted_expense, coordinator, partner_member
):
    accepted = expense_accept(expense=submitted_expense, user=coordinator)
    assert accepted.status == ExpenseStatus.ACCEPTED
    assert accepted.accepted_amount == Decimal("1200.00")
    assert accepted.reviewed_by == coordinator
    assert accepted.reviewed_at is not None
    latest, changes = last_change(accepted)
    assert latest.history_user == coordinator
    assert latest.history_type == "~"
    assert changes["status"] == ("submitted", "accepted")
    assert changes["accepted_amount"] == (None, Decimal("1200.00"))
    assert changes["reviewed_by"] == (None, coordinator.pk)
    assert latest.prev_record.history_user == partner_member
    # The full trail, oldest first: created as a draft, submitted, accepted.
    trail = list(accepted.history.order_by("history_date").values_list("status", flat=True))
    assert trail == ["draft", "submitted", "accepted"]


def _submitted_lines(line, partner_member, count):
    """`count` lines of `line`'s partner in the first period, sent to the coordinators."""
    return [
        expense_submit(
            expense=factories.ExpenseFactory(line=line, amount=Decimal(100 + n)),
            user=partner_member,
        )
        for n in range(count)
    ]


def test_expenses_accepted_at_once_are_each_accepted_in_full_with_their_history(
    budget_line, coordinator, partner_member
):
    lines = _submitted_lines(budget_line, partner_member, 3)
    moment = datetime.datetime(2024, 8, 1, 10, 0, tzinfo=datetime.UTC)

    expenses_accept(expenses=lines, user=coordinator, now=moment)

    for line in lines:
        line.refresh_from_db()
        assert line.status == ExpenseStatus.ACCEPTED
        assert line.accepted_amount == line.amount
        assert (line.reviewed_by, line.reviewed_at, line.review_comment) == (
            coordinator,
            moment,
            "",
        )
        latest, changes = last_change(line)
        assert latest.history_user == coordinator
        assert changes["status"] == ("submitted", "accepted")
        assert changes["accepted_amount"] == (None, line.amount)


def test_one_expense_that_may_not_be_accepted_refuses_the_whole_batch(
    budget_line, coordinator, partner_member
):
    lines = _submitted_lines(budget_line, partner_member, 2)
    draft = factories.ExpenseFactory(line=budget_line, amount=Decimal("50.00"))
    before = [snapshot(line) for line in [*lines, draft]]

    error = refusal(expenses_accept, expenses=[*lines, draft], user=coordinator)

    assert error.messages == [f"Cannot accept {draft}: it is draft."]
    assert [snapshot(line) for line in [*lines, draft]] == before


def test_only_the_consortium_s_coordinators_accept_expenses_at_once(
    budget_line, partner_member, other_coordinator
):
    lines = _submitted_lines(budget_line, partner_member, 2)
    before = [snapshot(line) for line in lines]

    for person in (partner_member, other_coordinator):
        with pytest.raises(PermissionDenied):
            expenses_accept(expenses=lines, user=person)

    assert [snapshot(line) for line in lines] == before


def _queries(write):
    with CaptureQueriesContext(connection) as captured:
        write()
    return len(captured)


def test_a_statement_is_submitted_in_as_many_queries_for_20_lines_as_for_2(
    budget_line, budget_line_b, period, partner_a, partner_b, partner_member, other_partner_member
):
    """One update and one insert of history rows for all the statement's draft lines."""
    for line, count in ((budget_line, 2), (budget_line_b, 20)):
        for _n in range(count):
            factories.ExpenseFactory(line=line)
    small = _queries(
        lambda: statement_submit(partner=partner_a, period=period, user=partner_member)
    )
    large = _queries(
        lambda: statement_submit(partner=partner_b, period=period, user=other_partner_member)
    )
    assert small == large
    assert Expense.objects.filter(status=ExpenseStatus.SUBMITTED).count() == 22


def test_expenses_are_accepted_at_once_in_as_many_queries_for_20_as_for_2(
    budget_line, coordinator, partner_member
):
    few = _submitted_lines(budget_line, partner_member, 2)
    many = _submitted_lines(budget_line, partner_member, 20)
    small = _queries(lambda: expenses_accept(expenses=few, user=coordinator))
    large = _queries(lambda: expenses_accept(expenses=many, user=coordinator))
    assert small == large
    assert Expense.objects.filter(status=ExpenseStatus.ACCEPTED).count() == 22


def test_history_diff_shows_a_changed_amount(expense, coordinator):
    expense.amount = Decimal("1150.00")
    save_with_history(expense, user=coordinator, update_fields=["amount"])
    latest = expense.history.first()
    delta = latest.diff_against(latest.prev_record)
    assert latest.history_user == coordinator
    assert [(c.field, c.old, c.new) for c in delta.changes] == [
        ("amount", Decimal("1200.00"), Decimal("1150.00"))
    ]


def test_history_diff_shows_the_status_change(submitted_expense, coordinator):
    expense_accept(expense=submitted_expense, user=coordinator)
    latest = submitted_expense.history.first()
    delta = latest.diff_against(latest.prev_record)
    assert "status" in delta.changed_fields


def test_expense_accept_in_part_needs_a_comment(submitted_expense, coordinator):
    before = snapshot(submitted_expense)
    error = refusal(
        expense_accept,
        expense=submitted_expense,
        user=coordinator,
        accepted_amount=Decimal("1000.00"),
    )
    assert error.message_dict == {"comment": ["Explain why only part of the expense is accepted."]}
    assert snapshot(submitted_expense) == before


def test_expense_accept_in_part(submitted_expense, coordinator):
    accepted = expense_accept(
        expense=submitted_expense,
        user=coordinator,
        accepted_amount=Decimal("1000.00"),
        comment=" Shipping is not eligible. ",
    )
    assert accepted.accepted_amount == Decimal("1000.00")
    assert accepted.review_comment == "Shipping is not eligible."
    stored = Expense.objects.get(pk=submitted_expense.pk)
    assert (stored.status, stored.accepted_amount) == (ExpenseStatus.ACCEPTED, Decimal("1000.00"))


def test_expense_accepted_at_zero_with_a_reason(submitted_expense, coordinator):
    accepted = expense_accept(
        expense=submitted_expense, user=coordinator, accepted_amount=Decimal(0), comment="Private."
    )
    assert accepted.accepted_amount == Decimal("0.00")


@pytest.mark.parametrize("amount", [Decimal("1200.01"), Decimal("-0.01")])
def test_expense_accepted_amount_lies_within_the_declared_amount(
    submitted_expense, coordinator, amount
):
    before = snapshot(submitted_expense)
    error = refusal(
        expense_accept,
        expense=submitted_expense,
        user=coordinator,
        accepted_amount=amount,
        comment="Adjusted.",
    )
    assert error.message_dict == {
        "accepted_amount": ["The accepted amount lies between zero and the declared amount."]
    }
    assert snapshot(submitted_expense) == before


def test_draft_expense_cannot_be_accepted(expense, coordinator):
    before = snapshot(expense)
    error = refusal(expense_accept, expense=expense, user=coordinator)
    assert error.messages == [f"Cannot accept {expense}: it is draft."]
    assert snapshot(expense) == before


def test_expense_accepted_twice_is_refused(submitted_expense, coordinator):
    expense_accept(expense=submitted_expense, user=coordinator)
    before = snapshot(submitted_expense)
    error = refusal(expense_accept, expense=submitted_expense, user=coordinator)
    assert error.messages == [f"Cannot accept {submitted_expense}: it is accepted."]
    assert snapshot(submitted_expense) == before


def test_expense_reject_needs_a_comment(submitted_expense, coordinator):
    before = snapshot(submitted_expense)
    error = refusal(expense_reject, expense=submitted_expense, user=coordinator, comment="")
    assert error.message_dict == {"comment": ["Give the reason for rejecting the expense."]}
    assert snapshot(submitted_expense) == before


def test_expense_reject(submitted_expense, coordinator):
    rejected = expense_reject(
        expense=submitted_expense, user=coordinator, comment="No invoice attached."
    )
    assert rejected.status == ExpenseStatus.REJECTED
    assert rejected.accepted_amount is None
    assert rejected.review_comment == "No invoice attached."
    latest, changes = last_change(rejected)
    assert latest.history_user == coordinator
    assert changes["status"] == ("submitted", "rejected")
    error = refusal(expense_withdraw, expense=rejected, user=coordinator)
    assert error.messages == [f"Cannot withdraw {rejected}: it is rejected."]


@pytest.mark.parametrize("submitted", [False, True])
def test_expense_withdraw_keeps_the_row(expense, partner_member, coordinator, submitted):
    """Partners take back their drafts; a submitted line is withdrawn by the coordinators."""
    if submitted:
        expense_submit(expense=expense, user=partner_member)
    author = coordinator if submitted else partner_member
    withdrawn = expense_withdraw(expense=expense, user=author)
    assert withdrawn.status == ExpenseStatus.WITHDRAWN
    assert Expense.objects.filter(pk=expense.pk).exists()
    assert withdrawn.history.first().history_user == author
    error = refusal(expense_withdraw, expense=expense, user=author)
    assert error.messages == [f"Cannot withdraw {expense}: it is withdrawn."]


def test_partners_withdraw_drafts_only(submitted_expense, partner_member):
    before = snapshot(submitted_expense)
    error = refusal(expense_withdraw, expense=submitted_expense, user=partner_member)
    assert error.messages == [
        f"{submitted_expense} has been submitted: the coordinators decide on it now. Ask them "
        "to withdraw it if it was sent by mistake."
    ]
    assert snapshot(submitted_expense) == before


# Budget lines


@pytest.mark.parametrize("status", ["draft", "submitted", "accepted"])
def test_budget_line_with_live_expenses_cannot_be_cancelled(
    budget_line, expense, partner_member, coordinator, status
):
    if status != "draft":
        expense_submit(expense=expense, user=partner_member)
    if status == "accepted":
        expense_accept(expense=expense, user=coordinator)
    before = snapshot(budget_line)
    error = refusal(budget_line_cancel, line=budget_line, user=coordinator)
    assert error.messages == [
        "Cannot cancel P1 BioWin · WP1 · Personnel: expenses are recorded against it."
    ]
    assert snapshot(budget_line) == before


def test_budget_line_cancel_once_its_expenses_are_withdrawn(
    budget_line, expense, partner_member, coordinator
):
    expense_withdraw(expense=expense, user=partner_member)
    cancelled = budget_line_cancel(line=budget_line, user=coordinator)
    assert cancelled.status == BudgetLineStatus.CANCELLED
    assert BudgetLine.objects.filter(pk=budget_line.pk).exists()
    latest, changes = last_change(cancelled)
    assert latest.history_user == coordinator
    assert changes == {"status": ("active", "cancelled")}
    error = refusal(budget_line_cancel, line=budget_line, user=coordinator)
    assert error.messages == [f"Cannot cancel {budget_line}: it is cancelled."]


def test_expenses_of_another_partner_do_not_block_a_cancel(budget_line, budget_line_b, coordinator):
    factories.ExpenseFactory(line=budget_line_b)
    assert budget_line_cancel(line=budget_line, user=coordinator).status == "cancelled"


# Jobs


@pytest.mark.parametrize("status", [JobStatus.FORECAST, JobStatus.REALISED])
def test_job_withdraw(partner_a, partner_member, status):
    job = factories.JobRecordFactory(partner=partner_a, status=status)
    withdrawn = job_withdraw(job=job, user=partner_member)
    assert withdrawn.status == JobStatus.WITHDRAWN
    latest, changes = last_change(withdrawn)
    assert latest.history_user == partner_member
    assert changes == {"status": (status.value, "withdrawn")}
    assert JobRecord.objects.filter(pk=job.pk).exists()


def test_job_withdrawn_twice_is_refused(job, partner_member):
    job_withdraw(job=job, user=partner_member)
    before = snapshot(job)
    error = refusal(job_withdraw, job=job, user=partner_member)
    assert error.messages == [f"Cannot withdraw {job}: it is withdrawn."]
    assert snapshot(job) == before


def test_the_only_coordinator_approves_what_they_sent_and_the_history_says_so(
    deliverable, coordinator
):
    deliverable_submit(
        deliverable=deliverable,
        user=coordinator,
        file=ContentFile(b"%PDF-1.4\n%%EOF\n", name="d1-1.pdf"),
        late_justification="Sent by the coordinator for the lead partner.",
    )
    deliverable_approve(deliverable=deliverable, user=coordinator)
    latest = Deliverable.objects.get(pk=deliverable.pk).history.first()
    assert latest.history_user == coordinator
    assert latest.history_change_reason == SELF_APPROVED


def test_an_expense_takes_the_period_its_date_falls_in(budget_line, partner_member, consortium):
    created = record_create(
        model=Expense,
        user=partner_member,
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        category=budget_line.category,
        incurred_on=D(2025, 3, 14),
        amount=Decimal("75.00"),
        description="Gloves",
    )
    assert created.period == consortium.periods.get(number=3)
    moved = record_update(instance=created, user=partner_member, incurred_on=D(2025, 8, 1))
    assert moved.period == consortium.periods.get(number=4)


def test_a_coordinator_who_withdraws_a_declared_line_updates_its_statement(
    budget_line, partner_member, coordinator, period
):
    kept = factories.ExpenseFactory(line=budget_line, amount=Decimal("1000.00"))
    dropped = factories.ExpenseFactory(line=budget_line, amount=Decimal("250.50"))
    statement = statement_submit(partner=budget_line.partner, period=period, user=partner_member)
    assert (statement.lines, statement.total) == (2, Decimal("1250.50"))

    expense_withdraw(expense=dropped, user=coordinator)

    statement.refresh_from_db()
    assert (statement.lines, statement.total) == (1, Decimal("1000.00"))
    assert statement.history.first().history_user == coordinator
    assert Expense.objects.get(pk=kept.pk).status == ExpenseStatus.SUBMITTED
