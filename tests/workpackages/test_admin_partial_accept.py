"""Accepting expenses for a lower amount in the coordinators' admin: each selected expense gets
its own amount and reason, read against its invoice, its evidence and what is left on its budget
line; a bad row, or one the service refuses, applies nothing and says why next to it."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.api.conftest import PDF
from tests.factories import BudgetLineFactory, ExpenseFactory
from tests.web import client_for
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense
from workpackages.money.selectors import expenses_with_line_balance
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:workpackages_expense_changelist")
# The most expenses one confirmation page asks amounts for.
MAX_ROWS = 100


def _submitted(line: Any, member: Any, amount: str, **fields: Any) -> Expense:
    return expense_submit(
        expense=ExpenseFactory(line=line, amount=Decimal(amount), **fields), user=member
    )


def _post(client: Client, pks: list[int], url: str = CHANGELIST, **fields: Any) -> Any:
    return client.post(
        url, {"action": "accept_partially", "_selected_action": pks, **fields}, follow=True
    )


def _decisions(*rows: tuple[Expense, str, str]) -> dict[str, str]:
    """The confirmation page's fields for each (expense, amount, reason), and its button."""
    data = {"apply": "1"}
    for expense, amount, comment in rows:
        data[f"expense-{expense.pk}-accepted_amount"] = amount
        data[f"expense-{expense.pk}-comment"] = comment
    return data


def _row(html: str, expense: Expense) -> str:
    """The table row of one expense on the confirmation page."""
    found = re.search(rf'<tr id="expense-{expense.pk}".*?</tr>', html, re.S)
    assert found, f"no row for expense {expense.pk}"
    return found.group(0)


@pytest.fixture
def two_expenses(budget_line: Any, partner_member: Any) -> tuple[Expense, Expense]:
    return (
        _submitted(budget_line, partner_member, "24813.89", description="Bioreactor bags"),
        _submitted(budget_line, partner_member, "29084.16", description="Flow cytometry"),
    )


def test_each_expense_is_accepted_for_its_own_amount_and_reason(
    coordinator: Any, two_expenses: tuple[Expense, Expense]
) -> None:
    first, second = two_expenses
    response = _post(
        client_for(coordinator),
        [first.pk, second.pk],
        **_decisions(
            (first, "20000.00", "Bags for the cancelled run are not eligible."),
            (second, "25000.00", "Capped at the quotation."),
        ),
    )

    assert "2 expenses accepted." in response.content.decode()
    for expense, amount, comment in (
        (first, Decimal("20000.00"), "Bags for the cancelled run are not eligible."),
        (second, Decimal("25000.00"), "Capped at the quotation."),
    ):
        expense.refresh_from_db()
        assert expense.status == ExpenseStatus.ACCEPTED
        assert expense.accepted_amount == amount
        assert expense.review_comment == comment
        assert expense.reviewed_by == coordinator
        latest = expense.history.first()
        assert latest.history_user == coordinator
        [change] = [
            c
            for c in latest.diff_against(latest.prev_record).changes
            if c.field == "accepted_amount"
        ]
        assert (change.old, change.new) == (None, amount)


def test_an_amount_equal_to_the_declared_one_needs_no_reason(
    coordinator: Any, two_expenses: tuple[Expense, Expense]
) -> None:
    first, second = two_expenses
    _post(
        client_for(coordinator),
        [first.pk, second.pk],
        **_decisions((first, "24813.89", ""), (second, "0", "Not an eligible cost.")),
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.accepted_amount, first.review_comment) == (Decimal("24813.89"), "")
    assert (second.accepted_amount, second.review_comment) == (
        Decimal("0.00"),
        "Not an eligible cost.",
    )


def test_the_confirmation_page_shows_each_expense_with_its_evidence_and_budget_line(
    coordinator: Any,
    partner_member: Any,
    other_partner_member: Any,
    budget_line: Any,
    partner_b: Any,
    workpackage: Any,
) -> None:
    # Partner A's line: 100,000.00 planned, 10,000.00 of it accepted already.
    accepted = _submitted(budget_line, partner_member, "10000.00")
    expense_accept(expense=accepted, user=coordinator)
    with_file = _submitted(
        budget_line,
        partner_member,
        "24813.89",
        description="Bioreactor bags",
        invoice_reference="F-2026-0412",
        evidence=SimpleUploadedFile("invoice-0412.pdf", PDF),
    )
    line_b = BudgetLineFactory(
        partner=partner_b, workpackage=workpackage, planned_amount=Decimal("60000.00")
    )
    without_file = _submitted(
        line_b,
        other_partner_member,
        "29084.16",
        description="Flow cytometry",
        invoice_reference="CF-778",
    )
    client = client_for(coordinator)

    page = _post(client, [with_file.pk, without_file.pk])

    assert page.status_code == 200
    html = page.content.decode()
    assert '<link rel="stylesheet" href="/static/consortium/admin.css">' in html
    row = _row(html, with_file)
    for text in (
        "P1 BioWin",
        "Bioreactor bags",
        "F-2026-0412",
        f'href="{with_file.evidence.url}"',
        "invoice-0412.pdf",
        "24,813.89",
        "100,000.00",  # planned on the line
        "10,000.00",  # accepted on it so far
        "90,000.00",  # what remains
    ):
        assert text in row, text
    assert f'name="expense-{with_file.pk}-accepted_amount"' in row
    assert f'name="expense-{with_file.pk}-comment"' in row
    # Nothing is typed in for the coordinator.
    amount_input = re.search(r"<input[^>]*-accepted_amount[^>]*>", row)
    assert amount_input and "value=" not in amount_input.group(0)
    row = _row(html, without_file)
    for text in (
        "P2 CellForge",
        "Flow cytometry",
        "CF-778",
        "none",
        "29,084.16",
        "60,000.00",  # planned, and what remains
        ">0.00<",  # nothing accepted on partner B's line yet
    ):
        assert text in row, text
    assert "<a " not in row
    # The link serves the file to the coordinator, after the permission check.
    served = client.get(with_file.evidence.url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PDF


def test_the_line_balance_is_read_with_the_expenses_in_one_query(
    coordinator: Any, partner_member: Any, partner_a: Any, workpackage: Any
) -> None:
    line = BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, planned_amount=Decimal("5000.00")
    )
    expense_accept(expense=_submitted(line, partner_member, "6000.00"), user=coordinator)
    waiting = _submitted(line, partner_member, "750.00")

    with CaptureQueriesContext(connection) as queries:
        [row] = expenses_with_line_balance(Expense.objects.filter(pk=waiting.pk))

    assert len(queries) == 1
    # Overspent: what remains is negative, shown as it is.
    assert (row.line_planned, row.line_consumed, row.line_remaining) == (
        Decimal("5000.00"),
        Decimal("6000.00"),
        Decimal("-1000.00"),
    )


def test_the_confirmation_page_speaks_french(
    coordinator: Any, two_expenses: tuple[Expense, Expense]
) -> None:
    first, second = two_expenses
    client = client_for(coordinator)
    client.post(reverse("language"), {"language": "fr", "next": CHANGELIST})

    page = _post(client, [first.pk, second.pk]).content.decode()
    row = _row(page, first)
    assert "24\xa0813,89" in row and "100\xa0000,00" in row
    for label in ("Justificatif", "Facture", "Montant accepté (EUR)", "Motif", "Confirmer"):
        assert label in page, label

    refused = _post(
        client,
        [first.pk, second.pk],
        **_decisions((first, "-1", "Trop"), (second, "25000.00", "Plafonné au devis.")),
    ).content.decode()
    assert "Le montant accepté doit être compris entre zéro et le montant déclaré." in _row(
        refused, first
    )


BAD_ROWS = [
    pytest.param("-1", "Not eligible.", "lies between zero and the declared amount", id="negative"),
    pytest.param(
        "29084.17", "Not eligible.", "lies between zero and the declared amount", id="above"
    ),
    pytest.param("twenty", "Not eligible.", "Enter a number.", id="not-a-number"),
    pytest.param("", "Not eligible.", "This field is required.", id="empty"),
    pytest.param("20000.005", "Not eligible.", "no more than 2 decimal places", id="cents"),
    pytest.param("25000.00", "  ", "Explain why only part of the expense", id="no-reason"),
]


@pytest.mark.parametrize(("amount", "comment", "error"), BAD_ROWS)
def test_a_bad_row_applies_nothing_and_says_what_is_wrong_next_to_it(
    coordinator: Any, two_expenses: tuple[Expense, Expense], amount: str, comment: str, error: str
) -> None:
    first, second = two_expenses
    response = _post(
        client_for(coordinator),
        [first.pk, second.pk],
        **_decisions((first, "20000.00", "Partly eligible."), (second, amount, comment)),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert error in _row(html, second)
    assert error not in _row(html, first)
    # What the coordinator typed stays, to be corrected rather than typed again.
    assert 'value="20000.00"' in _row(html, first)
    for expense in (first, second):
        expense.refresh_from_db()
        assert (expense.status, expense.accepted_amount) == (ExpenseStatus.SUBMITTED, None)
        assert expense.history.count() == 2  # created, submitted


def test_a_row_the_service_refuses_applies_nothing_and_says_why_next_to_it(
    coordinator: Any, budget_line: Any, partner_member: Any
) -> None:
    submitted = _submitted(budget_line, partner_member, "24813.89")
    draft = ExpenseFactory(line=budget_line, amount=Decimal("29084.16"))

    response = _post(
        client_for(coordinator),
        [submitted.pk, draft.pk],
        **_decisions((submitted, "20000.00", "Partly eligible."), (draft, "25000.00", "Capped.")),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Cannot accept {draft}: it is draft." in _row(html, draft)
    submitted.refresh_from_db()
    draft.refresh_from_db()
    assert (submitted.status, submitted.accepted_amount) == (ExpenseStatus.SUBMITTED, None)
    assert (draft.status, draft.accepted_amount) == (ExpenseStatus.DRAFT, None)
    assert submitted.history.count() == 2  # created, submitted


def test_the_confirmation_page_runs_the_same_queries_for_2_or_10_expenses(
    coordinator: Any,
    budget_line: Any,
    budget_line_b: Any,
    partner_member: Any,
    other_partner_member: Any,
) -> None:
    client = client_for(coordinator)
    lines = [(budget_line, partner_member), (budget_line_b, other_partner_member)]
    expenses = [_submitted(*lines[n % 2], f"{1000 + n}.00") for n in range(10)]
    counts = []
    for selected in (expenses[:2], expenses):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                CHANGELIST,
                {"action": "accept_partially", "_selected_action": [e.pk for e in selected]},
            )
        assert response.status_code == 200
        html = response.content.decode()
        for expense in selected:
            row = _row(html, expense)
            assert "-accepted_amount" in row and "100,000.00" in row  # its line's planned amount
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_selecting_all_across_pages_lists_every_filtered_expense_then_applies(
    coordinator: Any, budget_line: Any, partner_member: Any
) -> None:
    submitted = [_submitted(budget_line, partner_member, f"{1000 + n}.00") for n in range(3)]
    draft = ExpenseFactory(line=budget_line)
    client = client_for(coordinator)
    filtered = f"{CHANGELIST}?status__exact=submitted"

    page = _post(client, [submitted[0].pk], url=filtered, select_across="1")

    html = page.content.decode()
    for expense in submitted:
        assert f'name="expense-{expense.pk}-accepted_amount"' in _row(html, expense)
        assert f'name="_selected_action" value="{expense.pk}"' in html
    assert f'id="expense-{draft.pk}"' not in html
    # The page names the rows it shows: applying it decides those, not whatever matches then.
    assert 'name="select_across" value="0"' in html

    done = _post(
        client,
        [e.pk for e in submitted],
        url=filtered,
        select_across="0",
        **_decisions(*((e, "900.00", "Partly eligible.") for e in submitted)),
    )
    assert "3 expenses accepted." in done.content.decode()
    assert set(
        Expense.objects.filter(pk__in=[e.pk for e in submitted]).values_list(
            "accepted_amount", flat=True
        )
    ) == {Decimal("900.00")}


def test_selecting_more_expenses_than_one_page_can_ask_for_is_refused(
    coordinator: Any, budget_line: Any
) -> None:
    expenses = [ExpenseFactory(line=budget_line) for _ in range(MAX_ROWS + 1)]

    response = _post(client_for(coordinator), [expenses[0].pk], select_across="1")

    html = response.content.decode()
    assert response.redirect_chain == [(CHANGELIST, 302)]
    assert f"select at most {MAX_ROWS} expenses" in html
    assert 'name="apply"' not in html
