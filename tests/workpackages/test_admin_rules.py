"""Rules the coordinators' admin enforces beyond field validation: what a change form may no longer
change, what an action refuses and why, and what follows from a change (granted amounts, due dates).
Every refusal is checked for its message and for a database left as it was."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tests import factories
from tests.web import client_for as _client
from tests.workpackages.test_admin_validation import form_data
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.services import job_realise, job_withdraw
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Expense
from workpackages.money.services import budget_line_cancel
from workpackages.workplan.models import Deliverable, Workpackage
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_submit,
    milestone_achieve,
)

pytestmark = pytest.mark.django_db

KEEPS_ITS_KEY = "A line keeps its partner, workpackage and heading: cancel it and add a new one."
HEADING_IN_USE = (
    "Budget lines use this heading: its kind and flat rate can no longer change, "
    "or past consumption would be rewritten. Add a new heading instead."
)


def _url(model: str, view: str, *args: Any) -> str:
    return reverse(f"admin:{model}_{view}", args=args)


def _action(client: Client, model: str, action: str, pks: list[int], **extra: Any) -> Any:
    return client.post(
        reverse(f"admin:workpackages_{model}_changelist"),
        {"action": action, "_selected_action": pks, **extra},
        follow=True,
    )


def _post(client: Client, url: str, **changes: Any) -> Any:
    """Post the change form back as the browser shows it, with `changes` typed in."""
    data = form_data(client, url)
    data.update({name: str(value) for name, value in changes.items()})
    return client.post(url, data)


def _errors(response: Any) -> Any:
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return response.status_code
    return context["adminform"].form.errors, [
        formset.formset.errors for formset in context.get("inline_admin_formsets", [])
    ]


# Job records


def test_job_status_is_shown_but_not_posted(coordinator: Any, job: Any) -> None:
    client = _client(coordinator)
    url = _url("workpackages_jobrecord", "change", job.pk)
    assert "status" not in form_data(client, url)

    response = _post(client, url, status="realised", position_title="Senior QC analyst")

    assert response.status_code == 302, _errors(response)
    job.refresh_from_db()
    assert (job.position_title, job.status) == ("Senior QC analyst", JobStatus.FORECAST)


def test_realise_action_fills_past_positions_only(coordinator: Any, partner_a: Any) -> None:
    started: Any = factories.JobRecordFactory(partner=partner_a, position_title="QC analyst")
    future: Any = factories.JobRecordFactory(
        partner=partner_a,
        position_title="GMP operator",
        start_date=timezone.localdate() + datetime.timedelta(days=30),
    )
    withdrawn = job_withdraw(
        job=factories.JobRecordFactory(partner=partner_a, position_title="Data manager"),
        user=coordinator,
    )
    assert started.start_date == datetime.date(2024, 3, 31)

    response = _action(
        _client(coordinator), "jobrecord", "realise", [started.pk, future.pk, withdrawn.pk]
    )

    html = response.content.decode()
    assert "1 job record marked as realised." in html
    assert (
        escape("GMP operator (P1 BioWin): A job that starts in the future is still a forecast.")
        in html
    )
    assert (
        escape(
            "Data manager (P1 BioWin): Cannot mark Data manager (P1 BioWin) as realised: "
            "it is withdrawn."
        )
        in html
    )
    for job in (started, future, withdrawn):
        job.refresh_from_db()
    assert started.status == JobStatus.REALISED
    latest = started.history.first()
    assert latest.history_user == coordinator
    assert latest.prev_record.status == JobStatus.FORECAST
    assert (future.status, future.history.count()) == (JobStatus.FORECAST, 1)
    assert (withdrawn.status, withdrawn.history.count()) == (JobStatus.WITHDRAWN, 2)


def test_a_realised_job_cannot_be_moved_to_start_in_the_future(coordinator: Any, job: Any) -> None:
    job = job_realise(job=job, user=coordinator)
    future = timezone.localdate() + datetime.timedelta(days=400)
    client = _client(coordinator)
    url = _url("workpackages_jobrecord", "change", job.pk)
    # A realised job's partner, impact and start date are what the region counts: read-only.
    assert 'name="start_date"' not in client.get(url).content.decode()

    _post(client, url, start_date=future.isoformat())

    job.refresh_from_db()
    assert (job.status, job.start_date) == (JobStatus.REALISED, datetime.date(2024, 3, 31))
    # The model refuses it too, whatever the write path.
    job.start_date = future
    with pytest.raises(ValidationError) as refused:
        job.full_clean()
    assert refused.value.message_dict == {
        "start_date": ["A job that starts in the future is still a forecast."]
    }


# Budget lines


@pytest.mark.parametrize("field", ["partner", "workpackage", "category"])
def test_a_budget_line_keeps_its_partner_workpackage_and_heading(
    coordinator: Any,
    consortium: Any,
    partner_b: Any,
    operating: Any,
    budget_line: BudgetLine,
    field: str,
) -> None:
    other = {
        "partner": partner_b,
        "workpackage": factories.WorkpackageFactory(consortium=consortium, number=2),
        "category": operating,
    }[field]
    before = (budget_line.partner_id, budget_line.workpackage_id, budget_line.category_id)
    client = _client(coordinator)
    url = _url("workpackages_budgetline", "change", budget_line.pk)

    page = client.get(url)
    # Shown read-only, with the reason the services give at every door.
    assert field not in page.context["adminform"].form.fields
    assert escape(KEEPS_ITS_KEY) in page.content.decode()
    # A value forged into the post is not taken.
    response = client.post(url, {**form_data(client, url), field: str(other.pk)})

    assert response.status_code == 302
    budget_line.refresh_from_db()
    assert (budget_line.partner_id, budget_line.workpackage_id, budget_line.category_id) == before
    assert budget_line.history.count() == 1


def test_a_new_planned_amount_recomputes_the_granted_amount(
    coordinator: Any, budget_line_b: BudgetLine
) -> None:
    assert (
        budget_line_b.planned_amount,
        budget_line_b.funding_rate,
        budget_line_b.granted_amount,
    ) == (Decimal("100000.00"), Decimal("50.00"), Decimal("50000.00"))
    client = _client(coordinator)
    url = _url("workpackages_budgetline", "change", budget_line_b.pk)

    response = _post(client, url, planned_amount="200000.00")

    assert response.status_code == 302, _errors(response)
    budget_line_b.refresh_from_db()
    assert (budget_line_b.planned_amount, budget_line_b.granted_amount) == (
        Decimal("200000.00"),
        Decimal("100000.00"),
    )
    assert budget_line_b.history.first().history_user == coordinator

    # A granted amount typed with the new plan is the funder's decision: it is kept.
    response = _post(client, url, planned_amount="210000.00", granted_amount="90000.00")
    assert response.status_code == 302, _errors(response)
    budget_line_b.refresh_from_db()
    assert (budget_line_b.planned_amount, budget_line_b.granted_amount) == (
        Decimal("210000.00"),
        Decimal("90000.00"),
    )


def test_a_cancelled_line_stays_as_it_was_and_a_new_one_replaces_it(
    coordinator: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    budget_line: BudgetLine,
) -> None:
    budget_line_cancel(line=budget_line, user=coordinator)
    client = _client(coordinator)
    url = _url("workpackages_budgetline", "change", budget_line.pk)

    page = client.get(url)
    assert page.status_code == 200 and 'name="planned_amount"' not in page.content.decode()
    response = client.post(
        url,
        {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": personnel.pk,
            "planned_amount": "1.00",
            "funding_rate": "",
            "granted_amount": "",
        },
    )
    assert response.status_code == 403
    budget_line.refresh_from_db()
    assert (budget_line.status, budget_line.planned_amount, budget_line.history.count()) == (
        BudgetLineStatus.CANCELLED,
        Decimal("100000.00"),
        2,
    )

    added = _post(
        client,
        _url("workpackages_budgetline", "add"),
        partner=partner_a.pk,
        workpackage=workpackage.pk,
        category=personnel.pk,
        planned_amount="80000.00",
    )

    assert added.status_code == 302, _errors(added)
    lines = BudgetLine.objects.filter(
        partner=partner_a, workpackage=workpackage, category=personnel
    ).order_by("pk")
    assert [(line.status, line.planned_amount, line.granted_amount) for line in lines] == [
        (BudgetLineStatus.CANCELLED, Decimal("100000.00"), Decimal("100000.00")),
        (BudgetLineStatus.ACTIVE, Decimal("80000.00"), Decimal("80000.00")),
    ]


def test_a_cancelled_line_is_not_edited_through_the_partner_page(
    coordinator: Any, partner_a: Any, budget_line: BudgetLine
) -> None:
    budget_line_cancel(line=budget_line, user=coordinator)
    client = _client(coordinator)
    url = _url("consortium_partner", "change", partner_a.pk)
    data = form_data(client, url)
    data["budget_lines-0-planned_amount"] = "1.00"

    client.post(url, data)

    budget_line.refresh_from_db()
    assert (
        budget_line.status,
        budget_line.planned_amount,
        budget_line.granted_amount,
        budget_line.history.count(),
    ) == (BudgetLineStatus.CANCELLED, Decimal("100000.00"), Decimal("100000.00"), 2)


# Expenses


def test_a_submitted_expense_is_no_longer_edited(
    coordinator: Any, submitted_expense: Expense
) -> None:
    url = _url("workpackages_expense", "change", submitted_expense.pk)
    response = _client(coordinator).post(
        url,
        {
            "partner": submitted_expense.partner_id,
            "workpackage": submitted_expense.workpackage_id,
            "category": submitted_expense.category_id,
            "period": submitted_expense.period_id,
            "incurred_on": "2024-01-15",
            "amount": "99.00",
            "description": submitted_expense.description,
            "invoice_reference": submitted_expense.invoice_reference,
        },
    )

    assert response.status_code == 403
    submitted_expense.refresh_from_db()
    assert (submitted_expense.amount, submitted_expense.status) == (
        Decimal("1200.00"),
        ExpenseStatus.SUBMITTED,
    )
    assert submitted_expense.history.count() == 2


def test_accept_partially_asks_for_the_amount_and_the_reason(
    coordinator: Any, submitted_expense: Expense
) -> None:
    client = _client(coordinator)
    form = _action(client, "expense", "accept_partially", [submitted_expense.pk])
    html = form.content.decode()
    assert form.status_code == 200
    prefix = f"expense-{submitted_expense.pk}"
    assert f'name="{prefix}-accepted_amount"' in html and f'name="{prefix}-comment"' in html

    done = _action(
        client,
        "expense",
        "accept_partially",
        [submitted_expense.pk],
        apply="1",
        **{
            f"{prefix}-accepted_amount": "900.00",
            f"{prefix}-comment": "Shipping costs are not eligible.",
        },
    )

    assert "1 expense accepted." in done.content.decode()
    submitted_expense.refresh_from_db()
    assert (
        submitted_expense.status,
        submitted_expense.amount,
        submitted_expense.accepted_amount,
        submitted_expense.review_comment,
        submitted_expense.reviewed_by,
    ) == (
        ExpenseStatus.ACCEPTED,
        Decimal("1200.00"),
        Decimal("900.00"),
        "Shipping costs are not eligible.",
        coordinator,
    )


def test_accepting_more_than_declared_is_refused(
    coordinator: Any, submitted_expense: Expense
) -> None:
    history = submitted_expense.history.count()

    response = _action(
        _client(coordinator),
        "expense",
        "accept_partially",
        [submitted_expense.pk],
        apply="1",
        **{
            f"expense-{submitted_expense.pk}-accepted_amount": "1500.00",
            f"expense-{submitted_expense.pk}-comment": "Typed the wrong figure.",
        },
    )

    # Refused on the confirmation page, next to the expense, before the service is called.
    html = response.content.decode()
    assert response.status_code == 200
    assert "The accepted amount lies between zero and the declared amount." in html
    assert "expense accepted" not in html
    submitted_expense.refresh_from_db()
    assert (
        submitted_expense.status,
        submitted_expense.accepted_amount,
        submitted_expense.reviewed_by,
        submitted_expense.review_comment,
    ) == (ExpenseStatus.SUBMITTED, None, None, "")
    assert submitted_expense.history.count() == history


# Workpackages


def test_a_workpackage_is_added_with_its_participants_in_one_post(
    coordinator: Any, consortium: Any, partner_a: Any, partner_b: Any
) -> None:
    response = _post(
        _client(coordinator),
        _url("workpackages_workpackage", "add"),
        consortium=consortium.pk,
        number=1,
        title="Potency assays",
        lead_partner=partner_a.pk,
        start_month=1,
        end_month=24,
        **{
            "participations-TOTAL_FORMS": 1,
            "participations-0-partner": partner_b.pk,
            "participations-0-planned_person_months": "6.50",
        },
    )

    assert response.status_code == 302, _errors(response)
    workpackage = Workpackage.objects.get(consortium=consortium, number=1)
    assert (workpackage.title, workpackage.lead_partner, workpackage.end_month) == (
        "Potency assays",
        partner_a,
        24,
    )
    [participant] = workpackage.participations.all()
    assert (participant.partner, participant.planned_person_months, participant.consortium) == (
        partner_b,
        Decimal("6.50"),
        consortium,
    )


def test_workpackages_cannot_be_deleted(coordinator: Any, workpackage: Any) -> None:
    client = _client(coordinator)
    url = _url("workpackages_workpackage", "delete", workpackage.pk)
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Workpackage.objects.filter(pk=workpackage.pk).exists()
    listing = client.get(_url("workpackages_workpackage", "changelist"))
    assert "delete_selected" not in listing.content.decode()


# Cost categories


def test_the_flat_rate_of_a_heading_in_use_cannot_change_but_its_name_can(
    coordinator: Any, partner_a: Any, workpackage: Any, overheads: Any
) -> None:
    factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage, heading="overheads")
    client = _client(coordinator)
    url = _url("consortium_costcategory", "change", overheads.pk)
    history = overheads.history.count()

    refused = _post(client, url, flat_rate="20.00")

    assert refused.status_code == 200
    assert refused.context["adminform"].form.non_field_errors() == [HEADING_IN_USE]
    assert escape(HEADING_IN_USE) in refused.content.decode()
    overheads.refresh_from_db()
    assert (overheads.flat_rate, overheads.name) == (Decimal("17.00"), "Overheads")
    assert overheads.history.count() == history

    renamed = _post(client, url, name="Indirect costs")

    assert renamed.status_code == 302, _errors(renamed)
    overheads.refresh_from_db()
    assert (overheads.flat_rate, overheads.name) == (Decimal("17.00"), "Indirect costs")


# The consortium's dates


def test_moving_the_consortium_moves_the_due_dates(
    coordinator: Any, consortium: Any, deliverable: Any
) -> None:
    assert deliverable.due_date == datetime.date(2024, 12, 31)

    response = _post(
        _client(coordinator),
        _url("consortium_consortium", "change", consortium.pk),
        start_date="2024-07-01",
        end_date="2027-06-30",
    )

    assert response.status_code == 302, _errors(response)
    deliverable.refresh_from_db()
    assert (deliverable.due_month, deliverable.due_date) == (12, datetime.date(2025, 6, 30))
    latest = deliverable.history.first()
    assert latest.history_user == coordinator
    assert (latest.prev_record.due_date, latest.due_date) == (
        datetime.date(2024, 12, 31),
        datetime.date(2025, 6, 30),
    )
    first = consortium.periods.get(number=1)
    assert (first.start_date, first.end_date) == (
        datetime.date(2024, 7, 1),
        datetime.date(2024, 12, 31),
    )


def test_shortening_the_consortium_below_its_work_plan_is_refused(
    coordinator: Any, consortium: Any, workpackage: Any, deliverable: Any
) -> None:
    late = factories.DeliverableFactory(workpackage=workpackage, due_month=24)
    before = (
        consortium.history.count(),
        list(consortium.periods.values_list("number", "start_date", "end_date")),
        deliverable.history.count(),
        late.history.count(),
    )

    response = _post(
        _client(coordinator),
        _url("consortium_consortium", "change", consortium.pk),
        end_date="2025-06-30",
    )

    # Workpackage 1 ends in month 36 and the new deliverable is due in month 24.
    message = (
        "2 workpackages, deliverables or milestones are planned after month 18, "
        "the new last month: move them first."
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [message]
    assert escape(message) in response.content.decode()
    consortium.refresh_from_db()
    late.refresh_from_db()
    assert consortium.end_date == datetime.date(2026, 12, 31)
    assert late.due_date == datetime.date(2025, 12, 31)
    assert before == (
        consortium.history.count(),
        list(consortium.periods.values_list("number", "start_date", "end_date")),
        deliverable.history.count(),
        late.history.count(),
    )


# Decided rows of the work plan


def test_a_submitted_deliverable_keeps_its_number_due_month_and_justification(
    coordinator: Any, partner_member: Any, deliverable: Any
) -> None:
    late = datetime.datetime(2025, 3, 3, 10, 0, tzinfo=datetime.UTC)
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(b"%PDF-1.4", name="d.pdf"),
        late_justification="Supplier delay.",
        now=late,
    )
    deliverable_approve(deliverable=deliverable, user=coordinator)
    client = _client(coordinator)
    url = _url("workpackages_deliverable", "change", deliverable.pk)
    page = client.get(url).content.decode()
    for name in ("due_month", "number", "late_justification", "workpackage", "lead_partner"):
        assert f'name="{name}"' not in page, name

    _post(client, url, due_month="18", late_justification="", title="Renamed report")

    deliverable.refresh_from_db()
    assert (deliverable.due_month, deliverable.late_justification) == (12, "Supplier delay.")
    assert deliverable.title == "Renamed report"
    delete = client.post(
        _url("workpackages_deliverable", "delete", deliverable.pk), {"post": "yes"}, follow=True
    )
    assert f"{deliverable} has been worked on: it is kept for the record." in html.unescape(
        delete.content.decode()
    )
    assert Deliverable.objects.filter(pk=deliverable.pk).exists()


def test_a_decided_milestone_is_read_only_and_kept(coordinator: Any, milestone: Any) -> None:
    milestone_achieve(
        milestone=milestone,
        user=coordinator,
        achieved_on=datetime.date(2025, 6, 1),
        evidence="Batch record signed.",
    )
    client = _client(coordinator)
    change = _url("workpackages_milestone", "change", milestone.pk)
    assert client.post(change, {"due_month": "36", "title": "x"}).status_code == 403
    delete = _url("workpackages_milestone", "delete", milestone.pk)
    refused = client.post(delete, {"post": "yes"}, follow=True)
    assert f"{milestone} has been decided on: it is kept for the record." in html.unescape(
        refused.content.decode()
    )
    milestone.refresh_from_db()
    assert (milestone.due_month, milestone.status) == (18, "achieved")


def test_a_withdrawn_job_is_kept_as_it_was(coordinator: Any, job: Any) -> None:
    job = job_withdraw(job=job, user=coordinator)
    response = _client(coordinator).post(
        _url("workpackages_jobrecord", "change", job.pk), {"fte": "0.10", "impact": "indirect"}
    )
    assert response.status_code == 403
    job.refresh_from_db()
    assert (job.fte, job.impact) != (Decimal("0.10"), "indirect")


def test_a_workpackage_page_lists_its_milestones_without_editing_links(
    coordinator: Any, workpackage: Any, milestone: Any
) -> None:
    page = _client(coordinator).get(_url("workpackages_workpackage", "change", workpackage.pk))
    html = page.content.decode()
    assert str(milestone) in html
    # Shown, not offered for editing: no form control picks a milestone on this page.
    assert not re.search(r'name="[^"]*-milestone"', html)
