"""The coordinators reopen a partner's submitted expense statement, with a reason: the period
takes the partner's lines again (a rejected line declared anew), the partner submits the same
statement again, and the history keeps every step with who did it. Bad input, and anyone but a
coordinator of the consortium, change nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from consortium.records import record_create, record_update
from tests import factories
from tests.web import client_for
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense, Statement
from workpackages.money.services import (
    expense_reject,
    statement_reopen,
    statement_submit,
)

pytestmark = pytest.mark.django_db

REASON = "Line 3 was rejected: declare the invoice of the right supplier."


def _state(statement: Statement) -> tuple[Any, ...]:
    row = Statement.objects.get(pk=statement.pk)
    return (
        row.submitted_at,
        row.submitted_by_id,
        row.lines,
        row.total,
        row.reopened_at,
        row.reopened_by_id,
        row.reopen_reason,
        row.history.count(),
    )


@pytest.fixture
def submitted(budget_line: Any, partner_member: Any, period: Any) -> Statement:
    """Partner A's statement of P1, two lines: 1,200.00 and 300.00 EUR."""
    factories.ExpenseFactory(line=budget_line, amount=Decimal("1200.00"))
    factories.ExpenseFactory(line=budget_line, amount=Decimal("300.00"))
    return statement_submit(partner=budget_line.partner, period=period, user=partner_member)


def _new_line(budget_line: Any, period: Any, user: Any, amount: str = "300.00") -> Expense:
    return record_create(
        model=Expense,
        user=user,
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        category=budget_line.category,
        period=period,
        incurred_on=period.start_date + datetime.timedelta(days=20),
        amount=Decimal(amount),
        description="Culture media, corrected invoice",
    )


def test_a_coordinator_reopens_a_statement_with_a_reason_and_the_history_says_who(
    submitted: Statement, coordinator: Any
) -> None:
    reopened = statement_reopen(statement=submitted, reason=f"  {REASON}\n", user=coordinator)

    row = Statement.objects.get(pk=submitted.pk)
    assert row.is_reopened and reopened.is_reopened
    assert (row.reopened_by, row.reopen_reason) == (coordinator, REASON)
    assert row.reopened_at is not None
    # What the partner submitted stays as it was until it submits again.
    assert (row.lines, row.total) == (2, Decimal("1500.00"))
    latest, first = row.history.all()[:2]
    assert (latest.history_type, latest.history_user) == ("~", coordinator)
    assert (latest.reopen_reason, latest.reopened_by_id) == (REASON, coordinator.pk)
    assert (first.history_type, first.reopen_reason, first.reopened_at) == ("+", "", None)
    assert not Statement.objects.submitted().filter(pk=row.pk).exists()


@pytest.mark.parametrize("reason", ["", "   \n\t"])
def test_a_reopening_without_a_reason_is_refused_and_changes_nothing(
    submitted: Statement, coordinator: Any, reason: str
) -> None:
    before = _state(submitted)
    with pytest.raises(ValidationError) as refused:
        statement_reopen(statement=submitted, reason=reason, user=coordinator)
    assert refused.value.message_dict == {
        "reason": ["Give the reason for reopening the statement: its partner reads it."]
    }
    assert _state(submitted) == before


@pytest.mark.parametrize("who", ["observer", "partner_member", "other_coordinator"])
def test_only_the_consortium_s_coordinators_reopen(
    submitted: Statement, who: str, request: pytest.FixtureRequest
) -> None:
    before = _state(submitted)
    with pytest.raises(PermissionDenied):
        statement_reopen(statement=submitted, reason=REASON, user=request.getfixturevalue(who))
    assert _state(submitted) == before


def test_a_reopened_statement_is_not_reopened_twice(submitted: Statement, coordinator: Any) -> None:
    statement_reopen(statement=submitted, reason=REASON, user=coordinator)
    before = _state(submitted)
    with pytest.raises(ValidationError, match="is already reopened"):
        statement_reopen(statement=submitted, reason="Again.", user=coordinator)
    assert _state(submitted) == before


def test_a_submitted_statement_is_still_submitted_once(
    submitted: Statement, partner_member: Any, period: Any
) -> None:
    before = _state(submitted)
    with pytest.raises(ValidationError, match="has already been submitted"):
        statement_submit(partner=submitted.partner, period=period, user=partner_member)
    assert _state(submitted) == before


def test_after_reopening_a_rejected_line_is_declared_again_and_the_same_statement_resubmitted(
    budget_line: Any,
    period: Any,
    partner_member: Any,
    coordinator: Any,
) -> None:
    contact = factories.member_of(budget_line.partner)
    kept = factories.ExpenseFactory(line=budget_line, amount=Decimal("1200.00"))
    wrong = factories.ExpenseFactory(line=budget_line, amount=Decimal("300.00"))
    statement = statement_submit(partner=budget_line.partner, period=period, user=partner_member)
    expense_reject(expense=wrong, user=coordinator, comment="Wrong supplier.")
    # Today the period is locked: the rejected line cannot be declared again.
    with pytest.raises(ValidationError) as locked:
        _new_line(budget_line, period, partner_member, "310.00")
    assert "has been submitted: its lines are locked" in str(locked.value)

    statement_reopen(statement=statement, reason=REASON, user=coordinator)
    corrected = _new_line(budget_line, period, partner_member, "310.00")
    assert corrected.status == ExpenseStatus.DRAFT

    again = statement_submit(partner=budget_line.partner, period=period, user=contact)

    assert again.pk == statement.pk
    assert Statement.objects.filter(partner=budget_line.partner, period=period).count() == 1
    row = Statement.objects.get(pk=statement.pk)
    # The rejected line is still declared (and decided); the corrected one joins it.
    assert (row.lines, row.total) == (3, Decimal("1810.00"))
    assert row.submitted_by == contact and row.submitted_at > statement.submitted_at
    assert (row.reopened_at, row.reopened_by, row.reopen_reason) == (None, None, "")
    assert Expense.objects.get(pk=corrected.pk).status == ExpenseStatus.SUBMITTED
    assert Expense.objects.get(pk=kept.pk).status == ExpenseStatus.SUBMITTED
    # Every step in the history, with who took it and what it held.
    steps = [
        (h.history_type, h.history_user, h.submitted_by_id, h.lines, h.reopen_reason)
        for h in row.history.order_by("history_date", "history_id")
    ]
    assert steps == [
        ("+", partner_member, partner_member.pk, 2, ""),
        ("~", coordinator, partner_member.pk, 2, REASON),
        ("~", contact, contact.pk, 3, ""),
    ]
    # Submitted again, the period is locked again.
    with pytest.raises(ValidationError, match="its lines are locked"):
        _new_line(budget_line, period, partner_member)


def test_a_reopened_period_s_actual_effort_is_corrected_by_its_partner(
    partner_a: Any, workpackage: Any, partner_member: Any, period: Any, coordinator: Any
) -> None:
    effort = factories.EffortFactory(
        partner=partner_a, workpackage=workpackage, actual_person_months=Decimal("2.00")
    )
    statement = statement_submit(partner=partner_a, period=period, user=partner_member)
    with pytest.raises(ValidationError, match="no longer change"):
        record_update(instance=effort, user=partner_member, actual_person_months=Decimal("3"))

    statement_reopen(statement=statement, reason=REASON, user=coordinator)
    corrected = record_update(
        instance=effort, user=partner_member, actual_person_months=Decimal("3.00")
    )
    assert corrected.actual_person_months == Decimal("3.00")


# The partner's pages ---------------------------------------------------------------------------


def test_the_partner_reads_that_its_statement_was_reopened_and_why_then_submits_it_again(
    submitted: Statement, partner_member: Any, coordinator: Any, period: Any, budget_line: Any
) -> None:
    client = client_for(partner_member)
    url = reverse("expense-statement", args=[period.pk])
    before = client.get(url).content.decode()
    assert "Reopened" not in before and "Submit the period’s statement" not in before

    statement_reopen(statement=submitted, reason=REASON, user=coordinator)

    page = client.get(url)
    html = page.content.decode()
    assert page.context["statement"].is_reopened and not page.context["submitted"]
    assert "Reopened" in html and REASON in html
    assert "Submit the period’s statement" in html
    listing = client.get(reverse("expense-list"))
    assert [p.number for p in listing.context["open_periods"] if p.reopened] == [1]

    _new_line(budget_line, period, partner_member, "42.00")
    answer = client.post(url)
    assert answer.status_code == 302
    row = Statement.objects.get(pk=submitted.pk)
    assert not row.is_reopened
    assert (row.lines, row.total) == (3, Decimal("1542.00"))
    assert "Reopened" not in client.get(url).content.decode()
    listing = client.get(reverse("expense-list"))
    assert 1 not in [p.number for p in listing.context["open_periods"]]
