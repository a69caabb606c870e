"""The admin's lists fit a 1440 × 900 screen, in a real browser (Debian's Chromium driven by
Playwright): with the side navigation open, in English and in French, the columns a coordinator
decides on are in view and the page never scrolls sideways, nor does the list inside it; the
side navigation folds away and the lists still fit. Every other list and row page of the admin,
and the dashboard, fits in French too."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests import factories
from tests.browser import browser, screenshots  # noqa: F401  (fixtures)
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db(transaction=True)

SCREEN = {"width": 1440, "height": 900}
LONG_NAME = "Thérapies Cellulaires Avancées de Wallonie-Bruxelles"

# Each list, and the columns (`column-<name>` header cells) a coordinator decides on.
LISTS = {
    "deliverable": ["code", "title", "lead_partner", "due_on", "status_badge", "days_late"],
    "expense": [
        "partner",
        "period",
        "category",
        "amount_display",
        "accepted_display",
        "status_badge",
    ],
    "budgetline": ["partner", "workpackage_code", "category", "planned", "consumption"],
    "jobrecord": ["partner", "impact", "status_badge", "fte"],
}


@pytest.fixture
def long_names(
    consortium: Any, coordinator: Any, partner_member: Any, partner_a: Any, workpackage: Any
) -> Any:
    """One row per list, with the long names and large amounts a real partnership has."""
    organisation = partner_a.organisation
    organisation.short_name = LONG_NAME
    organisation.save(update_fields=["short_name"])
    workpackage.title = "Procédés de fabrication automatisés en système clos pour thérapies"
    workpackage.save(update_fields=["title"])
    factories.DeliverableFactory(
        workpackage=workpackage,
        lead_partner=partner_a,
        due_month=6,  # June 2024: long overdue on the tests' clock
        title="Rapport de validation du procédé de fabrication en système clos automatisé",
    )
    line = factories.BudgetLineFactory(
        partner=partner_a,
        workpackage=workpackage,
        heading="operating",
        planned_amount=Decimal("12345678.90"),
    )
    expense = factories.ExpenseFactory(line=line, amount=Decimal("1234567.89"))
    expense_submit(expense=expense, user=partner_member)
    expense_accept(expense=expense, user=coordinator)
    factories.JobRecordFactory(
        partner=partner_a,
        position_title="Responsable assurance qualité des lots cliniques",
        impact=JobImpact.INDIRECT,
        status=JobStatus.REALISED,
        fte=Decimal("0.80"),
        start_date=datetime.date(2025, 3, 1),
    )
    return consortium


FITS = """(names) => {
  const results = document.querySelector('#changelist-form .results');
  const frame = results.getBoundingClientRect();
  const cells = Object.fromEntries(names.map(name => {
    const cell = document.querySelector(`#result_list thead th.column-${name}`);
    return [name, cell ? cell.getBoundingClientRect().right : null];
  }));
  return {
    page: document.documentElement.scrollWidth, screen: window.innerWidth,
    list: results.scrollWidth, frame: results.clientWidth, right: frame.right,
    rows: document.querySelectorAll('#result_list tbody tr').length, cells,
  };
}"""


def _fits(page: Page, model: str) -> None:
    seen = page.evaluate(FITS, LISTS[model])
    assert seen["rows"] >= 1, (model, seen)
    assert seen["page"] <= seen["screen"] == SCREEN["width"], (model, seen)
    # Nothing hides to the right of the list's frame, which would scroll on its own.
    assert seen["list"] <= seen["frame"], (model, seen)
    for name, right in seen["cells"].items():
        assert right is not None, (model, name)
        assert right <= min(SCREEN["width"], seen["right"] + 0.5), (model, name, seen)


@pytest.mark.parametrize(("language", "locale"), [("en", "en-GB"), ("fr", "fr-BE")])
def test_the_lists_fit_the_screen_with_the_navigation_open(
    long_names: Any,
    coordinator: Any,
    live_server: Any,
    browser: Browser,  # noqa: F811
    screenshots: Path,  # noqa: F811
    language: str,
    locale: str,
) -> None:
    client = Client()
    client.force_login(coordinator)
    context = browser.new_context(base_url=live_server.url, viewport=SCREEN, locale=locale)
    context.set_default_timeout(15_000)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    for model in LISTS:
        page.goto(f"/admin/workpackages/{model}/")
        expect(page.locator("html")).to_have_attribute("lang", language)
        # The side navigation is there, open, with its toggle.
        expect(page.locator("#nav-sidebar")).to_be_visible()
        expect(page.locator("#toggle-nav-sidebar")).to_be_visible()
        _fits(page, model)
        page.screenshot(path=screenshots / f"admin-{model}-{language}.png")

    # Folded away, the navigation leaves the list more room: it still fits.
    page.locator("#toggle-nav-sidebar").click()
    expect(page.locator("#nav-sidebar")).to_be_hidden()
    _fits(page, "jobrecord")
    page.screenshot(path=screenshots / f"admin-jobrecord-{language}-folded.png")
    context.close()


def test_every_admin_page_fits_the_screen_in_french(
    long_names: Any,
    coordinator: Any,
    live_server: Any,
    browser: Browser,  # noqa: F811
) -> None:
    """Each list of the admin the coordinator opens, and the page of its first row, in French
    at 1440 px with the navigation open: nothing scrolls sideways."""
    client = Client()
    client.force_login(coordinator)
    pages = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if client.get(changelist).status_code != 200:
            continue  # not the coordinator's (users, sessions…)
        pages.append(changelist)
        request = RequestFactory().get(changelist)
        request.user = coordinator
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            pages.append(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            )
    assert len(pages) > 25
    context = browser.new_context(base_url=live_server.url, viewport=SCREEN, locale="fr-BE")
    context.set_default_timeout(15_000)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    wide = {}
    for path in pages:
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > SCREEN["width"]:
            wide[path] = width
    context.close()
    assert wide == {}
