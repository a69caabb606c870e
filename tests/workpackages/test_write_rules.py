"""What the write rules imply at every door: a change's consequences applied before validating, a
row's statement period kept by its actuals, an untouched decided row not blocking its page, and
the programme's window keeping the jobs it holds."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from consortium.choices import MembershipRole
from consortium.models import Consortium, Membership
from consortium.records import record_update
from tests import factories
from tests.api.conftest import api_client
from tests.assertions import api_errors
from tests.web import client_for
from tests.workpackages.test_admin_validation import form_data
from workpackages.money.models import Effort, Expense
from workpackages.money.services import budget_line_cancel, statement_submit

pytestmark = pytest.mark.django_db


def test_actual_effort_does_not_leave_a_submitted_statement_s_period(
    partner_a: Any, workpackage: Any, partner_member: Any, period: Any, consortium: Any
) -> None:
    effort = factories.EffortFactory(
        partner=partner_a,
        workpackage=workpackage,
        planned_person_months=Decimal(0),
        actual_person_months=Decimal("2.00"),
    )
    statement_submit(partner=partner_a, period=period, user=partner_member)
    later = consortium.periods.get(number=2)

    moved = api_client(partner_member).patch(
        f"/api/v1/effort/{effort.pk}/", {"period": later.pk}, format="json"
    )

    assert moved.status_code == 409, moved.content  # the statement's state, not the input
    assert (
        "its actual person-months no longer change" in api_errors(moved)["actual_person_months"][0]
    )
    assert Effort.objects.get(pk=effort.pk).period == period


def test_a_coordinator_corrects_the_actuals_of_a_submitted_period(
    partner_a: Any, workpackage: Any, partner_member: Any, period: Any, coordinator: Any
) -> None:
    effort = factories.EffortFactory(
        partner=partner_a, workpackage=workpackage, actual_person_months=Decimal("2.00")
    )
    statement_submit(partner=partner_a, period=period, user=partner_member)
    corrected = record_update(
        instance=effort, user=coordinator, actual_person_months=Decimal("2.50")
    )
    assert corrected.actual_person_months == Decimal("2.50")


def test_a_partner_page_saves_with_a_cancelled_line_among_its_budget_lines(
    coordinator: Any, partner_a: Any, workpackage: Any
) -> None:
    line = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="operating"
    )
    budget_line_cancel(line=line, user=coordinator)
    client = client_for(coordinator)
    url = reverse("admin:consortium_partner_change", args=[partner_a.pk])
    data = form_data(client, url)
    data["jobs_commitment_direct"] = "7"

    saved = client.post(url, data)

    assert saved.status_code == 302, saved.context and saved.context["errors"]
    partner_a.refresh_from_db()
    assert partner_a.jobs_commitment_direct == 7


def test_a_lower_plan_in_the_admin_recomputes_the_granted_amount(
    coordinator: Any, partner_a: Any, workpackage: Any
) -> None:
    budget_line = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, funding_rate=Decimal("50.00")
    )
    assert budget_line.granted_amount == Decimal("50000.00")
    client = client_for(coordinator)
    url = reverse("admin:workpackages_budgetline_change", args=[budget_line.pk])
    data = form_data(client, url)
    data["planned_amount"] = "1000.00"  # below the granted 50,000.00

    saved = client.post(url, data)

    assert saved.status_code == 302
    budget_line.refresh_from_db()
    assert budget_line.planned_amount == Decimal("1000.00")
    assert budget_line.granted_amount == Decimal("500.00")


def test_a_new_date_on_the_partner_page_takes_its_period(
    partner_member: Any, expense: Expense, consortium: Any
) -> None:
    client = client_for(partner_member)
    url = reverse("expense-edit", args=[expense.pk])
    page = client.get(url)
    data = {
        name: value
        for name, value in page.context["form"].initial.items()
        if name != "evidence" and value is not None
    }
    data = {k: getattr(v, "pk", v) for k, v in data.items()}
    data["incurred_on"] = "2024-08-14"

    saved = client.post(url, data)

    assert saved.status_code == 302, saved.context and saved.context["form"].errors
    assert Expense.objects.get(pk=expense.pk).period == consortium.periods.get(number=2)


def test_a_membership_added_with_its_access_off_stays_off(coordinator: Any, partner_a: Any) -> None:
    person = factories.UserFactory(username="later-colleague")
    # Known to the consortium: they once worked for another of its partners.
    Membership.objects.create(
        partner=factories.PartnerFactory(consortium=partner_a.consortium),
        user=person,
        role=MembershipRole.CONTRIBUTOR,
        is_active=False,
    )
    membership_role = MembershipRole.CONTRIBUTOR
    client = client_for(coordinator)
    url = reverse("admin:consortium_membership_add")
    data = form_data(client, url)
    data.update({"user": str(person.pk), "partner": str(partner_a.pk), "role": membership_role})
    data.pop("is_active", None)

    client.post(url, data)

    assert Membership.objects.get(user=person, partner=partner_a).is_active is False


def test_the_programme_s_window_keeps_the_jobs_it_holds(
    coordinator: Any, partner_a: Any, consortium: Any
) -> None:
    factories.JobRecordFactory(partner=partner_a, start_date=datetime.date(2026, 5, 1))
    client = client_for(coordinator)
    url = reverse("admin:consortium_consortium_change", args=[consortium.pk])
    data = form_data(client, url)
    data["jobs_horizon_years"] = "2"  # the window would end on 31 December 2025

    refused = client.post(url, data)

    assert refused.status_code == 200
    assert "1 job record would start outside the programme's new window" in html.unescape(
        refused.content.decode()
    )
    assert Consortium.objects.get(pk=consortium.pk).jobs_horizon_years == 5


def test_a_coordinator_does_not_switch_a_whole_account_off(
    coordinator: Any, partner_member: Any
) -> None:
    client = client_for(coordinator)
    url = reverse("admin:auth_user_change", args=[partner_member.pk])
    data = form_data(client, url)
    data.pop("is_active", None)

    client.post(url, data)

    partner_member.refresh_from_db()
    assert partner_member.is_active is True
