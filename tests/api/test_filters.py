"""The lists' filters narrow what a user may see and nothing more: by status (one or several),
workpackage, partner, period, heading, consortium, due dates, lateness, change time, ordering and
search; an id the user may not see in a filter is refused with a 400
exactly like an id that does not exist; and the token endpoint lets one address try ten passwords
a minute, not eleven. The rows are the API tests' world (`tests/api/world.py`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.urls import resolve
from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter
from rest_framework.test import APIClient

from consortium.models import Consortium, CostCategory, Partner, ReportingPeriod
from tests import factories
from tests.api.conftest import api_client
from tests.api.openapi import published_schema
from tests.api.world import World, world_fixtures
from tests.assertions import api_errors
from tests.factories import PASSWORD
from workpackages.workplan.models import Workpackage

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def _lists() -> dict[str, Any]:
    """Each collection route of the schema with the view class that serves it."""
    schema = published_schema()
    return {
        path: resolve(path).func.cls
        for path, operations in sorted(schema["paths"].items())
        if "get" in operations and "{" not in path
    }


LISTS = _lists()


def _searchable() -> list[str]:
    """The lists whose schema offers `?search=`."""
    schema = published_schema()
    return [
        path
        for path in LISTS
        if any(p["name"] == "search" for p in schema["paths"][path]["get"].get("parameters", []))
    ]


def _rows(client: APIClient, path: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(path, {"page_size": 200, **params})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == len(body["results"]) <= 200
    return body["results"]


def _ids(client: APIClient, path: str, **params: Any) -> list[int]:
    return [row["id"] for row in _rows(client, path, **params)]


# The rows of tests/conftest.py's fixtures are the world's here (`tests/api/world.py`), built once
# for the module: every test starts from it as built.
globals().update(world_fixtures())


@pytest.fixture
def plan(world: World) -> dict[str, Any]:
    """Two workpackages and, in them, rows in every state the filters tell apart; the
    coordinator runs a second consortium and partner A has a second member, so that every list
    holds two rows at least (`tests/api/world.py`)."""
    return world.plan


# (list, query built from the plan, names of the rows the coordinator gets)
NARROWING: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], set[str]]] = [
    ("expenses", lambda p: {"status": "draft"}, {"e1"}),
    ("expenses", lambda p: {"status": ["draft", "submitted"]}, {"e1", "e2"}),
    ("expenses", lambda p: {"status": ["accepted", "rejected"]}, {"e3", "e4"}),
    ("expenses", lambda p: {"workpackage": p["wp2"].pk}, {"e3"}),
    ("expenses", lambda p: {"partner": p["B"].pk}, {"e4"}),
    ("expenses", lambda p: {"period": p["P2"].pk}, {"e2"}),
    ("expenses", lambda p: {"category": p["operating"].pk}, {"e3"}),
    ("expenses", lambda p: {"consortium": p["consortium"].pk}, {"e1", "e2", "e3", "e4"}),
    ("expenses", lambda p: {"incurred_after": "2024-07-01"}, {"e2"}),
    ("expenses", lambda p: {"incurred_before": "2024-06-30"}, {"e1", "e3", "e4"}),
    ("expenses", lambda p: {"search": "reagent"}, {"e2", "e4"}),
    ("expenses", lambda p: {"search": p["e3"].invoice_reference}, {"e3"}),
    ("expenses", lambda p: {"status": "draft", "partner": p["B"].pk}, set()),
    ("budget-lines", lambda p: {"status": "cancelled"}, {"cancelled"}),
    ("budget-lines", lambda p: {"status": "active"}, {"line_a", "line_b", "line_op"}),
    ("budget-lines", lambda p: {"category": p["operating"].pk}, {"line_op"}),
    ("budget-lines", lambda p: {"partner": p["B"].pk}, {"line_b"}),
    ("budget-lines", lambda p: {"workpackage": p["wp2"].pk}, {"line_op"}),
    ("effort", lambda p: {"period": p["P2"].pk}, {"f2"}),
    ("effort", lambda p: {"partner": p["B"].pk}, {"f3"}),
    ("jobs", lambda p: {"status": "realised"}, {"j2"}),
    ("jobs", lambda p: {"status": ["forecast", "withdrawn"]}, {"j1", "j3", "j4"}),
    ("jobs", lambda p: {"impact": "indirect"}, {"j3"}),
    ("jobs", lambda p: {"workpackage": p["wp2"].pk}, {"j4"}),
    ("jobs", lambda p: {"search": "GMP"}, {"j2"}),
    ("deliverables", lambda p: {"status": "planned"}, {"d1", "d3"}),
    ("deliverables", lambda p: {"status": ["planned", "submitted"]}, {"d1", "d2", "d3"}),
    ("deliverables", lambda p: {"workpackage": p["wp2"].pk}, {"d4"}),
    ("deliverables", lambda p: {"partner": p["B"].pk}, {"d4"}),
    ("deliverables", lambda p: {"due_before": "2024-12-31"}, {"d1", "d4"}),
    ("deliverables", lambda p: {"due_before": "2024-12-30"}, {"d4"}),
    ("deliverables", lambda p: {"due_after": "2025-12-31"}, {"d2", "d3"}),
    (
        "deliverables",
        lambda p: {"due_after": "2024-07-01", "due_before": "2025-12-31"},
        {"d1", "d2"},
    ),
    ("deliverables", lambda p: {"overdue": "true"}, {"d1", "d4"}),
    ("deliverables", lambda p: {"overdue": "false"}, {"d2", "d3"}),
    ("deliverables", lambda p: {"overdue": "true", "workpackage": p["wp1"].pk}, {"d1"}),
    ("deliverables", lambda p: {"search": "potency"}, {"d3"}),
    ("milestones", lambda p: {"status": "pending"}, {"m1", "m4"}),
    ("milestones", lambda p: {"status": ["pending", "missed"]}, {"m1", "m3", "m4"}),
    ("milestones", lambda p: {"workpackage": p["wp2"].pk}, {"m1", "m2"}),
    ("milestones", lambda p: {"partner": p["B"].pk}, {"m2"}),
    ("milestones", lambda p: {"due_before": "2024-12-31"}, {"m1", "m2"}),
    ("milestones", lambda p: {"due_after": "2026-06-30"}, {"m3", "m4"}),
    ("milestones", lambda p: {"overdue": "true"}, {"m1"}),
    ("milestones", lambda p: {"overdue": "false"}, {"m2", "m3", "m4"}),
    ("milestones", lambda p: {"search": "authorisation"}, {"m4"}),
    ("workpackages", lambda p: {"lead_partner": p["B"].pk}, {"wp2"}),
    ("workpackages", lambda p: {"search": "potency"}, {"wp2"}),
]


@pytest.mark.parametrize(
    ("resource", "query", "expected"),
    NARROWING,
    ids=[f"{r}-{n}" for n, (r, _q, _e) in enumerate(NARROWING)],
)
def test_a_filter_narrows_the_list_to_the_matching_rows(
    plan: dict[str, Any],
    coordinator: Any,
    resource: str,
    query: Callable[[dict[str, Any]], dict[str, Any]],
    expected: set[str],
) -> None:
    got = _ids(api_client(coordinator), f"/api/v1/{resource}/", **query(plan))
    assert len(got) == len(set(got)), "a row is listed twice"
    assert set(got) == {plan[name].pk for name in expected}


def test_filters_never_reach_beyond_what_a_partner_sees(
    plan: dict[str, Any], partner_member: Any
) -> None:
    client = api_client(partner_member)
    assert set(_ids(client, "/api/v1/expenses/")) == {plan[n].pk for n in ("e1", "e2", "e3")}
    # Partner B is a partner one may see; its money is not.
    assert _ids(client, "/api/v1/expenses/", partner=plan["B"].pk) == []
    assert _ids(client, "/api/v1/expenses/", search="CellForge") == []
    assert _ids(client, "/api/v1/expenses/", status=["rejected", "draft"]) == [plan["e1"].pk]
    assert _ids(client, "/api/v1/jobs/", workpackage=plan["wp2"].pk) == []
    assert _ids(client, "/api/v1/effort/", partner=plan["B"].pk) == []
    assert _ids(client, "/api/v1/budget-lines/", partner=plan["B"].pk) == []
    # The work plan is the consortium's, partner B's included.
    assert set(_ids(client, "/api/v1/deliverables/", overdue="true")) == {
        plan["d1"].pk,
        plan["d4"].pk,
    }


@pytest.mark.parametrize(
    ("resource", "ordering", "key"),
    [
        ("expenses", "-amount", lambda r: Decimal(r["amount"])),
        ("expenses", "amount", lambda r: Decimal(r["amount"])),
        ("expenses", "incurred_on", lambda r: r["incurred_on"]),
        ("deliverables", "-due_date", lambda r: r["due_date"]),
        ("milestones", "due_date", lambda r: r["due_date"]),
        ("budget-lines", "-planned_amount", lambda r: Decimal(r["planned_amount"])),
        ("jobs", "start_date", lambda r: r["start_date"]),
    ],
)
def test_ordering_sorts_the_whole_list(
    plan: dict[str, Any],
    coordinator: Any,
    resource: str,
    ordering: str,
    key: Callable[[dict[str, Any]], Any],
) -> None:
    client = api_client(coordinator)
    rows = _rows(client, f"/api/v1/{resource}/", ordering=ordering)
    assert len(rows) >= 3
    values = [key(row) for row in rows]
    assert values == sorted(values, reverse=ordering.startswith("-"))
    assert sorted(r["id"] for r in rows) == sorted(_ids(client, f"/api/v1/{resource}/"))


def test_ordering_by_amount_lists_the_largest_expense_first(
    plan: dict[str, Any], coordinator: Any
) -> None:
    got = _ids(api_client(coordinator), "/api/v1/expenses/", ordering="-amount")
    assert got == [plan[n].pk for n in ("e1", "e4", "e3", "e2")]


# The deletions' feed has one order, that of deletion (`since` and a cursor).
@pytest.mark.parametrize("path", sorted(set(LISTS) - {"/api/v1/changes/"}))
def test_every_ordering_field_answers(plan: dict[str, Any], coordinator: Any, path: str) -> None:
    client = api_client(coordinator)
    everything = sorted(_ids(client, path))
    for field in LISTS[path].ordering_fields:
        for ordering in (field, f"-{field}"):
            assert sorted(_ids(client, path, ordering=ordering)) == everything, ordering


@pytest.mark.parametrize("path", _searchable())
def test_an_advertised_search_narrows_the_list(
    plan: dict[str, Any], coordinator: Any, path: str
) -> None:
    client = api_client(coordinator)
    assert _ids(client, path), path
    assert _ids(client, path, search="zz-no-row-says-this") == [], (
        f"{path} offers ?search= in its schema and ignores it"
    )


# Changed since --------------------------------------------------------------------------------


def test_every_list_of_the_plan_and_the_money_takes_updated_since() -> None:
    """Reporting periods and cost headings included: a sync misses none of them. The person's
    own integration tokens are not data to synchronise; the deletions' feed reads `since`."""
    without = sorted(
        path
        for path, view in LISTS.items()
        if "updated_since" not in view.filterset_class.base_filters
    )
    assert without == ["/api/v1/auth/tokens/", "/api/v1/changes/"]


@pytest.mark.parametrize(
    "path",
    [
        p
        for p, view in sorted(LISTS.items())
        if "updated_since" in view.filterset_class.base_filters
    ],
)
def test_updated_since_leaves_out_rows_changed_before(
    plan: dict[str, Any], coordinator: Any, path: str
) -> None:
    client = api_client(coordinator)
    model = LISTS[path].queryset.model
    visible = _ids(client, path)
    assert len(visible) >= 2, path
    recent, *older = visible
    long_ago = datetime.datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
    moment = datetime.datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    # `update()` leaves auto_now alone: the rows look as if last changed back then.
    model.objects.filter(pk__in=older).update(updated_at=long_ago)
    model.objects.filter(pk=recent).update(updated_at=moment)

    assert _ids(client, path, updated_since="2025-03-01T12:30:00+00:00") == [recent]
    # The same moment in Brussels time, and with a Z.
    assert _ids(client, path, updated_since="2025-03-01T13:30:00+01:00") == [recent]
    assert _ids(client, path, updated_since="2025-03-01T12:30:00Z") == [recent]
    assert _ids(client, path, updated_since="2025-03-01T12:30:01Z") == []
    assert sorted(_ids(client, path, updated_since="2025-01-10T08:00:00Z")) == sorted(visible)

    answer = client.get(path, {"updated_since": "last tuesday"})
    assert answer.status_code == 400, answer.content
    assert "updated_since" in api_errors(answer)


# Ids one may not see in a filter ---------------------------------------------------------------


def _elsewhere(model: Any, other_consortium: Any) -> Any:
    """A row of `model` in the other consortium, or None when no test row fits."""
    other_partner = factories.PartnerFactory(consortium=other_consortium)
    rows = {
        Consortium: other_consortium,
        Partner: other_partner,
        Workpackage: factories.WorkpackageFactory(
            consortium=other_consortium, lead_partner=other_partner
        ),
        ReportingPeriod: other_consortium.periods.first(),
        CostCategory: other_consortium.cost_categories.first(),
    }
    return rows.get(model)


def _object_filters() -> list[tuple[str, str]]:
    found = []
    for path, view in sorted(LISTS.items()):
        filterset = getattr(view, "filterset_class", None)
        for name, f in (filterset.base_filters if filterset else {}).items():
            if isinstance(f, ModelChoiceFilter | ModelMultipleChoiceFilter):
                found.append((path, name))
    return found


OBJECT_FILTERS = _object_filters()


@pytest.mark.parametrize(("path", "name"), OBJECT_FILTERS)
@pytest.mark.parametrize("role", ["coordinator", "partner_member"])
def test_an_id_one_may_not_see_is_refused_like_a_missing_one(
    workpackage: Any,
    other_consortium: Any,
    coordinator: Any,
    partner_member: Any,
    role: str,
    path: str,
    name: str,
) -> None:
    client = api_client({"coordinator": coordinator, "partner_member": partner_member}[role])
    model = LISTS[path].filterset_class.base_filters[name].queryset(None).model
    hidden = _elsewhere(model, other_consortium)
    assert hidden is not None, f"give `_elsewhere` a {model.__name__} of another consortium"

    elsewhere = client.get(path, {name: hidden.pk})
    missing = client.get(path, {name: 987654})
    assert elsewhere.status_code == 400, elsewhere.content
    assert missing.status_code == 400, missing.content
    assert name in api_errors(elsewhere)
    assert api_errors(elsewhere) == api_errors(missing)
    assert client.get(path, {name: "not-an-id"}).status_code == 400


def test_the_object_filters_found_cover_the_main_relations() -> None:
    found = {(path.split("/")[3], name) for path, name in OBJECT_FILTERS}
    assert {
        ("expenses", "workpackage"),
        ("expenses", "partner"),
        ("expenses", "period"),
        ("expenses", "category"),
        ("expenses", "consortium"),
        ("deliverables", "workpackage"),
        ("milestones", "workpackage"),
        ("memberships", "partner"),
        ("partners", "consortium"),
    } <= found


def test_a_bad_choice_or_date_is_refused(plan: dict[str, Any], coordinator: Any) -> None:
    client = api_client(coordinator)
    for path, query, field in [
        ("/api/v1/expenses/", {"status": ["draft", "paid"]}, "status"),
        ("/api/v1/deliverables/", {"due_before": "31/12/2024"}, "due_before"),
        ("/api/v1/milestones/", {"due_after": "2024-13-01"}, "due_after"),
        ("/api/v1/expenses/", {"incurred_after": "yesterday"}, "incurred_after"),
    ]:
        answer = client.get(path, query)
        assert answer.status_code == 400, (path, query, answer.content)
        assert field in api_errors(answer), answer.json()


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/deliverables/", "overdue"),
        ("/api/v1/milestones/", "overdue"),
        ("/api/v1/memberships/", "is_active"),
    ],
)
def test_a_yes_no_filter_refuses_what_is_neither(
    partner_member: Any, coordinator: Any, path: str, name: str
) -> None:
    # An integration asking `?overdue=yes` must learn that it is not understood, rather than
    # receive the whole list as if it were the overdue one.
    answer = api_client(coordinator).get(path, {name: "yes"})
    assert answer.status_code == 400, answer.content
    assert name in api_errors(answer)


# Token endpoint throttle ------------------------------------------------------------------------


def _token(client: APIClient, password: str, username: str = "member-a", **extra: Any) -> Any:
    return client.post("/api/v1/auth/token/", {"username": username, "password": password}, **extra)


def test_the_eleventh_token_request_in_a_minute_is_throttled(partner_member: Any) -> None:
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    for attempt in range(10):
        answer = _token(client, "wrong" if attempt % 2 else PASSWORD)
        assert answer.status_code in (200, 400), answer.content
    refused = _token(client, PASSWORD)
    assert refused.status_code == 429, refused.content
    assert "token" not in api_errors(refused)
    assert int(refused.headers["Retry-After"]) > 0
    # Another address still gets its ten tries.
    assert _token(APIClient(REMOTE_ADDR="198.51.100.4"), PASSWORD).status_code == 200


def test_the_token_throttle_is_not_reset_by_a_forwarded_for_header(partner_member: Any) -> None:
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    # Each guess names another account, so that only the request rate counts here, not the
    # failures per account that django-axes counts (tests/portal/test_login_throttling.py).
    answers = [
        _token(client, "wrong", f"guess-{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code
        for n in range(11)
    ]
    assert answers[:10] == [400] * 10
    assert answers[10] == 429, "one address guesses passwords past the limit by naming proxies"


def test_the_throttle_counts_requests_to_the_token_endpoint_only(
    partner_member: Any, coordinator: Any
) -> None:
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    for n in range(10):
        assert _token(client, "wrong", f"guess-{n}").status_code == 400
    # The API itself stays usable for authenticated calls from that address.
    api = api_client(coordinator)
    assert api.get("/api/v1/jobs/", REMOTE_ADDR="203.0.113.9").status_code == 200
    assert _token(client, PASSWORD).status_code == 429
