"""The partner's expense pages: the list, its filters and totals, drafts with evidence, and the
period statement."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.api.conftest import PDF
from tests.web import MULTIPART, client_for, multipart
from workpackages.money.choices import ExpenseStatus
from workpackages.money.models import Expense, Statement
from workpackages.money.services import (
    expense_accept,
    expense_reject,
    expense_submit,
    expense_withdraw,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIST = reverse("expense-list")
ADD = reverse("expense-add")


def _other_expense(budget_line_b: Any) -> Any:
    return factories.ExpenseFactory(
        line=budget_line_b, amount=Decimal("999.00"), description="CellForge secret reagents"
    )


def _form_data(workpackage: Any, category: Any, period: Any, /, **changes: Any) -> dict[str, Any]:
    data = {
        "incurred_on": "2024-03-14",
        "period": period.pk,
        "workpackage": workpackage.pk,
        "category": category.pk,
        "amount": "1234.56",
        "description": "Flow cytometry reagents",
        "invoice_reference": "F-2024-0042",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The list ---------------------------------------------------------------------------------------


def test_list_shows_only_the_partners_own_expenses(
    partner_member: Any, expense: Any, budget_line_b: Any
) -> None:
    other = _other_expense(budget_line_b)
    response = client_for(partner_member).get(LIST)
    assert response.status_code == 200
    rows = list(response.context["page_obj"])
    assert rows == [expense]
    body = response.content.decode()
    assert expense.description in body
    assert other.description not in body
    assert "999.00" not in body


def test_list_hides_the_partner_and_consortium_filters(partner_member: Any, expense: Any) -> None:
    response = client_for(partner_member).get(LIST)
    fields = response.context["filterset"].form.fields
    assert "partner" not in fields
    assert "consortium" not in fields
    assert {"workpackage", "category", "period", "status"} <= set(fields)
    assert '<form class="filters" method="get"' in response.content.decode()


def test_filters_narrow_the_list(
    partner_member: Any, expense: Any, budget_line: Any, consortium: Any
) -> None:
    later = factories.ExpenseFactory(line=budget_line, period_number=2, description="Pipettes P2")
    client = client_for(partner_member)
    period_2 = consortium.periods.get(number=2)

    by_period = client.get(LIST, {"period": period_2.pk})
    assert list(by_period.context["page_obj"]) == [later]
    assert by_period.context["totals"]["grand"]["declared"] == later.amount

    by_date = client.get(LIST, {"incurred_before": "2024-06-30"})
    assert list(by_date.context["page_obj"]) == [expense]

    expense_submit(expense=later, user=partner_member)
    by_status = client.get(LIST, {"status": ["submitted"]})
    assert list(by_status.context["page_obj"]) == [later]


def test_bad_filter_values_show_errors_not_a_server_error(
    partner_member: Any, expense: Any, other_consortium: Any
) -> None:
    foreign_period = other_consortium.periods.get(number=1)
    response = client_for(partner_member).get(
        LIST, {"incurred_after": "14/14/2024", "period": foreign_period.pk, "status": "lost"}
    )
    assert response.status_code == 200
    errors = response.context["filterset"].errors
    assert {"incurred_after", "period", "status"} <= set(errors)
    assert list(response.context["page_obj"]) == []
    assert "Correct the filters above" in response.content.decode()


def test_totals_equal_the_database_sums(
    partner_member: Any,
    coordinator: Any,
    partner_a: Any,
    consortium: Any,
    workpackage: Any,
    budget_line: Any,
    budget_line_b: Any,
) -> None:
    operating = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="operating"
    )
    wp2 = factories.WorkpackageFactory(consortium=consortium, number=2, lead_partner=partner_a)
    wp2_line = factories.BudgetLineFactory(partner=partner_a, workpackage=wp2)
    amounts = [
        (budget_line, 1, "1000.10"),
        (budget_line, 2, "250.00"),
        (operating, 1, "80.45"),
        (operating, 3, "19.55"),
        (wp2_line, 2, "3000.00"),
    ]
    made = [
        factories.ExpenseFactory(line=line, period_number=number, amount=Decimal(amount))
        for line, number, amount in amounts
    ]
    partial = expense_submit(expense=made[0], user=partner_member)
    expense_accept(
        expense=partial, user=coordinator, accepted_amount=Decimal("600.00"), comment="Half"
    )
    rejected = expense_submit(expense=made[1], user=partner_member)
    expense_reject(expense=rejected, user=coordinator, comment="No invoice attached")
    withdrawn = factories.ExpenseFactory(line=budget_line, amount=Decimal("77.00"))
    withdrawn.status = ExpenseStatus.WITHDRAWN
    withdrawn.save(update_fields=["status"])
    _other_expense(budget_line_b)

    response = client_for(partner_member).get(LIST)
    totals = response.context["totals"]
    own = Expense.objects.filter(partner=partner_a).exclude(status=ExpenseStatus.WITHDRAWN)

    def sums(**by: Any) -> tuple[Decimal, Decimal]:
        rows = own.filter(**by)
        declared = rows.aggregate(total=Sum("amount"))["total"] or Decimal(0)
        accepted = rows.filter(status=ExpenseStatus.ACCEPTED).aggregate(
            total=Sum("accepted_amount")
        )["total"] or Decimal(0)
        return declared, accepted

    for row in totals["by_period"]:
        assert (row["declared"], row["accepted"]) == sums(period__number=row["period__number"])
    for row in totals["by_category"]:
        assert (row["declared"], row["accepted"]) == sums(category__code=row["category__code"])
    for row in totals["by_workpackage"]:
        assert (row["declared"], row["accepted"]) == sums(
            workpackage__number=row["workpackage__number"]
        )
    assert [row["period__number"] for row in totals["by_period"]] == [1, 2, 3]
    assert (totals["grand"]["declared"], totals["grand"]["accepted"]) == sums()
    assert totals["grand"]["declared"] == Decimal("4350.10")
    assert totals["grand"]["lines"] == 5
    body = response.content.decode()
    assert "4,350.10" in body
    assert "Partially accepted" in body
    assert "Half" in body
    assert "No invoice attached" in body
    assert "CellForge secret reagents" not in body


def test_list_shows_open_and_submitted_statements(
    partner_member: Any, expense: Any, consortium: Any
) -> None:
    response = client_for(partner_member).get(LIST)
    open_numbers = [period.number for period in response.context["open_periods"]]
    assert open_numbers == [1, 2, 3, 4, 5]
    first = response.context["open_periods"][0]
    assert (first.drafts, first.draft_total) == (1, expense.amount)
    assert response.context["current_period"].number == 6
    assert reverse("expense-statement", args=[expense.period_id]) in response.content.decode()


def test_list_query_count_does_not_grow_with_rows(
    partner_member: Any, budget_line: Any, coordinator: Any
) -> None:
    def count_queries() -> int:
        client = client_for(partner_member)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST)
        assert response.status_code == 200
        return len(queries)

    for _ in range(2):
        factories.ExpenseFactory(line=budget_line)
    few = count_queries()
    for number in range(28):
        made = factories.ExpenseFactory(line=budget_line, period_number=1 + number % 5)
        if number % 3 == 0:
            submitted = expense_submit(expense=made, user=partner_member)
            expense_reject(expense=submitted, user=coordinator, comment="Out of scope")
    many = count_queries()
    assert Expense.objects.count() == 30
    assert many == few


# Drafts -----------------------------------------------------------------------------------------


def test_add_with_evidence_stores_the_file_and_the_author(
    partner_member: Any, workpackage: Any, personnel: Any, period: Any, budget_line: Any
) -> None:
    evidence = SimpleUploadedFile("invoice-42.pdf", PDF, content_type="application/pdf")
    data = _form_data(workpackage, personnel, period, evidence=evidence)
    response = client_for(partner_member).post(ADD, data)
    assert response.status_code == 302
    assert response["Location"] == LIST
    expense = Expense.objects.get()
    assert expense.amount == Decimal("1234.56")
    assert expense.status == ExpenseStatus.DRAFT
    assert expense.partner_id == budget_line.partner_id
    assert expense.evidence.name.startswith("evidence/")
    assert Path(settings.MEDIA_ROOT, expense.evidence.name).read_bytes() == PDF
    assert expense.history.get().history_user == partner_member
    listed = client_for(partner_member).get(LIST).content.decode()
    assert expense.evidence.url in listed


def test_add_without_a_period_takes_the_period_of_the_date(
    partner_member: Any, workpackage: Any, personnel: Any, consortium: Any, budget_line: Any
) -> None:
    data = _form_data(workpackage, personnel, consortium.periods.get(number=1), period="")
    data["incurred_on"] = "2024-08-02"
    response = client_for(partner_member).post(ADD, data)
    assert response.status_code == 302
    assert Expense.objects.get().period.number == 2


BAD_VALUES = [
    ({"amount": "0"}, "amount", "An expense amount must be greater than zero."),
    ({"amount": "-5"}, "amount", "An expense amount must be greater than zero."),
    ({"amount": "12.345"}, "amount", "Ensure that there are no more than 2 decimal places."),
    ({"incurred_on": "2024-09-01"}, "incurred_on", "The date falls outside the reporting period"),
    ({"incurred_on": "31/02/2024"}, "incurred_on", "Enter a valid date."),
    ({"incurred_on": "2031-01-01", "period": ""}, "incurred_on", "No reporting period"),
    ({"description": None}, "description", "This field is required."),
    ({"workpackage": None}, "workpackage", "This field is required."),
    ({"category": "not-a-number"}, "category", "Select a valid choice."),
]


def test_add_refuses_bad_values_and_saves_nothing(
    partner_member: Any, workpackage: Any, personnel: Any, period: Any, budget_line: Any
) -> None:
    client = client_for(partner_member)
    for changes, field, message in BAD_VALUES:
        response = client.post(ADD, _form_data(workpackage, personnel, period, **changes))
        assert response.status_code == 200, changes
        errors = response.context["form"].errors
        assert any(message in error for error in errors[field]), (changes, errors)
        assert message in response.content.decode()
    assert not Expense.objects.exists()


def test_add_refuses_choices_outside_the_partners_consortium_and_headings(
    partner_member: Any,
    workpackage: Any,
    personnel: Any,
    operating: Any,
    overheads: Any,
    period: Any,
    budget_line: Any,
    other_workpackage: Any,
) -> None:
    client = client_for(partner_member)
    foreign = client.post(ADD, _form_data(other_workpackage, personnel, period))
    assert "Select a valid choice" in foreign.context["form"].errors["workpackage"][0]
    flat_rate = client.post(ADD, _form_data(workpackage, overheads, period))
    assert "Select a valid choice" in flat_rate.context["form"].errors["category"][0]
    choices = flat_rate.context["form"].fields["category"].queryset
    assert overheads not in choices
    assert personnel in choices
    no_line = client.post(ADD, _form_data(workpackage, operating, period))
    assert no_line.context["form"].errors["category"] == [
        "The partner has no budget line for this workpackage and heading."
    ]
    assert not Expense.objects.exists()


def test_add_refuses_evidence_whose_content_is_not_what_its_name_says(
    partner_member: Any, workpackage: Any, personnel: Any, period: Any, budget_line: Any
) -> None:
    fake = SimpleUploadedFile("invoice.pdf", PNG, content_type="application/pdf")
    script = SimpleUploadedFile("invoice.exe", b"MZ\x90\x00", content_type="application/x-dos")
    client = client_for(partner_member)
    mismatch = client.post(ADD, _form_data(workpackage, personnel, period, evidence=fake))
    assert mismatch.context["form"].errors["evidence"] == [
        "This file's content is not a PDF document."
    ]
    extension = client.post(ADD, _form_data(workpackage, personnel, period, evidence=script))
    assert "File extension “exe” is not allowed" in extension.context["form"].errors["evidence"][0]
    assert not Expense.objects.exists()
    assert not Path(settings.MEDIA_ROOT, "evidence").exists()


@pytest.mark.parametrize("name", ["../invoice.pdf", "..\\invoice.pdf", "invoice\x07.pdf"])
def test_add_refuses_evidence_named_with_a_folder_and_stores_nothing(
    partner_member: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
    name: str,
) -> None:
    fields = {key: str(value) for key, value in _form_data(workpackage, personnel, period).items()}
    response = client_for(partner_member).post(
        ADD, data=multipart(fields, "evidence", name, PDF), content_type=MULTIPART
    )
    assert response.status_code == 200
    assert "rename the file" in response.context["form"].errors["evidence"][0]
    assert not Expense.objects.exists()
    assert not Path(settings.MEDIA_ROOT, "evidence").exists()


def test_edit_changes_a_draft_with_history(
    partner_member: Any, expense: Any, workpackage: Any, personnel: Any, period: Any
) -> None:
    url = reverse("expense-edit", args=[expense.pk])
    client = client_for(partner_member)
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="1200.00"' in page.content.decode()
    response = client.post(url, _form_data(workpackage, personnel, period, amount="1500.25"))
    assert response.status_code == 302
    expense.refresh_from_db()
    assert expense.amount == Decimal("1500.25")
    assert expense.history.first().history_user == partner_member


def test_another_partners_expense_is_not_found(
    partner_member: Any, budget_line_b: Any, workpackage: Any, personnel: Any, period: Any
) -> None:
    other = _other_expense(budget_line_b)
    client = client_for(partner_member)
    edit = reverse("expense-edit", args=[other.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, _form_data(workpackage, personnel, period)).status_code == 404
    assert client.post(reverse("expense-withdraw", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert (other.status, other.amount) == (ExpenseStatus.DRAFT, Decimal("999.00"))


def test_a_submitted_expense_cannot_be_edited(
    partner_member: Any, submitted_expense: Any, workpackage: Any, personnel: Any, period: Any
) -> None:
    url = reverse("expense-edit", args=[submitted_expense.pk])
    client = client_for(partner_member)
    response = client.post(
        url, _form_data(workpackage, personnel, period, amount="1.00"), follow=True
    )
    assert response.redirect_chain == [(LIST, 302)]
    assert any("it is submitted" in message for message in _messages(response))
    submitted_expense.refresh_from_db()
    assert submitted_expense.amount == Decimal("1200.00")
    assert client.get(url).status_code == 302
    listed = client.get(LIST).content.decode()
    assert url not in listed


def test_withdraw_a_draft(partner_member: Any, expense: Any) -> None:
    url = reverse("expense-withdraw", args=[expense.pk])
    client = client_for(partner_member)
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.WITHDRAWN
    assert expense.history.first().history_user == partner_member
    assert response.context["totals"]["grand"]["declared"] == Decimal(0)
    again = client.post(url, follow=True)
    assert any("it is withdrawn" in message for message in _messages(again))


# Statements -------------------------------------------------------------------------------------


def test_statement_submit_locks_the_periods_lines(
    partner_member: Any,
    expense: Any,
    budget_line: Any,
    period: Any,
    workpackage: Any,
    personnel: Any,
) -> None:
    second = factories.ExpenseFactory(line=budget_line, amount=Decimal("300.50"))
    later = factories.ExpenseFactory(line=budget_line, period_number=2)
    url = reverse("expense-statement", args=[period.pk])
    client = client_for(partner_member)
    page = client.get(url)
    assert page.status_code == 200
    assert set(page.context["page_obj"]) == {expense, second}
    assert page.context["totals"]["grand"]["declared"] == Decimal("1500.50")

    response = client.post(url, follow=True)
    assert response.redirect_chain == [(LIST, 302)]
    statement = Statement.objects.get()
    assert (statement.partner_id, statement.period_id) == (expense.partner_id, period.pk)
    assert (statement.lines, statement.total, statement.submitted_by) == (
        2,
        Decimal("1500.50"),
        partner_member,
    )
    assert set(Expense.objects.filter(status=ExpenseStatus.SUBMITTED)) == {expense, second}
    later.refresh_from_db()
    assert later.status == ExpenseStatus.DRAFT
    assert [s.pk for s in response.context["statements"]] == [statement.pk]
    assert [p.number for p in response.context["open_periods"]] == [2, 3, 4, 5]

    refused = client.post(ADD, _form_data(workpackage, personnel, period))
    assert "has been submitted: its lines are locked" in refused.context["form"].errors["period"][0]
    assert Expense.objects.count() == 3


def test_statement_declares_lines_sent_earlier_but_not_withdrawn_ones(
    partner_member: Any, expense: Any, budget_line: Any, period: Any
) -> None:
    """A line sent on its own before the statement (through the API) is declared by it too, as
    the statement page lists it; a withdrawn one is not."""
    sent = factories.ExpenseFactory(line=budget_line, amount=Decimal("250.00"))
    expense_submit(expense=sent, user=partner_member)
    dropped = factories.ExpenseFactory(line=budget_line, amount=Decimal("999.00"))
    expense_withdraw(expense=dropped, user=partner_member)
    url = reverse("expense-statement", args=[period.pk])
    client = client_for(partner_member)
    page = client.get(url)
    assert set(page.context["page_obj"]) == {expense, sent}
    assert page.context["drafts"]["lines"] == 1
    assert page.context["totals"]["grand"]["lines"] == 2
    body = page.content.decode()
    assert "Submitting sends 1 draft line" in body
    assert "declares 2 lines of the period, including those already sent on their own" in body

    client.post(url)
    statement = Statement.objects.get()
    assert (statement.lines, statement.total) == (2, expense.amount + Decimal("250.00"))


def test_statement_submitted_twice_is_refused(
    partner_member: Any, expense: Any, period: Any
) -> None:
    url = reverse("expense-statement", args=[period.pk])
    client = client_for(partner_member)
    client.post(url)
    response = client.post(url)
    assert response.status_code == 200
    assert response.context["errors"] == [f"The statement for {period} has already been submitted."]
    assert Statement.objects.count() == 1


def test_statement_of_the_current_period_is_refused(
    partner_member: Any, consortium: Any, budget_line: Any
) -> None:
    current = factories.ExpenseFactory(line=budget_line, period_number=6)
    url = reverse("expense-statement", args=[current.period_id])
    response = client_for(partner_member).post(url)
    assert response.status_code == 200
    assert "can be submitted once the period has ended" in response.context["errors"][0]
    assert "can be submitted once the period has ended" in response.content.decode()
    assert not Statement.objects.exists()
    current.refresh_from_db()
    assert current.status == ExpenseStatus.DRAFT


def test_statement_of_another_consortium_is_not_found(
    partner_member: Any, other_consortium: Any
) -> None:
    foreign = other_consortium.periods.get(number=1)
    url = reverse("expense-statement", args=[foreign.pk])
    assert client_for(partner_member).post(url).status_code == 404
    assert not Statement.objects.exists()


def test_statement_page_shows_the_submitted_statement(
    partner_member: Any, expense: Any, period: Any
) -> None:
    url = reverse("expense-statement", args=[period.pk])
    client = client_for(partner_member)
    client.post(url)
    page = client.get(url)
    assert page.context["statement"].lines == 1
    assert list(page.context["page_obj"]) == [expense]
    body = page.content.decode()
    assert "its lines are locked" in body
    assert partner_member.get_full_name() in body
