"""Every list of the API, and the consortium summary, costs a fixed number of database queries:
the same for one row as for a hundred, for a coordinator as for a partner's people, and the same
summary for a consortium of two partners as for one of eight.

The lists are read from the OpenAPI schema, so a list added later is covered without editing this
file; the data below gives each list at least three rows for both roles, or the test fails (a list
that returns one row proves nothing about the second).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consortium.choices import ConsortiumRoleKind, MembershipRole
from consortium.services import (
    consortium_role_grant,
    integration_token_issue,
    integration_token_revoke,
    membership_grant,
)
from tests import factories
from tests.api.conftest import PDF, api_client
from tests.api.openapi import published_schema
from workpackages.jobs.choices import JobImpact
from workpackages.money.services import expense_accept, expense_submit
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
)

pytestmark = pytest.mark.django_db

BEFORE_DUE = "2024-06-03T10:00:00+00:00"


def _list_paths() -> list[str]:
    """The collection routes of the schema: GET operations whose path names no object."""
    schema = published_schema()
    paths = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        paths.append(path)
    return sorted(paths)


LIST_PATHS = _list_paths()


def test_the_schema_lists_every_collection_as_paginated() -> None:
    schema = published_schema()
    assert len(LIST_PATHS) >= 13
    for path in LIST_PATHS:
        get = schema["paths"][path]["get"]
        names = {p["name"] for p in get.get("parameters", []) if p["in"] == "query"}
        # The deletions' feed is only ever synchronised: by cursor.
        paged = "cursor" if path == "/api/v1/changes/" else "page"
        assert {paged, "page_size"} <= names, path
        body = get["responses"]["200"]["content"]["application/json"]["schema"]
        assert body["$ref"].split("/")[-1].startswith("Paginated"), path


def _coordinator(consortium: Any, username: str) -> Any:
    user = factories.UserFactory(username=username)
    consortium_role_grant(
        consortium=consortium, user=user, kind=ConsortiumRoleKind.COORDINATOR, granted_by=None
    )
    return user


def _member(partner: Any, user: Any) -> Any:
    return membership_grant(
        partner=partner, user=user, role=MembershipRole.FINANCE, granted_by=None
    )


def _workpackage(consortium: Any, lead: Any, participants: list[Any]) -> Any:
    wp = factories.WorkpackageFactory(consortium=consortium, lead_partner=lead)
    for partner in participants:
        factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner)
    return wp


def _submit(deliverable: Any, user: Any) -> None:
    deliverable_submit(
        deliverable=deliverable,
        user=user,
        file=ContentFile(PDF, name="report.pdf"),
        late_justification="Batch delayed by the supplier.",
    )


def _accepted_expense(line: Any, member: Any, reviewer: Any, amount: str) -> Any:
    expense = factories.ExpenseFactory(line=line, amount=Decimal(amount))
    expense_submit(expense=expense, user=member)
    return expense_accept(expense=expense, user=reviewer)


@pytest.fixture
def populated(
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    coordinator: Any,
    partner_member: Any,
) -> dict[str, Any]:
    """A consortium whose every list holds several rows for the coordinator and for partner A's
    finance officer, with related rows that differ from one row to the next (other authors, other
    reviewers, other workpackages), so that a missing join shows as one query per row."""
    second_coordinator = _coordinator(consortium, "coordinator-2")
    partner_c = factories.PartnerFactory(consortium=consortium)
    colleagues = [factories.UserFactory(username=f"member-a{n}") for n in (2, 3)]
    for colleague in colleagues:
        _member(partner_a, colleague)
    wps = [
        workpackage,
        _workpackage(consortium, partner_b, [partner_a, partner_b, partner_c]),
        _workpackage(consortium, partner_a, [partner_a, partner_c]),
    ]
    # The same people in two more consortia: a user works for one partner in each.
    for _n in range(2):
        elsewhere = factories.ConsortiumFactory()
        consortium_role_grant(
            consortium=elsewhere,
            user=coordinator,
            kind=ConsortiumRoleKind.COORDINATOR,
            granted_by=None,
        )
        _member(factories.PartnerFactory(consortium=elsewhere), partner_member)

    # Deliverables: submitted, approved, sent back and sent again by other people.
    # Led by partner A, whose people send their versions.
    deliverables = [
        factories.DeliverableFactory(workpackage=wp, lead_partner=partner_a, due_month=12 + 6 * n)
        for n, wp in enumerate(wps)
    ]
    for deliverable, author, reviewer in zip(
        deliverables,
        [partner_member, *colleagues],
        [coordinator, second_coordinator, coordinator],
        strict=True,
    ):
        _submit(deliverable, author)
        deliverable_request_changes(
            deliverable=deliverable, user=reviewer, comment="Add the batch records."
        )
        _submit(deliverable, colleagues[0])
        deliverable_approve(deliverable=deliverable, user=second_coordinator)

    for n in range(3):
        factories.MilestoneFactory(
            lead_partner=[partner_a, partner_b, partner_c][n],
            due_month=6 * (n + 1),
            workpackages=wps[n:] + wps[:n],
        )

    # Money: partner A has lines in every workpackage; B and C have their own.
    lines = [
        factories.BudgetLineFactory(partner=partner_a, workpackage=wp, heading=heading)
        for wp in wps
        for heading in ("personnel", "operating")
    ]
    factories.BudgetLineFactory(partner=partner_a, workpackage=wps[0], heading="overheads")
    line_b = factories.BudgetLineFactory(partner=partner_b, workpackage=wps[1])
    for n, line in enumerate(lines[:4]):
        reviewer = [coordinator, second_coordinator][n % 2]
        _accepted_expense(line, [partner_member, *colleagues][n % 3], reviewer, f"{100 + n}.50")
    factories.ExpenseFactory(line=lines[4])
    # Partner B's line, sent on its behalf by a coordinator.
    _accepted_expense(line_b, coordinator, second_coordinator, "77.00")

    for wp in wps:
        factories.EffortFactory(partner=partner_a, workpackage=wp)
        factories.JobRecordFactory(partner=partner_a, workpackage=wp)
    factories.EffortFactory(partner=partner_b, workpackage=wps[1])
    factories.JobRecordFactory(partner=partner_b, impact=JobImpact.INDIRECT)
    # Reports in the archive (for those who oversee the consortium), and deliverables deleted.
    for day in (2, 9, 16):
        factories.ReportFactory(
            consortium=consortium,
            period_start=datetime.date(2025, 6, day),
            period_end=datetime.date(2025, 6, day + 6),
        )
    for n in range(3):
        factories.TombstoneFactory(
            deliverable=factories.DeliverableFactory(workpackage=wps[n], due_month=30 + n)
        )
    # Each person's integration tokens, one of them revoked.
    for user in (coordinator, partner_member):
        for name in ("ERP sync", "Power BI", "Spreadsheet"):
            integration_token_issue(user=user, name=name, expires_in_days=90, read_only=True)
        integration_token_revoke(token=user.integration_tokens.get(name="Spreadsheet"), by=user)
    return {"coordinator": coordinator, "partner_member": partner_member}


# What each list needs beside its page size: the deletions' feed, the moment it starts from.
QUERIES: dict[str, dict[str, str]] = {"/api/v1/changes/": {"since": "2000-01-01T00:00:00Z"}}
# The lists some of the roles of `populated` never read a row of.
READERS: dict[str, set[str]] = {"/api/v1/reports/": {"coordinator"}}


def _queries(client: Any, url: str, page_size: int) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as context:
        answer = client.get(url, {"page_size": page_size, **QUERIES.get(url, {})})
    assert answer.status_code == 200, answer.content
    return len(context.captured_queries), answer.json()


@pytest.mark.parametrize("path", LIST_PATHS)
def test_a_list_costs_the_same_queries_for_one_row_as_for_a_hundred(
    populated: dict[str, Any], path: str
) -> None:
    for role, user in populated.items():
        if role not in READERS.get(path, {role}):
            continue
        client = api_client(user)
        _queries(client, path, 1)  # Warms the caches that hold for the process (content types…).

        one, small = _queries(client, path, 1)
        many, large = _queries(client, path, 100)

        assert len(small["results"]) == 1
        assert large["count"] >= 3 and len(large["results"]) >= 3, (
            f"{path} returns {large['count']} rows to {role}: give it more data in `populated`"
        )
        assert len(large["results"]) == large["count"]
        assert one == many, (
            f"{path} as {role}: {one} queries for 1 row, {many} for {large['count']}"
        )


def _consortium_of(n_partners: int, coordinator: Any, member: Any) -> Any:
    """A consortium with `n_partners` partners, each with budget lines, accepted expenses and jobs;
    `member` works for its first partner."""
    consortium = factories.ConsortiumFactory()
    consortium_role_grant(
        consortium=consortium,
        user=coordinator,
        kind=ConsortiumRoleKind.COORDINATOR,
        granted_by=None,
    )
    partners = [factories.PartnerFactory(consortium=consortium) for _n in range(n_partners)]
    _member(partners[0], member)
    for n, partner in enumerate(partners):
        wp = _workpackage(consortium, partner, [partner])
        factories.DeliverableFactory(workpackage=wp, due_month=1 + n)
        factories.MilestoneFactory(lead_partner=partner, due_month=2 + n, workpackages=[wp])
        personnel = factories.BudgetLineFactory(partner=partner, workpackage=wp)
        factories.BudgetLineFactory(partner=partner, workpackage=wp, heading="overheads")
        factories.BudgetLineFactory(partner=partner, workpackage=wp, heading="operating")
        # The member's own partner's line sent by them, the others' by the coordinator.
        _accepted_expense(
            personnel, member if n == 0 else coordinator, coordinator, f"{1000 + n}.25"
        )
        factories.ExpenseFactory(line=personnel)
        factories.JobRecordFactory(partner=partner, workpackage=wp)
        factories.JobRecordFactory(partner=partner, impact=JobImpact.INDIRECT)
    return consortium


def test_the_summary_costs_the_same_queries_for_two_partners_as_for_eight() -> None:
    coordinator = factories.UserFactory(username="coordinator")
    member = factories.UserFactory(username="finance")
    small = _consortium_of(2, coordinator, member)
    large = _consortium_of(8, coordinator, member)

    for user, partners_seen in ((coordinator, (2, 8)), (member, (1, 1))):
        client = api_client(user)
        client.get(f"/api/v1/consortia/{small.pk}/summary/")  # Warms the process caches.
        counts = []
        for consortium, seen in zip((small, large), partners_seen, strict=True):
            with CaptureQueriesContext(connection) as context:
                answer = client.get(f"/api/v1/consortia/{consortium.pk}/summary/")
            assert answer.status_code == 200, answer.content
            assert len(answer.json()["budget"]["by_partner"]) == seen
            assert Decimal(answer.json()["budget"]["consumed"]) > 0
            counts.append(len(context.captured_queries))
        assert counts[0] == counts[1], f"summary as {user.username}: {counts}"
