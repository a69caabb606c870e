"""A changelist costs the same queries for a coordinator of one consortium as of several, each
with its partners and rows: its relation filters read their labels in one query, not one per
partner."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.choices import ConsortiumRoleKind
from tests import factories

pytestmark = pytest.mark.django_db

LISTS = ["expense", "budgetline", "jobrecord", "deliverable", "milestone", "effort", "workpackage"]


def _another_consortium(coordinator: Any, number: int) -> None:
    consortium = factories.ConsortiumFactory(acronym=f"PIT-X{number}")
    factories.ConsortiumRoleFactory(
        consortium=consortium, user=coordinator, kind=ConsortiumRoleKind.COORDINATOR
    )
    partners = [factories.PartnerFactory(consortium=consortium) for _ in range(3)]
    workpackage = factories.WorkpackageFactory(consortium=consortium, lead_partner=partners[0])
    for partner in partners:
        factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner)
        line = factories.BudgetLineFactory(partner=partner, workpackage=workpackage)
        factories.ExpenseFactory(line=line)
        factories.JobRecordFactory(partner=partner)
    factories.DeliverableFactory(workpackage=workpackage, number=1)
    factories.MilestoneFactory(consortium=consortium, number=1)


@pytest.mark.parametrize("model", LISTS)
def test_a_changelist_costs_the_same_for_one_consortium_or_several(
    coordinator: Any, budget_line: Any, model: str
) -> None:
    client = Client()
    client.force_login(coordinator)
    url = reverse(f"admin:workpackages_{model}_changelist")
    factories.ExpenseFactory(line=budget_line)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for number in range(3):
        _another_consortium(coordinator, number)
    with CaptureQueriesContext(connection) as several:
        assert client.get(url).status_code == 200
    assert len(several) == len(one), [query["sql"][:160] for query in several.captured_queries]
