"""The calendar page and the person's iCalendar feed: the deadlines of their own partner only, at
a secret address that can be renewed or switched off."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from consortium.models import Profile
from consortium.services import calendar_feed_renew, calendar_feed_revoke
from consortium.teams import membership_deactivate
from tests import factories
from tests.web import client_for
from workpackages.money.services import statement_submit
from workpackages.overview.calendar import UID_DOMAIN, feed_for
from workpackages.workplan.services import milestone_achieve, milestone_miss

pytestmark = pytest.mark.django_db

HOST = "portal.example.org"
# Another name of the same site, the one a person may have reached the page by.
OTHER_HOST = "deadlines.example.net"


@pytest.fixture(autouse=True)
def _site_url(settings: Any) -> None:
    settings.SITE_URL = f"https://{HOST}/"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST, OTHER_HOST]


def feed_path(user: Any) -> str:
    token = Profile.objects.get(user=user).calendar_token
    return reverse("calendar-feed", kwargs={"token": token})


def fetch(path: str) -> Any:
    """As a calendar program does: no session, no cookie."""
    return Client().get(path)


def events(response: Any) -> dict[str, Any]:
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def deadlines(
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    deliverable: Any,
    milestone: Any,
    other_workpackage: Any,
) -> dict[str, Any]:
    """Partner A leads D1.1, D1.3 and MS1; partner B leads D1.2 and MS2; another consortium has
    its own deliverable and milestone."""
    return {
        "d13": factories.DeliverableFactory(
            workpackage=workpackage, number=3, title="Release criteria", due_month=30
        ),
        "d12": factories.DeliverableFactory(
            workpackage=workpackage, number=2, title="Potency assay", lead_partner=partner_b
        ),
        "ms2": factories.MilestoneFactory(lead_partner=partner_b, number=2, title="B's milestone"),
        "foreign_d": factories.DeliverableFactory(
            workpackage=other_workpackage, title="Foreign deliverable"
        ),
        "foreign_ms": factories.MilestoneFactory(
            lead_partner=other_workpackage.lead_partner, title="Foreign milestone"
        ),
    }


def test_page_offers_to_create_the_address(partner_member: Any) -> None:
    response = client_for(partner_member).get(reverse("calendar"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Create my calendar address" in content
    assert ".ics" not in content
    assert not Profile.objects.filter(user=partner_member, calendar_token__isnull=False).exists()


def test_create_then_page_shows_the_absolute_address(partner_member: Any) -> None:
    client = client_for(partner_member)
    response = client.post(reverse("calendar-renew"))
    assert response.status_code == 302
    token = Profile.objects.get(user=partner_member).calendar_token
    assert token and len(token) >= 40
    content = client.get(reverse("calendar"), secure=True, headers={"host": HOST}).content.decode()
    assert f'value="https://{HOST}/calendar/{token}.ics"' in content
    assert f'href="webcal://{HOST}/calendar/{token}.ics"' in content
    assert "Your calendar address is ready" in content
    for words in ("In Outlook", "Subscribe from web", "In Google Calendar", "From URL"):
        assert words in content
    assert "Get a new address" in content
    assert "Switch the address off" in content


def test_renew_and_revoke_are_posts_only(partner_member: Any) -> None:
    client = client_for(partner_member)
    assert client.get(reverse("calendar-renew")).status_code == 405
    assert client.get(reverse("calendar-revoke")).status_code == 405
    assert not Profile.objects.filter(user=partner_member, calendar_token__isnull=False).exists()


def test_feed_lists_exactly_the_partner_deadlines(
    partner_member: Any,
    partner_a: Any,
    consortium: Any,
    deliverable: Any,
    milestone: Any,
    deadlines: dict[str, Any],
) -> None:
    calendar_feed_renew(user=partner_member)
    response = fetch(feed_path(partner_member))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert "Consortium Manager" in str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"])

    found = events(response)
    d13 = deadlines["d13"]
    periods = list(consortium.periods.order_by("number"))
    expected = {
        f"deliverable-{deliverable.pk}@{UID_DOMAIN}": deliverable.due_date,
        f"deliverable-{d13.pk}@{UID_DOMAIN}": d13.due_date,
        f"milestone-{milestone.pk}@{UID_DOMAIN}": milestone.due_date,
        **{f"statement-{p.pk}-{partner_a.pk}@{UID_DOMAIN}": p.statement_due_date for p in periods},
    }
    assert {uid: event.decoded("DTSTART") for uid, event in found.items()} == expected
    assert len(periods) == 6

    d11 = found[f"deliverable-{deliverable.pk}@{UID_DOMAIN}"]
    assert str(d11["SUMMARY"]) == "D1.1 Exosome QC protocol (due)"
    assert d11.decoded("DTSTART") == datetime.date(2024, 12, 31)
    # All day: a date, not a moment, ending the next day.
    assert d11.decoded("DTEND") == datetime.date(2025, 1, 1)
    assert d11.decoded("DTSTAMP").tzinfo is not None
    assert str(d11["URL"]) == f"https://{HOST}/deliverables/{deliverable.pk}/"
    description = str(d11["DESCRIPTION"])
    assert "WP1 Exosome manufacturing" in description
    assert "Status: Planned." in description
    ms1 = found[f"milestone-{milestone.pk}@{UID_DOMAIN}"]
    assert str(ms1["SUMMARY"]).startswith("MS1 ")
    assert "Milestone of WP1, led by P1 BioWin." in str(ms1["DESCRIPTION"])
    assert ms1.decoded("DTSTART") == datetime.date(2025, 6, 30)
    first = found[f"statement-{periods[0].pk}-{partner_a.pk}@{UID_DOMAIN}"]
    assert "Expense statement P1 due" in str(first["SUMMARY"])
    assert "Not submitted yet." in str(first["DESCRIPTION"])

    text = response.content.decode()
    for absent in ("Potency assay", "B's milestone", "Foreign deliverable", "Foreign milestone"):
        assert absent not in text


def test_other_partner_sees_its_own_deadlines(
    other_partner_member: Any, partner_b: Any, deadlines: dict[str, Any], deliverable: Any
) -> None:
    calendar_feed_renew(user=other_partner_member)
    found = events(fetch(feed_path(other_partner_member)))
    deliverables = {uid for uid in found if uid.startswith("deliverable-")}
    milestones = {uid for uid in found if uid.startswith("milestone-")}
    assert deliverables == {f"deliverable-{deadlines['d12'].pk}@{UID_DOMAIN}"}
    assert milestones == {f"milestone-{deadlines['ms2'].pk}@{UID_DOMAIN}"}
    assert all(uid.endswith(f"-{partner_b.pk}@{UID_DOMAIN}") for uid in found if "statement" in uid)


def test_uids_stay_the_same_from_one_poll_to_the_next(
    partner_member: Any, deadlines: dict[str, Any]
) -> None:
    calendar_feed_renew(user=partner_member)
    path = feed_path(partner_member)
    first, second = Calendar.from_ical(fetch(path).content), Calendar.from_ical(fetch(path).content)
    assert str(first["UID"]) == str(second["UID"])
    assert [str(e["UID"]) for e in first.walk("VEVENT")] == [
        str(e["UID"]) for e in second.walk("VEVENT")
    ]


def test_renewed_address_replaces_the_old_one(partner_member: Any, deadlines: Any) -> None:
    calendar_feed_renew(user=partner_member)
    old = feed_path(partner_member)
    assert fetch(old).status_code == 200
    client = client_for(partner_member)
    response = client.post(reverse("calendar-renew"), follow=True)
    assert "the previous one no longer works" in response.content.decode()
    new = feed_path(partner_member)
    assert new != old
    assert fetch(old).status_code == 404
    assert fetch(new).status_code == 200


def test_revoked_address_answers_404(partner_member: Any, deadlines: Any) -> None:
    calendar_feed_renew(user=partner_member)
    path = feed_path(partner_member)
    response = client_for(partner_member).post(reverse("calendar-revoke"), follow=True)
    assert "switched off" in response.content.decode()
    assert Profile.objects.get(user=partner_member).calendar_token is None
    assert fetch(path).status_code == 404
    assert "Create my calendar address" in response.content.decode()


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 200, "%00", "\x00", "None", ""])
def test_unknown_address_answers_404(partner_member: Any, token: str) -> None:
    calendar_feed_renew(user=partner_member)
    assert fetch(f"/calendar/{token}.ics").status_code == 404
    assert feed_for(token) is None


def test_deactivated_person_or_membership_answers_404(
    partner_member: Any, contact: Any, deadlines: Any
) -> None:
    calendar_feed_renew(user=partner_member)
    path = feed_path(partner_member)
    partner_member.is_active = False
    partner_member.save(update_fields=["is_active"])
    assert fetch(path).status_code == 404
    partner_member.is_active = True
    partner_member.save(update_fields=["is_active"])
    assert fetch(path).status_code == 200
    membership = partner_member.memberships.get()
    membership_deactivate(membership=membership, changed_by=contact)
    assert fetch(path).status_code == 404


def test_revoke_through_the_service_as_well(partner_member: Any) -> None:
    calendar_feed_renew(user=partner_member)
    path = feed_path(partner_member)
    calendar_feed_revoke(user=partner_member)
    assert fetch(path).status_code == 404


def test_feed_queries_do_not_grow_with_deadlines(
    partner_member: Any, workpackage: Any, partner_a: Any
) -> None:
    calendar_feed_renew(user=partner_member)
    path = feed_path(partner_member)

    client = client_for(partner_member)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as feed:
            assert fetch(path).status_code == 200
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("calendar")).status_code == 200
        return len(feed), len(page)

    def add(numbers: range) -> None:
        for n in numbers:
            factories.DeliverableFactory(workpackage=workpackage, number=n, due_month=n)
            factories.MilestoneFactory(lead_partner=partner_a, number=n, due_month=n)

    add(range(1, 3))
    few = count()
    add(range(3, 21))
    assert count() == few
    assert len(events(fetch(path))) == 20 + 20 + 6


def test_calendar_page_previews_the_next_deadlines(partner_member: Any, deadlines: Any) -> None:
    calendar_feed_renew(user=partner_member)
    response = client_for(partner_member).get(reverse("calendar"))
    content = response.content.decode()
    # Due after today (27 November 2026): the last period's statement only; past ones are not.
    upcoming = response.context["upcoming"]
    assert [item.kind for item in upcoming] == ["statement"] * len(upcoming)
    assert all(item.day >= timezone.localdate() for item in upcoming)
    assert "Expense statement P6 due" in content
    assert "Exosome QC protocol" not in content
    assert settings.SITE_URL.rstrip("/") in content


def test_page_hands_out_the_address_on_the_host_it_was_served_from(partner_member: Any) -> None:
    token = calendar_feed_renew(user=partner_member).calendar_token
    response = client_for(partner_member).get(
        reverse("calendar"), secure=True, headers={"host": OTHER_HOST}
    )
    content = response.content.decode()
    assert f'value="https://{OTHER_HOST}/calendar/{token}.ics"' in content
    assert f'href="webcal://{OTHER_HOST}/calendar/{token}.ics"' in content
    assert f"{HOST}/calendar/" not in content
    # The address works on that host as well as on SITE_URL's.
    assert Client().get(f"/calendar/{token}.ics", headers={"host": OTHER_HOST}).status_code == 200


def test_uids_do_not_depend_on_the_site_address(
    settings: Any, partner_member: Any, deadlines: dict[str, Any]
) -> None:
    calendar_feed_renew(user=partner_member)
    path = feed_path(partner_member)
    first = Calendar.from_ical(fetch(path).content)
    settings.SITE_URL = f"https://{OTHER_HOST}/consortium/"
    moved = Calendar.from_ical(fetch(path).content)
    assert str(first["UID"]) == str(moved["UID"]) == f"calendar-{partner_member.pk}@{UID_DOMAIN}"
    uids = [str(event["UID"]) for event in first.walk("VEVENT")]
    assert uids == [str(event["UID"]) for event in moved.walk("VEVENT")]
    assert uids and all(uid.endswith(f"@{UID_DOMAIN}") for uid in uids)
    assert not any(HOST in uid or OTHER_HOST in uid for uid in uids)
    # The links in the events follow the site, the UIDs do not.
    assert all(
        str(event["URL"]).startswith(f"https://{OTHER_HOST}/") for event in moved.walk("VEVENT")
    )


def test_uid_domain_can_be_named_by_the_installation(
    settings: Any, partner_member: Any, deliverable: Any
) -> None:
    settings.CALENDAR_UID_DOMAIN = "cm.biowin.example"
    calendar_feed_renew(user=partner_member)
    found = events(fetch(feed_path(partner_member)))
    assert f"deliverable-{deliverable.pk}@cm.biowin.example" in found


def test_finished_items_say_so_in_their_title(
    partner_member: Any,
    coordinator: Any,
    partner_a: Any,
    workpackage: Any,
    deliverable: Any,
    milestone: Any,
    budget_line: Any,
    period: Any,
    deadlines: dict[str, Any],
) -> None:
    factories.DeliverableReviewFactory(
        submission=factories.DeliverableSubmissionFactory(deliverable=deliverable)
    )
    submitted = factories.DeliverableSubmissionFactory(deliverable=deadlines["d13"]).deliverable
    milestone_achieve(
        milestone=milestone,
        user=coordinator,
        achieved_on=datetime.date(2025, 6, 12),
        evidence="Batch record signed.",
    )
    missed = factories.MilestoneFactory(lead_partner=partner_a, number=3, due_month=20)
    milestone_miss(milestone=missed, user=coordinator, reason="The batch failed.")
    pending = factories.MilestoneFactory(lead_partner=partner_a, number=4, due_month=22)
    statement_submit(partner=partner_a, period=period, user=partner_member)
    calendar_feed_renew(user=partner_member)

    found = events(fetch(feed_path(partner_member)))
    titles = {uid.split("@")[0]: str(event["SUMMARY"]) for uid, event in found.items()}
    assert titles[f"deliverable-{deliverable.pk}"] == "D1.1 Exosome QC protocol (approved)"
    assert "Status: Approved." in str(
        found[f"deliverable-{deliverable.pk}@{UID_DOMAIN}"]["DESCRIPTION"]
    )
    # Submitted, not yet approved: still the partner's deadline until the review says otherwise.
    assert titles[f"deliverable-{submitted.pk}"] == "D1.3 Release criteria (due)"
    assert titles[f"milestone-{milestone.pk}"] == (
        f"MS1 {milestone.title} (milestone achieved on 12 June 2025)"
    )
    assert titles[f"milestone-{missed.pk}"] == f"MS3 {missed.title} (milestone missed)"
    assert titles[f"milestone-{pending.pk}"] == f"MS4 {pending.title} (milestone due)"
    periods = list(partner_a.consortium.periods.order_by("number"))
    assert titles[f"statement-{periods[0].pk}-{partner_a.pk}"] == (
        "Expense statement P1 submitted (PIT-TEST)"
    )
    assert titles[f"statement-{periods[1].pk}-{partner_a.pk}"] == (
        "Expense statement P2 due (PIT-TEST)"
    )
    # The other five statements, D1.3 and MS4 are still due; nothing else reads so.
    assert sum(bool(re.search(r"\bdue\b", title)) for title in titles.values()) == 5 + 1 + 1


def test_finished_titles_are_translated(
    partner_member: Any, coordinator: Any, milestone: Any, budget_line: Any, period: Any
) -> None:
    milestone_achieve(
        milestone=milestone,
        user=coordinator,
        achieved_on=datetime.date(2025, 6, 12),
        evidence="Batch record signed.",
    )
    statement_submit(partner=budget_line.partner, period=period, user=partner_member)
    profile = calendar_feed_renew(user=partner_member)
    profile.language = "fr"
    profile.save(update_fields=["language"])
    text = " ".join(
        str(event["SUMMARY"]) for event in events(fetch(feed_path(partner_member))).values()
    )
    assert "12 juin 2025" in text
