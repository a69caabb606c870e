"""The funder's pages: an observer signs in and lands on the overview of the consortium they
follow (a chooser when they follow several), reads its figures as of today or as of the end of an
ended period (budget per partner, workpackage and heading, the subsidy due, jobs per partner and
per period, deliverables and milestones, the statements of each period, the report archive and
two charts), in French unless they chose English, and nothing of a consortium they don't follow;
a partner's draft counts nowhere."""

from __future__ import annotations

import datetime
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.choices import ConsortiumRoleKind, MembershipRole
from consortium.models import Profile
from consortium.services import consortium_role_grant, membership_grant, profile_language_set
from reporting.choices import ReportKind
from reporting.models import Report
from reporting.services import report_schedule
from tests import factories
from tests.web import client_for
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine
from workpackages.money.selectors import subsidy_due_by_partner
from workpackages.money.services import expense_accept, expense_submit
from workpackages.overview.selectors import consortium_summary, consumed_by_period_end

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 25)  # FROZEN_AT, tests/conftest.py
CENT = Decimal("0.01")
PNG = b"\x89PNG\r\n\x1a\n"


def _signed_in(user: Any, **headers: str) -> tuple[Client, Any]:
    client = Client(**headers)
    answer = client.post(
        reverse("login"), {"username": user.username, "password": factories.PASSWORD}, follow=True
    )
    return client, answer


def in_english(user: Any) -> Client:
    """A client of `user` who chose English with the language switch."""
    client = client_for(user)
    client.post(reverse("language"), {"language": "en", "next": "/"})
    return client


def _url(consortium: Any, period: Any = None) -> str:
    url = reverse("funder-overview", args=[consortium.pk])
    return f"{url}?period={period.pk}" if period is not None else url


def cells(page: str, row: str) -> list[str]:
    """The text of the cells of the table row whose opening tag carries `row` (an attribute)."""
    found = re.search(rf"<tr {re.escape(row)}[^>]*>(.*?)</tr>", page, re.S)
    assert found, row
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", found.group(1), re.S)
    ]


def money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _accepted(line: Any, period_number: int, amount: str, member: Any, coordinator: Any) -> Any:
    expense = factories.ExpenseFactory(
        line=line, period_number=period_number, amount=Decimal(amount)
    )
    expense_submit(expense=expense, user=member)
    return expense_accept(expense=expense, user=coordinator)


# -- Who reads what ---------------------------------------------------------------------------


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

    _client, answer = _signed_in(observer, HTTP_ACCEPT_LANGUAGE="en")
    assert answer.redirect_chain[-1][0] == reverse("funder-overview", args=[consortium.pk])
    assert answer.status_code == 200
    page = in_english(observer).get(_url(consortium)).content.decode()
    assert consortium.acronym in page and "As of today" in page
    assert f"EUR {money(submitted_expense.amount)}" in page
    assert "777.00" not in page
    assert "Budget by partner" in page and "Budget by workpackage" in page


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
    foreign = [
        reverse(name, args=[other_consortium.pk])
        for name in ("funder-overview", "funder-jobs-chart", "funder-budget-chart")
    ]
    for url in foreign:
        assert client_for(observer).get(url).status_code == 404
    own = [
        reverse(name, args=[consortium.pk])
        for name in ("funder-overview", "funder-jobs-chart", "funder-budget-chart")
    ]
    for url in own:
        assert client_for(partner_member).get(url).status_code == 404
        assert client_for(other_coordinator).get(url).status_code == 404
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert client_for(partner_member).get(reverse("funder")).status_code == 404


def test_the_pages_only_read(observer: Any, consortium: Any) -> None:
    for name in ("funder-overview", "funder-jobs-chart", "funder-budget-chart"):
        url = reverse(name, args=[consortium.pk])
        assert client_for(observer).post(url).status_code == 405


# -- French for the region, English on request -------------------------------------------------


def test_the_pages_are_in_french_for_an_observer_who_chose_no_language(
    observer: Any, consortium: Any, partner_member: Any
) -> None:
    # Whatever the browser says: the language is the reader's choice, and the region's by default.
    client, answer = _signed_in(observer, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    page = answer.content.decode()
    assert answer.redirect_chain[-1][0] == _url(consortium)
    assert '<html lang="fr">' in page and "Budget par partenaire" in page
    assert answer["Content-Language"] == "fr"

    # The language switch of the page's header turns it to English, and it stays so.
    switched = client.post(
        reverse("language"), {"language": "en", "next": _url(consortium)}, follow=True
    )
    page = switched.content.decode()
    assert '<html lang="en">' in page and "Budget by partner" in page
    assert "Budget par partenaire" not in page
    assert '<html lang="en">' in client.get(_url(consortium)).content.decode()
    assert Profile.objects.get(user=observer).language == "en"

    # And back to French.
    client.post(reverse("language"), {"language": "fr", "next": "/"})
    assert '<html lang="fr">' in client.get(_url(consortium)).content.decode()

    # Partners keep the site's default language.
    partner_page = client_for(partner_member).get(reverse("dashboard"))
    assert '<html lang="en">' in partner_page.content.decode()


def test_a_language_chosen_in_the_profile_wins(observer: Any, consortium: Any) -> None:
    profile_language_set(user=observer, language="en")
    _client, answer = _signed_in(observer)
    assert '<html lang="en">' in answer.content.decode()


# -- Budget per heading and the subsidy due ----------------------------------------------------


@pytest.fixture
def money_world(
    consortium: Any,
    coordinator: Any,
    partner_member: Any,
    other_partner_member: Any,
    partner_a: Any,
    partner_b: Any,
    workpackage: Any,
) -> dict[str, Any]:
    """Partner A (default rate 100 %): personnel, operating at a line rate of 70 %, overheads
    (17 % of personnel); partner B (default 50 %): personnel at a line rate of 33.33 %, and
    overheads. Costs accepted in P1, P2 and P3, plus a draft, a submitted and a rejected cost."""
    line = factories.BudgetLineFactory
    lines = {
        "a_personnel": line(partner=partner_a, workpackage=workpackage, heading="personnel"),
        "a_operating": line(
            partner=partner_a,
            workpackage=workpackage,
            heading="operating",
            planned_amount=Decimal("40000.00"),
            funding_rate=Decimal("70.00"),
        ),
        "a_overheads": line(
            partner=partner_a,
            workpackage=workpackage,
            heading="overheads",
            planned_amount=Decimal("17000.00"),
        ),
        "b_personnel": line(
            partner=partner_b,
            workpackage=workpackage,
            heading="personnel",
            funding_rate=Decimal("33.33"),
        ),
        "b_overheads": line(
            partner=partner_b,
            workpackage=workpackage,
            heading="overheads",
            planned_amount=Decimal("17000.00"),
        ),
    }
    # A line without a rate of its own (as imported rows may be): the partner's default applies.
    BudgetLine.objects.filter(pk=lines["b_overheads"].pk).update(funding_rate=None)
    accepted = [
        ("a_personnel", 1, "1333.33", partner_member),
        ("a_personnel", 2, "2000.05", partner_member),
        ("a_operating", 2, "999.99", partner_member),
        ("a_operating", 3, "100.01", partner_member),
        ("b_personnel", 1, "1000.01", other_partner_member),
        ("b_personnel", 3, "4321.09", other_partner_member),
    ]
    for key, number, amount, member in accepted:
        _accepted(lines[key], number, amount, member, coordinator)
    factories.ExpenseFactory(line=lines["a_personnel"], amount=Decimal("777.77"))  # a draft
    pending = factories.ExpenseFactory(
        line=lines["b_personnel"], period_number=2, amount=Decimal("555.55")
    )
    expense_submit(expense=pending, user=other_partner_member)  # waiting for a decision
    return lines


def _consumed(costs: dict[str, list[tuple[int, Decimal]]], key: str, until: int) -> Decimal:
    return sum((amount for number, amount in costs.get(key, []) if number <= until), Decimal(0))


def _expected(until: int) -> dict[str, Any]:
    """The money of `money_world` counting the costs of the periods up to P`until`, computed
    here: consumed per line, per heading, and the subsidy per partner rounded once."""
    costs = {
        "a_personnel": [(1, Decimal("1333.33")), (2, Decimal("2000.05"))],
        "a_operating": [(2, Decimal("999.99")), (3, Decimal("100.01"))],
        "b_personnel": [(1, Decimal("1000.01")), (3, Decimal("4321.09"))],
    }
    a_personnel = _consumed(costs, "a_personnel", until)
    b_personnel = _consumed(costs, "b_personnel", until)
    consumed = {
        "a_personnel": a_personnel,
        "a_operating": _consumed(costs, "a_operating", until),
        "a_overheads": (a_personnel * Decimal("0.17")).quantize(CENT, ROUND_HALF_UP),
        "b_personnel": b_personnel,
        "b_overheads": (b_personnel * Decimal("0.17")).quantize(CENT, ROUND_HALF_UP),
    }
    rates = {
        "a_personnel": Decimal(100),
        "a_operating": Decimal(70),
        "a_overheads": Decimal(100),
        "b_personnel": Decimal("33.33"),
        "b_overheads": Decimal(50),
    }
    subsidy = {
        partner: sum(
            (consumed[key] * rates[key] / 100 for key in consumed if key.startswith(partner)),
            Decimal(0),
        ).quantize(CENT, ROUND_HALF_UP)
        for partner in ("a", "b")
    }
    return {
        "consumed": consumed,
        "personnel": a_personnel + b_personnel,
        "operating": consumed["a_operating"],
        "overheads": consumed["a_overheads"] + consumed["b_overheads"],
        "accepted_a": sum((v for k, v in consumed.items() if k.startswith("a")), Decimal(0)),
        "accepted_b": sum((v for k, v in consumed.items() if k.startswith("b")), Decimal(0)),
        "subsidy": subsidy,
        "total": subsidy["a"] + subsidy["b"],
    }


@pytest.mark.parametrize(("period_number", "until"), [(1, 1), (2, 2), (None, 6)])
def test_the_budget_per_heading_and_the_subsidy_due(
    money_world: dict[str, Any],
    consortium: Any,
    observer: Any,
    partner_a: Any,
    partner_b: Any,
    period_number: int | None,
    until: int,
) -> None:
    period = consortium.periods.get(number=period_number) if period_number else None
    expected = _expected(until)

    subsidy = subsidy_due_by_partner(consortium, until=period.end_date if period else None)
    assert [(row.key, row.accepted, row.subsidy) for row in subsidy.rows] == [
        (partner_a.pk, expected["accepted_a"], expected["subsidy"]["a"]),
        (partner_b.pk, expected["accepted_b"], expected["subsidy"]["b"]),
    ]
    assert subsidy.total == expected["total"]
    assert all(row.subsidy == row.subsidy.quantize(CENT) for row in subsidy.rows)

    page = in_english(observer).get(_url(consortium, period)).content.decode()
    personnel, operating, overheads = (
        consortium.cost_categories.get(code=code)
        for code in ("personnel", "operating", "overheads")
    )
    assert cells(page, f'data-heading="{personnel.pk}"')[3] == money(expected["personnel"])
    assert cells(page, f'data-heading="{operating.pk}"')[3] == money(expected["operating"])
    assert cells(page, f'data-heading="{overheads.pk}"')[3] == money(expected["overheads"])
    assert cells(page, f'data-subsidy="{partner_a.pk}"')[1:3] == [
        money(expected["accepted_a"]),
        money(expected["subsidy"]["a"]),
    ]
    assert cells(page, f'data-subsidy="{partner_b.pk}"')[1:3] == [
        money(expected["accepted_b"]),
        money(expected["subsidy"]["b"]),
    ]
    assert f'data-figure="subsidy-total">{money(expected["total"])}<' in page
    # Nothing but accepted costs: neither the draft nor the cost waiting for a decision.
    for hidden in ("777.77", "555.55"):
        assert hidden not in page


def test_the_heading_table_reads_the_lines_as_the_database_sums_them(
    money_world: dict[str, Any], consortium: Any, observer: Any
) -> None:
    """Planned, granted and consumption per heading, with the page's total row."""
    expected = _expected(6)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.code, SUM(l.planned_amount), SUM(l.granted_amount)
            FROM workpackages_budgetline l JOIN consortium_costcategory c ON c.id = l.category_id
            WHERE l.consortium_id = %s AND l.status = 'active' GROUP BY c.code
            """,
            [consortium.pk],
        )
        sums = {code: (planned, granted) for code, planned, granted in cursor.fetchall()}
    page = in_english(observer).get(_url(consortium)).content.decode()
    for code, consumed in (
        ("personnel", expected["personnel"]),
        ("operating", expected["operating"]),
        ("overheads", expected["overheads"]),
    ):
        heading = consortium.cost_categories.get(code=code)
        planned, granted = sums[code]
        share = (consumed * 100 / planned).quantize(Decimal("0.1"))
        assert cells(page, f'data-heading="{heading.pk}"') == [
            heading.name,
            money(planned),
            money(granted),
            money(consumed),
            f"{share.normalize():f} %" if share == share.to_integral() else f"{share} %",
        ]
    # A heading without a line is listed with zeros.
    equipment = consortium.cost_categories.get(code="equipment")
    assert cells(page, f'data-heading="{equipment.pk}"')[1:] == ["0.00", "0.00", "0.00", "–"]


# -- Jobs per partner and per period -----------------------------------------------------------


def _job(partner: Any, start: datetime.date, **fields: Any) -> Any:
    return factories.JobRecordFactory(partner=partner, start_date=start, **fields)


def _recorded_on(job: JobRecord, day: datetime.date) -> None:
    JobRecord.objects.filter(pk=job.pk).update(
        created_at=datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)
    )


def test_jobs_per_partner_against_commitments_and_per_period(
    consortium: Any, observer: Any, partner_a: Any, partner_b: Any
) -> None:
    partner_a.jobs_commitment_direct, partner_a.jobs_commitment_indirect = 12, 30
    partner_a.save()
    partner_b.jobs_commitment_direct = 5
    partner_b.save()
    realised, indirect = JobStatus.REALISED, JobImpact.INDIRECT
    # Partner A: realised in P1 (1.0 FTE) and P2 (0.5); an indirect one realised in P3;
    # a forecast for P5 recorded in P1; a job withdrawn counts nowhere.
    in_p1 = _job(partner_a, datetime.date(2024, 3, 1), status=realised)
    _recorded_on(in_p1, datetime.date(2024, 3, 1))
    in_p2 = _job(partner_a, datetime.date(2024, 9, 1), status=realised, fte=Decimal("0.50"))
    _recorded_on(in_p2, datetime.date(2024, 5, 2))  # a forecast at P1's end, realised in P2
    indirect_p3 = _job(partner_a, datetime.date(2025, 2, 1), status=realised, impact=indirect)
    _recorded_on(indirect_p3, datetime.date(2025, 2, 1))
    planned_p5 = _job(partner_a, datetime.date(2026, 3, 1), fte=Decimal("0.80"))
    _recorded_on(planned_p5, datetime.date(2024, 4, 1))
    _job(partner_a, datetime.date(2024, 4, 1), status=JobStatus.WITHDRAWN)
    # Partner B: a forecast recorded today for P6, and one after the last period.
    _job(partner_b, datetime.date(2026, 10, 1), fte=Decimal("0.60"))
    _job(partner_b, datetime.date(2027, 3, 1), impact=indirect)

    client = in_english(observer)
    p1 = consortium.periods.get(number=1)
    today = client.get(_url(consortium)).content.decode()
    assert cells(today, f'data-jobs="{partner_a.pk}"')[-10:] == [
        "2", "1.50", "1", "0.80", "12",  # direct: realised, FTE, forecast, FTE, committed
        "1", "1.00", "0", "0.00", "30",
    ]  # fmt: skip
    assert cells(today, f'data-jobs="{partner_b.pk}"')[-10:] == [
        "0", "0.00", "1", "0.60", "5",
        "0", "0.00", "1", "1.00", "0",
    ]  # fmt: skip
    assert cells(today, 'data-period="1"')[1:] == ["1", "1.00", "0", "0", "0.00", "0"]
    assert cells(today, 'data-period="2"')[1:] == ["1", "0.50", "0", "0", "0.00", "0"]
    assert cells(today, 'data-period="3"')[1:] == ["0", "0.00", "0", "1", "1.00", "0"]
    assert cells(today, 'data-period="5"')[1:] == ["0", "0.00", "1", "0", "0.00", "0"]
    assert cells(today, 'data-period="6"')[1:] == ["0", "0.00", "1", "0", "0.00", "0"]
    assert cells(today, 'data-period="outside"')[1:] == ["0", "0.00", "0", "0", "0.00", "1"]
    assert 'data-figure="direct-target">470<' in today

    # As of P1's end: the job started in P2 was a forecast, P3's and today's did not exist yet.
    then = client.get(_url(consortium, p1)).content.decode()
    assert cells(then, f'data-jobs="{partner_a.pk}"')[-10:] == [
        "1", "1.00", "2", "1.30", "12",
        "0", "0.00", "0", "0.00", "30",
    ]  # fmt: skip
    assert cells(then, f'data-jobs="{partner_b.pk}"')[-10:] == [
        "0", "0.00", "0", "0.00", "5",
        "0", "0.00", "0", "0.00", "0",
    ]  # fmt: skip
    assert cells(then, 'data-period="2"')[1:] == ["0", "0.00", "1", "0", "0.00", "0"]
    assert cells(then, 'data-period="3"')[1:] == ["0", "0.00", "0", "0", "0.00", "0"]
    assert 'data-period="outside"' not in then
    # The totals row is the dashboard's.
    summary = consortium_summary(consortium, until=p1.end_date)
    assert summary.dashboard.jobs is not None
    assert summary.dashboard.jobs.direct_realised == 1


# -- Deliverables and milestones ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("period_number", "day"),
    [(None, TODAY), (2, datetime.date(2024, 12, 31)), (3, datetime.date(2025, 6, 30))],
)
def test_deliverables_and_milestones_with_their_state_and_lateness(
    plan: dict[str, Any], consortium: Any, observer: Any, period_number: int | None, day: Any
) -> None:
    period = consortium.periods.get(number=period_number) if period_number else None
    page = in_english(observer).get(_url(consortium, period)).content.decode()

    def late(kind: str, item: Any) -> int:
        found = re.search(rf'<tr data-{kind}="{item.pk}".*?data-days-late="(\d+)"', page, re.S)
        assert found, item
        return int(found.group(1))

    open_late, sent_late = plan["open_late"], plan["sent_late"]
    # D1.1, due 31/12/2024, never sent: late until the day.
    assert late("deliverable", open_late) == max((day - open_late.due_date).days, 0)
    # D1.2, due 28/02/2025, sent on 10/03/2025: ten days late once sent, with its justification.
    sent_row = cells(page, f'data-deliverable="{sent_late.pk}"')
    if day >= datetime.date(2025, 3, 10):
        assert late("deliverable", sent_late) == 10
        assert sent_row[-1] == "The GMP audit moved."
        assert ("Approved" if day >= datetime.date(2025, 3, 20) else "Submitted") in sent_row[3]
        assert "sent on 10/03/2025" in sent_row[3] and "10 days late" in sent_row[3]
    else:
        assert late("deliverable", sent_late) == 0
        assert sent_row[3].startswith("Not sent") and "not late" in sent_row[3]
        assert sent_row[-1] == "–"
    # D1.3 due 30/06/2025, never sent.
    on_last_day = plan["on_last_day"]
    assert late("deliverable", on_last_day) == max((day - on_last_day.due_date).days, 0)

    achieved, missed, pending = plan["achieved"], plan["missed"], plan["due_on_last_day"]
    achieved_row = cells(page, f'data-milestone="{achieved.pk}"')
    assert achieved_row[4] == achieved.means_of_verification
    if day >= datetime.date(2025, 3, 31):  # achieved that day
        assert achieved_row[3].startswith("Achieved")
        assert achieved_row[5] == "Achieved on 31/03/2025: Batch record signed."
    else:
        assert achieved_row[3].startswith("Pending") and achieved_row[5] == "–"
    assert late("milestone", achieved) == 0
    assert late("milestone", missed) == max((day - missed.due_date).days, 0)
    assert late("milestone", pending) == max((day - pending.due_date).days, 0)
    missed_row = cells(page, f'data-milestone="{missed.pk}"')
    if period is None:
        assert (
            missed_row[3].startswith("Missed") and missed_row[5] == "The GMP batch failed release."
        )
    else:
        assert missed_row[3].startswith("Pending")


# -- Statements, reports and their files --------------------------------------------------------


def test_each_ended_period_links_to_its_statements(consortium: Any, observer: Any) -> None:
    page = in_english(observer).get(_url(consortium)).content.decode()
    for period in consortium.periods.filter(end_date__lt=TODAY):
        assert reverse("statements-period", args=[consortium.pk, period.pk]) in page
    current = consortium.periods.get(number=6)
    assert reverse("statements-period", args=[consortium.pk, current.pk]) not in page


def test_the_report_archive_reads_and_downloads_for_the_overseer_only(
    generated_report: Report,
    consortium: Any,
    observer: Any,
    partner_member: Any,
    other_consortium: Any,
    other_coordinator: Any,
    coordinator: Any,
) -> None:
    client = in_english(observer)
    # Until a coordinator sends it, a report is theirs alone.
    draft = report_schedule(
        kind=ReportKind.JOBS,
        consortium=consortium,
        period_start=datetime.date(2025, 7, 1),
        period_end=datetime.date(2025, 7, 31),
    )
    draft_row = f'<tr data-report="{draft.pk}">'
    assert draft_row not in client.get(_url(consortium)).content.decode()
    # The funder's view shows coordinators what the funder reads: their drafts are in the admin.
    assert draft_row not in in_english(coordinator).get(_url(consortium)).content.decode()
    assert generated_report.released_at is not None
    page = client.get(_url(consortium)).content.decode()
    english = generated_report.documents.get(language="en")
    read = reverse("funder-report", args=[consortium.pk, generated_report.pk, "en"])
    row = re.search(rf'<tr data-report="{generated_report.pk}">(.*?)</tr>', page, re.S)
    assert row is not None
    for link in (read, english.pdf.url, english.xlsx.url):
        assert f'href="{link}"' in row.group(1)

    # The HTML, as its recipients read it, its chart from the archive.
    document = client.get(read)
    assert document.status_code == 200
    assert document["Content-Security-Policy"] == (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    )
    assert "private" in document["Cache-Control"]
    assert f'src="{english.chart.url}"' in document.content.decode()
    assert "cid:" not in document.content.decode()
    # In French, the page links the French document.
    french = generated_report.documents.get(language="fr")
    client.post(reverse("language"), {"language": "fr", "next": "/"})
    page_fr = client.get(_url(consortium)).content.decode()
    assert reverse("funder-report", args=[consortium.pk, generated_report.pk, "fr"]) in page_fr
    assert french.pdf.url in page_fr

    # The files: the overseer downloads them, a partner's person and a stranger get a 404.
    for url in (english.pdf.url, english.xlsx.url, english.chart.url):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert b"".join(answer.streaming_content)
        assert client_for(partner_member).get(url).status_code == 404
        assert client_for(other_coordinator).get(url).status_code == 404
    for reader in (partner_member, other_coordinator):
        assert client_for(reader).get(read).status_code == 404
    # A report is read only through the consortium it belongs to, and in a language it has.
    consortium_role_grant(
        consortium=other_consortium,
        user=observer,
        kind=ConsortiumRoleKind.OBSERVER,
        granted_by=None,
    )
    wrong = reverse("funder-report", args=[other_consortium.pk, generated_report.pk, "en"])
    assert client.get(wrong).status_code == 404
    missing = reverse("funder-report", args=[consortium.pk, generated_report.pk, "de"])
    assert client.get(missing).status_code == 404


def test_the_archive_is_newest_first_and_paginated(consortium: Any, observer: Any) -> None:
    start = datetime.date(2025, 1, 6)
    for week in range(12):
        day = start + datetime.timedelta(weeks=week)
        report_schedule(
            kind=ReportKind.PROGRESS,
            consortium=consortium,
            period_start=day,
            period_end=day + datetime.timedelta(days=6),
            release=True,
        )
    client = in_english(observer)
    first = client.get(_url(consortium)).content.decode()
    ids = [int(pk) for pk in re.findall(r'<tr data-report="(\d+)">', first)]
    newest = list(
        Report.objects.filter(consortium=consortium)
        .order_by("-period_end")
        .values_list("pk", flat=True)
    )
    assert ids == newest[:10]
    assert "12 reports" in first and "Being prepared" in first
    second = client.get(_url(consortium), {"reports": 2}).content.decode()
    assert [int(pk) for pk in re.findall(r'<tr data-report="(\d+)">', second)] == newest[10:]


# -- Charts --------------------------------------------------------------------------------------


def test_the_charts_are_png_images_for_the_overseer(
    money_world: dict[str, Any],
    consortium: Any,
    observer: Any,
    coordinator: Any,
    partner_member: Any,
) -> None:
    p2 = consortium.periods.get(number=2)
    client = in_english(observer)
    page = client.get(_url(consortium, p2)).content.decode()
    for name in ("funder-jobs-chart", "funder-budget-chart"):
        url = reverse(name, args=[consortium.pk])
        assert f'<img src="{url}?period={p2.pk}"' in page
        for reader in (client, client_for(coordinator)):
            for query in ({}, {"period": p2.pk}):
                answer = reader.get(url, query)
                assert answer.status_code == 200
                assert answer["Content-Type"] == "image/png"
                assert answer.content.startswith(PNG)
                assert "private" in answer["Cache-Control"]
        assert client_for(partner_member).get(url).status_code == 404
        assert client.get(url, {"period": "999999"}).status_code == 404
    # The alternative texts carry the key figures of the day.
    expected = _expected(2)
    consumed = sum(expected["consumed"].values(), Decimal(0))
    assert f"EUR {money(consumed)} consumed" in page
    assert "0 direct jobs realised of a target of 470" in page


def test_a_chart_on_the_coordinators_dashboard_speaks_the_dashboards_language(
    money_world: dict[str, Any], consortium: Any, coordinator: Any
) -> None:
    client = client_for(coordinator)
    for language in ("en", "fr"):
        dashboard = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE=language)
        assert dashboard.status_code == 200
        for name in ("funder-jobs-chart", "funder-budget-chart"):
            url = f"{reverse(name, args=[consortium.pk])}?language={language}"
            assert f'<img src="{url}"' in dashboard.content.decode()
            # The chart answers in the dashboard's language, not in the funder pages' French.
            chart = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert chart.status_code == 200
            assert chart["Content-Language"] == language
    # Without it, the funder's own pages speak French to a reader who chose no language.
    url = reverse("funder-jobs-chart", args=[consortium.pk])
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "fr"
    assert client.get(url, {"language": "xx"})["Content-Language"] == "fr"


def test_the_budget_chart_points_are_the_pages_figures(
    money_world: dict[str, Any], consortium: Any
) -> None:
    points = consumed_by_period_end(consortium)
    ended = consortium.periods.filter(end_date__lt=TODAY).order_by("number")
    assert [point.day for point in points] == [p.end_date for p in ended] + [TODAY]
    for point, number in zip(points, [1, 2, 3, 4, 5, 6], strict=True):
        assert point.consumed == sum(_expected(number)["consumed"].values(), Decimal(0))
        assert (
            point.consumed
            == consortium_summary(
                consortium, until=None if number == 6 else point.day
            ).dashboard.consumed
        )
    p2 = consortium.periods.get(number=2)
    assert [point.day for point in consumed_by_period_end(consortium, until=p2.end_date)] == [
        datetime.date(2024, 6, 30),
        p2.end_date,
    ]


# -- The figures as of a period, and the cost of the page ---------------------------------------


def test_the_figures_as_of_the_end_of_a_period_the_reader_picks(
    observer: Any,
    consortium: Any,
    coordinator: Any,
    partner_member: Any,
    partner_a: Any,
    budget_line: Any,
) -> None:
    """As of P1's end: P1's accepted costs, not P2's accepted since. As of today: everything."""
    _accepted(budget_line, 1, "1000.00", partner_member, coordinator)
    _accepted(budget_line, 2, "2500.00", partner_member, coordinator)
    p1 = consortium.periods.get(number=1)
    client = in_english(observer)
    page = client.get(_url(consortium, p1)).content.decode()
    assert "As of the end of P1" in page
    assert "EUR 1,000.00" in page and "EUR 3,500.00" not in page
    assert f'<option value="{p1.pk}" selected>' in page
    assert "EUR 3,500.00" in client.get(_url(consortium)).content.decode()
    # A period of another consortium, or one not ended, is no period of this page.
    assert client.get(_url(consortium), {"period": "999999"}).status_code == 404
    current = consortium.periods.get(number=6)
    assert client.get(_url(consortium), {"period": current.pk}).status_code == 404


def _grow(consortium: Any, coordinator: Any, count: int) -> None:
    """`count` more partners, each with lines, accepted and draft costs, jobs, a deliverable, a
    milestone, and a report scheduled."""
    for n in range(count):
        partner = factories.PartnerFactory(consortium=consortium)
        member = factories.UserFactory()
        membership_grant(partner=partner, user=member, role=MembershipRole.FINANCE, granted_by=None)
        wp = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner)
        factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner)
        for heading in ("personnel", "operating", "overheads"):
            line = factories.BudgetLineFactory(partner=partner, workpackage=wp, heading=heading)
            if heading != "overheads":
                _accepted(line, 1 + n % 3, "100.00", member, coordinator)
                factories.ExpenseFactory(line=line, amount=Decimal("9.99"))
        factories.JobRecordFactory(partner=partner, status=JobStatus.REALISED)
        factories.JobRecordFactory(partner=partner, impact=JobImpact.INDIRECT)
        factories.DeliverableFactory(workpackage=wp, lead_partner=partner)
        factories.MilestoneFactory(lead_partner=partner, workpackages=[wp])
        report_schedule(
            kind=ReportKind.JOBS,
            consortium=consortium,
            period_start=datetime.date(2025, 1, 1) + datetime.timedelta(days=31 * n),
            period_end=datetime.date(2025, 1, 28) + datetime.timedelta(days=31 * n),
            release=True,
        )


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_pages_cost_the_same_queries_whatever_the_rows(
    consortium: Any,
    coordinator: Any,
    observer: Any,
    django_assert_max_num_queries: Any,
) -> None:
    client = in_english(observer)
    p2 = consortium.periods.get(number=2)
    urls = [
        _url(consortium),
        _url(consortium, p2),
        reverse("funder-jobs-chart", args=[consortium.pk]),
        reverse("funder-budget-chart", args=[consortium.pk]) + f"?period={p2.pk}",
    ]
    _grow(consortium, coordinator, 1)
    small = [_queries(client, url) for url in urls]
    assert small[0] <= 38  # the overview: 36 when written, sign-in and session included
    _grow(consortium, coordinator, 5)
    for url, count in zip(urls, small, strict=True):
        with django_assert_max_num_queries(count):
            assert client.get(url).status_code == 200
