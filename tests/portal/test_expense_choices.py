"""The partner's expense form offers only the choices that can be right (issue 16): the workpackages
the partner takes part in or has a budget line in, the periods whose statement it has not
submitted. A choice sent anyway is still judged by the service, with its own message. The expenses
page links to its downloads; the work plan's partner filter says it is the lead partner."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from consortium.records import record_create
from tests import factories
from tests.web import client_for
from workpackages.money.models import Expense
from workpackages.money.services import statement_reopen, statement_submit

pytestmark = pytest.mark.django_db

ADD = reverse("expense-add")


@pytest.fixture
def plan(
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    budget_line: Any,
    other_workpackage: Any,
    partner_member: Any,
    coordinator: Any,
) -> dict[str, Any]:
    """WP1 (partner A takes part, with a line), WP2 (only a budget line), WP3 (partner B's
    alone); P1's statement submitted, P2's submitted then reopened."""
    line_only = factories.WorkpackageFactory(
        consortium=consortium, number=2, lead_partner=partner_b
    )
    factories.BudgetLineFactory(partner=partner_a, workpackage=line_only, heading="personnel")
    not_ours = factories.WorkpackageFactory(consortium=consortium, number=3, lead_partner=partner_b)
    factories.WorkpackageParticipantFactory(workpackage=not_ours, partner=partner_b)
    factories.BudgetLineFactory(partner=partner_b, workpackage=not_ours, heading="personnel")
    p1, p2 = consortium.periods.get(number=1), consortium.periods.get(number=2)
    statement_submit(partner=partner_a, period=p1, user=partner_member)
    sent = statement_submit(partner=partner_a, period=p2, user=partner_member)
    statement_reopen(statement=sent, reason="A line to declare again", user=coordinator)
    return {"line_only": line_only, "not_ours": not_ours, "p1": p1, "p2": p2}


def _offered(form: Any, name: str) -> set[int]:
    return {int(str(value)) for value, _label in form.fields[name].widget.choices if value}


def _select(body: str, name: str) -> str:
    """The page's `<select>` of the field `name`, options included."""
    found = re.search(rf'<select name="{name}".*?</select>', body, re.DOTALL)
    assert found is not None
    return found.group(0)


def _data(workpackage: Any, category: Any, period: Any, incurred_on: str) -> dict[str, Any]:
    return {
        "incurred_on": incurred_on,
        "period": period.pk,
        "workpackage": workpackage.pk,
        "category": category.pk,
        "amount": "250.00",
        "description": "Sequencing run",
        "invoice_reference": "F-16",
    }


def test_the_form_offers_only_the_partners_workpackages_and_open_periods(
    plan: dict[str, Any],
    consortium: Any,
    workpackage: Any,
    other_workpackage: Any,
    partner_member: Any,
) -> None:
    page = client_for(partner_member).get(ADD)
    form = page.context["form"]
    assert _offered(form, "workpackage") == {workpackage.pk, plan["line_only"].pk}
    open_ones = set(consortium.periods.exclude(pk=plan["p1"].pk).values_list("pk", flat=True))
    assert _offered(form, "period") == open_ones
    assert plan["p2"].pk in open_ones  # reopened: it takes lines again
    body = page.content.decode()
    workpackages = _select(body, "workpackage")
    assert f'<option value="{plan["line_only"].pk}"' in workpackages
    assert f'<option value="{plan["not_ours"].pk}"' not in workpackages
    assert f'<option value="{other_workpackage.pk}"' not in workpackages
    assert f'<option value="{plan["p1"].pk}"' not in _select(body, "period")


def test_an_offered_choice_is_saved(
    plan: dict[str, Any], personnel: Any, partner_member: Any
) -> None:
    response = client_for(partner_member).post(
        ADD, _data(plan["line_only"], personnel, plan["p2"], "2024-08-14")
    )
    assert response.status_code == 302
    assert Expense.objects.get(description="Sequencing run").workpackage == plan["line_only"]


def test_a_forged_choice_is_still_refused_by_the_service_with_its_message(
    plan: dict[str, Any], workpackage: Any, personnel: Any, partner_a: Any, partner_member: Any
) -> None:
    client = client_for(partner_member)
    before = Expense.objects.count()

    not_ours = client.post(ADD, _data(plan["not_ours"], personnel, plan["p2"], "2024-08-14"))
    assert not_ours.status_code == 200
    assert not_ours.context["form"].errors["workpackage"] == [
        "P1 BioWin takes no part in WP3: the coordinators add it to the workpackage's "
        "participants first."
    ]
    locked = client.post(ADD, _data(workpackage, personnel, plan["p1"], "2024-03-14"))
    assert locked.status_code == 200
    assert "has been submitted: its lines are locked" in locked.context["form"].errors["period"][0]
    assert Expense.objects.count() == before

    # The service says the same to any other door.
    with pytest.raises(ValidationError, match="its lines are locked"):
        record_create(
            model=Expense,
            user=partner_member,
            partner=partner_a,
            workpackage=workpackage,
            category=personnel,
            period=plan["p1"],
            incurred_on=plan["p1"].start_date,
            amount=Decimal("10.00"),
            description="Forged",
        )
    assert Expense.objects.count() == before


def test_the_expenses_page_links_to_its_downloads_with_its_filters(
    partner_member: Any, expense: Any, workpackage: Any
) -> None:
    client = client_for(partner_member)
    body = client.get(reverse("expense-list")).content.decode()
    assert f'href="{reverse("expense-export", args=["xlsx"])}"' in body
    assert f'href="{reverse("expense-export", args=["csv"])}"' in body
    query = f"workpackage={workpackage.pk}"
    filtered = client.get(f"{reverse('expense-list')}?{query}&page=1").content.decode()
    assert f'href="{reverse("expense-export", args=["xlsx"])}?{query}"' in filtered
    download = client.get(f"{reverse('expense-export', args=['csv'])}?{query}")
    assert download.status_code == 200


def test_the_work_plans_partner_filter_is_the_lead_partner(
    partner_member: Any, workpackage: Any
) -> None:
    page = client_for(partner_member).get(reverse("workplan"))
    form = page.context["filterset"].form
    assert form.fields["lead_partner"].label == "Lead partner"
    assert "Lead partner" in page.content.decode()
