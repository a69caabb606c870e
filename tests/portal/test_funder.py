"""The funder's pages: an observer signs in and lands on the overview of the consortium they
follow (a chooser when they follow several), reads its figures as of today in their language,
and nothing of a consortium they don't follow; a partner's draft counts nowhere."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from consortium.choices import ConsortiumRoleKind
from consortium.services import consortium_role_grant
from tests import factories
from tests.web import client_for
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.services import expense_accept, expense_submit
from workpackages.overview.selectors import consortium_summary

pytestmark = pytest.mark.django_db


def _signed_in(user: Any, **headers: str) -> tuple[Client, Any]:
    client = Client(**headers)
    answer = client.post(
        reverse("login"), {"username": user.username, "password": factories.PASSWORD}, follow=True
    )
    return client, answer


def test_an_observer_lands_on_the_overview_of_their_consortium(
    observer: Any,
    consortium: Any,
    coordinator: Any,
    partner_member: Any,
    submitted_expense: Any,
    budget_line: Any,
) -> None:
    expense_accept(expense=submitted_expense, user=coordinator)
    factories.ExpenseFactory(line=budget_line, amount=Decimal("777.00"))  # a draft

    _client, answer = _signed_in(observer)
    assert answer.redirect_chain[-1][0] == reverse("funder-overview", args=[consortium.pk])
    assert answer.status_code == 200
    page = answer.content.decode()
    assert consortium.acronym in page and "As of today" in page
    consumed = submitted_expense.amount
    assert f"EUR {consumed:,.2f}" in page
    assert "777.00" not in page
    assert "Budget by partner" in page and "Budget by workpackage" in page


def test_the_overview_is_in_french_for_a_french_reader(observer: Any, consortium: Any) -> None:
    _client, answer = _signed_in(observer, HTTP_ACCEPT_LANGUAGE="fr")
    page = answer.content.decode()
    assert '<html lang="fr">' in page
    assert "Budget par partenaire" in page


def test_an_observer_of_several_consortia_chooses(
    observer: Any, consortium: Any, other_consortium: Any
) -> None:
    consortium_role_grant(
        consortium=other_consortium,
        user=observer,
        kind=ConsortiumRoleKind.OBSERVER,
        granted_by=None,
    )
    client = client_for(observer)
    chooser = client.get(reverse("funder"))
    assert chooser.status_code == 200
    page = chooser.content.decode()
    for followed in (consortium, other_consortium):
        assert reverse("funder-overview", args=[followed.pk]) in page
    overview = client.get(reverse("funder-overview", args=[other_consortium.pk]))
    assert overview.status_code == 200
    assert reverse("funder") in overview.content.decode()


def test_nobody_reads_a_consortium_they_do_not_follow(
    observer: Any,
    other_consortium: Any,
    consortium: Any,
    partner_member: Any,
    other_coordinator: Any,
) -> None:
    url = reverse("funder-overview", args=[other_consortium.pk])
    assert client_for(observer).get(url).status_code == 404
    own = reverse("funder-overview", args=[consortium.pk])
    assert client_for(partner_member).get(own).status_code == 404
    assert client_for(other_coordinator).get(own).status_code == 404
    assert client_for(partner_member).get(reverse("funder")).status_code == 404
    anonymous = Client().get(own)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_pages_only_read(observer: Any, consortium: Any) -> None:
    url = reverse("funder-overview", args=[consortium.pk])
    assert client_for(observer).post(url).status_code == 405


def _accepted(line: Any, period_number: int, amount: str, partner_member: Any, coordinator: Any):
    expense = factories.ExpenseFactory(
        line=line, period_number=period_number, amount=Decimal(amount)
    )
    expense_submit(expense=expense, user=partner_member)
    return expense_accept(expense=expense, user=coordinator)


def _sql_consumed_until(consortium: Any, day: Any) -> Decimal:
    """The same figure written in SQL: accepted costs of the periods ended by `day` (the test's
    lines have no flat-rate heading)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COALESCE(SUM(e.accepted_amount), 0)
            FROM workpackages_expense e
            JOIN consortium_reportingperiod p ON p.id = e.period_id
            WHERE e.consortium_id = %s AND e.status = 'accepted' AND p.end_date <= %s
            """,
            [consortium.pk, day],
        )
        return Decimal(cursor.fetchone()[0])


def test_the_figures_as_of_the_end_of_a_period_the_reader_picks(
    observer: Any,
    consortium: Any,
    coordinator: Any,
    partner_member: Any,
    partner_a: Any,
    budget_line: Any,
) -> None:
    """As of P1's end: P1's accepted costs, not P2's accepted since; a job realised in P2 was
    still a forecast, and one recorded since did not exist. As of today: everything."""
    _accepted(budget_line, 1, "1000.00", partner_member, coordinator)
    _accepted(budget_line, 2, "2500.00", partner_member, coordinator)
    p1, p2 = consortium.periods.get(number=1), consortium.periods.get(number=2)
    job = factories.JobRecordFactory(
        partner=partner_a,
        status=JobStatus.REALISED,
        start_date=p2.start_date + datetime.timedelta(days=10),
    )
    # Recorded as a forecast during P1, realised in P2.
    JobRecord.objects.filter(pk=job.pk).update(
        created_at=datetime.datetime(2024, 5, 2, 10, 0, tzinfo=datetime.UTC)
    )
    # Recorded today for a job started in P2: it did not exist at P1's end.
    factories.JobRecordFactory(partner=partner_a, start_date=p2.start_date)

    summary = consortium_summary(consortium, until=p1.end_date)
    assert summary.dashboard.jobs is not None
    assert (
        summary.dashboard.consumed
        == Decimal("1000.00")
        == _sql_consumed_until(consortium, p1.end_date)
    )
    assert summary.dashboard.jobs.direct_realised == 0
    assert summary.dashboard.jobs.headcount(JobImpact.DIRECT, JobStatus.FORECAST) == 1
    today = consortium_summary(consortium)
    assert today.dashboard.jobs is not None
    assert (
        today.dashboard.consumed
        == Decimal("3500.00")
        == _sql_consumed_until(consortium, today.today)
    )
    assert today.dashboard.jobs.direct_realised == 1
    assert today.dashboard.jobs.headcount(JobImpact.DIRECT, JobStatus.FORECAST) == 1

    client = client_for(observer)
    url = reverse("funder-overview", args=[consortium.pk])
    page = client.get(url, {"period": p1.pk}).content.decode()
    assert "As of the end of P1" in page
    assert "EUR 1,000.00" in page and "EUR 3,500.00" not in page
    assert f'<option value="{p1.pk}" selected>' in page
    assert "EUR 3,500.00" in client.get(url).content.decode()
    # A period of another consortium, or one not ended, is no period of this page.
    assert client.get(url, {"period": "999999"}).status_code == 404
    current = consortium.periods.filter(end_date__gte=today.today).order_by("number").first()
    if current is not None:
        assert client.get(url, {"period": current.pk}).status_code == 404
