"""A budget line's consumed amount is computed from its accepted expenses; when an acceptance
moves it, the line's `updated_at` moves too, so an integration syncing by `updated_since` reads
the new figure (of the expense's line and of the flat-rate line computed on it), and nothing
else."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from tests import factories
from tests.api.conftest import api_client
from workpackages.money.services import expense_accept, expense_submit, expenses_accept

pytestmark = pytest.mark.django_db


def _since(client: Any, moment: datetime.datetime) -> dict[int, str]:
    answer = client.get(
        "/api/v1/budget-lines/", {"updated_since": moment.isoformat(), "page_size": 200}
    )
    assert answer.status_code == 200, answer.content
    return {row["id"]: row["consumed"] for row in answer.json()["results"]}


@pytest.mark.parametrize("one_by_one", [True, False])
def test_an_acceptance_moves_the_lines_whose_consumed_it_changes(
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    partner_member: Any,
    coordinator: Any,
    overheads: Any,
    time_machine: Any,
    one_by_one: bool,
) -> None:
    personnel = factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage)
    flat_rate = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="overheads"
    )
    factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage, heading="operating")
    factories.BudgetLineFactory(partner=partner_b, workpackage=workpackage)
    expense: Any = factories.ExpenseFactory(line=personnel, amount=Decimal("1000.00"))
    expense_submit(expense=expense, user=partner_member)

    client = api_client(coordinator)
    synced = datetime.datetime(2026, 11, 25, 12, 0, 1, tzinfo=datetime.UTC)
    time_machine.move_to(synced + datetime.timedelta(minutes=5))
    assert _since(client, synced) == {}

    if one_by_one:
        expense_accept(expense=expense, user=coordinator)
    else:
        expenses_accept(expenses=[expense], user=coordinator)

    carried = (Decimal("1000.00") * overheads.flat_rate / 100).quantize(Decimal("0.01"))
    assert _since(client, synced) == {personnel.pk: "1000.00", flat_rate.pk: f"{carried}"}
