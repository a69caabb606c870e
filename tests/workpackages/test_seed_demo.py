"""The demo command builds the PIT-ATMP partnership once, consistently, and only where allowed.

Building the demo runs a few tens of thousands of validated writes, so a test builds it once and
checks every subject through the `check_*` helpers instead of rebuilding it per subject: here in
mid-summer, and on New Year's Day the demo `tests/demo/` shares (`tests/demo/test_seed.py`).
"""

import datetime
from decimal import Decimal
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, OuterRef, Subquery, Sum
from django.utils import timezone

from consortium.models import (
    Consortium,
    ConsortiumRole,
    Membership,
    Organisation,
    Partner,
)
from consortium.validators import validate_enterprise_number
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant

COUNTED = (
    Consortium,
    Organisation,
    Partner,
    Workpackage,
    WorkpackageParticipant,
    Deliverable,
    Milestone,
    BudgetLine,
    Expense,
    Effort,
    JobRecord,
    Statement,
    ConsortiumRole,
    Membership,
)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    rows = {model.__name__: model.objects.count() for model in COUNTED}
    rows["User"] = get_user_model().objects.count()
    return rows


# Mid-summer, years on: a period ended a few weeks ago.
MID_SUMMER = datetime.datetime(2029, 7, 20, 16, tzinfo=ZoneInfo("Europe/Brussels"))


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug(settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        seed()

    assert not Consortium.objects.exists()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_the_demo_holds_together_whatever_the_day_it_is_seeded(settings: Any) -> None:
    """The demo is built around the day it is seeded: on another day than New Year's it still has
    everything the checks below and the browser walkthrough need. (The same checks run on the
    demo seeded on New Year's Day in tests/demo/test_seed.py.)"""
    settings.DEBUG = False
    with time_machine.travel(MID_SUMMER, tick=True):
        seed("--force")
        check_work_plan()
        check_budget_and_expenses()
        check_jobs()
        check_logins()
        check_statements()


def check_work_plan() -> None:
    consortium = Consortium.objects.get(acronym="PIT-ATMP")
    assert consortium.total_budget == Decimal("81000000.00")
    # Seeded on any day, the partnership is in its third and last calendar year.
    year = timezone.localdate().year
    assert consortium.start_date == datetime.date(year - 2, 1, 1)
    assert consortium.end_date == datetime.date(year, 12, 31)
    assert consortium.periods.count() == 6

    partners = Partner.objects.filter(consortium=consortium)
    assert partners.count() == 26
    assert partners.filter(role="coordinator").count() == 1
    assert partners.get(role="coordinator").organisation.short_name == "BioWin"
    assert not partners.filter(participations__isnull=True).exists()
    for organisation in Organisation.objects.all():
        assert organisation.enterprise_number
        validate_enterprise_number(organisation.enterprise_number)

    workpackages = Workpackage.objects.filter(consortium=consortium)
    assert workpackages.count() == 12
    for workpackage in workpackages:
        assert 3 <= workpackage.participations.count() <= 11
        assert 4 <= workpackage.deliverables.count() <= 6
    deliverables = Deliverable.objects.filter(consortium=consortium)
    assert 55 <= deliverables.count() <= 65
    assert deliverables.filter(status="approved").exists()
    assert deliverables.filter(status="submitted").exists()
    assert deliverables.filter(status="changes_requested").count() == 1
    assert deliverables.overdue().count() >= 3

    milestones = Milestone.objects.filter(consortium=consortium)
    assert milestones.count() == 24
    assert milestones.filter(status="achieved").exists()
    assert 1 <= milestones.filter(status="missed").count() <= 2


def check_budget_and_expenses() -> None:
    lines = BudgetLine.objects.filter(status="active")
    totals = lines.aggregate(planned=Sum("planned_amount"), granted=Sum("granted_amount"))
    assert totals["planned"] == Decimal("81000000.00")
    assert Decimal("0.58") <= totals["granted"] / totals["planned"] <= Decimal("0.62")

    accepted = (
        Expense.objects.filter(
            partner=OuterRef("partner"),
            workpackage=OuterRef("workpackage"),
            category=OuterRef("category"),
            status="accepted",
        )
        .order_by()
        .values("partner")
        .annotate(total=Sum("accepted_amount"))
        .values("total")
    )
    overspent = lines.annotate(accepted=Subquery(accepted)).filter(accepted__gt=F("planned_amount"))
    assert overspent.count() == 1
    assert not Expense.objects.filter(category__kind="flat_rate").exists()
    for status in ("draft", "submitted", "accepted", "rejected"):
        assert Expense.objects.filter(status=status).exists()


def check_jobs() -> None:
    consortium = Consortium.objects.get(acronym="PIT-ATMP")
    assert consortium.direct_jobs_target == 470
    assert consortium.indirect_jobs_target == 1200
    jobs = JobRecord.objects.filter(consortium=consortium)
    assert jobs.filter(impact="direct").count() == 470
    assert jobs.filter(impact="indirect").count() == 1200
    assert 0.5 < jobs.filter(status="realised").count() / jobs.count() < 0.7


def check_logins() -> None:
    users = {user.username: user for user in get_user_model().objects.all()}
    assert set(users) == {"coordinator", "observer", "partner1", "partner2"}
    for user in users.values():
        assert user.check_password("demo")
        assert user.email
    assert ConsortiumRole.objects.get(user=users["coordinator"]).kind == "coordinator"
    assert ConsortiumRole.objects.get(user=users["observer"]).kind == "observer"
    finance = Membership.objects.get(user=users["partner1"])
    contact = Membership.objects.get(user=users["partner2"])
    assert finance.role == "finance"
    assert finance.partner.organisation.kind == "university"
    assert contact.role == "contact"
    assert contact.partner.organisation.kind in {"large_company", "sme", "start_up"}
    assert finance.partner != contact.partner
    assert users["coordinator"].is_staff
    assert not users["observer"].is_staff
    assert not users["partner1"].is_staff


def check_statements() -> None:
    """Each partner has filed its statement for every ended period but one: partner1's partner's
    latest, left for partner1 to submit. partner1's partner also leads an open deliverable."""
    consortium = Consortium.objects.get(acronym="PIT-ATMP")
    today = timezone.localdate()
    ended = list(consortium.periods.filter(end_date__lt=today).order_by("number"))
    finance = Membership.objects.get(user__username="partner1").partner
    filed = set(Statement.objects.values_list("partner", "period"))
    # A period that ended yesterday has no statement yet.
    yesterday = today - datetime.timedelta(days=1)
    expected = {
        (partner.pk, period.pk)
        for partner in consortium.partners.all()
        for period in ended
        if period.end_date < yesterday
    } - {(finance.pk, ended[-1].pk)}
    assert filed == expected
    for statement in Statement.objects.select_related("period"):
        assert statement.submitted_at.date() > statement.period.end_date
        expenses = Expense.objects.filter(
            partner=statement.partner, period=statement.period
        ).exclude(status="withdrawn")
        assert statement.lines == expenses.count()
        assert statement.total == (expenses.aggregate(total=Sum("amount"))["total"] or 0)
    assert Expense.objects.filter(partner=finance, period=ended[-1]).exists()
    # Its final report is due at the partnership's end, in this year: there is one to send.
    assert Deliverable.objects.filter(
        lead_partner=finance, status__in=["planned", "in_progress"]
    ).exists()
