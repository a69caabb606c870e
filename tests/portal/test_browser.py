"""The partner pages in a real browser: Debian's Chromium, driven by Playwright, against a live
server holding the demo partnership.

partner1 (the finance officer of UMosane) signs in, switches to French, sends a deliverable's PDF,
adds two expenses and submits the period's statement; the coordinator approves the deliverable in
the admin; partner1 signs in again and finds it approved, in French. The dashboard is photographed
in English and in French on the way: `make screenshots` writes those pictures to `docs/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from consortium.models import Membership
from workpackages.choices import DeliverableStatus, ExpenseStatus
from workpackages.models import Deliverable, Expense, Statement

from ..api.conftest import PDF

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "demo"  # noqa: S105  (the demo's published password)
DESKTOP = {"width": 1280, "height": 1000}
TABLET = {"width": 768, "height": 1024}
# Set by `make screenshots` to write the README's pictures; a plain run keeps them in tmp_path.
SCREENSHOTS_DIR = "PORTAL_SCREENSHOTS_DIR"

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
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
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


def test_partner1_files_and_the_coordinator_approves(
    browser: Browser, live_server: Any, demo: None, screenshots: Path
) -> None:
    finance = Membership.objects.select_related("partner").get(user__username="partner1").partner
    deliverable = (
        Deliverable.objects.filter(
            lead_partner=finance,
            status__in=[
                DeliverableStatus.PLANNED,
                DeliverableStatus.IN_PROGRESS,
                DeliverableStatus.CHANGES_REQUESTED,
            ],
        )
        .order_by("due_date")
        .first()
    )
    assert deliverable is not None, "the demo gives partner1's partner an open deliverable"
    period = (
        finance.consortium.periods.filter(end_date__lt=timezone.localdate())
        .exclude(statements__partner=finance)
        .order_by("number")
        .first()
    )
    assert period is not None, "the demo leaves partner1's latest statement to submit"
    model = (
        Expense.objects.filter(partner=finance, period=period)
        .exclude(category__code="personnel")
        .select_related("workpackage", "category")
        .first()
    )
    assert model is not None

    # partner1 signs in and lands on the dashboard, in English.
    context, page = new_page(browser, live_server.url)
    sign_in(page, "partner1")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(f"Dashboard of {finance}")
    expect(page.locator(".card", has_text="Next expense statement")).to_contain_text(
        f"P{period.number}"
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
    expect(page.locator("h1")).to_have_text(f"Tableau de bord de {finance}")
    page.screenshot(path=screenshots / "portal-dashboard-fr.png")

    # ...sends the deliverable as a PDF...
    page.goto(f"/deliverables/{deliverable.pk}/")
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
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.SUBMITTED

    # ...adds two expenses to the period, the first with its invoice...
    declared = Expense.objects.filter(partner=finance, period=period).exclude(
        status=ExpenseStatus.WITHDRAWN
    )
    lines_before = declared.count()
    total_before = declared.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    for number, (amount, another) in enumerate((("1250.40", True), ("380.00", False)), start=1):
        page.goto("/expenses/add/")
        page.fill("#id_incurred_on", model.incurred_on.isoformat())
        page.select_option("#id_workpackage", str(model.workpackage_id))
        page.select_option("#id_category", str(model.category_id))
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
    drafts = Expense.objects.filter(partner=finance, period=period, status=ExpenseStatus.DRAFT)
    assert sorted(str(e.amount) for e in drafts) == ["1250.40", "380.00"]
    assert drafts.get(invoice_reference="FAC-NAV-001").evidence.name.endswith(".pdf")

    # ...and submits the period's statement.
    page.goto(f"/expenses/statement/{period.pk}/")
    expect(page.locator("h1")).to_contain_text(f"Relevé de dépenses de P{period.number}")
    page.locator("section[aria-labelledby=submit-title] [type=submit]").click()
    succeeded(page)
    statement = Statement.objects.get(partner=finance, period=period)
    # The statement declares the period's lines: the two new ones and those sent before.
    assert statement.lines == lines_before + 2
    assert statement.total == total_before + Decimal("1630.40")
    expect(page.locator(".message.success")).to_contain_text(f"{statement.lines} lignes")
    assert statement.submitted_by.username == "partner1"
    sent = Expense.objects.filter(partner=finance, invoice_reference__startswith="FAC-NAV-")
    assert set(sent.values_list("status", flat=True)) == {ExpenseStatus.SUBMITTED}
    assert not drafts.all().exists()
    context.close()

    # The coordinator approves the deliverable in the admin.
    context, page = new_page(browser, live_server.url)
    sign_in(page, "coordinator", path="/admin/login/?next=/admin/")
    page.goto(f"/admin/workpackages/deliverable/?status__exact={DeliverableStatus.SUBMITTED}")
    page.check(f"input[name=_selected_action][value='{deliverable.pk}']")
    page.select_option("select[name=action]", "approve")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator(".messagelist .error")).to_have_count(0)
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.APPROVED
    context.close()

    # partner1 signs in again, in French as they left it, and finds the deliverable approved.
    context, page = new_page(browser, live_server.url)
    sign_in(page, "partner1")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.goto(f"/deliverables/{deliverable.pk}/")
    expect(page.locator("dl.facts .badge.green")).to_have_text("Approuvé")
    expect(page.locator(".timeline .review").first).to_contain_text("Approuvé")
    context.close()

    for language in ("en", "fr"):
        picture = (screenshots / f"portal-dashboard-{language}.png").read_bytes()
        assert picture.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(picture) > 20_000


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
    browser: Browser, live_server: Any, demo: None
) -> None:
    """On each partner page, in both languages: the page says its language and has one title,
    every form control has a label, the first Tab reaches "Skip to content" (or the page starts in
    its form's first field), and at a phone's
    width nothing but a table's own scroll area is wider than the screen."""
    context, page = new_page(browser, live_server.url)
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
