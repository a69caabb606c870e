"""Deadline reminders: which partner people get a digest of which deliverables on which day, the
digest's email (through a real SMTP server on loopback) with its one-click opt-out, the opt-out
page, and a planning that runs the same queries however many partners, people and deliverables."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.choices import MembershipRole, PartnerStatus
from consortium.models import Profile
from consortium.services import membership_grant
from reporting.choices import DeliveryStatus
from reporting.emails import opt_out_token, opt_out_user_id
from reporting.models import ReminderDigest
from reporting.reminders import reminder_send, reminders_plan
from tests import factories
from tests.api.conftest import PDF
from tests.reporting.conftest import SmtpServer, at
from workpackages.workplan import services as workplan

pytestmark = pytest.mark.django_db

# D1.1 of the `deliverable` fixture is due at the end of month 12.
DUE = datetime.date(2024, 12, 31)


def _before(days: int) -> datetime.date:
    return DUE - datetime.timedelta(days=days)


def _digests(day: datetime.date) -> dict[str, list[tuple[str, int]]]:
    """Who gets a digest on `day`, and the deliverables (code, days until due) it lists."""
    return {
        digest.user.username: [(item["code"], item["days"]) for item in digest.items]
        for digest in ReminderDigest.objects.filter(day=day).select_related("user")
    }


def _member(partner: Any, username: str, **user_fields: Any) -> Any:
    user = factories.UserFactory(username=username, **user_fields)
    membership_grant(partner=partner, user=user, role=MembershipRole.CONTACT, granted_by=None)
    return user


# Who is reminded of what, when -----------------------------------------------------------------


@pytest.mark.parametrize("days", [30, 7, 1, -1, -45])
def test_a_deliverable_is_reminded_30_7_and_1_days_before_and_every_day_once_overdue(
    deliverable: Any, partner_member: Any, other_partner_member: Any, days: int
) -> None:
    day = _before(days)
    [digest] = reminders_plan(day=day)
    assert (digest.user_id, digest.email, digest.day) == (
        partner_member.pk,
        "member-a@example.org",
        day,
    )
    assert (digest.status, digest.attempts, digest.language) == (DeliveryStatus.PENDING, 0, "en")
    [item] = digest.items
    assert item == {
        "id": deliverable.pk,
        "code": "D1.1",
        "title": "Exosome QC protocol",
        "consortium": "PIT-TEST",
        "due_date": "2024-12-31",
        "days": days,
    }
    # Partner B's people have nothing due: no digest for them.
    assert _digests(day) == {"member-a": [("D1.1", days)]}


@pytest.mark.parametrize("days", [2, 8, 31, 29])
def test_other_days_before_the_due_date_remind_nobody(
    deliverable: Any, partner_member: Any, days: int
) -> None:
    assert reminders_plan(day=_before(days)) == []
    assert not ReminderDigest.objects.exists()


def test_submitted_and_approved_deliverables_are_not_reminded_sent_back_ones_are(
    deliverable: Any, workpackage: Any, partner_member: Any, coordinator: Any
) -> None:
    sent_back = factories.DeliverableFactory(workpackage=workpackage, due_month=12)
    approved = factories.DeliverableFactory(workpackage=workpackage, due_month=12)
    for item in (deliverable, sent_back, approved):
        workplan.deliverable_submit(
            deliverable=item,
            user=partner_member,
            file=ContentFile(PDF, name="version.pdf"),
            now=at(_before(10)),
        )
    workplan.deliverable_approve(deliverable=approved, user=coordinator, now=at(_before(9)))
    workplan.deliverable_request_changes(
        deliverable=sent_back, user=coordinator, comment="Add the QC data.", now=at(_before(9))
    )
    # D1.1 submitted, D1.3 approved: only D1.2, sent back for changes, is still to deliver.
    reminders_plan(day=_before(7))
    assert _digests(_before(7)) == {"member-a": [("D1.2", 7)]}
    reminders_plan(day=_before(-3))
    assert _digests(_before(-3)) == {"member-a": [("D1.2", -3)]}


def test_people_are_reminded_only_of_their_own_partners_deliverables(
    deliverable: Any,
    workpackage: Any,
    partner_b: Any,
    partner_member: Any,
    other_partner_member: Any,
    other_workpackage: Any,
    other_partner: Any,
) -> None:
    factories.DeliverableFactory(workpackage=workpackage, lead_partner=partner_b, due_month=12)
    factories.DeliverableFactory(workpackage=other_workpackage, due_month=12)
    _member(other_partner, "member-other")
    planned = reminders_plan(day=_before(1))
    assert len(planned) == 3
    assert _digests(_before(1)) == {
        "member-a": [("D1.1", 1)],
        "member-b": [("D1.2", 1)],
        "member-other": [("D1.1", 1)],
    }
    consortia = {
        digest.user.username: {item["consortium"] for item in digest.items}
        for digest in ReminderDigest.objects.select_related("user")
    }
    assert consortia == {
        "member-a": {"PIT-TEST"},
        "member-b": {"PIT-TEST"},
        "member-other": {"PIT-OTHER"},
    }


def test_people_who_opted_out_left_or_have_no_address_and_withdrawn_partners_get_nothing(
    consortium: Any, deliverable: Any, workpackage: Any, partner_a: Any, partner_member: Any
) -> None:
    opted_out = _member(partner_a, "opted-out")
    Profile.objects.create(user=opted_out, deadline_reminders=False)
    french = _member(partner_a, "french")
    Profile.objects.create(user=french, language="fr", deadline_reminders=True)
    _member(partner_a, "inactive", is_active=False)
    _member(partner_a, "no-address", email="")
    former = factories.UserFactory(username="former")
    factories.MembershipFactory(user=former, partner=partner_a, is_active=False)
    withdrawn = factories.PartnerFactory(
        consortium=consortium,
        status=PartnerStatus.WITHDRAWN,
        left_on=datetime.date(2024, 6, 30),
    )
    factories.DeliverableFactory(workpackage=workpackage, lead_partner=withdrawn, due_month=12)
    _member(withdrawn, "withdrawn")

    planned = reminders_plan(day=_before(30))

    assert _digests(_before(30)) == {"member-a": [("D1.1", 30)], "french": [("D1.1", 30)]}
    assert {(digest.email, digest.language) for digest in planned} == {
        ("member-a@example.org", "en"),
        ("french@example.org", "fr"),
    }


def test_planning_twice_the_same_day_makes_one_digest_per_person(
    deliverable: Any, partner_member: Any
) -> None:
    assert len(reminders_plan(day=_before(7))) == 1
    assert reminders_plan(day=_before(7)) == []
    assert ReminderDigest.objects.filter(user=partner_member, day=_before(7)).count() == 1
    # The next reminder day is another digest.
    assert len(reminders_plan(day=_before(1))) == 1
    assert ReminderDigest.objects.filter(user=partner_member).count() == 2


def test_the_planned_digests_come_back_saved_for_the_task_queue(
    deliverable: Any, partner_member: Any, other_partner_member: Any, workpackage: Any
) -> None:
    factories.DeliverableFactory(
        workpackage=workpackage, lead_partner=other_partner_member.memberships.get().partner
    )
    planned = reminders_plan(day=_before(30))
    # The daily task hands each digest's id to a task of its own.
    assert [digest.pk is not None for digest in planned] == [True, True]
    assert {digest.pk for digest in planned} == set(
        ReminderDigest.objects.filter(day=_before(30)).values_list("pk", flat=True)
    )


# The digest's email ----------------------------------------------------------------------------


@pytest.fixture
def digest_items(workpackage: Any, deliverable: Any, partner_member: Any) -> Any:
    """On 24 December 2024, D1.1 is due in 7 days and D1.2 is 24 days overdue."""
    factories.DeliverableFactory(workpackage=workpackage, title="Vector release", due_month=11)
    return datetime.date(2024, 12, 24)


def _opt_out_path(header: str) -> str:
    match = re.fullmatch(r"<(https?://[^>]+)>", header.strip())
    assert match, header
    url = match.group(1)
    assert url.startswith(settings.SITE_URL.rstrip("/") + "/reminders/stop/"), url
    return url.removeprefix(settings.SITE_URL.rstrip("/"))


def test_the_digest_email_lists_the_deadlines_with_a_one_click_opt_out(
    digest_items: datetime.date, partner_member: Any, smtp: SmtpServer
) -> None:
    reminders_plan(day=digest_items)
    digest = ReminderDigest.objects.get(user=partner_member, day=digest_items)
    assert reminder_send(digest_id=digest.pk) is True

    [message] = smtp.messages
    assert message["To"] == "member-a@example.org"
    assert str(message["Subject"]).strip() == "2 deadlines of your partner to watch"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    [text, html] = message.iter_parts()
    assert [text.get_content_type(), html.get_content_type()] == ["text/plain", "text/html"]
    text_body, html_body = text.get_content(), html.get_content()
    assert "D1.2 Vector release: due on 30/11/2024, 24 days ago" in text_body
    assert "D1.1 Exosome QC protocol: due on 31/12/2024, in 7 days" in text_body
    assert text_body.index("Overdue") < text_body.index("due soon")

    opt_out = _opt_out_path(message["List-Unsubscribe"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = opt_out.removeprefix("/reminders/stop/").removesuffix("/")
    assert opt_out_user_id(token) == partner_member.pk
    assert settings.SITE_URL.rstrip("/") + opt_out in text_body
    assert f'href="{settings.SITE_URL.rstrip("/") + opt_out}"' in html_body

    digest.refresh_from_db()
    assert (digest.status, digest.attempts, digest.last_error) == (DeliveryStatus.SENT, 1, "")
    assert digest.sent_at is not None
    # Sent once: a second run of the task finds it sent.
    assert reminder_send(digest_id=digest.pk) is False
    assert len(smtp.messages) == 1


def test_the_digest_is_in_the_language_its_reader_chose(
    digest_items: datetime.date, partner_member: Any, smtp: SmtpServer
) -> None:
    Profile.objects.create(user=partner_member, language="fr")
    reminders_plan(day=digest_items)
    digest = ReminderDigest.objects.get(user=partner_member, day=digest_items)
    assert digest.language == "fr"
    reminder_send(digest_id=digest.pk)

    [message] = smtp.messages
    [text, html] = message.iter_parts()
    text_body, html_body = text.get_content(), html.get_content()
    # Dates the French way, and none of the English sentences.
    assert "30/11/2024" in text_body and "11/30/2024" not in text_body
    assert str(message["Subject"]).strip() == "2 échéances de votre partenaire à surveiller"
    assert text_body.startswith("Bonjour,") and "Hello," not in text_body
    assert "Overdue deliverables" not in text_body
    assert "Arrêter ces rappels" in html_body and "Stop these reminders" not in html_body
    assert '<html lang="fr">' in html_body


# Opting out ------------------------------------------------------------------------------------


def _opt_out_url(user_id: int) -> str:
    return reverse("reminders-opt-out", args=[opt_out_token(user_id)])


def test_following_the_opt_out_link_asks_for_confirmation_and_changes_nothing(
    partner_member: Any,
) -> None:
    response = Client().get(_opt_out_url(partner_member.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "stop receiving the daily digest" in html
    assert '<form method="post">' in html
    assert not Profile.objects.filter(user=partner_member).exists()


def test_confirming_the_opt_out_stops_the_digest_and_keeps_the_history(
    deliverable: Any, partner_member: Any, other_partner_member: Any
) -> None:
    url = _opt_out_url(partner_member.pk)
    response = Client().post(url)
    assert response.status_code == 200
    assert "you will no longer receive the daily digest" in response.content.decode()
    profile = Profile.objects.get(user=partner_member)
    assert profile.deadline_reminders is False
    assert profile.language == ""
    latest = profile.history.first()
    assert latest.history_user == partner_member and latest.deadline_reminders is False
    changes = profile.history.count()
    # Confirming again (a mail client's one-click POST after the page's) changes nothing more.
    assert Client().post(url).status_code == 200
    assert profile.history.count() == changes
    assert reminders_plan(day=_before(7)) == []
    # Someone who keeps a language of their own keeps it.
    Profile.objects.create(user=other_partner_member, language="fr")
    assert Client().post(_opt_out_url(other_partner_member.pk)).status_code == 200
    assert Profile.objects.filter(user=other_partner_member).values_list(
        "language", "deadline_reminders"
    ).get() == ("fr", False)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_or_foreign_token_answers_404_and_changes_nothing(
    partner_member: Any, other_partner_member: Any, method: str
) -> None:
    token = opt_out_token(partner_member.pk)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    unsalted = signing.dumps(other_partner_member.pk)
    client = Client()
    for bad in (tampered, unsalted, "not-a-token"):
        url = reverse("reminders-opt-out", args=[bad])
        assert getattr(client, method)(url).status_code == 404, bad
    # A link of someone no longer active stops nothing either.
    other_partner_member.is_active = False
    other_partner_member.save(update_fields=["is_active"])
    assert getattr(client, method)(_opt_out_url(other_partner_member.pk)).status_code == 404
    assert not Profile.objects.exists()


# Cost --------------------------------------------------------------------------------------


def _plan_queries(day: datetime.date) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        planned = reminders_plan(day=day)
    return len(queries), len(planned)


def test_planning_runs_the_same_queries_for_one_or_many_partners_people_and_deliverables(
    consortium: Any,
    deliverable: Any,
    partner_member: Any,
    other_workpackage: Any,
    other_partner: Any,
) -> None:
    small = _plan_queries(datetime.date(2025, 2, 1))
    assert small[1] == 1

    for number in range(3):
        partner = factories.PartnerFactory(consortium=consortium)
        wp = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner)
        for month in (10, 11, 12):
            factories.DeliverableFactory(workpackage=wp, due_month=month)
        for person in range(2):
            user = _member(partner, f"p{number}-{person}")
            Profile.objects.create(user=user, language="fr" if person else "")
    factories.DeliverableFactory(workpackage=other_workpackage, due_month=12)
    _member(other_partner, "member-other")

    large = _plan_queries(datetime.date(2025, 2, 2))
    assert large[1] == 1 + 3 * 2 + 1
    assert large[0] == small[0], (small, large)
    assert ReminderDigest.objects.filter(day=datetime.date(2025, 2, 2)).count() == 8
