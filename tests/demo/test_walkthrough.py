"""The walkthrough of `tests/browser.py` on the seeded demo, served by a live server on the test's
PostgreSQL database on New Year's Day (`tests/demo/conftest.py`): partner1 files, the coordinator
approves, partner1 finds it approved. `make screenshots` photographs the dashboard on the way into
`docs/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser import FACTS, OUTCOME, check_outcome, read_here, walk_of, walk_through
from tests.demo.conftest import SeededDemo

# The live server reads what the test commits.
pytestmark = pytest.mark.django_db(transaction=True)


def test_partner1_files_and_the_coordinator_approves(
    browser: Browser,
    live_server: Any,
    demo_to_change: SeededDemo,
    screenshots: Path,
    settings: Any,
) -> None:
    # The browser keeps cookies by the machine's clock, the server sets them by the tests': the
    # CSRF cookie lasts as long as the browser, like the session's, rather than a year from a day
    # that the machine's calendar leaves behind.
    settings.CSRF_COOKIE_AGE = None
    facts = read_here(FACTS)
    walk = walk_of(facts)
    walk_through(browser, live_server.url, walk, screenshots)
    outcome = read_here(
        OUTCOME, partner=facts["partner"], period=walk.period, deliverable=walk.deliverable
    )
    check_outcome(facts, outcome)
