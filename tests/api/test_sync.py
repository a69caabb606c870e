"""An integration keeps an exact copy through the API: it reads every list in full once, by cursor
(`updated_since` from any early moment), then, from the moment that sync started, what changed:
the rows created or changed (a consumed amount moved by an acceptance included) from each list,
the rows deleted from `/changes/`, each exactly once, with a 304 for a page that has not changed.

A cursor pages by (`updated_at`, id): a row written between two pages is neither skipped nor
handed out twice in one state. The rows are the API tests' world (`tests/api/world.py`).
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import resolve
from django.utils import timezone

from config.api_router import router
from consortium.records import record_delete, record_update
from consortium.services import reporting_periods_generate
from tests import factories
from tests.api.conftest import api_client
from tests.api.openapi import published_schema
from tests.api.world import World, world_fixtures
from workpackages.money.models import Expense
from workpackages.money.services import expense_accept
from workpackages.overview.changes import KINDS, Tombstone
from workpackages.workplan.models import Deliverable

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# A moment before any row: the start of a full sync.
EARLY = "2000-01-01T00:00:00Z"
PAGE_SIZE = 2
# The moment the first sync starts: after the world was built, on the suite's day.
FIRST_SYNC = datetime.datetime(2026, 11, 25, 13, 0, tzinfo=UTC)

globals().update(world_fixtures())


def _synchronised_lists() -> dict[str, Any]:
    """Each list of the schema an integration synchronises (it reads `updated_since`), with the
    model behind it."""
    schema = published_schema()
    return {
        path: resolve(path).func.cls.queryset.model
        for path, item in sorted(schema["paths"].items())
        if "get" in item
        and "{" not in path
        and any(p["name"] == "updated_since" for p in item["get"].get("parameters", []))
    }


LISTS = _synchronised_lists()


def _sync(client: Any, path: str, **params: Any) -> tuple[list[dict[str, Any]], Any]:
    """Every page of a synchronisation of `path`, following `next`: the rows, and the first
    answer."""
    first = client.get(path, {"page_size": PAGE_SIZE, **params})
    return _follow(client, first, params), first


def _follow(client: Any, answer: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of `answer` and of the pages its `next` links lead to."""
    rows: list[dict[str, Any]] = []
    while True:
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["previous"] is None
        assert len(body["results"]) <= PAGE_SIZE
        rows += body["results"]
        if body["next"] is None:
            return rows
        # `next` keeps the request's parameters and adds the cursor.
        query = parse_qs(urlsplit(body["next"]).query)
        assert set(query) == {"page_size", "cursor", *params}
        assert query["page_size"] == [str(PAGE_SIZE)]
        assert all(query[name] == [str(value)] for name, value in params.items())
        answer = client.get(body["next"])


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def _visible(model: Any, user: Any) -> set[int]:
    return set(model._default_manager.restrict(user, "view").values_list("pk", flat=True))


def test_every_list_is_synchronised_and_every_deletion_of_its_rows_leaves_a_tombstone() -> None:
    """The lists the test synchronises are the API's, and the tombstones name each row by its
    list's name in the API."""
    listed = {
        viewset.queryset.model._meta.label_lower: basename
        for _prefix, viewset, basename in router.registry
        if basename not in {"integration-token", "change"}
    }
    assert listed == KINDS
    assert {model._meta.label_lower for model in LISTS.values()} == set(KINDS)


def test_a_resync_returns_exactly_what_changed_by_cursor_and_304_when_nothing_did(
    world: World, coordinator: Any, partner_member: Any, time_machine: Any
) -> None:
    plan = world.plan
    # A sent report in the archive, so that its list has a row too.
    report = factories.ReportFactory(consortium=world.consortium)
    client = api_client(coordinator)

    # The full sync: every list from an early moment, two rows a page.
    time_machine.move_to(FIRST_SYNC)
    synced = timezone.now()
    changed_meanwhile: Any = None
    for path, model in LISTS.items():
        first = client.get(path, {"updated_since": EARLY, "page_size": PAGE_SIZE})
        assert first.status_code == 200, first.content
        if path == "/api/v1/deliverables/":
            # A row the sync has not reached yet changes between two pages: it comes once,
            # later, with its change.
            handed_out = set(_ids(first.json()["results"]))
            changed_meanwhile = next(
                row
                for row in Deliverable.objects.restrict(coordinator, "view").order_by(
                    "updated_at", "pk"
                )
                if row.pk not in handed_out
            )
            record_update(instance=changed_meanwhile, user=coordinator, title="Renamed meanwhile")
        rows = _follow(client, first, {"updated_since": EARLY})
        ids = _ids(rows)
        assert len(ids) == len(set(ids)), f"{path} hands a row out twice: {Counter(ids)}"
        assert set(ids) == _visible(model, coordinator), path
        assert first.json()["count"] == len(ids), path
        if path == "/api/v1/deliverables/":
            [renamed] = [row for row in rows if row["id"] == changed_meanwhile.pk]
            assert renamed["title"] == "Renamed meanwhile"
            assert ids[-1] == changed_meanwhile.pk
    assert changed_meanwhile is not None
    assert report.pk in _ids(_sync(client, "/api/v1/reports/", updated_since=EARLY)[0])
    assert _sync(client, "/api/v1/changes/", since=EARLY)[0] == []

    # Meanwhile: creations, changes, deletions through the admin's door, an acceptance.
    time_machine.move_to(FIRST_SYNC + datetime.timedelta(minutes=10))
    partner_client = api_client(partner_member)
    created_expense = partner_client.post(
        "/api/v1/expenses/",
        {**world.bodies["expenses"], "description": "Pipette tips"},
        format="json",
    )
    assert created_expense.status_code == 201, created_expense.content
    job = {
        **world.bodies["jobs"],
        "position_title": "Bioprocess engineer",
        "category": "production",
        "contract_type": "fixed_term",
        "impact": "direct",
    }
    created_job = partner_client.post("/api/v1/jobs/", job, format="json")
    assert created_job.status_code == 201, created_job.content
    edited = client.patch(f"/api/v1/jobs/{plan['j1'].pk}/", {"fte": "0.50"}, format="json")
    assert edited.status_code == 200, edited.content
    assert plan["d1"].status == "planned" and plan["m4"].status == "pending"
    record_delete(instance=plan["d1"], user=coordinator)
    record_delete(instance=plan["m4"], user=coordinator)
    expense_accept(expense=plan["e2"], user=coordinator)

    # The re-sync from the moment the first one started: exactly those rows.
    expected = {
        "/api/v1/expenses/": {created_expense.json()["id"], plan["e2"].pk},
        # The accepted expense's line: its consumed amount moved.
        "/api/v1/budget-lines/": {plan["line_a"].pk},
        "/api/v1/jobs/": {created_job.json()["id"], plan["j1"].pk},
        "/api/v1/deliverables/": {changed_meanwhile.pk},
    }
    time_machine.move_to(FIRST_SYNC + datetime.timedelta(minutes=20))
    since = synced.isoformat()
    firsts = {}
    for path in LISTS:
        rows, firsts[path] = _sync(client, path, updated_since=since)
        assert sorted(_ids(rows)) == sorted(expected.get(path, set())), path
    [line] = _sync(client, "/api/v1/budget-lines/", updated_since=since)[0]
    assert line["consumed"] == plan["e2"].amount.to_eng_string()
    deleted, firsts["/api/v1/changes/"] = _sync(client, "/api/v1/changes/", since=since)
    assert [(row["type"], row["id"], row["change"]) for row in deleted] == [
        ("deliverable", plan["d1"].pk, "deleted"),
        ("milestone", plan["m4"].pk, "deleted"),
    ]
    assert all(datetime.datetime.fromisoformat(row["at"]) >= synced for row in deleted)

    # Nothing changed since: each first page of the re-sync, asked again with its ETag, is a 304.
    for path, answer in firsts.items():
        parameter = "since" if path == "/api/v1/changes/" else "updated_since"
        again = client.get(
            path,
            {parameter: since, "page_size": PAGE_SIZE},
            HTTP_IF_NONE_MATCH=answer["ETag"],
        )
        assert again.status_code == 304, (path, again.status_code)
        assert again.content == b""


def test_a_row_handed_out_then_changed_comes_again_with_its_change(
    world: World, coordinator: Any, time_machine: Any
) -> None:
    client = api_client(coordinator)
    time_machine.move_to(FIRST_SYNC)
    first = client.get("/api/v1/deliverables/", {"updated_since": EARLY, "page_size": PAGE_SIZE})
    [handed_out, *_] = first.json()["results"]
    record_update(
        instance=Deliverable.objects.get(pk=handed_out["id"]), user=coordinator, title="New"
    )
    rows = _follow(client, first, {"updated_since": EARLY})
    assert [row["title"] for row in rows if row["id"] == handed_out["id"]] == [
        handed_out["title"],
        "New",
    ]
    assert rows[-1]["id"] == handed_out["id"]
    ids = _ids(rows)
    assert set(ids) == _visible(Deliverable, coordinator)
    assert Counter(ids).most_common(2)[1][1] == 1, "only the changed row comes twice"


def test_a_participation_written_or_deleted_moves_its_workpackages_time(
    world: World, coordinator: Any, time_machine: Any
) -> None:
    """A workpackage's answer holds its participants: a participation added, changed or
    deleted by any door comes back with its workpackage at the next sync."""
    client = api_client(coordinator)
    workpackage = world.workpackage
    moments = iter(FIRST_SYNC + datetime.timedelta(hours=hours) for hours in range(10))

    def since_then() -> str:
        """The moment a sync starts from: an hour on from the last one."""
        time_machine.move_to(next(moments))
        return timezone.now().isoformat()

    def resync(since: str) -> list[dict[str, Any]]:
        return _sync(client, "/api/v1/workpackages/", updated_since=since)[0]

    partner = factories.PartnerFactory(consortium=workpackage.consortium)
    since = since_then()
    participation = factories.WorkpackageParticipantFactory(
        workpackage=workpackage, partner=partner, planned_person_months="2.00"
    )
    [row] = resync(since)
    assert row["id"] == workpackage.pk
    assert partner.pk in [p["partner"] for p in row["participants"]]
    assert resync(since_then()) == []

    since = since_then()
    record_update(instance=participation, user=coordinator, planned_person_months="3.50")
    [row] = resync(since)
    planned = [
        p["planned_person_months"] for p in row["participants"] if p["partner"] == partner.pk
    ]
    assert planned == ["3.50"]

    since = since_then()
    record_delete(instance=participation, user=coordinator)
    [row] = resync(since)
    assert partner.pk not in [p["partner"] for p in row["participants"]]


# The cursor's refusals --------------------------------------------------------------------------


def test_a_cursor_the_api_did_not_hand_out_is_refused(world: World, coordinator: Any) -> None:
    client = api_client(coordinator)
    answer = client.get("/api/v1/jobs/", {"updated_since": EARLY, "page_size": 1})
    cursor = parse_qs(urlsplit(answer.json()["next"]).query)["cursor"][0]
    assert client.get("/api/v1/jobs/", {"cursor": cursor}).status_code == 200

    for forged in ("", "abc", cursor[:-2] + "xx", cursor.replace(":", "")):
        refused = client.get("/api/v1/jobs/", {"updated_since": EARLY, "cursor": forged or " "})
        assert refused.status_code == 400, (forged, refused.content)
        assert "cursor" in refused.content.decode()
    # A cursor of another list is not one of this list.
    elsewhere = client.get("/api/v1/expenses/", {"cursor": cursor})
    assert elsewhere.status_code == 400, elsewhere.content
    assert "cursor" in elsewhere.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"updated_since": EARLY, "page": "1"},
        {"updated_since": EARLY, "ordering": "-updated_at"},
        {"cursor": "any", "page": "2"},
        {"cursor": "any", "ordering": "number"},
    ],
    ids=["page-since", "ordering-since", "page-cursor", "ordering-cursor"],
)
def test_page_and_ordering_do_not_go_with_a_synchronisation(
    world: World, coordinator: Any, query: dict[str, str]
) -> None:
    answer = api_client(coordinator).get("/api/v1/deliverables/", query)
    assert answer.status_code == 400, answer.content
    named = "page" if "page" in query else "ordering"
    assert named in answer.content.decode()


def test_without_a_synchronisation_lists_keep_their_page_numbers(
    world: World, coordinator: Any
) -> None:
    answer = api_client(coordinator).get("/api/v1/deliverables/", {"page_size": 1, "page": 2})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert "page=3" in body["next"] and "page_size=1" in body["next"]
    assert "cursor" not in body["next"]
    assert body["previous"] is not None


def test_changes_need_their_moment_and_take_no_page_number(world: World, coordinator: Any) -> None:
    client = api_client(coordinator)
    missing = client.get("/api/v1/changes/")
    assert missing.status_code == 400, missing.content
    assert "since" in missing.content.decode()
    naive = client.get("/api/v1/changes/", {"since": "2026-11-25T10:00:00"})
    assert naive.status_code == 400, naive.content
    for name, value in (("page", "2"), ("ordering", "at")):
        refused = client.get("/api/v1/changes/", {"since": EARLY, name: value})
        assert refused.status_code == 400, refused.content
        assert name in refused.content.decode()


# Who reads a tombstone ---------------------------------------------------------------------------


def _deleted(user: Any) -> set[tuple[str, int]]:
    rows, _first = _sync(api_client(user), "/api/v1/changes/", since=EARLY)
    return {(row["type"], row["id"]) for row in rows}


def test_a_tombstone_is_read_by_those_who_read_the_row(
    world: World,
    coordinator: Any,
    observer: Any,
    partner_member: Any,
    other_partner_member: Any,
    other_coordinator: Any,
) -> None:
    plan = world.plan
    # A row of the work plan: the whole consortium reads it.
    record_delete(instance=plan["d3"], user=coordinator)
    # A row private to partner B: its people and those who oversee the consortium.
    colleague = factories.MembershipFactory(partner=world.partner_b)
    private = ("membership", colleague.pk)
    colleague.delete()
    # A row of the other consortium: its people only.
    elsewhere = factories.DeliverableFactory(
        workpackage=factories.WorkpackageFactory(
            consortium=world.other_consortium, lead_partner=world.other_partner
        ),
        number=9,
    )
    other = ("deliverable", elsewhere.pk)
    record_delete(instance=elsewhere, user=other_coordinator)

    # A partner's draft: its people and the coordinators, never the observers (the funder).
    draft = factories.ExpenseFactory(line=world.budget_line)
    assert draft.status == "draft"
    drafted = ("expense", draft.pk)
    Expense.objects.filter(pk=draft.pk).delete()

    work_plan = ("deliverable", plan["d3"].pk)
    assert _deleted(coordinator) == {work_plan, private, drafted}
    assert _deleted(observer) == {work_plan, private}
    assert _deleted(other_partner_member) == {work_plan, private}
    assert _deleted(partner_member) == {work_plan, drafted}
    assert _deleted(other_coordinator) == {other}
    assert _deleted(factories.UserFactory()) == set()


def test_every_door_that_deletes_leaves_a_tombstone(
    world: World, coordinator: Any, time_machine: Any
) -> None:
    """The consortium's periods, deleted by a service when its end moves earlier, and a row
    deleted without `record_delete` (a cascade, a script) leave theirs too."""
    time_machine.move_to(FIRST_SYNC)
    consortium = factories.ConsortiumFactory(
        start_date=datetime.date(2024, 1, 1), end_date=datetime.date(2026, 12, 31)
    )
    last = consortium.periods.order_by("-number").first()
    consortium.end_date = datetime.date(2026, 3, 31)
    consortium.save(update_fields=["end_date"])
    reporting_periods_generate(consortium=consortium)
    gone = Tombstone.objects.get(kind="reporting-period", object_id=last.pk)
    assert gone.consortium_id == consortium.pk
    assert gone.partner_id is None
    assert gone.deleted_at >= FIRST_SYNC

    line = world.plan["cancelled"]
    type(line).objects.filter(pk=line.pk).delete()
    tombstone = Tombstone.objects.get(kind="budget-line", object_id=line.pk)
    assert (tombstone.consortium_id, tombstone.partner_id) == (
        world.consortium.pk,
        world.partner_a.pk,
    )
