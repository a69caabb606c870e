"""The one consortium the API tests share: built once per test module, in a transaction rolled
back after the module, each test starting from it as built.

Its first rows are those of the fixtures of `tests/conftest.py` (consortium, other_consortium,
partner_a, partner_b, other_partner, workpackage, coordinator, partner_member,
other_partner_member, personnel, operating, budget_line, budget_line_b), made the same way and
under the same names, so that a module using the world gets them from it (`world_fixtures`), or
only them (`base_fixtures`).
On top of them: a second workpackage, and rows in every state the filters and the workflow
actions tell apart (`PLAN`), and rows of the other consortium, whose ids exist but must stay
invisible.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import override_settings

from consortium.choices import ConsortiumRoleKind, MembershipRole, PartnerRole
from consortium.models import CostCategory
from consortium.services import consortium_role_grant, membership_grant
from tests import factories
from tests.conftest import _grant, _member
from workpackages.jobs.choices import JobImpact
from workpackages.jobs.services import job_realise, job_withdraw
from workpackages.money.services import (
    budget_line_cancel,
    expense_accept,
    expense_reject,
    expense_submit,
)
from workpackages.workplan.services import (
    deliverable_request_changes,
    deliverable_submit,
    milestone_achieve,
    milestone_miss,
)

# The smallest PDF the upload checks accept.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
# A moment well before the deliverables' due dates (the `before_due` fixture's).
BEFORE_DUE = datetime.datetime(2024, 6, 3, 10, 0, tzinfo=datetime.UTC)
# The fixtures of tests/conftest.py the world replaces in a module that uses it.
FIXTURES = (
    "consortium",
    "other_consortium",
    "partner_a",
    "partner_b",
    "other_partner",
    "workpackage",
    "coordinator",
    "partner_member",
    "other_partner_member",
    "personnel",
    "operating",
    "budget_line",
    "budget_line_b",
)


@dataclass
class World:
    """The conftest-named rows (`rows`), the plan's rows by name (`plan`: e1…e4 expenses, f1…f3
    effort, j1…j4 jobs, d1…d4 deliverables, m1…m4 milestones, lines, workpackages, periods), and
    per writable resource the fields of a valid new row (`bodies`)."""

    rows: dict[str, Any]
    plan: dict[str, Any]
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.rows[name]
        except KeyError:
            raise AttributeError(name) from None


def _base() -> dict[str, Any]:
    consortium = factories.ConsortiumFactory(acronym="PIT-TEST", name="A test partnership")
    other_consortium = factories.ConsortiumFactory(acronym="PIT-OTHER", name="Another partnership")
    partner_a = factories.PartnerFactory(
        consortium=consortium,
        number=1,
        role=PartnerRole.COORDINATOR,
        organisation__short_name="BioWin",
        organisation__kind="non_profit",
        default_funding_rate=Decimal("100.00"),
    )
    partner_b = factories.PartnerFactory(
        consortium=consortium, number=2, organisation__short_name="CellForge"
    )
    other_partner = factories.PartnerFactory(consortium=other_consortium, number=1)
    workpackage = factories.WorkpackageFactory(
        consortium=consortium, number=1, title="Exosome manufacturing", lead_partner=partner_a
    )
    factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner_a)
    factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner_b)
    return {
        "consortium": consortium,
        "other_consortium": other_consortium,
        "partner_a": partner_a,
        "partner_b": partner_b,
        "other_partner": other_partner,
        "workpackage": workpackage,
        "coordinator": _grant(consortium, ConsortiumRoleKind.COORDINATOR, "coordinator"),
        "partner_member": _member(partner_a, "member-a"),
        "other_partner_member": _member(partner_b, "member-b"),
        "personnel": CostCategory.objects.get(consortium=consortium, code="personnel"),
        "operating": CostCategory.objects.get(consortium=consortium, code="operating"),
        "budget_line": factories.BudgetLineFactory(
            partner=partner_a, workpackage=workpackage, heading="personnel"
        ),
        "budget_line_b": factories.BudgetLineFactory(
            partner=partner_b, workpackage=workpackage, heading="personnel"
        ),
    }


def _plan(rows: dict[str, Any]) -> dict[str, Any]:
    """Two workpackages and, in them, rows in every state the filters tell apart; the
    coordinator runs a second consortium and partner A has a second member, so that every list
    holds two rows at least."""
    consortium, coordinator = rows["consortium"], rows["coordinator"]
    partner_a, partner_b, workpackage = rows["partner_a"], rows["partner_b"], rows["workpackage"]
    partner_member = rows["partner_member"]
    budget_line, budget_line_b = rows["budget_line"], rows["budget_line_b"]
    second = factories.ConsortiumFactory(acronym="PIT-MORE")
    consortium_role_grant(
        consortium=second, user=coordinator, kind=ConsortiumRoleKind.COORDINATOR, granted_by=None
    )
    membership_grant(
        partner=partner_a,
        user=factories.UserFactory(username="member-a2"),
        role=MembershipRole.CONTRIBUTOR,
        granted_by=None,
    )
    wp2 = factories.WorkpackageFactory(
        consortium=consortium, number=2, title="Potency assays", lead_partner=partner_b
    )
    for partner in (partner_a, partner_b):
        factories.WorkpackageParticipantFactory(workpackage=wp2, partner=partner)
    line_op = factories.BudgetLineFactory(
        partner=partner_a, workpackage=wp2, heading="operating", planned_amount=Decimal("5000")
    )
    cancelled = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="equipment"
    )
    budget_line_cancel(line=cancelled, user=coordinator)

    e1 = factories.ExpenseFactory(
        line=budget_line, amount=Decimal("1200.00"), description="Bioreactor bags"
    )
    e2 = factories.ExpenseFactory(
        line=budget_line,
        period_number=2,
        amount=Decimal("300.00"),
        description="Flow cytometry reagents",
    )
    expense_submit(expense=e2, user=partner_member)
    e3 = factories.ExpenseFactory(
        line=line_op, amount=Decimal("500.00"), description="Culture media"
    )
    expense_submit(expense=e3, user=partner_member)
    expense_accept(expense=e3, user=coordinator)
    e4 = factories.ExpenseFactory(
        line=budget_line_b, amount=Decimal("800.00"), description="Secret reagent of CellForge"
    )
    expense_submit(expense=e4, user=coordinator)
    expense_reject(expense=e4, user=coordinator, comment="No invoice.")

    f1 = factories.EffortFactory(partner=partner_a, workpackage=workpackage)
    f2 = factories.EffortFactory(partner=partner_a, workpackage=workpackage, period_number=2)
    f3 = factories.EffortFactory(partner=partner_b, workpackage=workpackage)

    j1 = factories.JobRecordFactory(partner=partner_a, workpackage=workpackage)
    j2 = factories.JobRecordFactory(partner=partner_a, position_title="GMP operator")
    job_realise(job=j2, user=coordinator)
    j3 = factories.JobRecordFactory(partner=partner_a, impact=JobImpact.INDIRECT)
    job_withdraw(job=j3, user=coordinator)
    j4 = factories.JobRecordFactory(partner=partner_b, workpackage=wp2)

    # Deliverables due at the end of months 12 (2024-12-31), 24, 36 and 6 (2024-06-30).
    d1 = factories.DeliverableFactory(workpackage=workpackage, number=1, due_month=12)
    d2 = factories.DeliverableFactory(workpackage=workpackage, number=2, due_month=24)
    deliverable_submit(
        deliverable=d2, user=partner_member, file=ContentFile(PDF, name="d1-2.pdf"), now=BEFORE_DUE
    )
    d3 = factories.DeliverableFactory(
        workpackage=workpackage, number=3, due_month=36, title="Final potency report"
    )
    d4 = factories.DeliverableFactory(workpackage=wp2, number=1, due_month=6)
    deliverable_submit(
        deliverable=d4, user=coordinator, file=ContentFile(PDF, name="d2-1.pdf"), now=BEFORE_DUE
    )
    deliverable_request_changes(deliverable=d4, user=coordinator, comment="Add data.")

    # Milestones due at the end of months 6, 12, 30 and 36.
    m1 = factories.MilestoneFactory(
        lead_partner=partner_a, due_month=6, workpackages=[workpackage, wp2]
    )
    m2 = factories.MilestoneFactory(lead_partner=partner_b, due_month=12, workpackages=[wp2])
    milestone_achieve(
        milestone=m2, user=coordinator, achieved_on=datetime.date(2024, 12, 20), evidence="Signed."
    )
    m3 = factories.MilestoneFactory(
        lead_partner=partner_a, due_month=30, workpackages=[workpackage]
    )
    milestone_miss(milestone=m3, user=coordinator, reason="The trial site closed.")
    m4 = factories.MilestoneFactory(
        lead_partner=partner_a,
        due_month=36,
        workpackages=[workpackage],
        title="Market authorisation filed",
    )

    # Two weekly progress reports in the archive, sent.
    r1 = factories.ReportFactory(consortium=consortium)
    r2 = factories.ReportFactory(
        consortium=consortium,
        period_start=datetime.date(2025, 3, 10),
        period_end=datetime.date(2025, 3, 16),
    )
    return {
        **{f"e{n}": e for n, e in enumerate((e1, e2, e3, e4), 1)},
        **{f"f{n}": f for n, f in enumerate((f1, f2, f3), 1)},
        **{f"j{n}": j for n, j in enumerate((j1, j2, j3, j4), 1)},
        **{f"d{n}": d for n, d in enumerate((d1, d2, d3, d4), 1)},
        **{f"m{n}": m for n, m in enumerate((m1, m2, m3, m4), 1)},
        "line_a": budget_line,
        "line_b": budget_line_b,
        "line_op": line_op,
        "cancelled": cancelled,
        "wp1": workpackage,
        "wp2": wp2,
        "A": partner_a,
        "B": partner_b,
        "consortium": consortium,
        "personnel": rows["personnel"],
        "operating": rows["operating"],
        "P1": consortium.periods.get(number=1),
        "P2": consortium.periods.get(number=2),
        "r1": r1,
        "r2": r2,
    }


def _elsewhere(rows: dict[str, Any]) -> None:
    """A row of each kind in the other consortium: ids that exist and must answer 404."""
    other_partner = rows["other_partner"]
    other_wp = factories.WorkpackageFactory(
        consortium=rows["other_consortium"], number=1, lead_partner=other_partner
    )
    other_line = factories.BudgetLineFactory(partner=other_partner, workpackage=other_wp)
    factories.ExpenseFactory(line=other_line)
    factories.EffortFactory(partner=other_partner, workpackage=other_wp)
    factories.JobRecordFactory(partner=other_partner)
    factories.DeliverableFactory(workpackage=other_wp, number=1)
    factories.MilestoneFactory(lead_partner=other_partner, number=1)
    factories.MembershipFactory(partner=other_partner)


def _bodies(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per writable resource, the fields that together make a valid new row for partner A (or
    B, for a coordinator's budget line)."""
    consortium, workpackage = rows["consortium"], rows["workpackage"]
    partner_a, partner_b = rows["partner_a"], rows["partner_b"]
    return {
        "expenses": {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": rows["personnel"].pk,
            "period": consortium.periods.get(number=1).pk,
            "incurred_on": "2024-02-20",
            "amount": "450.00",
        },
        "budget-lines": {
            "partner": partner_b.pk,
            "workpackage": workpackage.pk,
            "category": rows["operating"].pk,
            "planned_amount": "20000.00",
        },
        "effort": {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "period": consortium.periods.get(number=3).pk,
            "actual_person_months": "2.50",
        },
        "jobs": {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "fte": "0.80",
            "start_date": "2025-02-01",
        },
    }


def build_world() -> World:
    rows = _base()
    plan = _plan(rows)
    _elsewhere(rows)
    return World(rows=rows, plan=plan, bodies=_bodies(rows))


@pytest.fixture(scope="module")
def _world_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the world's files (the submitted deliverables) are written."""
    return tmp_path_factory.mktemp("world-media")


@pytest.fixture(scope="module")
def _world(django_db_setup: Any, django_db_blocker: Any, _world_media: Path) -> Iterator[World]:
    """The world, built once for the module in a transaction rolled back after it.

    Each test runs in a savepoint of that transaction (pytest-django's `django_db`): every test
    starts from the world as built, as if it had built it itself."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(MEDIA_ROOT=_world_media):
            built = build_world()
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def world(_world: World, settings: Any, tmp_path: Path, _world_media: Path) -> World:
    # A throw-away media folder for each test, holding the world's files.
    settings.MEDIA_ROOT = tmp_path / "media"
    shutil.copytree(_world_media, settings.MEDIA_ROOT, dirs_exist_ok=True)
    for row in (*_world.rows.values(), *_world.plan.values()):
        # Each test gets the rows as built, not as a previous test left them in memory.
        if hasattr(row, "refresh_from_db") and row.pk is not None:
            row.refresh_from_db()
    return _world


def world_fixtures() -> dict[str, Any]:
    """Fixtures named as those of tests/conftest.py, answering the world's rows, for a module to
    take into its namespace (`globals().update(world_fixtures())`)."""

    def make(name: str) -> Any:
        @pytest.fixture(name=name)
        def fixture(world: World) -> Any:
            return world.rows[name]

        return fixture

    return {f"_world_{name}": make(name) for name in FIXTURES}


def base_fixtures() -> dict[str, Any]:
    """Fixtures named as those of tests/conftest.py in `FIXTURES`, built once per module (the
    world's first rows only, without its plan) in a transaction rolled back after the module, for
    a module of many small tests that build the rest of what each needs on top of them
    (`globals().update(base_fixtures())`). Each test reads the rows as built."""

    # Autouse, so that it is built before each test's own transaction begins, even for a test
    # that asks for its fixtures by name as it goes (`request.getfixturevalue`).
    @pytest.fixture(scope="module", autouse=True)
    def _base_rows(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
        with django_db_blocker.unblock(), transaction.atomic():
            yield _base()
            transaction.set_rollback(True)

    def make(name: str) -> Any:
        @pytest.fixture(name=name)
        def fixture(_base_rows: dict[str, Any], db: Any) -> Any:
            row = _base_rows[name]
            # As built, not as a previous test of the module left it in memory.
            row.refresh_from_db()
            return row

        return fixture

    return {"_base_rows": _base_rows, **{f"_base_{name}": make(name) for name in FIXTURES}}
