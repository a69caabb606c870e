"""The partner's and the workpackage's pages of the admin on the demo partnership: their inlines
read their rows and choices in a fixed number of queries, however many rows a partner or a
workpackage has (a partner's page ran 154 queries for its 23 budget lines, one or two per row)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from consortium.models import Consortium, Partner
from tests.web import client_for
from workpackages.workplan.models import Workpackage

pytestmark = pytest.mark.django_db

# Signing in, the page's object, one query per inline and per choice list, the milestones.
MOST_QUERIES = 25


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.fixture
def coordinator_client(demo: Consortium) -> Client:
    client = client_for(get_user_model().objects.get(username="coordinator"))
    # Once, for what a first page caches (content types, the user's roles).
    client.get(reverse("admin:index"))
    return client


def test_the_partner_pages_run_the_same_queries_whatever_their_rows(
    demo: Consortium, coordinator_client: Client
) -> None:
    partners = Partner.objects.filter(consortium=demo).annotate(
        lines=Count("budget_lines", distinct=True), members=Count("memberships", distinct=True)
    )
    counts: dict[int, tuple[int, Any]] = {}
    for partner in partners:
        url = reverse("admin:consortium_partner_change", args=[partner.pk])
        counts[partner.pk] = (_queries(coordinator_client, url), partner)
    busiest = max(counts.values(), key=lambda count: count[1].lines + count[1].members)[1]
    assert busiest.lines >= 20, "the demo's busiest partner has its budget lines on its page"
    numbers = {count for count, _partner in counts.values()}
    # One query more for a team's people when the partner has a team, none per row.
    assert max(numbers) - min(numbers) <= 1, counts
    assert max(numbers) <= MOST_QUERIES, counts


def test_the_workpackage_pages_run_the_same_queries_whatever_their_rows(
    demo: Consortium, coordinator_client: Client
) -> None:
    workpackages = Workpackage.objects.filter(consortium=demo).annotate(
        rows=Count("participations", distinct=True) + Count("deliverables", distinct=True)
    )
    counts = {
        workpackage.rows: _queries(
            coordinator_client,
            reverse("admin:workpackages_workpackage_change", args=[workpackage.pk]),
        )
        for workpackage in workpackages
    }
    assert len(counts) > 1, "the demo's workpackages have different numbers of rows"
    assert len(set(counts.values())) == 1, counts
    assert max(counts.values()) <= MOST_QUERIES, counts


def test_the_workpackage_page_lists_its_milestones_readably(
    demo: Consortium, coordinator_client: Client
) -> None:
    workpackage = (
        Workpackage.objects.filter(consortium=demo)
        .annotate(milestones_count=Count("milestones"))
        .filter(milestones_count__gt=0)
        .order_by("number")
        .first()
    )
    assert workpackage is not None
    url = reverse("admin:workpackages_workpackage_change", args=[workpackage.pk])
    html = coordinator_client.get(url).content.decode()
    assert "_workpackages object" not in html
    for milestone in workpackage.milestones.all():
        assert f">{milestone.code} {escape(milestone.title)}</a>" in html
