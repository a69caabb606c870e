"""The coordinators' dashboard says what it means: each counter links to the rows it counts
(the admin's list, filtered), the list under a counter holds the same rows, and the page reads
the database in a number of queries that doesn't grow with the consortium."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.web import client_for
from workpackages.jobs.services import job_realise
from workpackages.money.services import expense_accept, expense_submit, statement_submit
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_request_changes,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

pytestmark = pytest.mark.django_db

JUNE = datetime.datetime(2024, 6, 3, 10, 0, tzinfo=datetime.UTC)
# The suite's today is 25 November 2026: month 35 ends in 5 days, month 36 in 36.
COUNTED = (
    "partners",
    "workpackages",
    "on-time",
    "late",
    "not-yet-due",
    "due-soon",
    "deliverables",
    "direct-jobs",
    "indirect-jobs",
    "milestones-achieved",
    "milestones-missed",
    "milestones-overdue",
    "milestones-due-soon",
)


def _pdf() -> ContentFile:
    return ContentFile(b"%PDF-1.4 deliverable", name="report.pdf")


def _deliverable(workpackage: Any, due_month: int, **kwargs: Any) -> Any:
    return factories.DeliverableFactory(workpackage=workpackage, due_month=due_month, **kwargs)


@pytest.fixture
def plan(
    coordinator: Any,
    partner_member: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
    budget_line: Any,
    budget_line_b: Any,
) -> dict[str, Any]:
    """A consortium with deliverables, milestones, money, jobs and statements in every state the
    dashboard counts."""
    approved = _deliverable(workpackage, 6)
    deliverable_submit(deliverable=approved, user=partner_member, file=_pdf(), now=JUNE)
    deliverable_approve(deliverable=approved, user=coordinator, now=JUNE)
    sent_late = _deliverable(workpackage, 3)
    deliverable_submit(
        deliverable=sent_late,
        user=partner_member,
        file=_pdf(),
        late_justification="The GMP suite was requalified.",
        now=JUNE,
    )
    sent_back = _deliverable(workpackage, 9)
    deliverable_submit(deliverable=sent_back, user=partner_member, file=_pdf(), now=JUNE)
    deliverable_request_changes(
        deliverable=sent_back,
        user=coordinator,
        comment="Add the QC data.",
        now=datetime.datetime(2026, 11, 15, 10, tzinfo=datetime.UTC),
    )
    sent_back_early = _deliverable(workpackage, 36)
    deliverable_submit(deliverable=sent_back_early, user=partner_member, file=_pdf(), now=JUNE)
    deliverable_request_changes(
        deliverable=sent_back_early, user=coordinator, comment="More data.", now=JUNE
    )
    never_sent = _deliverable(workpackage, 10)
    _deliverable(workpackage, 35)  # due in 5 days
    _deliverable(workpackage, 36)

    achieved = factories.MilestoneFactory(lead_partner=partner_a, due_month=12)
    milestone_achieve(
        milestone=achieved,
        user=coordinator,
        achieved_on=datetime.date(2024, 12, 1),
        evidence="Signed.",
    )
    missed = factories.MilestoneFactory(lead_partner=partner_a, due_month=13)
    milestone_miss(milestone=missed, user=coordinator, reason="The site closed.")
    overdue = factories.MilestoneFactory(lead_partner=partner_a, due_month=20)
    soon = factories.MilestoneFactory(lead_partner=partner_b, due_month=35)
    factories.MilestoneFactory(lead_partner=partner_b, due_month=36)

    # Partner A's line overspent: 1,200 accepted against 1,000 planned.
    budget_line.planned_amount = budget_line.granted_amount = Decimal("1000.00")
    budget_line.save()
    expense = expense_submit(
        expense=factories.ExpenseFactory(line=budget_line, amount=Decimal("1200.00")),
        user=partner_member,
    )
    expense_accept(expense=expense, user=coordinator)

    for impact in ("direct", "direct", "indirect"):
        job_realise(
            job=factories.JobRecordFactory(partner=partner_a, impact=impact), user=coordinator
        )
    factories.JobRecordFactory(partner=partner_b)  # forecast only

    # P5 (January to June 2026) is the latest ended period: A submitted, B owes one.
    p5 = partner_a.consortium.periods.get(number=5)
    statement_submit(partner=partner_a, period=p5, user=partner_member)
    return {
        "sent_back": sent_back,
        "sent_back_early": sent_back_early,
        "never_sent": never_sent,
        "sent_late": sent_late,
        "overdue_milestone": overdue,
        "soon_milestone": soon,
        "p5": p5,
    }


FIGURE = re.compile(r'<a class="cm-figure[^"]*" data-figure="([^"]+)" href="([^"]+)">([^<]*)</a>')


def _figures(content: str) -> dict[str, tuple[str, int]]:
    """Each linked counter of the dashboard (amounts aside): its link and its first number."""
    found = {}
    for name, href, text in FIGURE.findall(content):
        if "EUR" not in text:
            found[name] = (html.unescape(href), int(text.split("/")[0].strip()))
    return found


def _dashboard(user: Any) -> str:
    response = client_for(user).get(reverse("admin:index"))
    assert response.status_code == 200
    return response.content.decode()


def _rows(user: Any, url: str) -> int:
    """The number of rows the admin's list at `url` shows (its filters applied, not ignored)."""
    response = client_for(user).get(url)
    assert response.status_code == 200, url
    assert "e=1" not in response.get("Location", ""), url
    return response.context["cl"].result_count


def test_each_counter_opens_the_rows_it_counts(coordinator: Any, plan: dict[str, Any]) -> None:
    figures = _figures(_dashboard(coordinator))
    assert set(COUNTED) <= set(figures)
    expected = {
        "on-time": 1,
        "late": 3,  # sent late, sent back (on time) then past due, never sent
        "not-yet-due": 3,
        "due-soon": 1,
        "deliverables": 7,
        "direct-jobs": 2,
        "indirect-jobs": 1,
        "milestones-achieved": 1,
        "milestones-missed": 1,
        "milestones-overdue": 1,
        "milestones-due-soon": 1,
    }
    for name in COUNTED:
        url, number = figures[name]
        assert urlsplit(url).query, name
        assert _rows(coordinator, url) == number, name
        if name in expected:
            assert number == expected[name], name
    # Sent on time, late and not yet due part the deliverables.
    assert (
        figures["on-time"][1] + figures["late"][1] + figures["not-yet-due"][1]
        == figures["deliverables"][1]
    )


def test_the_late_list_holds_the_late_counter_s_rows(
    coordinator: Any, plan: dict[str, Any]
) -> None:
    content = _dashboard(coordinator)
    table = re.search(
        r'<table class="cm-table" data-list="late-deliverables">(.*?)</table>', content, re.S
    )
    assert table is not None
    listed = re.findall(r"/admin/workpackages/deliverable/(\d+)/change/", table.group(1))
    late_url, late = _figures(content)["late"]
    response = client_for(coordinator).get(late_url)
    assert sorted(int(pk) for pk in listed) == sorted(
        row.pk for row in response.context["cl"].result_list
    )
    assert len(listed) == late
    text = html.unescape(re.sub(r"<[^>]+>", " ", table.group(1)))
    # Sent back on time, then late: said as a request of 10 days ago, not 600 days late.
    assert "Changes requested" in text and "requested 10 days ago" in text
    assert "first sent on time" in text
    assert "Sent late" in text and "Not sent" in text


def test_statements_and_charts_and_overspent_badges(
    coordinator: Any, plan: dict[str, Any], partner_a: Any
) -> None:
    content = _dashboard(coordinator)
    period_url = reverse("statements-period", args=[partner_a.consortium_id, plan["p5"].pk])
    figures = _figures(content)
    assert figures["statements-submitted"] == (period_url, 1)
    assert figures["statements-late"] == (period_url, 1)
    page = client_for(coordinator).get(period_url)
    board = page.context["board"]
    assert board.submitted == 1 and board.late == 1
    for name in ("funder-jobs-chart", "funder-budget-chart"):
        # The charts speak the dashboard's language.
        src = f"{reverse(name, args=[partner_a.consortium_id])}?language=en"
        assert f'src="{src}"' in content
        chart = client_for(coordinator).get(src)
        assert chart.status_code == 200 and chart["Content-Type"] == "image/png"
    badges = re.findall(
        r'<a class="cm-badge cm-red" data-badge="overspent" href="([^"]+)"[^>]*>\s*(\d+) overspent',
        content,
    )
    # One in the partners' table (P1), one in the workpackages' (WP1).
    assert len(badges) == 2
    for href, count in badges:
        assert _rows(coordinator, html.unescape(href)) == int(count) == 1


def test_the_dashboard_s_queries_do_not_grow(
    coordinator: Any, plan: dict[str, Any], workpackage: Any, partner_b: Any
) -> None:
    client = client_for(coordinator)
    client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as first:
        client.get(reverse("admin:index"))
    for month in (4, 5, 7, 8):
        _deliverable(workpackage, month)
        factories.MilestoneFactory(lead_partner=partner_b, due_month=month + 10)
        factories.BudgetLineFactory(
            partner=factories.PartnerFactory(consortium=workpackage.consortium),
            workpackage=workpackage,
        )
    with CaptureQueriesContext(connection) as second:
        client.get(reverse("admin:index"))
    assert len(second) == len(first)


def test_a_coordinator_reads_no_other_consortium(
    coordinator: Any, plan: dict[str, Any], other_workpackage: Any
) -> None:
    _deliverable(other_workpackage, 3)
    figures = _figures(_dashboard(coordinator))
    assert _rows(coordinator, figures["late"][0]) == figures["late"][1] == 3
