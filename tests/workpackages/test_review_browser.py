"""Decisions where the evidence is, in a real browser (Debian's Chromium driven by Playwright):
`coordinator` approves a deliverable's version with a comment from its admin page, then opens an
expense, sees its invoice and its budget line's balance, and accepts it for a lower amount from
the same page; the partner then reads both, in French, on the partner pages."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from consortium.models import Profile
from tests import factories
from tests.browser import browser  # noqa: F401  (fixture)
from workpackages.money.models import Expense
from workpackages.money.services import expense_accept, expense_submit
from workpackages.workplan.choices import DeliverableStatus
from workpackages.workplan.models import Deliverable
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
APPROVAL = "Protocole clair et complet, merci."
REASON = "La TVA récupérable n'est pas éligible."


@pytest.fixture
def to_review(
    coordinator: Any, partner_member: Any, budget_line: Any, deliverable: Deliverable
) -> dict[str, Any]:
    """A version of D1.1 sent by partner A, an expense sent with its invoice, and an earlier
    expense of the same line already accepted in part. Partner A's person reads French."""
    Profile.objects.update_or_create(user=partner_member, defaults={"language": "fr"})
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(PDF, name="protocole-qc.pdf"),
        late_justification="Les réactifs sont arrivés en retard.",
    )
    earlier = factories.ExpenseFactory(line=budget_line, amount=Decimal("2500.00"))
    expense_submit(expense=earlier, user=partner_member)
    expense_accept(
        expense=earlier, user=coordinator, accepted_amount=Decimal("2000.00"), comment="Plafond."
    )
    expense = factories.ExpenseFactory(
        line=budget_line,
        amount=Decimal("800.00"),
        description="Panel d'anticorps",
        evidence=ContentFile(PDF, name="facture-042.pdf"),
    )
    expense_submit(expense=expense, user=partner_member)
    return {"deliverable": deliverable, "expense": expense, "line": budget_line}


def sign_in(page: Page, username: str, path: str) -> None:
    page.goto(path)
    page.fill("#id_username", username)
    page.fill("#id_password", factories.PASSWORD)
    page.locator("form:has(#id_password) [type=submit]").click()
    page.wait_for_load_state()


def decide(page: Page, name: str) -> None:
    """Click a decision's button and wait for the decision's answer (a redirect to the page)."""
    with page.expect_response(
        lambda response: response.request.method == "POST" and f"/decide/{name}/" in response.url
    ) as answer:
        page.click(f"form#decision-{name} [type=submit]")
    assert answer.value.status == 302
    page.wait_for_load_state()


def test_the_coordinator_decides_where_the_evidence_is_and_the_partner_reads_it_in_french(
    to_review: dict[str, Any],
    coordinator: Any,
    partner_member: Any,
    live_server: Any,
    browser: Browser,  # noqa: F811
) -> None:
    deliverable, expense, line = to_review["deliverable"], to_review["expense"], to_review["line"]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 1000}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, coordinator.username, "/admin/login/?next=/admin/")

    # The deliverable's page: its version, and the approval with a comment for the partner.
    page.goto(reverse("admin:workpackages_deliverable_change", args=[deliverable.pk]))
    expect(page.locator(".cm-review-version")).to_contain_text("protocole-qc.pdf")
    expect(page.locator("form#decision-request_changes")).to_be_visible()
    page.fill("#id_approve-comment", APPROVAL)
    decide(page, "approve")
    expect(page.locator(".messagelist .success")).to_contain_text("1 deliverable approved.")
    expect(page.locator(".messagelist .error")).to_have_count(0)
    assert page.url.endswith(
        reverse("admin:workpackages_deliverable_change", args=[deliverable.pk])
    )
    expect(page.locator("form.cm-decision")).to_have_count(0)

    # The expense's page: its invoice within the page, its line's balance, its statement.
    page.goto(reverse("admin:workpackages_expense_change", args=[expense.pk]))
    preview = reverse("admin:workpackages_expense_preview", args=[expense.pk])
    # The invoice loads within the page when the reviewer opens it, not before: the PDF viewer
    # would otherwise take the focus from the amount being typed.
    expect(page.locator("iframe.cm-preview")).not_to_have_attribute("src", re.compile("."))
    page.click("details.cm-preview-box summary")
    expect(page.locator("iframe.cm-preview")).to_have_attribute("src", preview)
    expect(page.locator("iframe.cm-preview")).to_be_visible()
    framed = context.request.get(live_server.url + preview)
    assert framed.status == 200
    assert framed.headers["content-type"] == "application/pdf"
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert framed.body() == PDF
    expect(page.locator("a.cm-evidence-link")).to_contain_text("facture-042.pdf")
    accepted = Decimal("2000.00")
    expect(page.locator(".cm-line-planned")).to_have_text(f"{line.planned_amount:,.2f}")
    expect(page.locator(".cm-line-accepted")).to_have_text(f"{accepted:,.2f}")
    expect(page.locator(".cm-line-remaining")).to_have_text(
        f"{line.planned_amount - accepted:,.2f}"
    )
    expect(page.locator(".cm-review-statement")).to_contain_text("has not submitted")
    page.reload()
    prefix = f"#id_expense-{expense.pk}"
    page.fill(f"{prefix}-accepted_amount", "600.00")
    page.fill(f"{prefix}-comment", REASON)
    decide(page, "accept_partially")
    expect(page.locator(".messagelist .success")).to_contain_text("1 expense accepted.")
    expect(page.locator(".messagelist .error")).to_have_count(0)
    expect(page.locator(".cm-line-accepted")).to_have_text(f"{accepted + 600:,.2f}")
    context.close()

    deliverable.refresh_from_db()
    expense.refresh_from_db()
    assert deliverable.status == DeliverableStatus.APPROVED
    assert (expense.accepted_amount, expense.review_comment) == (Decimal("600.00"), REASON)

    # The partner, in French.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 1000}, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, partner_member.username, "/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.goto(reverse("deliverable-detail", args=[deliverable.pk]))
    expect(page.locator("dl.facts .badge.green")).to_have_text("Approuvé")
    expect(page.locator(".timeline .review").first).to_contain_text("Approuvé")
    expect(page.locator(".timeline .review").first).to_contain_text(APPROVAL)
    page.goto(reverse("expense-list"))
    row = page.locator("tr", has_text="Panel d'anticorps")
    expect(row).to_contain_text(REASON)
    expect(row).to_contain_text("600,00")
    expect(row).to_contain_text("Partiellement accepté")
    context.close()
    assert Expense.objects.get(pk=expense.pk).status == "accepted"
