"""The demo partnership, seeded once for the tests of this package, on New Year's Day 2027.

Seeding runs a few tens of thousands of validated writes, so the package's modules share one seed:
they run on one worker, one after the other (`SHARED_SCOPES` in `tests/conftest.py`), the seed is
committed (the walkthrough's live server reads it from its own connection) and removed after the
package. The package's tests run on that day's clock: a reporting period and a year ended the day
before, the partnership's last year has just begun. The seed's own checks, the admin's and the
reports' tests read the demo, each in a transaction rolled back after it; the browser walkthrough
changes it for good and runs last (`demo_to_change`).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from consortium.models import Consortium
from workpackages.demo.data import ACRONYM

NEW_YEAR = datetime.datetime(2027, 1, 1, 9, tzinfo=ZoneInfo("Europe/Brussels"))


@dataclass
class SeededDemo:
    """The seeded demo: where its archived reports' files are, and what `seed_demo` printed."""

    media: Path
    printed: str = ""
    changed_by: str = ""

    def unchanged(self) -> None:
        assert not self.changed_by, (
            f"{self.changed_by} changed the demo before this test read it: the tests that change "
            "it run last in tests/demo/ (tests/conftest.py sorts them there)."
        )


@pytest.fixture(scope="package")
def seeded_demo(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeededDemo]:
    demo = SeededDemo(media=tmp_path_factory.mktemp("demo-media"))
    out = io.StringIO()
    with time_machine.travel(NEW_YEAR, tick=True), django_db_blocker.unblock():
        # --force rather than DEBUG on: the same demo, without Django keeping every query.
        with override_settings(MEDIA_ROOT=demo.media):
            call_command("seed_demo", "--force", stdout=out)
        demo.printed = out.getvalue()
        yield demo
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(seeded_demo: SeededDemo) -> Consortium:
    """The demo consortium, as seeded."""
    seeded_demo.unchanged()
    return Consortium.objects.get(acronym=ACRONYM)


@pytest.fixture
def demo_to_change(seeded_demo: SeededDemo, request: pytest.FixtureRequest) -> SeededDemo:
    """The seeded demo, for a test that changes it: nothing reads it after."""
    seeded_demo.unchanged()
    seeded_demo.changed_by = request.node.nodeid
    return seeded_demo
