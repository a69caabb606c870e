"""The funder's overview on a tablet, in a real browser (Debian's Chromium driven by Playwright):
from 768 to 1024 px wide the page never scrolls sideways (wide tables scroll inside their
frame), the charts load and fit their column, the text stays readable and the links are large
enough to tap; it speaks French to an observer who chose no language."""

from __future__ import annotations

import datetime
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests import factories
from tests.browser import browser, screenshots  # noqa: F401  (fixtures)
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.money.services import expense_accept, expense_submit
from workpackages.workplan.services import milestone_achieve

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = (768, 900, 1024)


@pytest.fixture
def busy(
    consortium: Any,
    coordinator: Any,
    observer: Any,
    partner_a: Any,
    partner_member: Any,
    workpackage: Any,
    deliverable: Any,
    milestone: Any,
) -> Any:
    """A consortium with long names, money, jobs, late work and a long justification."""
    for n in range(6):
        partner = factories.PartnerFactory(
            consortium=consortium,
            organisation__short_name=f"Thérapies Cellulaires Avancées de Wallonie {n}",
        )
        factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner)
        factories.BudgetLineFactory(partner=partner, workpackage=workpackage)
        factories.JobRecordFactory(partner=partner, status=JobStatus.REALISED)
        factories.JobRecordFactory(partner=partner, impact=JobImpact.INDIRECT)
    for heading in ("personnel", "overheads"):
        line = factories.BudgetLineFactory(
            partner=partner_a, workpackage=workpackage, heading=heading
        )
        if heading == "personnel":
            expense = factories.ExpenseFactory(line=line, amount=Decimal("123456.78"))
            expense_submit(expense=expense, user=partner_member)
            expense_accept(expense=expense, user=coordinator)
    factories.DeliverableFactory(
        workpackage=workpackage,
        due_month=20,
        late_justification="Le fournisseur du bioréacteur a livré avec trois mois de retard; " * 6,
    )
    milestone_achieve(
        milestone=milestone,
        user=coordinator,
        achieved_on=datetime.date(2025, 7, 15),
        evidence="Lot GMP libéré par la personne qualifiée, certificat signé et archivé. " * 4,
    )
    return consortium


def test_the_overview_fits_a_tablet(
    busy: Any,
    observer: Any,
    live_server: Any,
    browser: Browser,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1024, "height": 1366}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", observer.username)
    page.fill("#id_password", factories.PASSWORD)
    page.locator("form:has(#id_password) [type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/funder/{busy.pk}/")
    # The browser asks for English; the observer chose nothing: the region's French.
    assert page.locator("html").get_attribute("lang") == "fr"

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1366})
        page.wait_for_timeout(50)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        # Both charts are loaded images, no wider than their column.
        charts = page.locator(".funder-charts img")
        assert charts.count() == 2
        for index in range(2):
            chart = charts.nth(index)
            chart.scroll_into_view_if_needed()
            assert chart.evaluate("img => img.complete && img.naturalWidth > 0"), width
            box = chart.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
            assert chart.get_attribute("alt")
        # Readable: no text under 12 px; tappable: the page's links are at least 44 px high.
        smallest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('.funder *')]
                .filter(e => e.childNodes.length && [...e.childNodes].some(
                    n => n.nodeType === 3 && n.textContent.trim()))
                .map(e => parseFloat(getComputedStyle(e).fontSize)))"""
        )
        assert smallest >= 12, (width, smallest)
        lowest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll(
                '.funder-links a, .funder-toc a, .funder .filters select, .funder .filters button'
            )].map(e => e.getBoundingClientRect().height))"""
        )
        assert lowest >= 44, (width, lowest)
        page.screenshot(path=screenshots / f"funder-{width}.png", full_page=True)
    if os.environ.get("FUNDER_SCREENSHOTS"):
        print(screenshots)  # noqa: T201
    context.close()
