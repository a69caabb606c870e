"""`seed_demo` on New Year's Day: the partnership `tests/demo/` shares holds together (the checks
of `tests/workpackages/test_seed_demo.py`, which seeds it in mid-summer too), and seeding it again
changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from consortium.models import Consortium
from tests.demo.conftest import SeededDemo
from tests.workpackages.test_seed_demo import (
    check_budget_and_expenses,
    check_jobs,
    check_logins,
    check_statements,
    check_work_plan,
    counts,
    seed,
)

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_partnership_once(
    seeded_demo: SeededDemo, demo: Consortium, settings: Any
) -> None:
    """Built on New Year's Day, the demo holds together; seeding again changes nothing."""
    assert "PIT-ATMP" in seeded_demo.printed
    check_work_plan()
    check_budget_and_expenses()
    check_jobs()
    check_logins()
    check_statements()

    before = counts()
    settings.DEBUG = True
    again = seed()
    settings.DEBUG = False
    forced = seed("--force")

    assert "already" in again
    assert "already" in forced
    assert counts() == before
