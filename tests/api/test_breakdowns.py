"""The two breakdowns the region asks for, one request each: the budget by partner ×
workpackage × heading adds up to the summary's budget, and the jobs by partner × impact × status ×
period to its jobs; a partner's people read their own partner's rows only."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from tests import factories
from tests.api.conftest import api_client
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures(
    consortium: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    partner_member: Any,
    coordinator: Any,
) -> dict[str, Any]:
    personnel = factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage)
    factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage, heading="overheads")
    factories.BudgetLineFactory(partner=partner_b, workpackage=workpackage, heading="operating")
    expense = factories.ExpenseFactory(line=personnel, amount=Decimal("1234.56"))
    expense_submit(expense=expense, user=partner_member)
    expense_accept(expense=expense, user=coordinator)
    for partner, impact, status, start, fte in [
        (partner_a, JobImpact.DIRECT, JobStatus.REALISED, datetime.date(2024, 2, 1), "1.00"),
        (partner_a, JobImpact.DIRECT, JobStatus.REALISED, datetime.date(2024, 3, 1), "0.50"),
        (partner_a, JobImpact.INDIRECT, JobStatus.FORECAST, datetime.date(2024, 9, 1), "1.00"),
        (partner_b, JobImpact.DIRECT, JobStatus.REALISED, datetime.date(2025, 2, 1), "0.80"),
    ]:
        factories.JobRecordFactory(
            partner=partner, impact=impact, status=status, start_date=start, fte=Decimal(fte)
        )
    return {"consortium": consortium}


def _get(user: Any, consortium: Any, name: str) -> dict[str, Any]:
    answer = api_client(user).get(f"/api/v1/consortia/{consortium.pk}/{name}/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_the_budget_breakdown_adds_up_to_the_summary(
    figures: Any, consortium: Any, coordinator: Any, partner_a: Any
) -> None:
    breakdown = _get(coordinator, consortium, "budget-breakdown")
    summary = _get(coordinator, consortium, "summary")["budget"]
    assert breakdown["scope"] == "consortium"
    assert len(breakdown["rows"]) == 3
    for name in ("planned", "granted", "consumed"):
        total = sum((Decimal(row[name]) for row in breakdown["rows"]), Decimal(0))
        assert total == Decimal(summary[name]), name
    # The accepted cost, and the overheads it carries on the flat-rate line.
    consumed = {row["category"]: Decimal(row["consumed"]) for row in breakdown["rows"]}
    overheads = consortium.cost_categories.get(code="overheads")
    carried = (Decimal("1234.56") * overheads.flat_rate / 100).quantize(Decimal("0.01"))
    assert consumed[overheads.pk] == carried
    assert sorted(consumed.values()) == sorted([Decimal("1234.56"), carried, Decimal("0.00")])


def test_the_jobs_breakdown_adds_up_to_the_summary(
    figures: Any, consortium: Any, coordinator: Any, partner_a: Any, partner_b: Any
) -> None:
    breakdown = _get(coordinator, consortium, "jobs-breakdown")
    jobs = _get(coordinator, consortium, "summary")["jobs"]
    periods = {period.number: period.pk for period in consortium.periods.all()}
    rows = {
        (row["partner"], row["period"], row["impact"], row["status"]): (
            row["headcount"],
            row["fte"],
        )
        for row in breakdown["rows"]
    }
    assert rows == {
        (partner_a.pk, periods[1], "direct", "realised"): (2, "1.50"),
        (partner_a.pk, periods[2], "indirect", "forecast"): (1, "1.00"),
        (partner_b.pk, periods[3], "direct", "realised"): (1, "0.80"),
    }
    direct = sum(count for (_p, _n, impact, status), (count, _f) in rows.items()
                 if (impact, status) == ("direct", "realised"))  # fmt: skip
    assert direct == jobs["direct"]["realised"]["headcount"] == 3


def test_a_partner_reads_its_own_rows(
    figures: Any, consortium: Any, partner_member: Any, partner_a: Any, observer: Any
) -> None:
    for name in ("budget-breakdown", "jobs-breakdown"):
        mine = _get(partner_member, consortium, name)
        assert mine["scope"] == "partner"
        assert {row["partner"] for row in mine["rows"]} == {partner_a.pk}
        everything = _get(observer, consortium, name)
        assert everything["scope"] == "consortium"
        assert len(everything["rows"]) > len(mine["rows"])
