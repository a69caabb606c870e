"""The work plan of the report tests: a consortium half-way through, with late, sent, approved
and coming deliverables and milestones, an accepted expense and reported effort."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile

from tests import factories
from tests.api.conftest import PDF
from workpackages import services

PERIOD = (datetime.date(2025, 1, 1), datetime.date(2025, 6, 30))


def at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)


@pytest.fixture
def plan(
    deliverable: Any,
    milestone: Any,
    workpackage: Any,
    partner_a: Any,
    partner_member: Any,
    coordinator: Any,
    submitted_expense: Any,
) -> dict[str, Any]:
    """D1.1 open past due; D1.2 due in the period, sent late and approved; D1.3 due on the
    period's last day; D1.4 due a month after; MS1 due on the last day, MS2 achieved, MS3 missed."""
    sent_late = factories.DeliverableFactory(workpackage=workpackage, due_month=14)
    services.deliverable_submit(
        deliverable=sent_late,
        user=partner_member,
        file=ContentFile(PDF, name="d12.pdf"),
        late_justification="The GMP audit moved.",
        now=at(datetime.date(2025, 3, 10)),
    )
    services.deliverable_approve(
        deliverable=sent_late, user=coordinator, now=at(datetime.date(2025, 3, 20))
    )
    on_last_day = factories.DeliverableFactory(workpackage=workpackage, due_month=18)
    next_month = factories.DeliverableFactory(workpackage=workpackage, due_month=19)
    achieved = factories.MilestoneFactory(
        lead_partner=partner_a, due_month=15, workpackages=[workpackage]
    )
    services.milestone_achieve(
        milestone=achieved,
        user=coordinator,
        achieved_on=datetime.date(2025, 3, 31),
        evidence="Batch record signed.",
    )
    missed = factories.MilestoneFactory(
        lead_partner=partner_a, due_month=16, workpackages=[workpackage]
    )
    services.milestone_miss(milestone=missed, user=coordinator)
    services.expense_accept(expense=submitted_expense, user=coordinator)
    factories.EffortFactory(
        partner=partner_a, workpackage=workpackage, actual_person_months=Decimal("4.50")
    )
    return {
        "open_late": deliverable,
        "sent_late": sent_late,
        "on_last_day": on_last_day,
        "next_month": next_month,
        "due_on_last_day": milestone,
        "achieved": achieved,
        "missed": missed,
    }
