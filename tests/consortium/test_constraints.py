"""A row's check constraints are validated in one query, with Django's own answer: the same
messages in the same order, the same constraints left out for excluded fields."""

import datetime
import logging
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from consortium.constraints import ValidatedModel
from consortium.models import Consortium, Partner
from tests import factories
from workpackages.money.models import BudgetLine

pytestmark = pytest.mark.django_db


def djangos_answer(instance: Any, exclude: Any = None) -> dict[str, list[str]]:
    """What Django's own `Model.validate_constraints()` says: one query per constraint."""
    try:
        models.Model.validate_constraints(instance, exclude=exclude)
    except ValidationError as error:
        return error.message_dict
    return {}


def our_answer(instance: Any, exclude: Any = None) -> dict[str, list[str]]:
    try:
        instance.validate_constraints(exclude=exclude)
    except ValidationError as error:
        return error.message_dict
    return {}


def broken_consortium() -> Consortium:
    """A consortium that breaks three of its four check constraints."""
    consortium = factories.ConsortiumFactory.build(
        start_date=datetime.date(2024, 1, 1),
        end_date=datetime.date(2023, 12, 31),
        total_budget=Decimal("-1.00"),
        public_funding_share=Decimal("60.00"),
        reporting_period_months=13,
    )
    return consortium


def test_every_model_of_the_project_validates_its_checks_in_one_query() -> None:
    from django.apps import apps

    own = [
        model
        for app in ("consortium", "workpackages", "reporting")
        for model in apps.get_app_config(app).get_models()
        if any(isinstance(c, models.CheckConstraint) for c in model._meta.constraints)
    ]
    assert own
    assert [model for model in own if not issubclass(model, ValidatedModel)] == []


def test_the_refusals_are_djangos_in_the_same_order() -> None:
    consortium = broken_consortium()

    answer = our_answer(consortium)

    assert answer == djangos_answer(consortium)
    assert len(answer[NON_FIELD_ERRORS]) == 3


def test_all_checks_take_one_query_where_django_takes_three_each() -> None:
    consortium = broken_consortium()
    checks = len(Consortium._meta.constraints)
    assert checks == 4

    with CaptureQueriesContext(connection) as ours:
        our_answer(consortium)
    with CaptureQueriesContext(connection) as djangos:
        djangos_answer(consortium)

    # In the test's transaction: a savepoint, the query, its release.
    assert len(ours) == 3
    assert len(djangos) == 3 * checks


def test_a_line_s_checks_and_unique_constraints_answer_as_django_s(budget_line: Any) -> None:
    twin = BudgetLine(
        consortium=budget_line.consortium,
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        category=budget_line.category,
        planned_amount=Decimal("-5.00"),
        funding_rate=Decimal("120.00"),
        status=budget_line.status,
    )

    answer = our_answer(twin)

    assert answer == djangos_answer(twin)
    # The heading's active line already exists, and the amount and the rate are out of bounds.
    assert len(answer[NON_FIELD_ERRORS]) >= 3


@pytest.mark.parametrize(
    "exclude", [{"end_date"}, {"total_budget", "reporting_period_months"}, {"start_date"}]
)
def test_a_check_on_an_excluded_field_is_left_out_as_django_does(exclude: set[str]) -> None:
    consortium = broken_consortium()

    answer = our_answer(consortium, exclude)

    assert answer == djangos_answer(consortium, exclude)
    assert len(answer.get(NON_FIELD_ERRORS, [])) < 3


def test_a_valid_row_passes(consortium: Consortium) -> None:
    assert our_answer(consortium) == djangos_answer(consortium) == {}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite takes a NUL character in text"
)
def test_a_value_the_database_cannot_compare_is_asked_one_by_one(
    partner_a: Partner, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL takes no NUL character in text: the query with every check fails, each check is
    # then asked on its own, and the one on the status is left to the database when the row is
    # written, as Django's own validation does.
    partner_a.status = "withdrawn\x00"
    partner_a.default_funding_rate = Decimal("120.00")
    partner_a.left_on = partner_a.joined_on - datetime.timedelta(days=1)

    with caplog.at_level(logging.WARNING):
        answer = our_answer(partner_a)

    assert answer == djangos_answer(partner_a)
    assert len(answer[NON_FIELD_ERRORS]) == 2
    assert "in one query failed" in caplog.text
