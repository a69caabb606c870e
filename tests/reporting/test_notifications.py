"""Workflow notifications: the events each service records for the people concerned (and not when
it refuses or rolls back), the daily digest planned once per person and day with their events,
the kinds a person switched off left out, the reader's language, at most one email even when the
task runs twice, and the real worker and beat entry sending it to a real SMTP server."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from consortium.models import (
    ConsortiumRole,
    Membership,
    Notification,
    NotificationDigest,
    NotificationKind,
    NotificationState,
    Profile,
)
from consortium.notifications import opt_out_user
from reporting import tasks
from reporting.choices import DeliveryStatus
from reporting.notifications import notification_send, notifications_plan
from tests import factories
from tests.api.conftest import PDF
from tests.polling import wait_for
from tests.reporting.conftest import SmtpServer, queue_drained
from workpackages.money import services as money
from workpackages.workplan import services as workplan

pytestmark = pytest.mark.django_db


def _told() -> list[tuple[str, str]]:
    """(recipient, kind) of every notification recorded, in order."""
    return [
        (row.user.username, row.kind)
        for row in Notification.objects.select_related("user").order_by("user__username", "pk")
    ]


def _submit(deliverable: Any, user: Any, when: datetime.datetime) -> Any:
    return workplan.deliverable_submit(
        deliverable=deliverable, user=user, file=ContentFile(PDF, name="v.pdf"), now=when
    )


@pytest.fixture
def team(partner_a: Any, partner_member: Any) -> Any:
    """A second active person of partner A, and a former one who is told nothing."""
    colleague = factories.UserFactory(username="colleague-a")
    factories.MembershipFactory(user=colleague, partner=partner_a)
    former = factories.UserFactory(username="former-a")
    factories.MembershipFactory(user=former, partner=partner_a, is_active=False)
    return colleague


# What the services record ------------------------------------------------------------------------


def test_a_new_deliverable_version_tells_the_active_coordinators(
    deliverable: Any,
    partner_member: Any,
    coordinator: Any,
    other_coordinator: Any,
    consortium: Any,
    before_due: datetime.datetime,
) -> None:
    former = factories.UserFactory(username="former-coordinator", is_active=False)
    factories.ConsortiumRoleFactory(user=former, consortium=consortium)
    submission = _submit(deliverable, partner_member, before_due)
    # Coordinators of the consortium only; not the partner who sent it, not another consortium's.
    assert _told() == [("coordinator", "deliverable_submitted")]
    row = Notification.objects.get()
    assert (row.consortium_id, row.partner_id, row.actor_id, row.state) == (
        consortium.pk,
        deliverable.lead_partner_id,
        partner_member.pk,
        NotificationState.PENDING,
    )
    assert row.data == {
        "deliverable": deliverable.pk,
        "code": "D1.1",
        "title": "Exosome QC protocol",
        "version": submission.version,
    }


def test_changes_requested_tell_the_lead_partners_active_team(
    deliverable: Any,
    partner_member: Any,
    other_partner_member: Any,
    team: Any,
    coordinator: Any,
    before_due: datetime.datetime,
) -> None:
    _submit(deliverable, partner_member, before_due)
    Notification.objects.all().delete()
    workplan.deliverable_request_changes(
        deliverable=deliverable, user=coordinator, comment="Add the QC data."
    )
    assert _told() == [
        ("colleague-a", "changes_requested"),
        ("member-a", "changes_requested"),
    ]
    assert {row.data["comment"] for row in Notification.objects.all()} == {"Add the QC data."}


def test_a_rejected_expense_tells_its_partners_team(
    submitted_expense: Any, team: Any, coordinator: Any, other_partner_member: Any
) -> None:
    money.expense_reject(expense=submitted_expense, user=coordinator, comment="No invoice.")
    assert _told() == [("colleague-a", "expense_rejected"), ("member-a", "expense_rejected")]
    data = Notification.objects.filter(user__username="member-a").get().data
    assert (data["amount"], data["comment"], data["incurred_on"]) == (
        "1200.00",
        "No invoice.",
        "2024-01-15",
    )


def test_an_expense_accepted_for_less_tells_the_team_in_full_tells_nobody(
    submitted_expense: Any, budget_line: Any, partner_member: Any, coordinator: Any
) -> None:
    money.expense_accept(
        expense=submitted_expense,
        user=coordinator,
        accepted_amount=Decimal("800.00"),
        comment="Half the hours are on another project.",
    )
    assert _told() == [("member-a", "expense_partly_accepted")]
    assert Notification.objects.get().data["accepted_amount"] == "800.00"
    in_full = factories.ExpenseFactory(line=budget_line)
    money.expense_submit(expense=in_full, user=partner_member)
    money.expense_accept(expense=in_full, user=coordinator)
    assert Notification.objects.count() == 1


def test_a_submitted_statement_tells_the_coordinators(
    period: Any, partner_a: Any, partner_member: Any, coordinator: Any, expense: Any
) -> None:
    statement = money.statement_submit(partner=partner_a, period=period, user=partner_member)
    assert _told() == [("coordinator", "statement_submitted")]
    data = Notification.objects.get().data
    assert data == {
        "statement": statement.pk,
        "period": period.pk,
        "period_number": 1,
        "period_start": "2024-01-01",
        "period_end": "2024-06-30",
        "lines": 1,
        "total": "1200.00",
    }


def test_a_reopened_statement_tells_its_partners_team_and_submitted_again_the_coordinators(
    period: Any, partner_a: Any, partner_member: Any, coordinator: Any
) -> None:
    statement = money.statement_submit(partner=partner_a, period=period, user=partner_member)
    Notification.objects.all().delete()
    money.statement_reopen(
        statement=statement, reason="Declare the rejected line anew.", user=coordinator
    )
    assert _told() == [("member-a", "statement_reopened")]
    assert Notification.objects.get().data["reason"] == "Declare the rejected line anew."
    with pytest.raises(ValidationError):
        money.statement_reopen(statement=statement, reason="Again.", user=coordinator)
    assert Notification.objects.count() == 1
    money.statement_submit(partner=partner_a, period=period, user=partner_member)
    assert _told() == [("coordinator", "statement_submitted"), ("member-a", "statement_reopened")]


def test_a_refused_or_rolled_back_service_records_nothing(
    deliverable: Any,
    submitted_expense: Any,
    period: Any,
    partner_a: Any,
    partner_member: Any,
    coordinator: Any,
    consortium: Any,
) -> None:
    late = datetime.datetime(2025, 3, 1, 10, tzinfo=datetime.UTC)
    refusals = [
        # Past its due date without a justification.
        lambda: _submit(deliverable, partner_member, late),
        # Nothing submitted to send back; no reason given.
        lambda: workplan.deliverable_request_changes(
            deliverable=deliverable, user=coordinator, comment="Redo it."
        ),
        lambda: money.expense_reject(expense=submitted_expense, user=coordinator, comment=" "),
        lambda: money.expense_accept(
            expense=submitted_expense, user=coordinator, accepted_amount=Decimal("5000")
        ),
        lambda: money.expense_accept(
            expense=submitted_expense, user=coordinator, accepted_amount=Decimal("10")
        ),
        # A partner person does not decide on expenses.
        lambda: money.expense_reject(expense=submitted_expense, user=partner_member, comment="x"),
        # The running period has not ended.
        lambda: money.statement_submit(
            partner=partner_a, period=consortium.periods.get(number=6), user=partner_member
        ),
    ]
    for refused in refusals:
        with pytest.raises((ValidationError, Exception)):
            refused()
    assert not Notification.objects.exists()

    # Recorded in the service's transaction: rolled back with it.
    with pytest.raises(RuntimeError), transaction.atomic():
        money.expense_reject(expense=submitted_expense, user=coordinator, comment="No invoice.")
        assert Notification.objects.exists()
        raise RuntimeError("the caller fails after the service")
    assert not Notification.objects.exists()


# The daily digest ------------------------------------------------------------------------------


@pytest.fixture
def busy_day(
    deliverable: Any,
    submitted_expense: Any,
    partner_member: Any,
    other_partner_member: Any,
    team: Any,
    coordinator: Any,
    before_due: datetime.datetime,
) -> datetime.date:
    """Partner A's version of D1.1 sent (the coordinator told) then sent back, and its expense
    rejected: partner A's two people each told twice, partner B's nothing."""
    _submit(deliverable, partner_member, before_due)
    workplan.deliverable_request_changes(
        deliverable=deliverable, user=coordinator, comment="Add the QC data."
    )
    money.expense_reject(expense=submitted_expense, user=coordinator, comment="No invoice.")
    return timezone.localdate()


def _digests(day: datetime.date) -> dict[str, list[str]]:
    return {
        digest.user.username: [item["kind"] for item in digest.items]
        for digest in NotificationDigest.objects.filter(day=day).select_related("user")
    }


def test_one_digest_per_person_with_events_listing_the_days_events(busy_day: datetime.date) -> None:
    planned = notifications_plan(day=busy_day)
    assert len(planned) == 3
    assert _digests(busy_day) == {
        "coordinator": ["deliverable_submitted"],
        "member-a": ["changes_requested", "expense_rejected"],
        "colleague-a": ["changes_requested", "expense_rejected"],
    }
    digest = NotificationDigest.objects.get(user__username="member-a")
    assert (digest.email, digest.language, digest.status) == (
        "member-a@example.org",
        "en",
        DeliveryStatus.PENDING,
    )
    assert digest.items[0]["consortium"] == "PIT-TEST" and digest.items[0]["code"] == "D1.1"
    assert set(Notification.objects.values_list("state", flat=True)) == {NotificationState.LISTED}
    assert digest.notifications.count() == 2


def test_planning_twice_makes_no_second_digest_and_later_events_wait_for_the_next_day(
    busy_day: datetime.date,
    submitted_expense: Any,
    budget_line: Any,
    partner_member: Any,
    coordinator: Any,
) -> None:
    assert len(notifications_plan(day=busy_day)) == 3
    assert notifications_plan(day=busy_day) == []
    later = factories.ExpenseFactory(line=budget_line)
    money.expense_submit(expense=later, user=partner_member)
    money.expense_reject(expense=later, user=coordinator, comment="Wrong period.")
    # Already served today: tomorrow's digest lists it.
    assert notifications_plan(day=busy_day) == []
    assert NotificationDigest.objects.count() == 3
    tomorrow = busy_day + datetime.timedelta(days=1)
    assert {d.user.username for d in notifications_plan(day=tomorrow)} == {
        "member-a",
        "colleague-a",
    }
    assert _digests(tomorrow) == {
        "member-a": ["expense_rejected"],
        "colleague-a": ["expense_rejected"],
    }


def test_kinds_switched_off_are_left_out_and_nobody_gets_an_empty_digest(
    busy_day: datetime.date, partner_member: Any, team: Any, coordinator: Any
) -> None:
    Profile.objects.create(user=partner_member, notifications_off=["expense_rejected"])
    Profile.objects.create(user=team, notifications_off=["changes_requested", "expense_rejected"])
    Profile.objects.create(user=coordinator, notifications_off=["statement_submitted"])
    notifications_plan(day=busy_day)
    assert _digests(busy_day) == {
        "member-a": ["changes_requested"],
        "coordinator": ["deliverable_submitted"],
    }
    skipped = Notification.objects.filter(state=NotificationState.SKIPPED)
    assert sorted(skipped.values_list("user__username", "kind")) == [
        ("colleague-a", "changes_requested"),
        ("colleague-a", "expense_rejected"),
        ("member-a", "expense_rejected"),
    ]
    # Switched on again later: what was left out is not sent late.
    Profile.objects.filter(user=team).update(notifications_off=[])
    assert notifications_plan(day=busy_day + datetime.timedelta(days=1)) == []


def test_people_who_left_or_have_no_address_get_no_digest(
    busy_day: datetime.date, team: Any
) -> None:
    team.email = ""
    team.save(update_fields=["email"])
    notifications_plan(day=busy_day)
    assert "colleague-a" not in _digests(busy_day)
    assert not Notification.objects.filter(user=team, state=NotificationState.PENDING).exists()


def test_people_who_lost_the_access_since_the_event_read_none_of_it(
    busy_day: datetime.date, team: Any, coordinator: Any
) -> None:
    """Taken off partner A's team and the coordinator's role ended after the events: neither
    reads partner A's comments and amounts, nor the consortium's news."""
    Membership.objects.filter(user=team).update(is_active=False)
    ConsortiumRole.objects.filter(user=coordinator).update(is_active=False)
    notifications_plan(day=busy_day)
    assert set(_digests(busy_day)) == {"member-a"}
    assert set(
        Notification.objects.filter(user__in=[team, coordinator]).values_list("state", flat=True)
    ) == {NotificationState.SKIPPED}


def test_the_digest_email_lists_the_events_with_its_links_and_goes_once(
    busy_day: datetime.date, partner_member: Any, smtp: SmtpServer
) -> None:
    notifications_plan(day=busy_day)
    digest = NotificationDigest.objects.get(user=partner_member)
    assert notification_send(digest_id=digest.pk) is True
    assert notification_send(digest_id=digest.pk) is False

    [message] = smtp.mailbox.to("member-a@example.org")
    assert str(message["Subject"]).strip() == "2 updates on your consortium's work today"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "en"
    [text, html] = message.iter_parts()
    body, html_body = text.get_content(), html.get_content()
    assert body.startswith("Hello,")
    assert "[PIT-TEST] D1.1 Exosome QC protocol, version 1: Add the QC data." in body
    assert "Expense of 15/01/2024" in body and "EUR 1,200.00: No invoice." in body
    assert "/accounts/notifications/" in body
    assert f"/deliverables/{digest.items[0]['deliverable']}/" in body
    assert '<html lang="en">' in html_body
    unsubscribe = str(message["List-Unsubscribe"]).strip().strip("<>")
    token = unsubscribe.rstrip("/").rsplit("/", 1)[-1]
    assert opt_out_user(token) == partner_member
    assert unsubscribe in html_body

    digest.refresh_from_db()
    assert (digest.status, digest.attempts) == (DeliveryStatus.SENT, 1)


def test_the_digest_is_in_its_readers_language(
    busy_day: datetime.date, partner_member: Any, smtp: SmtpServer
) -> None:
    Profile.objects.create(user=partner_member, language="fr")
    notifications_plan(day=busy_day)
    digest = NotificationDigest.objects.get(user=partner_member)
    assert digest.language == "fr"
    notification_send(digest_id=digest.pk)
    [message] = smtp.messages
    assert message["Content-Language"] == "fr"
    [text, html] = message.iter_parts()
    # "Hello," is already translated for the deadline reminders.
    assert text.get_content().startswith("Bonjour,")
    assert '<html lang="fr">' in html.get_content()


def test_a_kind_switched_off_after_planning_is_not_sent(
    busy_day: datetime.date, partner_member: Any, smtp: SmtpServer
) -> None:
    notifications_plan(day=busy_day)
    digest = NotificationDigest.objects.get(user=partner_member)
    Profile.objects.create(user=partner_member, notifications_off=["expense_rejected"])
    notification_send(digest_id=digest.pk)
    [message] = smtp.messages
    assert "No invoice." not in message.iter_parts().__next__().get_content()
    # Everything switched off: nothing leaves, and the digest says why.
    Profile.objects.filter(user=partner_member).update(
        notifications_off=list(NotificationKind.values)
    )
    colleague = NotificationDigest.objects.get(user__username="colleague-a")
    Profile.objects.create(user=colleague.user, notifications_off=list(NotificationKind.values))
    assert notification_send(digest_id=colleague.pk) is False
    colleague.refresh_from_db()
    assert colleague.status == DeliveryStatus.CANCELLED
    assert len(smtp.messages) == 1


def test_the_daily_beat_entry_runs_at_five_in_the_afternoon() -> None:
    schedule = PeriodicTask.objects.get(name="Daily digest of workflow notifications")
    assert (schedule.task, json.loads(schedule.kwargs)) == (
        "reporting.tasks.send_notification_digests",
        {},
    )
    assert (schedule.crontab.minute, schedule.crontab.hour) == ("0", "17")
    assert str(schedule.crontab.timezone) == "Europe/Brussels"


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_each_digest_once_even_when_the_task_runs_twice(
    busy_day: datetime.date, smtp: SmtpServer, celery_worker: Any, celery_queue: str
) -> None:
    for _ in range(2):
        tasks.send_notification_digests.delay(busy_day.isoformat())
    wait_for(
        lambda: (
            queue_drained(celery_queue)
            and not NotificationDigest.objects.exclude(status=DeliveryStatus.SENT).exists()
            and NotificationDigest.objects.count() == 3
        ),
        timeout=30,
        what="three digests sent",
    )
    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "colleague-a@example.org",
        "coordinator@example.org",
        "member-a@example.org",
    ]
    # The sweep and the task again later: nothing more leaves.
    tasks.send_notification_digests.delay(busy_day.isoformat())
    tasks.dispatch_pending.delay()
    wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    assert len(smtp.messages) == 3


@pytest.mark.django_db(transaction=True)
def test_the_sweep_hands_a_lost_digest_to_the_worker(
    busy_day: datetime.date, smtp: SmtpServer, celery_worker: Any, celery_queue: str
) -> None:
    # Planned, but its task was lost (Redis away, a worker killed) half an hour ago.
    notifications_plan(day=timezone.localdate())
    NotificationDigest.objects.update(updated_at=timezone.now() - datetime.timedelta(minutes=30))
    tasks.dispatch_pending.delay()
    wait_for(lambda: len(smtp.messages) == 3, timeout=30, what="three digests")
    wait_for(lambda: queue_drained(celery_queue), timeout=20, what="the queue to drain")
    assert set(NotificationDigest.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_the_coordinators_digest_links_to_the_admin(
    period: Any,
    partner_a: Any,
    partner_member: Any,
    coordinator: Any,
    expense: Any,
    submitted_expense: Any,
    smtp: SmtpServer,
) -> None:
    money.expense_accept(
        expense=submitted_expense,
        user=coordinator,
        accepted_amount=Decimal("1000.50"),
        comment="Overheads are flat-rate.",
    )
    money.statement_submit(partner=partner_a, period=period, user=partner_member)
    notifications_plan()
    for digest in NotificationDigest.objects.order_by("pk"):
        notification_send(digest_id=digest.pk)
    [to_coordinator] = smtp.mailbox.to("coordinator@example.org")
    body = next(to_coordinator.iter_parts()).get_content()
    assert (
        "P1 BioWin submitted its statement for period P1 (01/01/2024 – 30/06/2024): "
        "1 line, EUR 1,200.00" in body
    )
    assert (
        f"/admin/workpackages/expense/?partner__id__exact={partner_a.pk}"
        f"&period__id__exact={period.pk}" in body
    )
    [to_partner] = smtp.mailbox.to("member-a@example.org")
    body = next(to_partner.iter_parts()).get_content()
    assert "EUR 1,000.50 accepted of EUR 1,200.00: Overheads are flat-rate." in body
    assert "/expenses/" in body
