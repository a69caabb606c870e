"""The funder's pages: an observer signs in and lands on the overview of the consortium they
follow (a chooser when they follow several), reads its figures as of today in their language,
and nothing of a consortium they don't follow; a partner's draft counts nowhere."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consortium.choices import ConsortiumRoleKind
from consortium.services import consortium_role_grant
from tests import factories
from tests.web import client_for
from workpackages.money.services import expense_accept

pytestmark = pytest.mark.django_db


def _signed_in(user: Any, **headers: str) -> tuple[Client, Any]:
    client = Client(**headers)
    answer = client.post(
        reverse("login"), {"username": user.username, "password": factories.PASSWORD}, follow=True
    )
    return client, answer


def test_an_observer_lands_on_the_overview_of_their_consortium(
    observer: Any,
    consortium: Any,
    coordinator: Any,
    partner_member: Any,
    submitted_expense: Any,
    budget_line: Any,
) -> None:
    expense_accept(expense=submitted_expense, user=coordinator)
    factories.ExpenseFactory(line=budget_line, amount=Decimal("777.00"))  # a draft

    _client, answer = _signed_in(observer)
    assert answer.redirect_chain[-1][0] == reverse("funder-overview", args=[consortium.pk])
    assert answer.status_code == 200
    page = answer.content.decode()
    assert consortium.acronym in page and "As of today" in page
    consumed = submitted_expense.amount
    assert f"EUR {consumed:,.2f}" in page
    assert "777.00" not in page
    assert "Budget by partner" in page and "Budget by workpackage" in page


def test_the_overview_is_in_french_for_a_french_reader(observer: Any, consortium: Any) -> None:
    _client, answer = _signed_in(observer, HTTP_ACCEPT_LANGUAGE="fr")
    page = answer.content.decode()
    assert '<html lang="fr">' in page
    assert "Budget par partenaire" in page


def test_an_observer_of_several_consortia_chooses(
    observer: Any, consortium: Any, other_consortium: Any
) -> None:
    consortium_role_grant(
        consortium=other_consortium,
        user=observer,
        kind=ConsortiumRoleKind.OBSERVER,
        granted_by=None,
    )
    client = client_for(observer)
    chooser = client.get(reverse("funder"))
    assert chooser.status_code == 200
    page = chooser.content.decode()
    for followed in (consortium, other_consortium):
        assert reverse("funder-overview", args=[followed.pk]) in page
    overview = client.get(reverse("funder-overview", args=[other_consortium.pk]))
    assert overview.status_code == 200
    assert reverse("funder") in overview.content.decode()


def test_nobody_reads_a_consortium_they_do_not_follow(
    observer: Any,
    other_consortium: Any,
    consortium: Any,
    partner_member: Any,
    other_coordinator: Any,
) -> None:
    url = reverse("funder-overview", args=[other_consortium.pk])
    assert client_for(observer).get(url).status_code == 404
    own = reverse("funder-overview", args=[consortium.pk])
    assert client_for(partner_member).get(own).status_code == 404
    assert client_for(other_coordinator).get(own).status_code == 404
    assert client_for(partner_member).get(reverse("funder")).status_code == 404
    anonymous = Client().get(own)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_pages_only_read(observer: Any, consortium: Any) -> None:
    url = reverse("funder-overview", args=[consortium.pk])
    assert client_for(observer).post(url).status_code == 405
