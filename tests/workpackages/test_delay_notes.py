"""Delay notes: an open deliverable or milestone past its due date says when it is now expected
and why, set by its lead partner's people (partner pages) or a coordinator (admin action) through
one service, kept in the history and read in the reports."""

from __future__ import annotations

import datetime
import html
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import translation

from reporting.rendering import _render
from tests import factories
from tests.web import client_for
from workpackages.workplan.models import Deliverable, Milestone
from workpackages.workplan.services import delay_note_set, deliverable_submit, milestone_achieve

pytestmark = pytest.mark.django_db

LATER = datetime.date(2027, 1, 15)  # after the suite's today, 25 November 2026
REASON = "The GMP suite is being requalified."


def _note(item: Any) -> tuple[Any, str, int]:
    item.refresh_from_db()
    return item.expected_on, item.delay_reason, item.history.count()


def test_the_lead_partner_notes_a_delay_in_the_history(
    deliverable: Any, milestone: Any, partner_member: Any
) -> None:
    for item in (deliverable, milestone):
        delay_note_set(item=item, expected_on=LATER, reason=f"  {REASON} ", user=partner_member)
        item.refresh_from_db()
        assert (item.expected_on, item.delay_reason) == (LATER, REASON)
        latest = item.history.first()
        assert (latest.expected_on, latest.delay_reason) == (LATER, REASON)
        assert latest.history_user == partner_member


def test_a_coordinator_notes_a_delay(deliverable: Any, coordinator: Any) -> None:
    delay_note_set(item=deliverable, expected_on=LATER, reason=REASON, user=coordinator)
    assert _note(deliverable)[:2] == (LATER, REASON)


@pytest.mark.parametrize(
    ("expected_on", "reason", "message"),
    [
        (datetime.date(2026, 11, 25), REASON, "The new expected date is after today."),
        (datetime.date(2026, 1, 1), REASON, "The new expected date is after today."),
        (None, REASON, "The new expected date is after today."),
        (LATER, "  ", "Say why it is late: the coordinators and the funder read it."),
        (LATER, "x" * 2001, "Keep the reason under 2000 characters."),
    ],
)
def test_bad_input_changes_nothing(
    deliverable: Any, partner_member: Any, expected_on: Any, reason: str, message: str
) -> None:
    before = _note(deliverable)
    with pytest.raises(ValidationError) as refused:
        delay_note_set(
            item=deliverable, expected_on=expected_on, reason=reason, user=partner_member
        )
    assert message in " ".join(refused.value.messages)
    assert _note(deliverable) == before


def test_only_an_open_overdue_item_takes_a_note(
    workpackage: Any, deliverable: Any, partner_member: Any, coordinator: Any, partner_a: Any
) -> None:
    not_due = factories.DeliverableFactory(workpackage=workpackage, due_month=36)
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(b"%PDF-1.4 x", name="report.pdf"),
        late_justification="Late.",
    )
    achieved = factories.MilestoneFactory(lead_partner=partner_a, due_month=12)
    milestone_achieve(
        milestone=achieved, user=coordinator, achieved_on=datetime.date(2024, 12, 1), evidence="Ok"
    )
    for item in (not_due, deliverable, achieved):
        before = _note(item)
        with pytest.raises(ValidationError, match="is not overdue"):
            delay_note_set(item=item, expected_on=LATER, reason=REASON, user=coordinator)
        assert _note(item) == before


def test_other_people_may_not(
    deliverable: Any, milestone: Any, other_partner_member: Any, observer: Any
) -> None:
    for item in (deliverable, milestone):
        before = _note(item)
        for person in (other_partner_member, observer):
            with pytest.raises(PermissionDenied):
                delay_note_set(item=item, expected_on=LATER, reason=REASON, user=person)
        assert _note(item) == before


def test_the_partner_pages_door(
    deliverable: Any, milestone: Any, partner_member: Any, other_partner_member: Any
) -> None:
    client = client_for(partner_member)
    page = client.get(reverse("deliverable-detail", args=[deliverable.pk]))
    assert reverse("deliverable-delay", args=[deliverable.pk]) in page.content.decode()
    listing = client.get(reverse("workplan-milestones")).content.decode()
    assert reverse("milestone-delay", args=[milestone.pk]) in listing
    for name, item in (("deliverable-delay", deliverable), ("milestone-delay", milestone)):
        url = reverse(name, args=[item.pk])
        assert client.get(url).status_code == 200
        refused = client.post(url, {"expected_on": "2026-11-20", "reason": REASON})
        assert "The new expected date is after today." in html.unescape(refused.content.decode())
        assert _note(item)[:2] == (None, "")
        other = client_for(other_partner_member).post(
            url, {"expected_on": LATER.isoformat(), "reason": REASON}
        )
        assert other.status_code == 403
        done = client.post(url, {"expected_on": LATER.isoformat(), "reason": REASON})
        assert done.status_code == 302
        assert _note(item)[:2] == (LATER, REASON)
    shown = client.get(reverse("deliverable-detail", args=[deliverable.pk])).content.decode()
    assert REASON in html.unescape(shown)


def test_the_admin_door(deliverable: Any, milestone: Any, coordinator: Any) -> None:
    client = client_for(coordinator)
    for model, item in ((Deliverable, deliverable), (Milestone, milestone)):
        url = reverse(f"admin:workpackages_{model._meta.model_name}_changelist")
        asked = client.post(url, {"action": "delay_note", "_selected_action": [item.pk]})
        assert asked.status_code == 200 and 'name="expected_on"' in asked.content.decode()
        client.post(
            url,
            {
                "action": "delay_note",
                "_selected_action": [item.pk],
                "apply": "1",
                "expected_on": LATER.isoformat(),
                "reason": REASON,
            },
            follow=True,
        )
        assert _note(item)[:2] == (LATER, REASON)
        change = client.get(
            reverse(f"admin:workpackages_{model._meta.model_name}_change", args=[item.pk])
        )
        assert REASON in html.unescape(change.content.decode())
    dashboard = html.unescape(client.get(reverse("admin:index")).content.decode())
    assert dashboard.count(REASON) == 2  # the late deliverables' and the overdue milestones'


def test_the_reports_show_the_note(
    deliverable: Any, milestone: Any, coordinator: Any, consortium: Any
) -> None:
    for item in (deliverable, milestone):
        delay_note_set(item=item, expected_on=LATER, reason=REASON, user=coordinator)
    p5, p6 = consortium.periods.get(number=5), consortium.periods.get(number=6)
    with translation.override("en"):
        progress, text, _xlsx, _chart = _render(
            "progress", consortium, p6.start_date, p6.end_date, None
        )
        semester, *_rest = _render("semester", consortium, p5.start_date, p5.end_date, None)
    progress = html.unescape(progress)
    assert f'data-delay-note="{deliverable.pk}"' in progress
    assert f'data-delay-note="{milestone.pk}"' in progress
    assert progress.count(REASON) == 2
    assert REASON in text
    assert f'data-delay-note="{deliverable.pk}"' in semester
    overview = client_for(coordinator).get(reverse("funder-overview", args=[consortium.pk]))
    content = html.unescape(overview.content.decode())
    assert content.count(REASON) == 2
