"""The partner's effort page (`/effort/`): its workpackages only, prefilled with the planned and
actual person-months; actuals saved through the effort's write rule (with history); a period
whose statement is submitted is read-only and refused when posted; bad values refused with
nothing changed; other consortia's periods are 404; a constant number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.web import client_for
from workpackages.money.models import Effort
from workpackages.money.services import statement_submit

pytestmark = pytest.mark.django_db


def _field(period: Any, wp: Any) -> str:
    return f"p{period.pk}-wp_{wp.pk}"


def _post(user: Any, period: Any, values: dict[Any, str]) -> Any:
    data = {_field(period, wp): value for wp, value in values.items()}
    return client_for(user).post(reverse("effort-period", args=[period.pk]), data)


def _state() -> list[tuple]:
    return list(
        Effort.objects.order_by("pk").values_list(
            "pk",
            "partner_id",
            "workpackage_id",
            "period_id",
            "planned_person_months",
            "actual_person_months",
            "updated_at",
        )
    )


@pytest.fixture
def world(consortium: Any, partner_a: Any, partner_b: Any, workpackage: Any) -> dict[str, Any]:
    """WP1 (A and B take part) with A's plan of P2; WP2, in which A takes no part."""
    wp2 = factories.WorkpackageFactory(consortium=consortium, number=2, lead_partner=partner_b)
    factories.WorkpackageParticipantFactory(workpackage=wp2, partner=partner_b)
    p1, p2 = consortium.periods.get(number=1), consortium.periods.get(number=2)
    planned = factories.EffortFactory(
        partner=partner_a,
        workpackage=workpackage,
        period_number=2,
        planned_person_months=Decimal("4.50"),
        actual_person_months=Decimal("4.00"),
    )
    theirs = factories.EffortFactory(
        partner=partner_b,
        workpackage=wp2,
        period_number=2,
        planned_person_months=Decimal("7.00"),
        actual_person_months=Decimal("6.00"),
    )
    return {"wp2": wp2, "p1": p1, "p2": p2, "planned": planned, "theirs": theirs}


def test_the_page_lists_the_partner_s_workpackages_prefilled(
    partner_member: Any, workpackage: Any, world: Any
) -> None:
    response = client_for(partner_member).get(reverse("effort"))
    assert response.status_code == 200
    sections = {s["period"].number: s for s in response.context["sections"]}
    assert set(sections) == {1, 2, 3, 4, 5, 6}  # Every period begun by 25 November 2026.
    assert response.context["workpackages"] == [workpackage]  # Not WP2.
    p2 = sections[2]
    assert [(r["workpackage"], r["planned"], r["actual"]) for r in p2["rows"]] == [
        (workpackage, Decimal("4.50"), Decimal("4.00"))
    ]
    assert p2["form"][f"wp_{workpackage.pk}"].value() == Decimal("4.00")
    html = response.content.decode()
    assert f'name="{_field(world["p2"], workpackage)}"' in html
    assert "WP2" not in html and "6.00" not in html  # B's own effort stays B's.
    assert reverse("effort") in html  # The menu entry.


def test_actuals_are_saved_through_the_write_rule(
    partner_member: Any, partner_a: Any, workpackage: Any, world: Any
) -> None:
    response = _post(partner_member, world["p2"], {workpackage: "5.25"})
    assert response.status_code == 302
    planned = Effort.objects.get(pk=world["planned"].pk)
    assert planned.actual_person_months == Decimal("5.25")
    assert planned.planned_person_months == Decimal("4.50")
    assert planned.history.latest().history_user == partner_member
    # A period without a row: the row is created with the actuals, its plan left at zero.
    assert _post(partner_member, world["p1"], {workpackage: "1.75"}).status_code == 302
    created = Effort.objects.get(partner=partner_a, workpackage=workpackage, period=world["p1"])
    assert (created.planned_person_months, created.actual_person_months) == (
        Decimal("0.00"),
        Decimal("1.75"),
    )
    assert created.history.count() == 1
    # An empty field creates nothing.
    p3 = workpackage.consortium.periods.get(number=3)
    count = Effort.objects.count()
    assert _post(partner_member, p3, {workpackage: ""}).status_code == 302
    assert Effort.objects.count() == count


def test_a_submitted_statement_locks_its_period(
    partner_member: Any, partner_a: Any, workpackage: Any, world: Any
) -> None:
    statement_submit(partner=partner_a, period=world["p2"], user=partner_member)
    page = client_for(partner_member).get(reverse("effort"))
    section = next(s for s in page.context["sections"] if s["period"] == world["p2"])
    assert section["form"] is None
    assert f'name="{_field(world["p2"], workpackage)}"' not in page.content.decode()
    before = _state()
    response = _post(partner_member, world["p2"], {workpackage: "9.00"})
    assert response.status_code == 200
    assert (
        f"The statement of {world['p2']} has been submitted: its actual person-months no "
        "longer change."
    ) in response.content.decode().replace("&#x27;", "'")
    assert _state() == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "greater than or equal to 0"),
        ("10000.01", "less than or equal to 10000"),
        ("many", "Enter a number."),
        ("1.234", "no more than 2 decimal places"),
    ],
)
def test_bad_values_are_refused_with_nothing_changed(
    partner_member: Any, workpackage: Any, world: Any, value: str, message: str
) -> None:
    before = _state()
    response = _post(partner_member, world["p2"], {workpackage: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert _state() == before


def test_other_consortia_s_periods_are_404_and_others_rows_untouched(
    partner_member: Any,
    other_partner_member: Any,
    other_consortium: Any,
    workpackage: Any,
    world: Any,
) -> None:
    foreign = other_consortium.periods.get(number=1)
    before = _state()
    assert _post(partner_member, foreign, {workpackage: "1.00"}).status_code == 404
    # A field for a workpackage the partner takes no part in is no field of the form.
    assert _post(partner_member, world["p2"], {world["wp2"]: "0.50"}).status_code == 302
    assert _state() == before
    # B reads its own rows, never A's.
    page = client_for(other_partner_member).get(reverse("effort"))
    assert "4.50" not in page.content.decode()


def _queries(user: Any) -> int:
    client = client_for(user)
    client.get(reverse("effort"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("effort")).status_code == 200
    return len(queries)


def test_a_constant_number_of_queries(
    consortium: Any, partner_member: Any, partner_a: Any, world: Any
) -> None:
    before = _queries(partner_member)
    for number in (3, 4, 5):
        wp = factories.WorkpackageFactory(consortium=consortium, number=number)
        factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner_a)
        for period_number in (1, 3, 5):
            factories.EffortFactory(partner=partner_a, workpackage=wp, period_number=period_number)
    assert _queries(partner_member) == before
