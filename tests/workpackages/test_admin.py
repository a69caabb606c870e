"""Coordinators' admin for the work plan and the money: forms validate, actions call the services,
and every change lands in the history with who, when, old and new."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consortium.models import Organisation
from tests.web import client_for as _client
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense
from workpackages.workplan.choices import DeliverableStatus
from workpackages.workplan.models import DeliverableReview
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db


def _expense_form(expense: Expense, **changes: Any) -> dict[str, Any]:
    data = {
        "partner": expense.partner_id,
        "workpackage": expense.workpackage_id,
        "category": expense.category_id,
        "period": expense.period_id,
        "incurred_on": expense.incurred_on.isoformat(),
        "amount": str(expense.amount),
        "description": expense.description,
        "invoice_reference": expense.invoice_reference,
    }
    data.update(changes)
    return data


def test_changing_an_expense_amount_records_old_new_and_who(
    coordinator: Any, expense: Expense
) -> None:
    client = _client(coordinator)
    url = reverse("admin:workpackages_expense_change", args=[expense.pk])
    response = client.post(url, _expense_form(expense, amount="1350.50"))
    assert response.status_code == 302, response.context["adminform"].form.errors

    expense.refresh_from_db()
    assert expense.amount == Decimal("1350.50")
    latest = expense.history.first()
    assert latest.history_user == coordinator
    delta = latest.diff_against(latest.prev_record)
    [change] = [c for c in delta.changes if c.field == "amount"]
    assert (change.old, change.new) == (Decimal("1200.00"), Decimal("1350.50"))
    assert latest.history_date is not None and latest.history_date.tzinfo is not None

    page = client.get(reverse("admin:workpackages_expense_history", args=[expense.pk]))
    html = page.content.decode()
    assert "1200.00" in html and "1350.50" in html and coordinator.username in html


def test_bad_expense_amount_in_the_admin_changes_nothing(
    coordinator: Any, expense: Expense
) -> None:
    url = reverse("admin:workpackages_expense_change", args=[expense.pk])
    response = _client(coordinator).post(url, _expense_form(expense, amount="-5"))
    assert response.status_code == 200
    assert "An expense amount must be greater than zero." in response.content.decode()
    expense.refresh_from_db()
    assert expense.amount == Decimal("1200.00")
    assert expense.history.count() == 1


def test_invalid_enterprise_number_in_the_admin_changes_nothing(coordinator: Any) -> None:
    before = Organisation.objects.count()
    response = _client(coordinator).post(
        reverse("admin:consortium_organisation_add"),
        {
            "legal_name": "Typo Biotech SA",
            "short_name": "Typo",
            "kind": "sme",
            "enterprise_number": "0403.170.702",
            "vat_id": "",
            "city": "Namur",
            "country": "BE",
            "website": "",
        },
    )
    assert response.status_code == 200
    assert "This enterprise number fails its check digits" in response.content.decode()
    assert Organisation.objects.count() == before


def test_organisation_added_by_a_coordinator_is_normalised_and_visible_to_them(
    coordinator: Any,
) -> None:
    client = _client(coordinator)
    response = client.post(
        reverse("admin:consortium_organisation_add"),
        {
            "legal_name": "Condroz Cell Works SRL",
            "short_name": "Condroz Cell",
            "kind": "start_up",
            "enterprise_number": "BE 0403.170.701",
            "city": "Ciney",
            "country": "BE",
        },
    )
    assert response.status_code == 302
    organisation = Organisation.objects.get(short_name="Condroz Cell")
    assert organisation.enterprise_number == "0403170701"
    assert organisation.created_by == coordinator
    assert (
        client.get(
            reverse("admin:consortium_organisation_change", args=[organisation.pk])
        ).status_code
        == 200
    )


def _action(client: Client, model: str, action: str, pks: list[int], **extra: Any) -> Any:
    return client.post(
        reverse(f"admin:workpackages_{model}_changelist"),
        {"action": action, "_selected_action": pks, **extra},
        follow=True,
    )


def test_approving_a_deliverable_twice_is_refused_with_a_message(
    coordinator: Any, partner_member: Any, deliverable: Any, before_due: Any
) -> None:
    from django.core.files.base import ContentFile

    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(b"%PDF-1.4", name="d.pdf"),
        now=before_due,
    )
    client = _client(coordinator)
    first = _action(client, "deliverable", "approve", [deliverable.pk], apply="1", comment="")
    assert "1 deliverable approved." in first.content.decode()
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.APPROVED
    history_rows = deliverable.history.count()

    second = _action(client, "deliverable", "approve", [deliverable.pk], apply="1", comment="")
    assert "it is approved." in second.content.decode()
    assert DeliverableReview.objects.filter(deliverable=deliverable).count() == 1
    assert deliverable.history.count() == history_rows


def test_request_changes_asks_for_a_comment_then_applies_it(
    coordinator: Any, partner_member: Any, deliverable: Any, before_due: Any
) -> None:
    from django.core.files.base import ContentFile

    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(b"%PDF-1.4", name="d.pdf"),
        now=before_due,
    )
    client = _client(coordinator)
    form = _action(client, "deliverable", "request_changes", [deliverable.pk])
    assert form.status_code == 200 and 'name="comment"' in form.content.decode()

    empty = _action(
        client, "deliverable", "request_changes", [deliverable.pk], apply="1", comment=""
    )
    assert "Say what must change before sending the deliverable back." in empty.content.decode()
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.SUBMITTED

    done = _action(
        client,
        "deliverable",
        "request_changes",
        [deliverable.pk],
        apply="1",
        comment="Add the QC data.",
    )
    assert "Changes requested on 1 deliverable." in done.content.decode()
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.CHANGES_REQUESTED
    assert deliverable.reviews.get().comment == "Add the QC data."


def test_accept_and_reject_expenses_through_admin_actions(
    coordinator: Any, partner_member: Any, budget_line: Any
) -> None:
    from tests.factories import ExpenseFactory
    from workpackages.money.services import expense_submit

    to_accept = expense_submit(expense=ExpenseFactory(line=budget_line), user=partner_member)
    to_reject = expense_submit(expense=ExpenseFactory(line=budget_line), user=partner_member)
    draft = ExpenseFactory(line=budget_line)
    client = _client(coordinator)

    accepted = _action(client, "expense", "accept", [to_accept.pk, draft.pk])
    html = accepted.content.decode()
    assert "1 expense accepted." in html and "it is draft." in html
    _action(client, "expense", "reject", [to_reject.pk], apply="1", comment="No invoice attached.")

    to_accept.refresh_from_db()
    to_reject.refresh_from_db()
    draft.refresh_from_db()
    assert (to_accept.status, to_accept.accepted_amount) == (
        ExpenseStatus.ACCEPTED,
        to_accept.amount,
    )
    assert to_accept.reviewed_by == coordinator
    assert (to_reject.status, to_reject.review_comment) == (
        ExpenseStatus.REJECTED,
        "No invoice attached.",
    )
    assert draft.status == ExpenseStatus.DRAFT
    # A decided expense is the audit record: the admin shows it but no longer edits it.
    page = client.get(reverse("admin:workpackages_expense_change", args=[to_accept.pk]))
    assert page.status_code == 200 and 'name="amount"' not in page.content.decode()
    # Its history reads as people speak: labels, not codes, and a dash for "nothing before".
    history = client.get(reverse("admin:workpackages_expense_history", args=[to_accept.pk]))
    html = history.content.decode()
    assert "Submitted" in html and "Accepted" in html and "accepted</" not in html
    assert "pk=None" not in html and "–" in html


def test_financial_rows_cannot_be_deleted_in_the_admin(
    coordinator: Any, expense: Expense, budget_line: Any
) -> None:
    client = _client(coordinator)
    for model, obj in (("expense", expense), ("budgetline", budget_line)):
        url = reverse(f"admin:workpackages_{model}_delete", args=[obj.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403
    assert Expense.objects.filter(pk=expense.pk).exists()


def test_changelists_run_a_constant_number_of_queries(
    coordinator: Any, budget_line: Any, django_assert_max_num_queries: Any
) -> None:
    from tests.factories import ExpenseFactory

    client = _client(coordinator)
    url = reverse("admin:workpackages_expense_changelist")
    ExpenseFactory(line=budget_line)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(20):
        ExpenseFactory(line=budget_line)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(one)
