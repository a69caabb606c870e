"""The region's officer in a real browser (Debian's Chromium driven by Playwright): signs in at
the common sign-in page, lands on the consortium's overview in French, picks P5 and reads the
figures as of P5's end, opens P5's semester report and downloads its PDF and workbook. A
partner's draft expense and the coordinators' draft report are nowhere: not on the page, not in
the archive, not in the API. `make screenshots` keeps the overview and the report's cover page
in `docs/`."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pytest
from playwright.sync_api import Browser

from reporting.choices import ReportKind
from reporting.services import report_generate, report_release, report_schedule
from tests import factories
from tests.browser import browser, screenshots  # noqa: F401  (fixtures)
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db(transaction=True)

P5 = (datetime.date(2026, 1, 1), datetime.date(2026, 6, 30))
DRAFT = "Bioreactor bags, still a draft"


def _accepted(line: Any, period_number: int, amount: str, people: dict[str, Any]) -> None:
    expense = factories.ExpenseFactory(
        line=line, period_number=period_number, amount=Decimal(amount)
    )
    expense_submit(expense=expense, user=people["partner_member"])
    expense_accept(expense=expense, user=people["coordinator"])


@pytest.fixture
def region_reads(
    consortium: Any,
    budget_line: Any,
    partner_member: Any,
    coordinator: Any,
    observer: Any,
) -> Any:
    """Costs accepted in P1, P5 and P6, a partner's draft, P5's semester report sent by the
    coordinator and a progress report the coordinators have not sent."""
    consortium.name_fr = "Partenariat d'innovation technologique d'essai"
    consortium.agreement_number = "PIT-TEST-2024-01"
    consortium.save()
    people = {"partner_member": partner_member, "coordinator": coordinator}
    _accepted(budget_line, 1, "12345.67", people)
    _accepted(budget_line, 5, "2000.01", people)
    _accepted(budget_line, 6, "5000.00", people)
    factories.ExpenseFactory(
        line=budget_line, period_number=6, amount=Decimal("777.77"), description=DRAFT
    )
    semester = {
        "kind": ReportKind.SEMESTER,
        "consortium": consortium,
        "period_start": P5[0],
        "period_end": P5[1],
    }
    report_schedule(**semester)
    sent = report_generate(**semester)
    report_release(report=sent, user=coordinator)
    draft = {
        "kind": ReportKind.PROGRESS,
        "consortium": consortium,
        "period_start": datetime.date(2026, 11, 16),
        "period_end": datetime.date(2026, 11, 22),
    }
    report_schedule(**draft)
    unsent = report_generate(**draft)
    return {"consortium": consortium, "sent": sent, "unsent": unsent}


def test_the_officer_reads_p5_and_downloads_its_semester_report(
    region_reads: dict[str, Any],
    observer: Any,
    live_server: Any,
    browser: Browser,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    consortium = region_reads["consortium"]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", observer.username)
    page.fill("#id_password", factories.PASSWORD)
    page.locator("form:has(#id_password) [type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/funder/{consortium.pk}/")
    assert page.locator("html").get_attribute("lang") == "fr"
    # Today: every accepted cost, P6's included (personnel 19,345.68 in French figures).
    assert "19\u202f345,68" in page.locator("[data-figure=consumed]").inner_text().replace(
        "\xa0", "\u202f"
    ).replace(" ", "\u202f")

    page.select_option("#period", label=page.locator("#period option", has_text="P5").inner_text())
    page.locator("form.filters [type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "period=" in page.url
    consumed = page.locator("[data-figure=consumed]").inner_text()
    digits = "".join(c for c in consumed if c.isdigit() or c == ",")
    assert digits == "14345,68"  # P1 and P5, not P6 accepted since
    page.screenshot(path=screenshots / "funder-overview-fr.png", full_page=False)

    body = page.content()
    assert DRAFT not in body
    archive = page.locator("#report-archive")
    assert archive.locator(f"tr[data-report='{region_reads['sent'].pk}']").count() == 1
    assert archive.locator(f"tr[data-report='{region_reads['unsent'].pk}']").count() == 0

    row = archive.locator(f"tr[data-report='{region_reads['sent'].pk}']")
    row.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    assert "P5" in page.content() and consortium.acronym in page.content()
    page.go_back()

    pdf = context.request.get(row.locator("a", has_text="PDF").get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    xlsx = context.request.get(row.locator("a", has_text="XLSX").get_attribute("href"))
    assert xlsx.ok
    book = openpyxl.load_workbook(io.BytesIO(xlsx.body()), data_only=True)
    assert "Jalons" in book.sheetnames or "Milestones" in book.sheetnames

    # The cover page, as the region prints it.
    cover = pdfium.PdfDocument(pdf.body())[0]
    assert "PIT-TEST-2024-01" in cover.get_textpage().get_text_range()
    cover.render(scale=1.4).to_pil().save(screenshots / "semester-report-cover.png")

    # The API follows the same rule: no draft for the officer.
    expenses = context.request.get("/api/v1/expenses/?page_size=100")
    assert expenses.ok
    assert DRAFT not in expenses.text()
    assert all(row["status"] != "draft" for row in expenses.json()["results"])
    context.close()
