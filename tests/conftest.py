"""Shared fixtures: two consortia, two partners in the first, and one user per role.

Role fixtures return users; they are granted their roles through the services, as in production, so
that `is_staff` follows the same rule.

Every test runs on a clock that starts at `FROZEN_AT` and ticks from there (time-machine), so that
"today" is the same on any day the suite runs: the test consortium runs from 2024 to 2026 and its
fixtures (a deliverable due in month 35, a period ended in June) mean what their docstrings say. A
test about the real day asks for it with `@pytest.mark.real_clock`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.utils import translation

from consortium.choices import ConsortiumRoleKind, MembershipRole, PartnerRole
from consortium.models import CostCategory
from consortium.services import consortium_role_grant, membership_grant
from tests import factories
from workpackages.money.services import expense_submit

# Wednesday 25 November 2026, mid-morning in Brussels: in the test consortium's last year
# (2024-01-01 to 2026-12-31), five periods ended, the sixth running, month 35 not yet over.
FROZEN_AT = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/Brussels"))

_clock: Any = None


def pytest_configure(config: pytest.Config) -> None:
    # Started before any fixture, module- and session-scoped ones included, so that every row a
    # test reads was written on the same calendar as the test itself.
    global _clock
    _clock = time_machine.travel(FROZEN_AT, tick=True)
    _clock.start()


# The browser's fixtures and the walkthrough two modules take.
pytest_plugins = ("tests.browser", "tests.databases")

# Folders whose modules share a package-scoped fixture too costly to build twice (the seeded demo
# of tests/demo/): `make test` runs each of them whole on one worker, like a single file.
SHARED_SCOPES = ("tests/demo/",)

# The files and shared folders that take longest, longest first, are handed out first: with
# `--dist loadfile` a file runs whole on one worker, and a long one handed out last would leave
# the other worker idle while it ends. (`make test` turns off xdist's own order, which is by number
# of tests.)
LONGEST_FIRST = (
    "tests/demo/",
    "tests/portal/test_browser.py",
    "tests/reporting/test_tasks.py",
    "tests/api/test_schema_fuzz.py",
    "tests/workpackages/test_seed_demo.py",
    "tests/workpackages/test_generate_scale.py",
    "tests/rules/test_doors.py",
    "tests/api/test_filters.py",
    "tests/workpackages/test_admin_validation.py",
    "tests/api/test_permissions_matrix.py",
    "tests/operations/test_backup.py",
    "tests/webhooks/test_worker.py",
)


def scope_of(nodeid: str) -> str:
    """The unit `make test` hands a worker whole: a test's file, or the shared folder it is in."""
    path = nodeid.split("::", 1)[0]
    return next((folder for folder in SHARED_SCOPES if path.startswith(folder)), path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Longest first; within a shared folder, the tests that change its shared fixture last.
    rank = {path: position for position, path in enumerate(LONGEST_FIRST)}
    items.sort(
        key=lambda item: (
            rank.get(scope_of(item.nodeid), len(rank)),
            "demo_to_change" in getattr(item, "fixturenames", ()),
        )
    )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with each of `SHARED_SCOPES` handed out as one file."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedScopeScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return SharedScopeScheduling(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _clock is not None:
        _clock.stop()


@pytest.fixture(autouse=True)
def _real_clock(request: pytest.FixtureRequest) -> Any:
    """Tests marked `real_clock` run on the machine's clock (or on `faketime`'s)."""
    if request.node.get_closest_marker("real_clock") is None:
        yield
        return
    now = time_machine.escape_hatch.time.time()
    with time_machine.travel(now, tick=True):
        yield


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    # Uploaded deliverables and evidence land in a throw-away folder, not in var/.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def consortium() -> Any:
    return factories.ConsortiumFactory(acronym="PIT-TEST", name="A test partnership")


@pytest.fixture
def other_consortium() -> Any:
    return factories.ConsortiumFactory(acronym="PIT-OTHER", name="Another partnership")


@pytest.fixture
def partner_a(consortium: Any) -> Any:
    return factories.PartnerFactory(
        consortium=consortium,
        number=1,
        role=PartnerRole.COORDINATOR,
        organisation__short_name="BioWin",
        organisation__kind="non_profit",
        default_funding_rate=Decimal("100.00"),
    )


@pytest.fixture
def partner_b(consortium: Any) -> Any:
    return factories.PartnerFactory(
        consortium=consortium, number=2, organisation__short_name="CellForge"
    )


@pytest.fixture
def other_partner(other_consortium: Any) -> Any:
    return factories.PartnerFactory(consortium=other_consortium, number=1)


@pytest.fixture
def workpackage(consortium: Any, partner_a: Any, partner_b: Any) -> Any:
    wp = factories.WorkpackageFactory(
        consortium=consortium, number=1, title="Exosome manufacturing", lead_partner=partner_a
    )
    factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner_a)
    factories.WorkpackageParticipantFactory(workpackage=wp, partner=partner_b)
    return wp


@pytest.fixture
def other_workpackage(other_consortium: Any, other_partner: Any) -> Any:
    return factories.WorkpackageFactory(
        consortium=other_consortium, number=1, lead_partner=other_partner
    )


@pytest.fixture
def personnel(consortium: Any) -> CostCategory:
    return CostCategory.objects.get(consortium=consortium, code="personnel")


@pytest.fixture
def operating(consortium: Any) -> CostCategory:
    return CostCategory.objects.get(consortium=consortium, code="operating")


@pytest.fixture
def overheads(consortium: Any) -> CostCategory:
    return CostCategory.objects.get(consortium=consortium, code="overheads")


@pytest.fixture
def period(consortium: Any) -> Any:
    """The first reporting period: January to June 2024."""
    return consortium.periods.get(number=1)


@pytest.fixture
def budget_line(partner_a: Any, workpackage: Any) -> Any:
    return factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="personnel"
    )


@pytest.fixture
def budget_line_b(partner_b: Any, workpackage: Any) -> Any:
    return factories.BudgetLineFactory(
        partner=partner_b, workpackage=workpackage, heading="personnel"
    )


@pytest.fixture
def expense(budget_line: Any) -> Any:
    """A draft expense of partner A, dated 15 January 2024."""
    return factories.ExpenseFactory(line=budget_line, amount=Decimal("1200.00"))


@pytest.fixture
def submitted_expense(expense: Any, partner_member: Any) -> Any:
    return expense_submit(expense=expense, user=partner_member)


@pytest.fixture
def deliverable(workpackage: Any) -> Any:
    """D1.1, due at the end of month 12 (31 December 2024)."""
    return factories.DeliverableFactory(
        workpackage=workpackage, number=1, title="Exosome QC protocol", due_month=12
    )


@pytest.fixture
def milestone(partner_a: Any, workpackage: Any) -> Any:
    return factories.MilestoneFactory(
        lead_partner=partner_a, number=1, due_month=18, workpackages=[workpackage]
    )


@pytest.fixture
def job(partner_a: Any, workpackage: Any) -> Any:
    return factories.JobRecordFactory(partner=partner_a, workpackage=workpackage)


@pytest.fixture
def before_due() -> datetime.datetime:
    """A moment well before the deliverable fixture's due date."""
    return datetime.datetime(2024, 6, 3, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def superuser() -> Any:
    return factories.UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def anonymous() -> AnonymousUser:
    return AnonymousUser()


def _grant(consortium: Any, kind: str, username: str) -> Any:
    user = factories.UserFactory(username=username)
    consortium_role_grant(consortium=consortium, user=user, kind=kind, granted_by=None)
    user.refresh_from_db()
    return user


@pytest.fixture
def coordinator(consortium: Any) -> Any:
    return _grant(consortium, ConsortiumRoleKind.COORDINATOR, "coordinator")


@pytest.fixture
def other_coordinator(other_consortium: Any) -> Any:
    return _grant(other_consortium, ConsortiumRoleKind.COORDINATOR, "other-coordinator")


@pytest.fixture
def observer(consortium: Any) -> Any:
    return _grant(consortium, ConsortiumRoleKind.OBSERVER, "observer")


def _member(partner: Any, username: str) -> Any:
    user = factories.UserFactory(username=username)
    membership_grant(partner=partner, user=user, role=MembershipRole.FINANCE, granted_by=None)
    user.refresh_from_db()
    return user


@pytest.fixture
def partner_member(partner_a: Any) -> Any:
    return _member(partner_a, "member-a")


@pytest.fixture
def other_partner_member(partner_b: Any) -> Any:
    return _member(partner_b, "member-b")


# ---------------------------------------------------------------------------------------------
# Isolation of each test from the ones run before it in the same process. Under pytest-xdist the
# tests that precede a test vary from run to run, so nothing a test leaves behind may be read by
# the next one.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    # A request in French (Accept-Language, or a person's own language) activates French for the
    # rest of the thread: the next test would otherwise read French messages.
    translation.deactivate()
    yield
    translation.deactivate()
