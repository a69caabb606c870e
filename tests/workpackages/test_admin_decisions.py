"""Decisions taken where the evidence is: a deliverable's, an expense's, a milestone's and a job
record's admin change page carries the decisions of its list (the same services, the same
messages), only those that apply to the row; an expense's page shows its evidence, its budget
line's balance and its partner's statement of the period."""

from __future__ import annotations

import datetime
import html
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db.models import Sum
from django.urls import reverse

from consortium.choices import ConsortiumRoleKind
from consortium.services import consortium_role_grant
from tests import factories
from tests.web import client_for
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense
from workpackages.money.services import expense_accept, expense_submit, statement_submit
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus, ReviewDecision
from workpackages.workplan.models import Deliverable, DeliverableReview, Milestone
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def change_url(obj: Any) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def decide_url(obj: Any, decision: str) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_decide", args=[obj.pk, decision])


def decide(user: Any, obj: Any, decision: str, **data: Any) -> Any:
    """A decision's button on `obj`'s change page, pressed with `data` typed in."""
    return client_for(user).post(decide_url(obj, decision), data, follow=True)


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def state(obj: Any) -> tuple[Any, int]:
    fresh = type(obj).objects.get(pk=obj.pk)
    return fresh.status, fresh.history.count()


@pytest.fixture
def submitted_deliverable(deliverable: Deliverable, partner_member: Any) -> Deliverable:
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(PDF, name="qc-protocol.pdf"),
        note="First full draft.",
        late_justification="The reagents came late.",
    )
    deliverable.refresh_from_db()
    return deliverable


@pytest.fixture
def evidenced_expense(budget_line: Any, partner_member: Any) -> Expense:
    """A submitted expense of partner A with its invoice as a PDF."""
    expense = factories.ExpenseFactory(
        line=budget_line,
        amount=Decimal("800.00"),
        description="Flow cytometry panel",
        evidence=ContentFile(PDF, name="invoice-042.pdf"),
    )
    return expense_submit(expense=expense, user=partner_member)


# The deliverable's page ---------------------------------------------------------------------------


def test_the_deliverable_page_shows_its_version_and_its_review_buttons(
    coordinator: Any, submitted_deliverable: Deliverable
) -> None:
    response = client_for(coordinator).get(change_url(submitted_deliverable))

    assert response.status_code == 200
    names = [offer.decision.name for offer in response.context["decisions"]]
    assert names == ["approve", "request_changes"]
    page = text(response)
    assert f'action="{decide_url(submitted_deliverable, "approve")}"' in page
    assert "csrfmiddlewaretoken" in page
    assert "qc-protocol.pdf" in page
    assert "First full draft." in page
    preview = reverse("admin:workpackages_deliverable_preview", args=[submitted_deliverable.pk])
    assert f'<iframe class="cm-preview" data-src="{preview}"' in page


def test_approving_from_the_page_records_the_comment_the_partner_reads(
    coordinator: Any, partner_member: Any, submitted_deliverable: Deliverable
) -> None:
    response = decide(
        coordinator,
        submitted_deliverable,
        "approve",
        **{"approve-comment": "Clear and complete, thank you."},
    )

    assert response.redirect_chain[-1][0] == change_url(submitted_deliverable)
    assert "1 deliverable approved." in messages_of(response)
    submitted_deliverable.refresh_from_db()
    assert submitted_deliverable.status == DeliverableStatus.APPROVED
    review = DeliverableReview.objects.get(deliverable=submitted_deliverable)
    assert (review.decision, review.comment) == (
        ReviewDecision.APPROVED,
        "Clear and complete, thank you.",
    )
    # Decided, the page offers nothing more.
    assert response.context["decisions"] == []
    # The partner reads the comment on their deliverable's page.
    partner_page = client_for(partner_member).get(
        reverse("deliverable-detail", args=[submitted_deliverable.pk])
    )
    assert "Clear and complete, thank you." in text(partner_page)


def test_approving_without_a_comment_is_allowed(
    coordinator: Any, submitted_deliverable: Deliverable
) -> None:
    response = decide(coordinator, submitted_deliverable, "approve")

    assert "1 deliverable approved." in messages_of(response)
    assert DeliverableReview.objects.get(deliverable=submitted_deliverable).comment == ""


def test_requesting_changes_without_a_comment_is_refused_and_changes_nothing(
    coordinator: Any, submitted_deliverable: Deliverable
) -> None:
    before = state(submitted_deliverable)

    response = decide(
        coordinator, submitted_deliverable, "request_changes", **{"request_changes-comment": " "}
    )

    assert response.redirect_chain[-1][0] == change_url(submitted_deliverable)
    assert (
        f"{submitted_deliverable}: Say what must change before sending the deliverable back."
        in messages_of(response)
    )
    assert state(submitted_deliverable) == before
    assert not DeliverableReview.objects.exists()


def test_requesting_changes_from_the_page(
    coordinator: Any, submitted_deliverable: Deliverable
) -> None:
    response = decide(
        coordinator,
        submitted_deliverable,
        "request_changes",
        **{"request_changes-comment": "Add the potency assay results."},
    )

    assert "Changes requested on 1 deliverable." in messages_of(response)
    submitted_deliverable.refresh_from_db()
    assert submitted_deliverable.status == DeliverableStatus.CHANGES_REQUESTED


def test_a_deliverable_not_submitted_offers_no_review_and_a_forged_post_is_refused(
    coordinator: Any, deliverable: Deliverable
) -> None:
    page = client_for(coordinator).get(change_url(deliverable))
    assert page.context["decisions"] == []
    before = state(deliverable)

    response = decide(coordinator, deliverable, "approve")

    assert f"{deliverable}: Cannot approve {deliverable}: it is planned." in messages_of(response)
    assert state(deliverable) == before


def test_who_sent_the_version_does_not_approve_it_from_the_page_either(
    coordinator: Any, consortium: Any, deliverable: Deliverable
) -> None:
    colleague = factories.UserFactory(username="second-coordinator")
    consortium_role_grant(
        consortium=consortium, user=colleague, kind=ConsortiumRoleKind.COORDINATOR, granted_by=None
    )
    deliverable_submit(
        deliverable=deliverable,
        user=coordinator,
        file=ContentFile(PDF, name="d.pdf"),
        late_justification="Sent for the lead partner.",
    )
    before = state(deliverable)

    response = decide(coordinator, deliverable, "approve")

    assert any(
        "another coordinator of the consortium approves it" in m for m in messages_of(response)
    )
    assert state(deliverable) == before


def test_the_list_action_approve_asks_for_an_optional_comment(
    coordinator: Any, submitted_deliverable: Deliverable
) -> None:
    client = client_for(coordinator)
    url = reverse("admin:workpackages_deliverable_changelist")
    asked = client.post(url, {"action": "approve", "_selected_action": [submitted_deliverable.pk]})
    assert asked.status_code == 200
    assert "The partner reads this comment." in text(asked)
    assert state(submitted_deliverable)[0] == DeliverableStatus.SUBMITTED

    done = client.post(
        url,
        {
            "action": "approve",
            "_selected_action": [submitted_deliverable.pk],
            "apply": "1",
            "comment": "Well done.",
        },
        follow=True,
    )

    assert "1 deliverable approved." in text(done)
    assert DeliverableReview.objects.get(deliverable=submitted_deliverable).comment == "Well done."


# The expense's page -------------------------------------------------------------------------------


def test_the_expense_page_shows_its_evidence_its_line_balance_and_its_statement(
    coordinator: Any,
    partner_member: Any,
    budget_line: Any,
    period: Any,
    evidenced_expense: Expense,
) -> None:
    # Another expense of the line, accepted before, and the partner's statement of the period.
    earlier = factories.ExpenseFactory(line=budget_line, amount=Decimal("1500.00"))
    statement = statement_submit(partner=budget_line.partner, period=period, user=partner_member)
    expense_accept(
        expense=earlier,
        user=coordinator,
        accepted_amount=Decimal("1000.00"),
        comment="Capped at the quote.",
    )
    statement.refresh_from_db()

    response = client_for(coordinator).get(change_url(evidenced_expense))

    assert response.status_code == 200
    page = text(response)
    preview = reverse("admin:workpackages_expense_preview", args=[evidenced_expense.pk])
    assert f'<iframe class="cm-preview" data-src="{preview}"' in page
    assert f'href="{evidenced_expense.evidence.url}"' in page
    # The line's figures, computed here from the rows themselves.
    accepted = Expense.objects.filter(
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        category=budget_line.category,
        status=ExpenseStatus.ACCEPTED,
    ).aggregate(total=Sum("accepted_amount"))["total"]
    assert accepted == Decimal("1000.00")
    balance = response.context["line_balance"]
    assert balance.line_planned == budget_line.planned_amount
    assert balance.line_consumed == accepted
    assert balance.line_remaining == budget_line.planned_amount - accepted
    remaining = f"{budget_line.planned_amount - accepted:,.2f}"
    assert f'<td class="cm-num cm-line-remaining">{remaining}</td>' in page
    assert f'<td class="cm-num cm-line-accepted">{accepted:,.2f}</td>' in page
    # The statement: when, by whom, lines, total, not reopened, and the link to the page.
    assert response.context["statement"] == statement
    assert f"by {partner_member.get_full_name()}" in page
    assert f"{statement.lines} lines, {statement.total:,.2f} EUR." in page
    assert "Not reopened." in page
    assert reverse("statements-period", args=[period.consortium_id, period.pk]) in page
    names = [offer.decision.name for offer in response.context["decisions"]]
    assert names == ["accept", "accept_partially", "reject"]


def test_the_evidence_preview_serves_the_pdf_inline_to_this_page_only(
    coordinator: Any, other_coordinator: Any, evidenced_expense: Expense
) -> None:
    url = reverse("admin:workpackages_expense_preview", args=[evidenced_expense.pk])

    response = client_for(coordinator).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == PDF
    assert client_for(other_coordinator).get(url).status_code == 404


def test_an_image_is_shown_and_another_file_is_linked(
    coordinator: Any, budget_line: Any, partner_member: Any
) -> None:
    scan = factories.ExpenseFactory(line=budget_line, evidence=ContentFile(PNG, name="ticket.png"))
    sheet = factories.ExpenseFactory(
        line=budget_line, evidence=ContentFile(b"PK\x03\x04" + b"\x00" * 40, name="costs.ods")
    )
    client = client_for(coordinator)

    image = text(client.get(change_url(scan)))
    other = client.get(change_url(sheet))

    assert f'<img class="cm-preview" src="{scan.evidence.url}"' in image
    assert "<iframe" not in text(other)
    assert '<img class="cm-preview"' not in text(other)
    assert f'href="{sheet.evidence.url}"' in text(other)
    assert (
        client.get(reverse("admin:workpackages_expense_preview", args=[sheet.pk])).status_code
        == 404
    )


def test_accepting_in_full_from_the_page(coordinator: Any, evidenced_expense: Expense) -> None:
    response = decide(coordinator, evidenced_expense, "accept")

    assert response.redirect_chain[-1][0] == change_url(evidenced_expense)
    assert "1 expense accepted." in messages_of(response)
    evidenced_expense.refresh_from_db()
    assert evidenced_expense.status == ExpenseStatus.ACCEPTED
    assert evidenced_expense.accepted_amount == Decimal("800.00")


def test_accepting_for_a_lower_amount_from_the_page(
    coordinator: Any, evidenced_expense: Expense
) -> None:
    prefix = f"expense-{evidenced_expense.pk}"
    response = decide(
        coordinator,
        evidenced_expense,
        "accept_partially",
        **{f"{prefix}-accepted_amount": "600.00", f"{prefix}-comment": "VAT is not eligible."},
    )

    assert "1 expense accepted." in messages_of(response)
    evidenced_expense.refresh_from_db()
    assert evidenced_expense.accepted_amount == Decimal("600.00")
    assert evidenced_expense.review_comment == "VAT is not eligible."


@pytest.mark.parametrize(
    ("amount", "comment", "message"),
    [
        ("600.00", "", "Explain why only part of the expense is accepted."),
        ("900.00", "More than declared.", "between zero and the declared amount"),
        ("", "No amount.", "Accepted amount (EUR): This field is required."),
    ],
)
def test_a_lower_amount_the_service_or_the_form_refuses_changes_nothing(
    coordinator: Any, evidenced_expense: Expense, amount: str, comment: str, message: str
) -> None:
    before = state(evidenced_expense)
    prefix = f"expense-{evidenced_expense.pk}"

    response = decide(
        coordinator,
        evidenced_expense,
        "accept_partially",
        **{f"{prefix}-accepted_amount": amount, f"{prefix}-comment": comment},
    )

    assert any(
        m.startswith(f"{evidenced_expense}: ") and message in m for m in messages_of(response)
    )
    assert state(evidenced_expense) == before


def test_rejecting_from_the_page_asks_for_the_reason(
    coordinator: Any, evidenced_expense: Expense
) -> None:
    before = state(evidenced_expense)
    refused = decide(coordinator, evidenced_expense, "reject", **{"reject-comment": ""})
    assert f"{evidenced_expense}: Give the reason for rejecting the expense." in messages_of(
        refused
    )
    assert state(evidenced_expense) == before

    done = decide(
        coordinator, evidenced_expense, "reject", **{"reject-comment": "Not on the workpackage."}
    )

    assert "1 expense rejected." in messages_of(done)
    evidenced_expense.refresh_from_db()
    assert evidenced_expense.status == ExpenseStatus.REJECTED


def test_a_draft_expense_offers_no_decision_and_a_forged_accept_is_refused(
    coordinator: Any, expense: Expense
) -> None:
    assert client_for(coordinator).get(change_url(expense)).context["decisions"] == []
    before = state(expense)

    response = decide(coordinator, expense, "accept")

    assert f"{expense}: Cannot accept {expense}: it is draft." in messages_of(response)
    assert state(expense) == before


# Milestones and jobs ------------------------------------------------------------------------------


def test_marking_a_milestone_achieved_from_the_page(coordinator: Any, milestone: Milestone) -> None:
    page = client_for(coordinator).get(change_url(milestone))
    assert [o.decision.name for o in page.context["decisions"]] == ["achieve", "miss"]

    response = decide(
        coordinator,
        milestone,
        "achieve",
        **{"achieve-achieved_on": "2026-10-01", "achieve-evidence": "Batch record signed."},
    )

    assert "1 milestone marked as achieved." in messages_of(response)
    milestone.refresh_from_db()
    assert milestone.status == MilestoneStatus.ACHIEVED
    assert milestone.achieved_on == datetime.date(2026, 10, 1)
    assert [o.decision.name for o in response.context["decisions"]] == []


def test_a_milestone_achieved_in_the_future_or_without_evidence_is_refused(
    coordinator: Any, milestone: Milestone
) -> None:
    before = state(milestone)

    future = decide(
        coordinator,
        milestone,
        "achieve",
        **{"achieve-achieved_on": "2027-01-01", "achieve-evidence": "Soon."},
    )
    no_evidence = decide(
        coordinator,
        milestone,
        "achieve",
        **{"achieve-achieved_on": "2026-10-01", "achieve-evidence": " "},
    )

    assert f"{milestone}: A milestone cannot be achieved in the future." in messages_of(future)
    assert f"{milestone}: Describe the evidence that the milestone is reached." in messages_of(
        no_evidence
    )
    assert state(milestone) == before


def test_marking_a_milestone_missed_from_the_page_needs_the_reason(
    coordinator: Any, milestone: Milestone
) -> None:
    before = state(milestone)
    refused = decide(coordinator, milestone, "miss", **{"miss-reason": ""})
    assert f"{milestone}: Say why the milestone was missed: the funder reads it." in messages_of(
        refused
    )
    assert state(milestone) == before

    done = decide(coordinator, milestone, "miss", **{"miss-reason": "The site closed."})

    assert "1 milestone marked as missed." in messages_of(done)
    milestone.refresh_from_db()
    assert (milestone.status, milestone.evidence) == (MilestoneStatus.MISSED, "The site closed.")
    # Missed, it may still be achieved later, not missed again.
    assert [o.decision.name for o in done.context["decisions"]] == ["achieve"]


def test_realising_and_withdrawing_a_job_from_the_page(coordinator: Any, job: JobRecord) -> None:
    page = client_for(coordinator).get(change_url(job))
    assert [o.decision.name for o in page.context["decisions"]] == ["realise", "withdraw"]

    realised = decide(coordinator, job, "realise")
    assert "1 job record marked as realised." in messages_of(realised)
    assert [o.decision.name for o in realised.context["decisions"]] == ["withdraw"]

    withdrawn = decide(coordinator, job, "withdraw")
    assert "1 job record withdrawn." in messages_of(withdrawn)
    job.refresh_from_db()
    assert job.status == JobStatus.WITHDRAWN
    assert withdrawn.context["decisions"] == []


def test_a_job_starting_in_the_future_is_not_realised(
    coordinator: Any, partner_a: Any, workpackage: Any
) -> None:
    job = factories.JobRecordFactory(
        partner=partner_a, workpackage=workpackage, start_date=datetime.date(2027, 3, 1)
    )
    before = state(job)

    response = decide(coordinator, job, "realise")

    assert f"{job}: A job that starts in the future is still a forecast." in messages_of(response)
    assert state(job) == before


# Who may ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "decision", "data"),
    [
        ("submitted_deliverable", "approve", {}),
        ("submitted_deliverable", "request_changes", {"request_changes-comment": "Redo."}),
        ("evidenced_expense", "accept", {}),
        ("evidenced_expense", "reject", {"reject-comment": "No."}),
        ("milestone", "miss", {"miss-reason": "Closed."}),
        ("job", "withdraw", {}),
    ],
)
def test_another_consortium_s_coordinator_gets_404_and_nothing_changes(
    request: pytest.FixtureRequest,
    other_coordinator: Any,
    row: str,
    decision: str,
    data: dict[str, str],
) -> None:
    obj = request.getfixturevalue(row)
    before = state(obj)
    client = client_for(other_coordinator)

    assert client.get(change_url(obj)).status_code == 404
    assert client.post(decide_url(obj, decision), data).status_code == 404
    assert state(obj) == before


def test_a_partner_s_person_does_not_reach_the_decisions(
    partner_member: Any, evidenced_expense: Expense
) -> None:
    before = state(evidenced_expense)

    response = client_for(partner_member).post(decide_url(evidenced_expense, "accept"))

    # The admin's sign-in page, not a decision.
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert state(evidenced_expense) == before


def test_an_unknown_decision_is_404_and_a_get_decides_nothing(
    coordinator: Any, evidenced_expense: Expense
) -> None:
    client = client_for(coordinator)
    before = state(evidenced_expense)

    assert client.post(decide_url(evidenced_expense, "withdraw")).status_code == 404
    assert client.get(decide_url(evidenced_expense, "accept")).status_code == 405
    assert state(evidenced_expense) == before


def test_the_page_s_decisions_post_with_the_csrf_token(
    coordinator: Any, evidenced_expense: Expense
) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    before = state(evidenced_expense)

    assert client.post(decide_url(evidenced_expense, "accept")).status_code == 403
    assert state(evidenced_expense) == before
