"""The work plan pages: the consortium's workpackages, deliverables and milestones, filtered with
the API's own filters, scoped to the person's consortium, in a fixed number of queries."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from consortium.choices import MembershipRole
from consortium.services import membership_grant
from tests import factories
from tests.web import client_for
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    deliverable: Any,
    milestone: Any,
    other_workpackage: Any,
) -> dict[str, Any]:
    """WP1 (led by A, B takes part) and WP2 (led by B); four deliverables of which only D1.1 is
    overdue; two milestones of which MS1 (A's) is overdue; and rows of another consortium."""
    wp2 = factories.WorkpackageFactory(
        consortium=consortium, number=2, title="Viral vector scale-up", lead_partner=partner_b
    )
    factories.WorkpackageParticipantFactory(workpackage=wp2, partner=partner_b)
    d12 = factories.DeliverableFactory(
        workpackage=workpackage,
        number=2,
        title="Potency assay report",
        lead_partner=partner_b,
        due_month=12,
        status=DeliverableStatus.SUBMITTED,
    )
    d13 = factories.DeliverableFactory(
        workpackage=workpackage, number=3, title="Release criteria", due_month=36
    )
    d21 = factories.DeliverableFactory(
        workpackage=wp2,
        number=1,
        title="Vector yield data set",
        due_month=35,
        status=DeliverableStatus.IN_PROGRESS,
    )
    ms2 = factories.MilestoneFactory(
        lead_partner=partner_b, number=2, title="Vector GMP run", due_month=35, workpackages=[wp2]
    )
    foreign_d = factories.DeliverableFactory(
        workpackage=other_workpackage, number=1, title="Foreign deliverable"
    )
    foreign_ms = factories.MilestoneFactory(
        lead_partner=other_workpackage.lead_partner, number=1, title="Foreign milestone"
    )
    return {
        "wp1": workpackage,
        "wp2": wp2,
        "d11": deliverable,
        "d12": d12,
        "d13": d13,
        "d21": d21,
        "ms1": milestone,
        "ms2": ms2,
        "foreign_wp": other_workpackage,
        "foreign_d": foreign_d,
        "foreign_ms": foreign_ms,
    }


def listed(response: Any) -> set[int]:
    return {row.pk for row in response.context["page_obj"]}


def test_workpackages_of_the_consortium_only(partner_member: Any, plan: dict[str, Any]) -> None:
    response = client_for(partner_member).get(reverse("workplan"))
    assert response.status_code == 200
    assert listed(response) == {plan["wp1"].pk, plan["wp2"].pk}
    content = response.content.decode()
    assert "Exosome manufacturing" in content
    assert "Viral vector scale-up" in content
    assert plan["foreign_wp"].title not in content
    # WP1 is led by the member's partner, WP2 only by B: a text label, not a colour alone.
    assert content.count(">Leads<") == 1
    assert "M1 to M36" in content
    # The counts: A leads D1.1 (overdue) and D1.3 open; one overdue deliverable in all.
    assert response.context["deliverables"] == {
        "total": 4,
        "overdue": 1,
        "mine_open": 2,
        "mine_overdue": 1,
    }
    assert response.context["milestones"] == {"total": 2, "pending": 2, "overdue": 1}


def test_deliverables_of_the_consortium_only(partner_member: Any, plan: dict[str, Any]) -> None:
    response = client_for(partner_member).get(reverse("workplan-deliverables"))
    assert response.status_code == 200
    assert listed(response) == {plan[k].pk for k in ("d11", "d12", "d13", "d21")}
    content = response.content.decode()
    assert "Foreign deliverable" not in content
    assert reverse("deliverable-detail", args=[plan["d11"].pk]) in content
    # The consortium filter is the page's own, and integrations' "changed since" isn't offered.
    form = response.context["filterset"].form
    assert "consortium" not in form.fields
    assert "updated_since" not in form.fields
    offered = {partner.pk for partner in form.fields["partner"].queryset}
    assert offered == {plan["wp1"].lead_partner_id, plan["wp2"].lead_partner_id}


def test_overdue_deliverable_marked_with_a_label(partner_member: Any, plan: dict[str, Any]) -> None:
    response = client_for(partner_member).get(reverse("workplan-deliverables"))
    rows = {row.pk: row for row in response.context["page_obj"]}
    assert rows[plan["d11"].pk].is_overdue
    # Submitted on time or not, D1.2 is delivered; D1.3 and D2.1 are not due yet.
    assert not any(rows[plan[k].pk].is_overdue for k in ("d12", "d13", "d21"))
    content = response.content.decode()
    assert content.count('class="late"') == 1
    assert "Overdue · " in content
    assert "day late" in content or "days late" in content
    # "Your organisation" marks the rows A leads (D1.1, D1.3), not B's.
    assert content.count('badge blue">Your organisation') == 2


# Each filter of the API narrows the page's list: (query, the rows left). One test per list, as
# the work plan fixture costs more than the requests.
DELIVERABLE_FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"status": "planned"}, {"d11", "d13"}),
    ({"status": ["submitted", "in_progress"]}, {"d12", "d21"}),
    ({"partner": "B"}, {"d12", "d21"}),
    ({"workpackage": "wp2"}, {"d21"}),
    ({"overdue": "true"}, {"d11"}),
    ({"overdue": "false"}, {"d12", "d13", "d21"}),
    ({"due_before": "2025-01-01"}, {"d11", "d12"}),
    ({"due_after": "2026-01-01"}, {"d13", "d21"}),
    ({"type": "R", "dissemination": "PU", "partner": "A"}, {"d11", "d13"}),
    ({"partner": "A", "overdue": "true", "due_before": "2024-12-31"}, {"d11"}),
    ({}, {"d11", "d12", "d13", "d21"}),
]
MILESTONE_FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"status": "pending"}, {"ms1", "ms2"}),
    ({"status": "achieved"}, set()),
    ({"partner": "B"}, {"ms2"}),
    ({"workpackage": "wp2"}, {"ms2"}),
    ({"overdue": "true"}, {"ms1"}),
    ({"due_before": "2025-12-31"}, {"ms1"}),
]
WORKPACKAGE_FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({"lead_partner": "B"}, {"wp2"}),
    ({"partner": "B"}, {"wp1", "wp2"}),
    ({"partner": "A"}, {"wp1"}),
]


@pytest.mark.parametrize(
    ("page", "cases"),
    [
        ("workplan-deliverables", DELIVERABLE_FILTERS),
        ("workplan-milestones", MILESTONE_FILTERS),
        ("workplan", WORKPACKAGE_FILTERS),
    ],
)
def test_filters_narrow(
    partner_member: Any,
    partner_a: Any,
    partner_b: Any,
    plan: dict[str, Any],
    page: str,
    cases: list[tuple[dict[str, Any], set[str]]],
) -> None:
    ids = {"A": partner_a.pk, "B": partner_b.pk, "wp2": plan["wp2"].pk}
    client = client_for(partner_member)
    for query, expected in cases:
        data = {
            key: ids.get(value, value) if isinstance(value, str) else value
            for key, value in query.items()
        }
        response = client.get(reverse(page), data)
        assert response.status_code == 200
        assert not response.context["filterset"].errors, query
        assert listed(response) == {plan[key].pk for key in expected}, query


def test_milestones_page_shows_the_workplan(partner_member: Any, plan: dict[str, Any]) -> None:
    response = client_for(partner_member).get(reverse("workplan-milestones"))
    assert listed(response) == {plan["ms1"].pk, plan["ms2"].pk}
    content = response.content.decode()
    assert "Foreign milestone" not in content
    assert "Vector GMP run" in content
    assert "Batch record signed by the qualified person." in content
    assert ">Overdue<" in content
    assert content.count('class="late"') == 1


BAD_FILTERS = [
    ("workplan-deliverables", {"status": "lost"}, "status"),
    ("workplan-deliverables", {"overdue": "maybe"}, "overdue"),
    ("workplan-deliverables", {"due_before": "31/31/2025"}, "due_before"),
    ("workplan-deliverables", {"partner": "999999"}, "partner"),
    # Another consortium's rows are refused exactly like rows that don't exist.
    ("workplan-deliverables", {"workpackage": "foreign_wp"}, "workpackage"),
    ("workplan-deliverables", {"partner": "foreign_partner"}, "partner"),
    ("workplan-deliverables", {"type": "<script>"}, "type"),
    ("workplan-deliverables", {"page": "x", "status": "lost"}, "status"),
    ("workplan-milestones", {"status": "reached"}, "status"),
    ("workplan-milestones", {"due_after": "yesterday"}, "due_after"),
    ("workplan-milestones", {"workpackage": "1.5"}, "workpackage"),
    ("workplan", {"lead_partner": "abc"}, "lead_partner"),
]


def test_bad_filters_show_an_error_and_no_rows(partner_member: Any, plan: dict[str, Any]) -> None:
    ids = {
        "foreign_wp": str(plan["foreign_wp"].pk),
        "foreign_partner": str(plan["foreign_wp"].lead_partner_id),
    }
    client = client_for(partner_member)
    for page, query, field in BAD_FILTERS:
        data = {key: ids.get(value, value) for key, value in query.items()}
        response = client.get(reverse(page), data)
        assert response.status_code == 200, query
        assert field in response.context["filterset"].errors, query
        assert listed(response) == set(), query
        content = response.content.decode()
        assert "Correct the filters above" in content
        assert 'class="field-errors"' in content
        assert "<script>" not in content


def test_page_of_another_consortium_member(plan: dict[str, Any]) -> None:
    """A member of the other consortium's partner sees that consortium's work plan only."""
    user = factories.UserFactory(username="member-other")
    membership_grant(
        partner=plan["foreign_wp"].lead_partner,
        user=user,
        role=MembershipRole.FINANCE,
        granted_by=None,
    )
    client = client_for(user)
    assert listed(client.get(reverse("workplan"))) == {plan["foreign_wp"].pk}
    assert listed(client.get(reverse("workplan-deliverables"))) == {plan["foreign_d"].pk}
    assert listed(client.get(reverse("workplan-milestones"))) == {plan["foreign_ms"].pk}


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_query_counts_do_not_grow_with_rows(
    partner_member: Any, partner_b: Any, workpackage: Any, consortium: Any
) -> None:
    client = client_for(partner_member)
    pages = [reverse("workplan"), reverse("workplan-deliverables"), reverse("workplan-milestones")]

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            wp = factories.WorkpackageFactory(
                consortium=consortium, number=n + 1, lead_partner=partner_b
            )
            factories.DeliverableFactory(
                workpackage=wp if n % 2 else workpackage,
                lead_partner=partner_b if n % 3 else workpackage.lead_partner,
                due_month=1 + n,
            )
            factories.MilestoneFactory(
                lead_partner=partner_b,
                number=n + 1,
                due_month=1 + n,
                workpackages=[wp, workpackage],
            )

    add(2, 1)
    few = [_queries(client, page) for page in pages]
    add(18, 3)
    many = [_queries(client, page) for page in pages]
    assert few == many
    response = client.get(reverse("workplan-deliverables"))
    assert response.context["page_obj"].paginator.count == 20


def test_milestone_overdue_follows_the_filter_rule(
    partner_member: Any, partner_a: Any, workpackage: Any
) -> None:
    achieved = factories.MilestoneFactory(
        lead_partner=partner_a,
        number=5,
        due_month=3,
        status=MilestoneStatus.ACHIEVED,
        achieved_on=datetime.date(2024, 3, 1),
        workpackages=[workpackage],
    )
    response = client_for(partner_member).get(reverse("workplan-milestones"))
    rows = {row.pk: row for row in response.context["page_obj"]}
    assert not rows[achieved.pk].is_overdue
    assert "Achieved" in response.content.decode()


@pytest.mark.parametrize("page", ["workplan", "workplan-deliverables", "workplan-milestones"])
def test_the_partner_filter_says_it_filters_on_the_lead_partner(
    partner_member: Any, plan: dict[str, Any], page: str
) -> None:
    client = client_for(partner_member)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = client.get(reverse(page))
    assert response.status_code == 200
    field = "lead_partner" if page == "workplan" else "partner"
    label = re.search(rf'<label for="id_{field}"[^>]*>([^<]*)</label>', response.content.decode())
    assert label is not None
    with translation.override("fr"):
        expected = gettext("Lead partner")
    assert label.group(1).replace("\xa0", " ").strip().rstrip(":").strip() == expected
    assert expected == "Partenaire responsable"
