"""The partner pages in a real browser: Debian's Chromium, driven by Playwright, against a live
server holding the demo partnership, on PostgreSQL (the test's own server) and on the SQLite file
`make run` serves.

partner1 (the finance officer of UMosane) signs in, switches to French, sends a deliverable's PDF,
adds two expenses and submits the period's statement; the coordinator approves the deliverable in
the admin; partner1 signs in again and finds it approved, in French. The dashboard is photographed
in English and in French on the way: `make screenshots` writes those pictures to `docs/`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.api.conftest import PDF
from workpackages.money.choices import ExpenseStatus
from workpackages.workplan.choices import DeliverableStatus

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "demo"  # noqa: S105  (the demo's published password)
DESKTOP = {"width": 1280, "height": 1000}
TABLET = {"width": 768, "height": 1024}
# Set by `make screenshots` to write the README's pictures; a plain run keeps them in tmp_path.
SCREENSHOTS_DIR = "PORTAL_SCREENSHOTS_DIR"
MANAGE = Path(settings.BASE_DIR) / "manage.py"

# The demo is seeded around today, and the browser keeps cookies by its own clock.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    # Playwright's synchronous API runs an event loop in this thread, so Django's guard against
    # database calls from async code would refuse the test's own queries and the database flush.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                # Under `make test-dates` the suite runs on faketime's clock; the browser keeps
                # the machine's own (faketime's timers stall Chromium), which cookies' future
                # expiry dates still satisfy.
                env={
                    name: value
                    for name, value in os.environ.items()
                    if name != "LD_PRELOAD" and not name.startswith("FAKETIME")
                },
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def demo() -> None:
    call_command("seed_demo", "--force", stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_DIR) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_page(browser: Browser, base_url: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base_url, viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(15_000)
    return context, context.new_page()


def sign_in(page: Page, username: str, *, path: str = "/accounts/login/") -> None:
    page.goto(path)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form:has(#id_password) [type=submit]").click()
    page.wait_for_load_state()


def succeeded(page: Page) -> None:
    """The page says the last action worked, and shows no error."""
    expect(page.locator(".message.success")).to_be_visible()
    expect(page.locator(".errors, .errorlist, .message.error")).to_have_count(0)


@dataclass(frozen=True)
class Walk:
    """What the walkthrough works on, read from the demo before it starts."""

    finance: str
    deliverable: int
    period: int
    period_number: int
    incurred_on: str
    workpackage: int
    category: int


def partner1_files(page: Page, walk: Walk, screenshots: Path) -> None:
    """partner1 signs in, switches to French, sends the deliverable's PDF, adds two expenses to
    the period and submits its statement."""
    sign_in(page, "partner1")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(f"Dashboard of {walk.finance}")
    expect(page.locator(".card", has_text="Next expense statement")).to_contain_text(
        f"P{walk.period_number}"
    )
    page.screenshot(path=screenshots / "portal-dashboard-en.png")

    # The dashboard fits a tablet's width: nothing overflows sideways.
    page.set_viewport_size(TABLET)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size(DESKTOP)

    # ...switches to French...
    page.select_option("#language-choice", "fr")
    page.locator("form.language [type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text(f"Tableau de bord de {walk.finance}")
    page.screenshot(path=screenshots / "portal-dashboard-fr.png")

    # ...sends the deliverable as a PDF...
    page.goto(f"/deliverables/{walk.deliverable}/")
    page.set_input_files(
        "#id_file",
        files=[{"name": "rapport-final-WP1.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    page.fill("#id_note", "Version pour relecture par les coordinateurs.")
    if page.locator("#id_late_justification").count():
        page.fill("#id_late_justification", "Les derniers résultats sont arrivés en retard.")
    page.locator("section[aria-labelledby=send] [type=submit]").click()
    succeeded(page)
    expect(page.locator(".timeline")).to_contain_text("Version 1 envoyée")
    expect(page.locator(".timeline")).to_contain_text("rapport-final-WP1.pdf")

    # ...adds two expenses to the period, the first with its invoice...
    for number, (amount, another) in enumerate((("1250.40", True), ("380.00", False)), start=1):
        page.goto("/expenses/add/")
        page.fill("#id_incurred_on", walk.incurred_on)
        page.select_option("#id_workpackage", str(walk.workpackage))
        page.select_option("#id_category", str(walk.category))
        page.fill("#id_amount", amount)
        page.fill("#id_description", f"Réactifs de culture cellulaire, lot {number}")
        page.fill("#id_invoice_reference", f"FAC-NAV-{number:03d}")
        if number == 1:
            page.set_input_files(
                "#id_evidence",
                files=[{"name": "facture-001.pdf", "mimeType": "application/pdf", "buffer": PDF}],
            )
        button = "button[name=another]" if another else "form.stacked button[type=submit]"
        page.locator(button).first.click()
        succeeded(page)

    # ...and submits the period's statement.
    page.goto(f"/expenses/statement/{walk.period}/")
    expect(page.locator("h1")).to_contain_text(f"Relevé de dépenses de P{walk.period_number}")
    page.locator("section[aria-labelledby=submit-title] [type=submit]").click()
    succeeded(page)
    expect(page.locator(".message.success")).to_contain_text("lignes")


def coordinator_approves(page: Page, walk: Walk) -> None:
    """The coordinator approves the deliverable with the admin's list action."""
    sign_in(page, "coordinator", path="/admin/login/?next=/admin/")
    page.goto(f"/admin/workpackages/deliverable/?status__exact={DeliverableStatus.SUBMITTED}")
    page.check(f"input[name=_selected_action][value='{walk.deliverable}']")
    page.select_option("select[name=action]", "approve")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator(".messagelist .error")).to_have_count(0)


def partner1_finds_it_approved(page: Page, walk: Walk) -> None:
    """partner1 signs in again, in French as they left it, and finds the deliverable approved."""
    sign_in(page, "partner1")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.goto(f"/deliverables/{walk.deliverable}/")
    expect(page.locator("dl.facts .badge.green")).to_have_text("Approuvé")
    expect(page.locator(".timeline .review").first).to_contain_text("Approuvé")


def walk_through(browser: Browser, base_url: str, walk: Walk, screenshots: Path) -> None:
    for step in (
        lambda page: partner1_files(page, walk, screenshots),
        lambda page: coordinator_approves(page, walk),
        lambda page: partner1_finds_it_approved(page, walk),
    ):
        context, page = new_page(browser, base_url)
        step(page)
        context.close()
    for language in ("en", "fr"):
        picture = (screenshots / f"portal-dashboard-{language}.png").read_bytes()
        assert picture.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(picture) > 20_000


# What the walkthrough reads from the demo, and what it checks once done: the same Python for the
# test's own database and, through `manage.py shell`, for the SQLite file `make run` serves.
FACTS = """
import json
from django.utils import timezone
from consortium.models import Membership
from workpackages.workplan.choices import DeliverableStatus
from workpackages.models import Deliverable, Expense
finance = Membership.objects.select_related("partner").get(user__username="partner1").partner
deliverable = (
    Deliverable.objects.filter(
        lead_partner=finance,
        status__in=[DeliverableStatus.PLANNED, DeliverableStatus.IN_PROGRESS,
                    DeliverableStatus.CHANGES_REQUESTED],
    ).order_by("due_date").first()
)
period = (
    finance.consortium.periods.filter(end_date__lt=timezone.localdate())
    .exclude(statements__partner=finance).order_by("number").first()
)
model = (
    Expense.objects.filter(partner=finance, period=period).exclude(category__code="personnel")
    .order_by("pk").first()
)
lines, total = Expense.objects.filter(partner=finance, period=period).declared_totals()
result = {
    "finance": str(finance), "partner": finance.pk,
    "deliverable": deliverable and deliverable.pk, "period": period and period.pk,
    "period_number": period and period.number,
    "incurred_on": model and model.incurred_on.isoformat(),
    "workpackage": model and model.workpackage_id, "category": model and model.category_id,
    "lines": lines, "total": str(total),
}
"""
OUTCOME = """
import json
from workpackages.models import Deliverable, Expense, Statement
statement = Statement.objects.filter(partner_id=PARTNER, period_id=PERIOD).first()
sent = Expense.objects.filter(partner_id=PARTNER, invoice_reference__startswith="FAC-NAV-")
result = {
    "deliverable": Deliverable.objects.get(pk=DELIVERABLE).status,
    "statement": statement and [statement.lines, str(statement.total),
                                statement.submitted_by.username],
    "sent": sorted((e.status, str(e.amount), bool(e.evidence)) for e in sent),
    "drafts": Expense.objects.filter(partner_id=PARTNER, period_id=PERIOD, status="draft").count(),
}
"""


def read_here(code: str, **values: Any) -> dict[str, Any]:
    """Run one of the snippets above in this process, against the test's database."""
    scope: dict[str, Any] = {name.upper(): value for name, value in values.items()}
    exec(code, scope)  # noqa: S102  (the test's own snippet)
    return scope["result"]


def check_outcome(facts: dict[str, Any], outcome: dict[str, Any]) -> None:
    """The deliverable is approved; the statement declares the period's lines, the two new ones
    included, sent by partner1; nothing of the period is left in draft."""
    assert outcome["deliverable"] == DeliverableStatus.APPROVED
    lines, total, author = outcome["statement"]
    assert lines == facts["lines"] + 2
    assert Decimal(total) == Decimal(facts["total"]) + Decimal("1630.40")
    assert author == "partner1"
    assert [tuple(line) for line in outcome["sent"]] == [
        (ExpenseStatus.SUBMITTED, "1250.40", True),
        (ExpenseStatus.SUBMITTED, "380.00", False),
    ]
    assert outcome["drafts"] == 0


def walk_of(facts: dict[str, Any]) -> Walk:
    assert facts["deliverable"], "the demo gives partner1's partner an open deliverable"
    assert facts["period"], "the demo leaves partner1's latest statement to submit"
    return Walk(**{name: facts[name] for name in Walk.__dataclass_fields__})


def test_partner1_files_and_the_coordinator_approves(
    browser: Browser, live_server: Any, demo: None, screenshots: Path
) -> None:
    facts = read_here(FACTS)
    walk = walk_of(facts)
    walk_through(browser, live_server.url, walk, screenshots)
    outcome = read_here(
        OUTCOME, partner=facts["partner"], period=walk.period, deliverable=walk.deliverable
    )
    check_outcome(facts, outcome)


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
        server = subprocess.Popen(  # noqa: S603  (this interpreter and the project's own manage.py)
            [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/accounts/login/", timeout=5):  # noqa: S310  (loopback)
                        break
                except OSError:
                    assert server.poll() is None, server.stderr.read().decode()[-4000:]  # type: ignore[union-attr]
                    assert time.monotonic() < deadline, "runserver did not answer in 2 minutes"
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


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
