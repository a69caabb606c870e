"""The coordinators' effort matrix (admin): planned and actual person-months per partner x
workpackage, in the chosen period, cumulated to its end and the plan to date, with the totals,
against values computed here; the period chooser; 404 for anyone but the consortium's
coordinators; a constant number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.web import client_for
from workpackages.money.selectors import EffortFigures

pytestmark = pytest.mark.django_db

# Wednesday 25 November 2026 (tests/conftest.py): P1 to P5 have ended, P6 runs until December.
ENDED = 5
CHOSEN = 3


def _url(consortium: Any, period: Any = None) -> str:
    url = reverse("admin:workpackages_effort_matrix", args=[consortium.pk])
    return url if period is None else f"{url}?period={period.pk}"


def _effort(partner: Any, wp: Any, number: int, planned: str, actual: str | None) -> tuple:
    factories.EffortFactory(
        partner=partner,
        workpackage=wp,
        period_number=number,
        planned_person_months=Decimal(planned),
        actual_person_months=None if actual is None else Decimal(actual),
    )
    return (partner.pk, wp.pk, number, Decimal(planned), Decimal(actual or 0))


@pytest.fixture
def world(consortium: Any, partner_a: Any, partner_b: Any, workpackage: Any) -> dict[str, Any]:
    wp2 = factories.WorkpackageFactory(consortium=consortium, number=2, lead_partner=partner_b)
    factories.WorkpackageParticipantFactory(workpackage=wp2, partner=partner_b)
    rows = [
        _effort(partner_a, workpackage, 1, "6.00", "5.00"),
        _effort(partner_a, workpackage, 3, "4.00", "3.25"),
        _effort(partner_a, workpackage, 6, "2.00", None),
        _effort(partner_b, workpackage, 2, "1.50", "1.00"),
        _effort(partner_b, wp2, 3, "8.00", "7.50"),
        _effort(partner_b, wp2, 4, "3.00", None),
    ]
    return {"rows": rows, "partners": [partner_a, partner_b], "wps": [workpackage, wp2]}


def _expected(rows: list[tuple], keep: Any) -> EffortFigures:
    """The figures of the rows `keep` picks, summed here in Python."""
    picked = [row for row in rows if keep(row)]

    def total(column: int, in_period: Any) -> Decimal:
        return sum((row[column] for row in picked if in_period(row[2])), Decimal("0.00"))

    return EffortFigures(
        planned=total(3, lambda n: n == CHOSEN),
        actual=total(4, lambda n: n == CHOSEN),
        planned_cumulated=total(3, lambda n: n <= CHOSEN),
        actual_cumulated=total(4, lambda n: n <= CHOSEN),
        planned_to_date=total(3, lambda n: n <= ENDED),
    )


def test_the_matrix_figures_and_totals(consortium: Any, coordinator: Any, world: Any) -> None:
    period = consortium.periods.get(number=CHOSEN)
    response = client_for(coordinator).get(_url(consortium, period))
    assert response.status_code == 200
    matrix = response.context["matrix"]
    rows, partners, wps = world["rows"], world["partners"], world["wps"]
    assert matrix.period == period
    assert [row.partner for row in matrix.rows] == partners
    assert matrix.workpackages == wps
    for row in matrix.rows:
        p = row.partner.pk
        assert row.cells == [_expected(rows, lambda r, p=p, w=w: r[:2] == (p, w.pk)) for w in wps]
        assert row.total == _expected(rows, lambda r, p=p: r[0] == p)
    assert matrix.columns == [_expected(rows, lambda r, w=w: r[1] == w.pk) for w in wps]
    assert matrix.total == _expected(rows, lambda r: True)
    # A spot check of the arithmetic itself: B in WP2.
    assert matrix.rows[1].cells[1] == EffortFigures(
        Decimal("8.00"), Decimal("7.50"), Decimal("8.00"), Decimal("7.50"), Decimal("11.00")
    )
    assert matrix.total.planned_to_date == Decimal("22.50")
    assert "Σ" in response.content.decode()


def test_the_running_period_by_default_and_the_chooser(
    consortium: Any, coordinator: Any, world: Any
) -> None:
    client = client_for(coordinator)
    assert client.get(_url(consortium)).context["matrix"].period.number == 6
    first = consortium.periods.get(number=1)
    matrix = client.get(_url(consortium, first)).context["matrix"]
    assert matrix.period == first
    assert matrix.total.actual == Decimal("5.00")


def test_the_dashboard_links_to_the_matrix(consortium: Any, coordinator: Any) -> None:
    response = client_for(coordinator).get(reverse("admin:index"))
    assert _url(consortium) in response.content.decode()


def test_other_consortia_and_their_periods_are_404(
    consortium: Any,
    other_consortium: Any,
    coordinator: Any,
    other_coordinator: Any,
    world: Any,
) -> None:
    assert client_for(other_coordinator).get(_url(consortium)).status_code == 404
    foreign = other_consortium.periods.get(number=1)
    assert client_for(coordinator).get(_url(consortium, foreign)).status_code == 404
    assert client_for(coordinator).get(_url(consortium) + "?period=x").status_code == 404
    missing = reverse("admin:workpackages_effort_matrix", args=[consortium.pk + 10_000])
    assert client_for(coordinator).get(missing).status_code == 404


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_a_constant_number_of_queries(
    consortium: Any, coordinator: Any, world: Any, partner_b: Any
) -> None:
    client = client_for(coordinator)
    url = _url(consortium, consortium.periods.get(number=CHOSEN))
    _queries(client, url)  # Sessions and caches warmed.
    before = _queries(client, url)
    for number in (3, 4):
        partner = factories.PartnerFactory(consortium=consortium, number=number)
        wp = factories.WorkpackageFactory(
            consortium=consortium, number=number, lead_partner=partner
        )
        factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner)
        for period_number in (1, 2, 3):
            _effort(partner, wp, period_number, "1.00", "1.00")
    assert _queries(client, url) == before
