"""The partners' statements of a reporting period, seen by those who oversee the consortium:
the figures against values computed here, the period chooser, the coordinators' reopening with
a reason, the observers who only read (and never see a draft), the 404 for everyone else, and a
constant number of queries."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.models import ReportingPeriod
from tests import factories
from tests.web import client_for
from workpackages.money.models import Statement
from workpackages.money.services import (
    expense_accept,
    expense_reject,
    expense_submit,
    statement_reopen,
    statement_submit,
)
from workpackages.overview.statements import PeriodStatements

pytestmark = pytest.mark.django_db

REASON = "The invoice of line 2 is missing."
# Wednesday 25 November 2026 (tests/conftest.py): P1's statements were due on 29 August 2024.
DAYS_LATE = (datetime.date(2026, 11, 25) - datetime.date(2024, 8, 29)).days


def _url(consortium: Any, period: Any = None) -> str:
    if period is None:
        return reverse("statements", args=[consortium.pk])
    return reverse("statements-period", args=[consortium.pk, period.pk])


@pytest.fixture
def p1(
    period: Any,
    budget_line: Any,
    budget_line_b: Any,
    partner_member: Any,
    other_partner_member: Any,
    coordinator: Any,
) -> dict[str, Any]:
    """P1: partner A submitted its statement (three lines: one accepted for less, one rejected,
    one waiting); partner B sent one line on its own, keeps a draft, and is late."""
    amounts = {"accepted": "1200.00", "waiting": "300.00", "rejected": "500.00"}
    lines = {
        name: factories.ExpenseFactory(line=budget_line, amount=Decimal(amount))
        for name, amount in amounts.items()
    }
    statement = statement_submit(partner=budget_line.partner, period=period, user=partner_member)
    expense_accept(
        expense=lines["accepted"],
        user=coordinator,
        accepted_amount=Decimal("1000.00"),
        comment="Overheads are not eligible.",
    )
    expense_reject(expense=lines["rejected"], user=coordinator, comment="Wrong supplier.")
    sent_b = factories.ExpenseFactory(line=budget_line_b, amount=Decimal("250.00"))
    expense_submit(expense=sent_b, user=other_partner_member)
    draft_b = factories.ExpenseFactory(line=budget_line_b, amount=Decimal("999.00"))
    return {
        "statement": statement,
        "a": {
            "lines": 3,
            "declared": sum(Decimal(a) for a in amounts.values()),
            "accepted_lines": 1,
            "accepted": Decimal("1000.00"),
            "waiting_lines": 1,
        },
        "b": {
            "lines": 1,
            "declared": sent_b.amount,
            "accepted_lines": 0,
            "accepted": Decimal("0.00"),
            "waiting_lines": 1,
        },
        "draft": draft_b,
    }


def _figures(board: PeriodStatements) -> dict[int, dict[str, Any]]:
    return {
        row.partner.number: {
            "lines": row.lines,
            "declared": row.declared,
            "accepted_lines": row.accepted_lines,
            "accepted": row.accepted,
            "waiting_lines": row.waiting_lines,
        }
        for row in board.rows
    }


# Reading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["coordinator", "observer"])
def test_the_figures_of_a_period_for_those_who_oversee_the_consortium(
    who: str, consortium: Any, period: Any, p1: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    reader = request.getfixturevalue(who)
    page = client_for(reader).get(_url(consortium, period))

    assert page.status_code == 200
    board = page.context["board"]
    assert board.period == period
    assert _figures(board) == {1: p1["a"], 2: p1["b"]}
    states = {row.partner.number: (row.state, row.days_late) for row in board.rows}
    assert states == {1: ("submitted", 0), 2: ("late", DAYS_LATE)}
    assert (board.submitted, board.late, board.waiting) == (1, 1, 1)
    assert board.lines == 4
    assert board.declared == p1["a"]["declared"] + p1["b"]["declared"] == Decimal("2250.00")
    assert board.accepted == Decimal("1000.00")
    html = page.content.decode()
    submitter = board.rows[0].statement.submitted_by
    assert submitter.username == "member-a" and board.rows[1].statement is None
    assert submitter.get_full_name() in html
    assert f"Late by {DAYS_LATE} days" in html
    assert "2,250.00" in html and "1,000.00" in html
    # Partner B's draft is its own business: it counts nowhere, for coordinators neither.
    assert "999.00" not in html


def test_the_reopen_button_is_the_coordinators_alone(
    consortium: Any, period: Any, p1: dict[str, Any], coordinator: Any, observer: Any
) -> None:
    coordinators = client_for(coordinator).get(_url(consortium, period)).content.decode()
    observers = client_for(observer).get(_url(consortium, period)).content.decode()
    assert coordinators.count("Reopen the statement") == 1
    assert 'name="reason"' in coordinators and "csrfmiddlewaretoken" in coordinators
    assert "Reopen the statement" not in observers and 'name="reason"' not in observers
    assert 'method="post"' not in observers.split("<main", 1)[1]


def test_the_page_opens_on_the_latest_ended_period_and_the_chooser_picks_another(
    consortium: Any, partner_a: Any, budget_line: Any, observer: Any
) -> None:
    client = client_for(observer)
    page = client.get(_url(consortium))
    assert page.status_code == 200
    # On 25 November 2026, P5 (January to June 2026) is the latest ended period; P6 runs.
    assert page.context["period"].number == 5
    assert [p.number for p in page.context["periods"]] == [1, 2, 3, 4, 5, 6]
    assert '<form method="get"' in page.content.decode()

    p2 = consortium.periods.get(number=2)
    chosen = client.get(_url(consortium), {"period": p2.pk})
    assert chosen.status_code == 302 and chosen["Location"] == _url(consortium, p2)
    running = client.get(_url(consortium, consortium.periods.get(number=6)))
    assert {row.state for row in running.context["board"].rows} == {"running"}


def test_only_partners_that_owe_the_period_a_statement_are_listed(
    consortium: Any,
    period: Any,
    workpackage: Any,
    budget_line: Any,
    budget_line_b: Any,
    observer: Any,
) -> None:
    on_the_last_day = factories.PartnerFactory(
        consortium=consortium, joined_on=period.end_date.replace(day=30)
    )
    late_joiner = factories.PartnerFactory(
        consortium=consortium, joined_on=consortium.periods.get(number=3).start_date
    )
    for partner in (on_the_last_day, late_joiner):
        factories.BudgetLineFactory(partner=partner, workpackage=workpackage)
    # Without a budget line a partner declares no cost: it owes no statement, is never late.
    without_budget = factories.PartnerFactory(consortium=consortium, joined_on=period.start_date)
    board = client_for(observer).get(_url(consortium, period)).context["board"]
    numbers = [row.partner.number for row in board.rows]
    assert numbers == [1, 2, on_the_last_day.number]
    assert late_joiner.number not in numbers and without_budget.number not in numbers


# Who reads it --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["partner_member", "other_coordinator", "anonymous_client"])
def test_nobody_else_reads_the_statements(
    who: str, consortium: Any, period: Any, request: pytest.FixtureRequest
) -> None:
    if who == "anonymous_client":
        for url in (_url(consortium), _url(consortium, period)):
            answer = Client().get(url)
            assert answer.status_code == 302 and "/login/" in answer["Location"]
        return
    client = client_for(request.getfixturevalue(who))
    for url in (_url(consortium), _url(consortium, period), _url(consortium) + "?period=1"):
        assert client.get(url).status_code == 404, url


def test_a_period_of_another_consortium_or_an_unknown_one_is_404(
    consortium: Any, other_consortium: Any, coordinator: Any
) -> None:
    client = client_for(coordinator)
    foreign = other_consortium.periods.get(number=1)
    unknown = ReportingPeriod.objects.order_by("-pk").values_list("pk", flat=True)[0] + 100
    assert client.get(_url(consortium, foreign)).status_code == 404
    assert client.get(f"/statements/{consortium.pk}/{unknown}/").status_code == 404
    assert client.get(_url(consortium), {"period": foreign.pk}).status_code == 404
    assert client.get(_url(consortium), {"period": "P1"}).status_code == 404
    # Its own consortium's page is no door to another consortium.
    assert client.get(_url(other_consortium)).status_code == 404


# Reopening -----------------------------------------------------------------------------------


def _history(statement: Statement) -> int:
    return Statement.history.filter(id=statement.pk).count()


def test_a_coordinator_reopens_a_statement_from_the_page(
    consortium: Any, period: Any, p1: dict[str, Any], coordinator: Any
) -> None:
    statement = p1["statement"]
    client = client_for(coordinator)
    answer = client.post(
        _url(consortium, period), {"statement": statement.pk, "reason": REASON}, follow=True
    )
    assert answer.redirect_chain == [(_url(consortium, period), 302)]
    html = answer.content.decode()
    assert "is reopened: its partner can correct it and submit it again" in html
    row = Statement.objects.get(pk=statement.pk)
    assert (row.reopened_by, row.reopen_reason) == (coordinator, REASON)
    assert _history(statement) == 2
    board = answer.context["board"]
    assert {r.partner.number: r.state for r in board.rows} == {1: "reopened", 2: "late"}
    assert REASON in html and "Reopen the statement" not in html


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reopening_without_a_reason_says_so_and_changes_nothing(
    consortium: Any, period: Any, p1: dict[str, Any], coordinator: Any, reason: str
) -> None:
    statement = p1["statement"]
    answer = client_for(coordinator).post(
        _url(consortium, period), {"statement": statement.pk, "reason": reason}
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "was not reopened" in html
    assert "Give the reason for reopening the statement: its partner reads it." in html
    assert not Statement.objects.get(pk=statement.pk).is_reopened
    assert _history(statement) == 1


@pytest.mark.parametrize("who", ["observer", "partner_member", "other_coordinator"])
def test_nobody_but_a_coordinator_reopens(
    who: str,
    consortium: Any,
    period: Any,
    p1: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    statement = p1["statement"]
    answer = client_for(request.getfixturevalue(who)).post(
        _url(consortium, period), {"statement": statement.pk, "reason": REASON}
    )
    assert answer.status_code == 404
    assert not Statement.objects.get(pk=statement.pk).is_reopened
    assert _history(statement) == 1


def test_a_statement_of_another_period_or_no_statement_is_not_reopened_here(
    consortium: Any, period: Any, p1: dict[str, Any], coordinator: Any
) -> None:
    statement = p1["statement"]
    client = client_for(coordinator)
    other = _url(consortium, consortium.periods.get(number=2))
    assert client.post(other, {"statement": statement.pk, "reason": REASON}).status_code == 404
    for bad in ("", "abc", "-1"):
        answer = client.post(_url(consortium, period), {"statement": bad, "reason": REASON})
        assert answer.status_code == 404
    assert not Statement.objects.get(pk=statement.pk).is_reopened


def test_a_reopened_statement_shows_as_not_submitted_until_submitted_again(
    consortium: Any, period: Any, p1: dict[str, Any], coordinator: Any, partner_member: Any
) -> None:
    statement_reopen(statement=p1["statement"], reason=REASON, user=coordinator)
    board = client_for(coordinator).get(_url(consortium, period)).context["board"]
    reopened = board.rows[0]
    assert (reopened.state, reopened.days_late, reopened.form) == ("reopened", DAYS_LATE, None)
    assert (board.submitted, board.late, board.waiting) == (0, 2, 2)

    statement_submit(partner=p1["statement"].partner, period=period, user=partner_member)
    board = client_for(coordinator).get(_url(consortium, period)).context["board"]
    assert board.rows[0].state == "submitted" and board.rows[0].form is not None


# Cost ----------------------------------------------------------------------------------------


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["coordinator", "observer"])
def test_the_page_runs_the_same_queries_for_few_or_many_partners_and_lines(
    who: str,
    consortium: Any,
    period: Any,
    p1: dict[str, Any],
    workpackage: Any,
    request: pytest.FixtureRequest,
) -> None:
    client = client_for(request.getfixturevalue(who))
    url = _url(consortium, period)
    client.get(url)  # the session and the caches of the first request
    few = _queries(client, url)
    for _n in range(4):
        partner = factories.PartnerFactory(consortium=consortium)
        factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner)
        line = factories.BudgetLineFactory(
            partner=partner, workpackage=workpackage, heading="personnel"
        )
        for amount in ("10.00", "20.00", "30.00"):
            factories.ExpenseFactory(line=line, amount=Decimal(amount))
        statement_submit(partner=partner, period=period, user=factories.member_of(partner))
    many = _queries(client, url)
    assert many == few, (few, many)
