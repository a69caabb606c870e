"""Deadline reminders of expense statements and milestones, in the same daily digest as the
deliverables: a partner's statement of each period 30, 7 and 1 days before its due date and every
day once overdue, until submitted (a reopened one is not); a pending milestone to the people of
its lead partner on the same days; nothing on other days, nothing to people who opted out, and
the same planning queries however many partners, periods and milestones."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consortium.choices import MembershipRole, PartnerStatus
from consortium.models import Profile
from consortium.services import membership_grant
from reporting.emails import reminder_message
from reporting.models import ReminderDigest
from reporting.reminders import reminders_plan
from tests import factories
from workpackages.money.services import statement_reopen, statement_submit
from workpackages.workplan.services import milestone_achieve, milestone_miss

pytestmark = pytest.mark.django_db

# PIT-TEST's second period, July to December 2024: its statements are due 60 days after its end.
P2_DUE = datetime.date(2025, 3, 1)
# The `milestone` fixture, MS1, is due at the end of month 18.
MS1_DUE = datetime.date(2025, 6, 30)


def _digests(day: datetime.date) -> dict[str, list[tuple[str, str, int]]]:
    """Who gets a digest on `day`, and what it lists: (kind, code, days until due)."""
    return {
        digest.user.username: [
            (item.get("kind", "deliverable"), item["code"], item["days"]) for item in digest.items
        ]
        for digest in ReminderDigest.objects.filter(day=day).select_related("user")
    }


def _member(partner: Any, username: str) -> Any:
    user = factories.UserFactory(username=username)
    membership_grant(partner=partner, user=user, role=MembershipRole.FINANCE, granted_by=None)
    return user


@pytest.fixture
def p1_submitted(budget_line: Any, partner_member: Any, period: Any) -> Any:
    """Partner A, which has a budget, submitted its statement of P1: only P2's is left to remind."""
    return statement_submit(partner=budget_line.partner, period=period, user=partner_member)


# Statements ----------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [30, 7, 1, -1, -20])
def test_a_statement_is_reminded_30_7_and_1_days_before_and_every_day_once_overdue(
    p1_submitted: Any, other_partner_member: Any, consortium: Any, days: int
) -> None:
    day = P2_DUE - datetime.timedelta(days=days)
    [digest] = reminders_plan(day=day)
    p2 = consortium.periods.get(number=2)
    assert digest.items == [
        {
            "kind": "statement",
            "id": p2.pk,
            "code": "P2",
            "title": "",
            "consortium": "PIT-TEST",
            "due_date": "2025-03-01",
            "days": days,
            "start": "2024-07-01",
            "end": "2024-12-31",
        }
    ]
    # Partner B has no budget line: no cost to declare, no statement to remind.
    assert _digests(day) == {"member-a": [("statement", "P2", days)]}


@pytest.mark.parametrize("days", [2, 8, 31, 29, 0])
def test_other_days_remind_nobody_of_a_statement(p1_submitted: Any, days: int) -> None:
    assert reminders_plan(day=P2_DUE - datetime.timedelta(days=days)) == []


def test_every_statement_not_submitted_is_reminded_the_oldest_first(
    budget_line: Any, partner_member: Any
) -> None:
    day = P2_DUE - datetime.timedelta(days=7)
    reminders_plan(day=day)
    p1_late = (day - datetime.date(2024, 8, 29)).days
    assert _digests(day) == {"member-a": [("statement", "P1", -p1_late), ("statement", "P2", 7)]}


def test_a_reopened_statement_is_reminded_until_submitted_again(
    p1_submitted: Any, partner_a: Any, partner_member: Any, coordinator: Any, consortium: Any
) -> None:
    p2 = consortium.periods.get(number=2)
    statement = statement_submit(partner=partner_a, period=p2, user=partner_member)
    overdue = P2_DUE + datetime.timedelta(days=1)
    assert reminders_plan(day=overdue) == []

    statement_reopen(statement=statement, reason="Line 2 has no invoice.", user=coordinator)
    reminders_plan(day=overdue + datetime.timedelta(days=1))
    assert _digests(overdue + datetime.timedelta(days=1)) == {"member-a": [("statement", "P2", -2)]}

    statement_submit(partner=partner_a, period=p2, user=partner_member)
    assert reminders_plan(day=overdue + datetime.timedelta(days=2)) == []


def test_partners_that_joined_later_or_left_owe_no_statement(
    p1_submitted: Any, consortium: Any, workpackage: Any
) -> None:
    newcomer = factories.PartnerFactory(consortium=consortium, joined_on=datetime.date(2025, 1, 1))
    gone = factories.PartnerFactory(
        consortium=consortium, status=PartnerStatus.WITHDRAWN, left_on=datetime.date(2024, 12, 1)
    )
    for partner, name in ((newcomer, "newcomer"), (gone, "gone")):
        factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner)
        factories.BudgetLineFactory(partner=partner, workpackage=workpackage, heading="personnel")
        _member(partner, name)
    day = P2_DUE - datetime.timedelta(days=1)
    reminders_plan(day=day)
    # The newcomer joined after P2 ended; the partner that left is reminded of nothing.
    assert _digests(day) == {"member-a": [("statement", "P2", 1)]}


# Milestones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [30, 7, 1, -1, -45])
def test_a_milestone_is_reminded_to_its_lead_partner_30_7_and_1_days_before_and_once_overdue(
    milestone: Any, partner_member: Any, other_partner_member: Any, days: int
) -> None:
    assert milestone.due_date == MS1_DUE
    day = MS1_DUE - datetime.timedelta(days=days)
    [digest] = reminders_plan(day=day)
    assert digest.user == partner_member
    assert digest.items == [
        {
            "kind": "milestone",
            "id": milestone.pk,
            "code": "MS1",
            "title": milestone.title,
            "consortium": "PIT-TEST",
            "due_date": "2025-06-30",
            "days": days,
        }
    ]


@pytest.mark.parametrize("days", [2, 8, 31, 29])
def test_other_days_remind_nobody_of_a_milestone(
    milestone: Any, partner_member: Any, days: int
) -> None:
    assert reminders_plan(day=MS1_DUE - datetime.timedelta(days=days)) == []


def test_achieved_and_missed_milestones_are_not_reminded(
    milestone: Any, partner_a: Any, workpackage: Any, partner_member: Any, coordinator: Any
) -> None:
    missed = factories.MilestoneFactory(
        lead_partner=partner_a, number=2, due_month=18, workpackages=[workpackage]
    )
    pending = factories.MilestoneFactory(
        lead_partner=partner_a, number=3, due_month=18, workpackages=[workpackage]
    )
    milestone_achieve(
        milestone=milestone,
        user=coordinator,
        achieved_on=datetime.date(2025, 6, 1),
        evidence="Batch record signed.",
    )
    milestone_miss(milestone=missed, user=coordinator, reason="The batch failed.")
    day = MS1_DUE - datetime.timedelta(days=7)
    reminders_plan(day=day)
    assert _digests(day) == {"member-a": [("milestone", pending.code, 7)]}


# One digest, its email, the opt-out --------------------------------------------------------


def test_deliverables_milestones_and_statements_share_one_digest_by_date_and_kind(
    milestone: Any, budget_line: Any, workpackage: Any, partner_member: Any
) -> None:
    # D1.1 due at the end of month 18, as MS1; P1 and P2's statements are overdue on that day.
    deliverable = factories.DeliverableFactory(workpackage=workpackage, number=1, due_month=18)
    day = MS1_DUE - datetime.timedelta(days=7)
    [digest] = reminders_plan(day=day)
    p1_late = (day - datetime.date(2024, 8, 29)).days
    p2_late = (day - P2_DUE).days
    assert _digests(day) == {
        "member-a": [
            ("statement", "P1", -p1_late),
            ("statement", "P2", -p2_late),
            ("deliverable", deliverable.code, 7),
            ("milestone", "MS1", 7),
        ]
    }

    message = reminder_message(digest)
    text = message.body
    html = str(message.alternatives[0][0])
    assert message.subject == "4 deadlines of your partner to watch"
    assert "Overdue expense statements of your partner:" in text
    assert (
        f"- [PIT-TEST] P2 expense statement (01/07/2024 – 31/12/2024): due on 01/03/2025, "
        f"{p2_late} days ago" in text
    )
    assert "Deliverables of your partner due soon:" in text
    assert f"- [PIT-TEST] {deliverable.code} {deliverable.title}: due on 30/06/2025, in 7 days" in (
        text
    )
    assert "Milestones of your partner due soon:" in text
    assert f"- [PIT-TEST] MS1 {milestone.title}: due on 30/06/2025, in 7 days" in text
    # Overdue first, then each kind under its own heading.
    assert text.index("Overdue expense") < text.index("Deliverables of") < text.index("Milestones")
    assert "<strong>P1</strong> expense statement (01/01/2024 – 30/06/2024)" in html
    assert "Overdue deliverables" not in text and "Overdue milestones" not in text


def test_people_who_opted_out_get_no_statement_or_milestone_reminder(
    milestone: Any, budget_line: Any, partner_member: Any, partner_a: Any
) -> None:
    Profile.objects.create(user=partner_member, deadline_reminders=False)
    french = _member(partner_a, "french")
    Profile.objects.create(user=french, language="fr")
    day = MS1_DUE - datetime.timedelta(days=1)
    planned = reminders_plan(day=day)
    assert [digest.user for digest in planned] == [french]
    assert [item["kind"] for item in planned[0].items] == ["statement", "statement", "milestone"]
    # Read in French too, without failing on the new kinds.
    assert "Bonjour," in reminder_message(planned[0]).body


# Cost ------------------------------------------------------------------------------------------


def _plan_queries(day: datetime.date) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        planned = reminders_plan(day=day)
    return len(queries), len(planned)


def test_planning_runs_the_same_queries_for_few_or_many_statements_and_milestones(
    consortium: Any,
    milestone: Any,
    budget_line: Any,
    partner_member: Any,
    other_consortium: Any,
    other_workpackage: Any,
    other_partner: Any,
) -> None:
    small = _plan_queries(MS1_DUE - datetime.timedelta(days=30))
    assert small[1] == 1

    for number in range(3):
        partner = factories.PartnerFactory(consortium=consortium)
        wp = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner)
        factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner)
        factories.BudgetLineFactory(partner=partner, workpackage=wp, heading="personnel")
        for month in (16, 17, 18):
            factories.MilestoneFactory(
                lead_partner=partner, number=10 * number + month, due_month=month
            )
        for person in range(2):
            user = _member(partner, f"p{number}-{person}")
            Profile.objects.create(user=user, language="fr" if person else "")
    factories.WorkpackageParticipantFactory(workpackage=other_workpackage, partner=other_partner)
    factories.BudgetLineFactory(
        partner=other_partner, workpackage=other_workpackage, heading="personnel"
    )
    factories.MilestoneFactory(lead_partner=other_partner, number=1, due_month=18)
    _member(other_partner, "member-other")

    large = _plan_queries(MS1_DUE - datetime.timedelta(days=29))
    assert large[1] == 1 + 3 * 2 + 1
    assert large[0] == small[0], (small, large)
