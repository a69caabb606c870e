"""The walkthrough of `tests/browser.py` on the app as `make run` serves it: its own SQLite file,
migrated and seeded by `manage.py` in processes of their own, on the machine's clock; and every
partner page read in both languages for what a screen reader, a keyboard and a phone need.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Browser, expect

from tests.browser import (
    DESKTOP,
    FACTS,
    OUTCOME,
    check_outcome,
    new_page,
    sign_in,
    walk_of,
    walk_through,
)

MANAGE = Path(settings.BASE_DIR) / "manage.py"

# `make run` seeds the demo around the day it is run, and serves it on the machine's clock.
pytestmark = pytest.mark.real_clock


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteApp]:
    """The app as `make run` starts it: its own SQLite file, migrated, the demo seeded, served by
    `runserver` in a process of its own."""
    app = SqliteApp(tmp_path_factory.mktemp("make-run"))
    app.manage("migrate", "--no-input", "-v0")
    app.manage("seed_demo")
    with app.serving() as url:
        app.url = url
        yield app


class SqliteApp:
    """`manage.py` run against one SQLite file, with the settings `make run` uses."""

    def __init__(self, folder: Path) -> None:
        self.url = ""
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "VAR_DIR": str(folder),
            "MEDIA_ROOT": str(folder / "media"),
            # No Redis for this app (nothing listens on port 1): what it would queue waits in the
            # database, as when `make run` finds no Redis.
            "REDIS_URL": "redis://127.0.0.1:1/0",
        }

    def manage(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603  (this interpreter and the project's own manage.py)
            [sys.executable, str(MANAGE), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return done.stdout

    def read(self, code: str, **values: Any) -> dict[str, Any]:
        """Run one of the snippets against this app's SQLite file."""
        preamble = "".join(f"{name.upper()} = {value!r}\n" for name, value in values.items())
        output = self.manage("shell", "-c", preamble + code + "\nprint(json.dumps(result))")
        return json.loads(output.strip().splitlines()[-1])

    @contextmanager
    def serving(self) -> Iterator[str]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # The server's log goes to a file: a pipe nobody reads fills up, and the server stops
        # at its next log line.
        log_path = Path(self.env["VAR_DIR"]) / "runserver.log"
        log = log_path.open("wb")
        server = subprocess.Popen(  # noqa: S603  (this interpreter and the project's own manage.py)
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/accounts/login/", timeout=5):  # noqa: S310  (loopback)
                        break
                except OSError:
                    assert server.poll() is None, log_path.read_text()[-4000:]
                    assert time.monotonic() < deadline, "runserver did not answer in 2 minutes"
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


def test_the_same_walkthrough_on_the_sqlite_database_make_run_uses(
    browser: Browser, sqlite_app: SqliteApp, tmp_path: Path
) -> None:
    """`make run` keeps its data in SQLite, whose sums carry more decimals than a money field
    takes: the statement partner1 submits must go through there too."""
    facts = sqlite_app.read(FACTS)
    walk = walk_of(facts)
    walk_through(browser, sqlite_app.url, walk, tmp_path)
    outcome = sqlite_app.read(
        OUTCOME, partner=facts["partner"], period=walk.period, deliverable=walk.deliverable
    )
    check_outcome(facts, outcome)


# What every control must carry for a screen reader: its own label, or an ARIA name.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
        && !el.getAttribute('aria-labelledby') && !el.title)
    .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
PHONE = {"width": 390, "height": 844}
PAGES = (
    "/",
    "/workplan/",
    "/workplan/deliverables/",
    "/workplan/milestones/",
    "/expenses/",
    "/expenses/add/",
    "/expenses/import/",
    "/jobs/",
    "/jobs/add/",
    "/team/",
    "/calendar/",
    "/accounts/password/",
)


def test_every_page_is_labelled_keyboard_first_and_fits_a_phone(
    browser: Browser, sqlite_app: SqliteApp
) -> None:
    """On each partner page, in both languages: the page says its language and has one title,
    every form control has a label, the first Tab reaches "Skip to content" (or the page starts in
    its form's first field), and at a phone's width nothing but a table's own scroll area is wider
    than the screen. The pages are read from the app `make run` serves, its demo already seeded."""
    context, page = new_page(browser, sqlite_app.url)
    sign_in(page, "partner2")  # The partner contact: the team pages' forms too.
    for language in ("en", "fr"):
        page.select_option("#language-choice", language)
        page.locator("form.language [type=submit]").click()
        for path in PAGES:
            page.set_viewport_size(DESKTOP)
            page.goto(path)
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("h1")).to_have_count(1)
            assert page.evaluate(UNLABELLED) == [], (language, path)
            if page.locator("[autofocus]").count():
                # A form that is the page's whole purpose starts in its first field.
                assert page.evaluate("document.activeElement.hasAttribute('autofocus')")
            else:
                page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.className") == "skip", path
            page.set_viewport_size(PHONE)
            assert page.evaluate(OVERFLOW) <= 0, (language, path)
    context.close()
