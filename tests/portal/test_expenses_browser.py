"""The partner's expense table in French on a 1440 px screen, in a real browser (Debian's Chromium
driven by Playwright): the actions column, the last one, stays in view, its header and the first
row's links inside the viewport and inside the table's frame, with no sideways scrolling."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Browser

from tests import factories
from tests.browser import browser  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORT = {"width": 1440, "height": 900}


@pytest.fixture
def busy_expenses(budget_line: Any, partner_member: Any) -> Any:
    """Partner A's drafts with long French text, long invoice references and evidence files."""
    for n in range(3):
        factories.ExpenseFactory(
            line=budget_line,
            amount=Decimal("123456.78"),
            description=(
                f"Milieux de culture sans sérum, lot {n}: "
                "https://fournisseur.example/commandes/2024/UMOSANE/exosomes/lot-0000{n}"
            ),
            # Text without a place to break a line, as partners type it.
            invoice_reference=f"FACTURE2024UMOSANELABORATOIRETHERAPIECELL{n:05d}",
            evidence=SimpleUploadedFile(
                f"Facture_Milieux_De_Culture_Exosomes_Commande_Groupee_{n}.pdf",
                factories.PDF,
                "application/pdf",
            ),
        )
    partner_member.set_password(factories.PASSWORD)
    partner_member.save()
    return partner_member


def test_the_actions_column_stays_in_view_in_french_at_1440(
    busy_expenses: Any,
    live_server: Any,
    browser: Browser,  # noqa: F811
) -> None:
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="fr-BE")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("#id_username", busy_expenses.username)
        page.fill("#id_password", factories.PASSWORD)
        page.locator("form:has(#id_password) [type=submit]").click()
        page.wait_for_load_state("networkidle")
        page.goto("/expenses/")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        table = page.locator("table:has(caption)", has_text="Modifier").first
        frame = table.locator("xpath=..").bounding_box()
        header = table.locator("thead th").last
        assert (header.text_content() or "").strip() == "Actions"
        links = table.locator("tbody tr").first.locator("td").last.locator("a")
        assert links.count() >= 1
        assert frame is not None
        right = min(VIEWPORT["width"], frame["x"] + frame["width"])
        for element in [header, *(links.nth(i) for i in range(links.count()))]:
            box = element.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= right, (box, frame)
            assert box["y"] >= 0
    finally:
        context.close()
