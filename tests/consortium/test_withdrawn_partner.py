"""A partner that has left the consortium gives its people no access anywhere: not the partner
pages, not the API, not the files, not the calendar feed. Their records stay, for the audit."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from consortium.choices import PartnerStatus
from consortium.records import record_create, record_update
from consortium.services import calendar_feed_renew
from tests.api.conftest import PDF, api_client
from tests.web import client_for
from workpackages.jobs.models import JobRecord
from workpackages.money.models import Expense
from workpackages.money.services import expense_submit
from workpackages.workplan.choices import Dissemination
from workpackages.workplan.models import Deliverable
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def withdrawn(partner_a: Any, coordinator: Any) -> Any:
    """Partner A, withdrawn by the coordinators at the end of 2025."""
    return record_update(
        instance=partner_a,
        user=coordinator,
        status=PartnerStatus.WITHDRAWN,
        left_on=datetime.date(2025, 12, 31),
    )


@pytest.fixture
def sensitive(deliverable: Any, partner_member: Any) -> Deliverable:
    """D1.1, sensitive, with a version partner A sent before it left."""
    Deliverable.objects.filter(pk=deliverable.pk).update(dissemination=Dissemination.SEN)
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(PDF, name="sensitive.pdf"),
        late_justification="Late.",
    )
    return deliverable


def test_the_api_shows_and_takes_nothing_from_people_of_a_withdrawn_partner(
    sensitive: Deliverable, expense: Expense, workpackage: Any, partner_member: Any, withdrawn: Any
) -> None:
    client = api_client(partner_member)
    assert client.get("/api/v1/deliverables/").json()["results"] == []
    assert client.get(f"/api/v1/deliverables/{sensitive.pk}/").status_code == 404
    assert client.get("/api/v1/expenses/").json()["results"] == []
    assert client.post(f"/api/v1/expenses/{expense.pk}/submit/").status_code == 404
    created = client.post(
        "/api/v1/jobs/",
        {
            "partner": withdrawn.pk,
            "position_title": "QC analyst",
            "category": "quality",
            "contract_type": "permanent",
            "fte": "1.00",
            "start_date": "2026-03-01",
            "impact": "direct",
        },
        format="json",
    )
    assert created.status_code in {400, 403}, created.content
    assert not JobRecord.objects.exists()
    assert Expense.objects.get(pk=expense.pk).status == "draft"


def test_its_files_and_calendar_feed_answer_404(
    sensitive: Deliverable, partner_member: Any, withdrawn: Any
) -> None:
    link = sensitive.submissions.get().file.url
    assert client_for(partner_member).get(link).status_code == 404
    token = calendar_feed_renew(user=partner_member).calendar_token
    assert client_for(partner_member).get(f"/calendar/{token}.ics").status_code == 404


def test_the_services_refuse_them_whatever_the_door(
    budget_line: Any, expense: Expense, partner_member: Any, withdrawn: Any
) -> None:
    with pytest.raises(Exception, match="You may not do this here"):
        expense_submit(expense=expense, user=partner_member)
    with pytest.raises(Exception, match="You may not do this here"):
        record_create(
            model=Expense,
            user=partner_member,
            partner=withdrawn,
            workpackage=budget_line.workpackage,
            category=budget_line.category,
            incurred_on=datetime.date(2024, 2, 1),
            amount=Decimal("10.00"),
            description="After leaving",
        )
    assert Expense.objects.count() == 1


def test_the_partner_pages_turn_them_away(partner_member: Any, withdrawn: Any) -> None:
    response = client_for(partner_member).get(reverse("expense-list"))
    assert response.status_code == 403
