"""`?late=true` on the deliverables lists the very rows the summary counts as late: open past
their due date, or first sent after it, whatever their state since."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile

from tests import factories
from tests.api.conftest import PDF, api_client
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db


def _sent(deliverable: Any, user: Any) -> Any:
    return deliverable_submit(
        deliverable=deliverable,
        user=user,
        file=ContentFile(PDF, name="report.pdf"),
        late_justification="The batch records came late.",
    )


def test_late_lists_what_the_summary_counts(
    consortium: Any, workpackage: Any, partner_a: Any, partner_member: Any, coordinator: Any
) -> None:
    def deliverable(due_month: int) -> Any:
        return factories.DeliverableFactory(
            workpackage=workpackage, lead_partner=partner_a, due_month=due_month
        )

    open_past_due = deliverable(6)  # June 2024, long past on the tests' clock
    sent_after_due = deliverable(12)
    _sent(sent_after_due, partner_member)
    sent_on_time = deliverable(36)  # December 2026
    _sent(sent_on_time, partner_member)
    not_yet_due = deliverable(35)

    client = api_client(coordinator)
    late = client.get("/api/v1/deliverables/", {"late": "true", "page_size": 200})
    assert late.status_code == 200, late.content
    assert {row["id"] for row in late.json()["results"]} == {open_past_due.pk, sent_after_due.pk}
    others = client.get("/api/v1/deliverables/", {"late": "false", "page_size": 200})
    assert {row["id"] for row in others.json()["results"]} == {sent_on_time.pk, not_yet_due.pk}

    summary = client.get(f"/api/v1/consortia/{consortium.pk}/summary/").json()
    assert summary["deliverables"]["late"] == late.json()["count"] == 2
    assert client.get("/api/v1/deliverables/", {"late": "yes"}).status_code == 400
