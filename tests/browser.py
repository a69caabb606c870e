"""The partner pages in a real browser: Debian's Chromium driven by Playwright, and the walkthrough
two tests take through it (`tests/demo/test_walkthrough.py` on the test's PostgreSQL database,
`tests/portal/test_browser.py` on the SQLite file `make run` serves).

partner1 (the finance officer of UMosane) signs in, switches to French, sends a deliverable's PDF,
adds two expenses and submits the period's statement; the coordinator approves the deliverable in
the admin; partner1 signs in again and finds it approved, in French. The partner's dashboard is
photographed in English and in French on the way, and the coordinators' dashboard and an expense's
review page at 1440 px: `make screenshots` writes those pictures to `docs/`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.api.conftest import PDF
from workpackages.money.choices import ExpenseStatus
from workpackages.workplan.choices import DeliverableStatus

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Assertions wait as long as actions do: on a loaded machine (two test workers, a build beside
# them) a form's answer can take longer than Playwright's 5 s default.
expect.set_options(timeout=15_000)
PASSWORD = "demo"  # noqa: S105  (the demo's published password)
DESKTOP = {"width": 1280, "height": 1000}
TABLET = {"width": 768, "height": 1024}
COCKPIT = {"width": 1440, "height": 900}  # a coordinator's screen
# Set by `make screenshots` to write the README's pictures; a plain run keeps them in tmp_path.
SCREENSHOTS_DIR = "PORTAL_SCREENSHOTS_DIR"


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

    # ...adds two expenses to the period, each with its invoice...
    for number, (amount, another) in enumerate((("1250.40", True), ("380.00", False)), start=1):
        page.goto("/expenses/add/")
        page.fill("#id_incurred_on", walk.incurred_on)
        page.select_option("#id_workpackage", str(walk.workpackage))
        page.select_option("#id_category", str(walk.category))
        page.fill("#id_amount", amount)
        page.fill("#id_description", f"Réactifs de culture cellulaire, lot {number}")
        page.fill("#id_invoice_reference", f"FAC-NAV-{number:03d}")
        # Each with its invoice: the demo requires evidence for operating costs.
        page.set_input_files(
            "#id_evidence",
            files=[
                {
                    "name": f"facture-{number:03d}.pdf",
                    "mimeType": "application/pdf",
                    "buffer": invoice(number, amount, walk.incurred_on),
                }
            ],
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


def invoice(number: int, amount: str, day: str) -> bytes:
    """A supplier's invoice as a one-page PDF, for the coordinator's review page to show."""
    from weasyprint import HTML

    html = f"""<html lang="fr"><body style="font-family: sans-serif; margin: 2cm">
    <h1>Laboratoires Meuse Réactifs SA</h1><p>Rue de la Science 12, 4000 Liège · BE 0456.789.123</p>
    <h2>Facture FAC-NAV-{number:03d}</h2><p>Date : {day} · Client : UMosane</p>
    <table style="width: 100%; border-collapse: collapse" border="1" cellpadding="6">
    <tr><th>Description</th><th>Montant HTVA (EUR)</th></tr>
    <tr><td>Réactifs de culture cellulaire, lot {number}</td><td>{amount}</td></tr></table>
    </body></html>"""
    return HTML(string=html).write_pdf()


def coordinator_approves(page: Page, walk: Walk, screenshots: Path) -> None:
    """The coordinator reads the dashboard and an expense's review page, both photographed at
    1440 px, then approves the deliverable with the admin's list action."""
    page.set_viewport_size(COCKPIT)
    sign_in(page, "coordinator", path="/admin/login/?next=/admin/")
    expect(page.locator(".cm-dashboard")).to_be_visible()
    # The dashboard fits the coordinator's screen, and its charts load as they come into view.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for chart in page.locator(".cm-dashboard figure img").all():
        chart.scroll_into_view_if_needed()
        expect(chart).to_have_js_property("complete", True)
        assert chart.evaluate("image => image.naturalWidth") > 0
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(
        path=screenshots / "admin-dashboard.png",
        full_page=True,
        clip={"x": 0, "y": 0, "width": COCKPIT["width"], "height": 1800},
    )
    # One of the expenses partner1 has just submitted, with its invoice open within the page.
    page.goto("/admin/workpackages/expense/?q=FAC-NAV-001")
    page.locator("#result_list tbody tr a").first.click()
    expect(page.locator("form#decision-accept_partially")).to_be_visible()
    page.click("details.cm-preview-box summary")
    expect(page.locator("iframe.cm-preview")).to_have_attribute("src", re.compile("/preview/$"))
    # The picture waits, a few seconds at most, for Chromium's PDF viewer to draw the invoice.
    for _ in range(50):
        if any(frame.url.startswith("chrome-extension:") for frame in page.frames):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(1000)
    expect(page.locator(".cm-line-remaining")).to_be_visible()
    page.screenshot(path=screenshots / "admin-expense-review.png")
    page.set_viewport_size(DESKTOP)

    page.goto(f"/admin/workpackages/deliverable/?status__exact={DeliverableStatus.SUBMITTED}")
    page.check(f"input[name=_selected_action][value='{walk.deliverable}']")
    page.select_option("select[name=action]", "approve")
    page.locator("button[name=index]").click()
    # The approval takes an optional comment for the partner.
    page.fill("#id_comment", "Merci, rapport complet.")
    page.locator("input[name=apply]").click()
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
        lambda page: coordinator_approves(page, walk, screenshots),
        lambda page: partner1_finds_it_approved(page, walk),
    ):
        context, page = new_page(browser, base_url)
        step(page)
        context.close()
    for name in (
        "portal-dashboard-en",
        "portal-dashboard-fr",
        "admin-dashboard",
        "admin-expense-review",
    ):
        picture = (screenshots / f"{name}.png").read_bytes()
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
        (ExpenseStatus.SUBMITTED, "380.00", True),
    ]
    assert outcome["drafts"] == 0


def walk_of(facts: dict[str, Any]) -> Walk:
    assert facts["deliverable"], "the demo gives partner1's partner an open deliverable"
    assert facts["period"], "the demo leaves partner1's latest statement to submit"
    return Walk(**{name: facts[name] for name in Walk.__dataclass_fields__})
