"""The demo requires evidence for operating costs and subcontracting from the running period on:
the lines of the ended periods stay as they were sent, the running period's drafts carry their
invoices, so the partners' statements and the coordinators' reviews work as they would."""

from __future__ import annotations

import pytest

from consortium.models import Consortium
from workpackages.demo.data import EVIDENCE_REQUIRED
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db


def test_operating_costs_and_subcontracting_require_evidence(demo: Consortium) -> None:
    required = set(
        demo.cost_categories.filter(evidence_required=True).values_list("code", flat=True)
    )

    assert required == set(EVIDENCE_REQUIRED) == {"operating", "subcontracting"}
    heading = demo.cost_categories.get(code="operating")
    assert heading.history.first().evidence_required


def test_the_running_period_s_lines_carry_their_evidence(demo: Consortium) -> None:
    running = demo.periods.filter(start_date__lte="2027-01-01", end_date__gte="2027-01-01").get()
    lines = Expense.objects.filter(
        consortium=demo, period=running, category__code__in=EVIDENCE_REQUIRED
    ).exclude(status=ExpenseStatus.WITHDRAWN)

    assert lines.exists()
    assert lines.filter(status=ExpenseStatus.SUBMITTED).exists()
    assert not lines.filter(evidence="").exists()
    # The ended periods' lines were sent before the rule, as they were.
    assert Expense.objects.filter(
        consortium=demo, category__code="operating", evidence="", status=ExpenseStatus.ACCEPTED
    ).exists()
