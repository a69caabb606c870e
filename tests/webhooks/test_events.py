"""The services emit their events: deliverables, expenses, statements, milestones, jobs and
reports, each taken through the service every door calls. An event is written only for the
webhooks of its consortium that are on and listen to it, in the service's transaction; a refusal
or a rollback writes and sends nothing; a decision on many rows writes one event per row in as
many queries for many rows as for a few."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from consortium.models import WebhookDelivery, WebhookEvent, WebhookEventType
from consortium.records import record_create
from consortium.webhooks import emit, webhook_subscribe, webhook_update
from reporting.outbox import delivery_send, report_deliveries_plan
from reporting.services import report_generate
from tests import factories
from tests.api.conftest import PDF
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_realise
from workpackages.money.services import (
    expense_accept,
    expense_reject,
    expense_submit,
    expenses_accept,
    statement_reopen,
    statement_submit,
)
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

pytestmark = pytest.mark.django_db

EVERY_EVENT = list(WebhookEventType.values)


@pytest.fixture
def hooked(consortium: Any, coordinator: Any) -> Any:
    """An ERP of the consortium listening to every event."""
    return webhook_subscribe(
        consortium=consortium,
        url="http://127.0.0.1:9/hooks",
        events=EVERY_EVENT,
        user=coordinator,
    )


def _events(event_type: str) -> list[dict[str, Any]]:
    return [
        event.data
        for event in WebhookEvent.objects.filter(type=event_type).order_by("created_at", "pk")
    ]


def test_deliverables_emit_their_submission_approval_and_changes_requested(
    hooked: Any, workpackage: Any, partner_member: Any, coordinator: Any
) -> None:
    first = factories.DeliverableFactory(workpackage=workpackage, due_month=30)
    second = factories.DeliverableFactory(workpackage=workpackage, due_month=30)
    for deliverable in (first, second):
        deliverable_submit(
            deliverable=deliverable,
            user=partner_member,
            file=ContentFile(PDF, name="report.pdf"),
            late_justification="The audit moved.",
        )
    deliverable_approve(deliverable=first, user=coordinator)
    deliverable_request_changes(deliverable=second, user=coordinator, comment="Add the QC data.")

    submitted = _events("deliverable.submitted")
    assert [(data["id"], data["version"], data["status"]) for data in submitted] == [
        (first.pk, 1, "submitted"),
        (second.pk, 1, "submitted"),
    ]
    [approved] = _events("deliverable.approved")
    assert approved["object"] == "deliverable"
    assert (approved["id"], approved["code"], approved["status"]) == (
        first.pk,
        first.code,
        "approved",
    )
    assert approved["approved_at"].endswith("Z") and approved["version"] == 1
    [changes] = _events("deliverable.changes_requested")
    assert (changes["id"], changes["status"], changes["comment"]) == (
        second.pk,
        "changes_requested",
        "Add the QC data.",
    )
    assert WebhookDelivery.objects.filter(subscription=hooked, state="pending").count() == 4


def test_expenses_emit_their_submission_acceptance_and_rejection(
    hooked: Any, budget_line: Any, partner_member: Any, coordinator: Any
) -> None:
    in_full, in_part, refused = (factories.ExpenseFactory(line=budget_line) for _n in range(3))
    for expense in (in_full, in_part, refused):
        expense_submit(expense=expense, user=partner_member)
    expense_accept(expense=in_full, user=coordinator)
    expense_accept(
        expense=in_part, user=coordinator, accepted_amount=Decimal("1000.5"), comment="Capped."
    )
    expense_reject(expense=refused, user=coordinator, comment="No invoice.")

    assert [data["id"] for data in _events("expense.submitted")] == [
        in_full.pk,
        in_part.pk,
        refused.pk,
    ]
    accepted = {data["id"]: data for data in _events("expense.accepted")}
    assert accepted[in_full.pk]["accepted_amount"] == accepted[in_full.pk]["amount"] == "1200.00"
    # A partial acceptance is an acceptance, of the amount accepted.
    assert accepted[in_part.pk]["accepted_amount"] == "1000.50"
    assert accepted[in_part.pk]["review_comment"] == "Capped."
    [rejected] = _events("expense.rejected")
    assert (rejected["id"], rejected["status"], rejected["review_comment"]) == (
        refused.pk,
        "rejected",
        "No invoice.",
    )
    assert rejected["accepted_amount"] is None


def _waiting(line: Any, member: Any, count: int) -> list[Any]:
    return [
        expense_submit(expense=factories.ExpenseFactory(line=line), user=member)
        for _n in range(count)
    ]


def test_expenses_accepted_at_once_emit_one_event_each_in_as_many_queries_for_many(
    hooked: Any, budget_line: Any, partner_member: Any, coordinator: Any
) -> None:
    few, many = _waiting(budget_line, partner_member, 2), _waiting(budget_line, partner_member, 8)
    counts = []
    for expenses in (few, many):
        with CaptureQueriesContext(connection) as queries:
            expenses_accept(expenses=expenses, user=coordinator)
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert sorted(data["id"] for data in _events("expense.accepted")) == sorted(
        expense.pk for expense in few + many
    )
    assert WebhookDelivery.objects.filter(event__type="expense.accepted").count() == 10


def test_a_statement_emits_its_lines_its_submission_and_its_reopening(
    hooked: Any,
    budget_line: Any,
    period: Any,
    partner_a: Any,
    partner_member: Any,
    coordinator: Any,
) -> None:
    drafts = [factories.ExpenseFactory(line=budget_line) for _n in range(3)]

    statement = statement_submit(partner=partner_a, period=period, user=partner_member)
    statement_reopen(statement=statement, reason="A line is missing.", user=coordinator)

    assert sorted(data["id"] for data in _events("expense.submitted")) == sorted(
        draft.pk for draft in drafts
    )
    [submitted] = _events("statement.submitted")
    assert submitted == {
        "object": "statement",
        "id": statement.pk,
        "partner": partner_a.pk,
        "period": period.pk,
        "currency": "EUR",
        "lines": 3,
        "total": "3600.00",
        "submitted_at": submitted["submitted_at"],
        "reopened_at": None,
        "reopen_reason": "",
    }
    [reopened] = _events("statement.reopened")
    assert reopened["reopen_reason"] == "A line is missing." and reopened["reopened_at"]


def test_milestones_emit_achieved_and_missed(
    hooked: Any, partner_a: Any, workpackage: Any, coordinator: Any
) -> None:
    reached, lost = (
        factories.MilestoneFactory(lead_partner=partner_a, workpackages=[workpackage])
        for _n in range(2)
    )
    milestone_achieve(
        milestone=reached,
        user=coordinator,
        achieved_on=datetime.date(2025, 6, 30),
        evidence="Batch record signed.",
    )
    milestone_miss(milestone=lost, user=coordinator, reason="The batch failed its release.")

    [achieved] = _events("milestone.achieved")
    assert (achieved["code"], achieved["achieved_on"], achieved["evidence"]) == (
        reached.code,
        "2025-06-30",
        "Batch record signed.",
    )
    [missed] = _events("milestone.missed")
    assert (missed["id"], missed["status"], missed["evidence"]) == (
        lost.pk,
        "missed",
        "The batch failed its release.",
    )


def test_a_job_emits_its_realisation_and_a_job_declared_filled_too(
    hooked: Any, job: Any, partner_a: Any, partner_member: Any, coordinator: Any
) -> None:
    job_realise(job=job, user=coordinator)
    filled = record_create(
        model=JobRecord,
        user=partner_member,
        partner=partner_a,
        position_title="Bioprocess engineer",
        category=job.category,
        contract_type=job.contract_type,
        fte=Decimal("0.80"),
        start_date=datetime.date(2025, 2, 1),
        impact=job.impact,
        status="realised",
    )
    record_create(
        model=JobRecord,
        user=partner_member,
        partner=partner_a,
        position_title="QC analyst (planned)",
        category=job.category,
        contract_type=job.contract_type,
        fte=Decimal("1.00"),
        start_date=datetime.date(2026, 1, 5),
        impact=job.impact,
    )

    realised = _events("job.realised")
    assert [(data["id"], data["status"]) for data in realised] == [
        (job.pk, "realised"),
        (filled.pk, "realised"),
    ]
    assert realised[1]["fte"] == "0.80" and realised[1]["start_date"] == "2025-02-01"


def test_a_report_emits_its_sending_once(hooked: Any, consortium: Any, coordinator: Any) -> None:
    report = factories.ReportFactory(consortium=consortium)
    report_generate(**report.key)
    deliveries = report_deliveries_plan(report=report)
    assert deliveries

    for delivery in deliveries:
        delivery_send(delivery_id=delivery.pk)
        delivery_send(delivery_id=delivery.pk)

    [sent] = _events("report.sent")
    assert sent == {
        "object": "report",
        "id": report.pk,
        "kind": "progress",
        "status": "sent",
        "period_start": "2025-03-03",
        "period_end": "2025-03-09",
        "sent_at": sent["sent_at"],
    }


def test_only_the_consortium_s_webhooks_that_are_on_and_listen_get_an_event(
    consortium: Any,
    other_consortium: Any,
    coordinator: Any,
    other_coordinator: Any,
    submitted_expense: Any,
) -> None:
    listening = webhook_subscribe(
        consortium=consortium,
        url="http://127.0.0.1:9/a",
        events=["expense.accepted"],
        user=coordinator,
    )
    webhook_subscribe(
        consortium=consortium, url="http://127.0.0.1:9/b", events=["job.realised"], user=coordinator
    )
    switched_off = webhook_subscribe(
        consortium=consortium,
        url="http://127.0.0.1:9/c",
        events=["expense.accepted"],
        user=coordinator,
    )
    webhook_update(subscription=switched_off, user=coordinator, is_active=False)
    webhook_subscribe(
        consortium=other_consortium,
        url="http://127.0.0.1:9/d",
        events=["expense.accepted"],
        user=other_coordinator,
    )

    expense_accept(expense=submitted_expense, user=coordinator)

    [event] = WebhookEvent.objects.all()
    assert event.consortium_id == consortium.pk
    assert [d.subscription_id for d in event.deliveries.all()] == [listening.pk]


def test_nobody_listening_writes_nothing(
    consortium: Any, coordinator: Any, submitted_expense: Any
) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert emit(WebhookEventType.EXPENSE_ACCEPTED, submitted_expense) == []
    assert len(queries) == 1
    expense_accept(expense=submitted_expense, user=coordinator)
    assert not WebhookEvent.objects.exists()
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        emit("expense.lost", submitted_expense)


def test_a_refusal_or_a_rollback_emits_and_queues_nothing(
    hooked: Any,
    budget_line: Any,
    submitted_expense: Any,
    coordinator: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    draft = factories.ExpenseFactory(line=budget_line)
    accepted = WebhookEvent.objects.filter(type="expense.accepted")
    with django_capture_on_commit_callbacks() as queued:
        with pytest.raises(ValidationError):
            expense_accept(expense=draft, user=coordinator)
        with pytest.raises(RuntimeError), transaction.atomic():
            expense_accept(expense=submitted_expense, user=coordinator)
            assert accepted.count() == 1
            raise RuntimeError("the request failed after the decision")

    assert queued == []
    assert not accepted.exists()
    assert not WebhookDelivery.objects.filter(event__type="expense.accepted").exists()

    with django_capture_on_commit_callbacks() as queued:
        expense_accept(expense=submitted_expense, user=coordinator)
    assert len(queued) == 1
    assert WebhookDelivery.objects.filter(event__type="expense.accepted").count() == 1
