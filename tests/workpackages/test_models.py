"""Invariants of the work plan, the budget and the jobs: model validation refuses each bad value
with the message the user reads and stores nothing; the database refuses it on its own."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, transaction

from consortium.models import CostCategory
from tests import factories
from tests.assertions import assert_db_refuses, refused, refused_update
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import BudgetLineStatus
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.choices import DeliverableStatus
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant

pytestmark = pytest.mark.django_db

D = datetime.date
OTHER_CONSORTIUM = ["This belongs to another consortium."]

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the same-consortium composite foreign keys exist on PostgreSQL only",
)


# Workpackages


def test_workpackage_str_and_code(workpackage, partner_a, partner_b):
    assert str(workpackage) == "WP1 Exosome manufacturing"
    assert workpackage.code == "WP1"
    assert set(workpackage.participants.all()) == {partner_a, partner_b}


def test_workpackage_number_is_unique_in_a_consortium(consortium, workpackage, other_workpackage):
    before = Workpackage.objects.count()
    errors = refused(factories.WorkpackageFactory, consortium=consortium, number=1)
    assert errors == {
        NON_FIELD_ERRORS: ["This consortium already has a workpackage with this number."]
    }
    assert Workpackage.objects.count() == before
    assert other_workpackage.number == workpackage.number


@pytest.mark.parametrize(
    "values, errors",
    [
        (
            {"start_month": 0},
            {
                "start_month": [
                    "Ensure this value is greater than or equal to 1.",
                    "Month 0 is outside the consortium's duration (1 to 36).",
                ]
            },
        ),
        (
            {"start_month": 37, "end_month": 37},
            {"start_month": ["Month 37 is outside the consortium's duration (1 to 36)."]},
        ),
        (
            {"end_month": 37},
            {"end_month": ["Month 37 is outside the consortium's duration (1 to 36)."]},
        ),
        (
            {"start_month": 12, "end_month": 6},
            {NON_FIELD_ERRORS: ["A workpackage ends in or after its start month."]},
        ),
    ],
)
def test_workpackage_months_lie_within_the_consortium(workpackage, values, errors):
    assert refused_update(workpackage, **values) == errors
    assert (workpackage.start_month, workpackage.end_month) == (1, 36)


def test_workpackage_may_start_and_end_in_the_same_month(consortium, partner_a):
    wp = factories.WorkpackageFactory(
        consortium=consortium, lead_partner=partner_a, start_month=36, end_month=36
    )
    assert wp.end_month == 36


def test_workpackage_lead_comes_from_its_consortium(consortium, other_partner):
    errors = refused(
        factories.WorkpackageFactory, consortium=consortium, lead_partner=other_partner
    )
    assert errors == {"lead_partner": OTHER_CONSORTIUM}
    assert not Workpackage.objects.filter(consortium=consortium).exists()


def test_workpackage_lead_cannot_move_to_another_consortium(workpackage, other_partner, partner_a):
    errors = refused_update(workpackage, lead_partner=other_partner)
    assert errors == {"lead_partner": OTHER_CONSORTIUM}
    assert workpackage.lead_partner == partner_a


@pytest.mark.parametrize(
    "values",
    [{"number": 2}, {"start_month": 0}, {"start_month": 10, "end_month": 9}],
)
def test_database_refuses_invalid_workpackage(consortium, workpackage, partner_a, values):
    factories.WorkpackageFactory(consortium=consortium, lead_partner=partner_a, number=2)
    assert_db_refuses(Workpackage, workpackage.pk, **values)


def test_participant_comes_from_the_workpackage_consortium(workpackage, other_partner):
    before = WorkpackageParticipant.objects.count()
    errors = refused(
        factories.WorkpackageParticipantFactory, workpackage=workpackage, partner=other_partner
    )
    assert errors == {"partner": OTHER_CONSORTIUM}
    assert WorkpackageParticipant.objects.count() == before


def test_partner_takes_part_once(workpackage, partner_b):
    errors = refused(
        factories.WorkpackageParticipantFactory, workpackage=workpackage, partner=partner_b
    )
    assert errors == {NON_FIELD_ERRORS: ["This partner already takes part in this workpackage."]}
    assert workpackage.participations.count() == 2


def test_planned_person_months_cannot_be_negative(workpackage, partner_b):
    participation = workpackage.participations.get(partner=partner_b)
    errors = refused_update(participation, planned_person_months=Decimal("-1"))
    assert errors == {NON_FIELD_ERRORS: ["Person-months cannot be negative."]}
    assert participation.planned_person_months == Decimal("12.00")
    assert_db_refuses(WorkpackageParticipant, participation.pk, planned_person_months=Decimal("-1"))


def test_participant_consortium_follows_its_workpackage(workpackage, other_consortium, consortium):
    partner = factories.PartnerFactory(consortium=consortium)
    participation = factories.WorkpackageParticipantFactory(
        workpackage=workpackage, partner=partner, consortium=other_consortium
    )
    participation.refresh_from_db()
    assert participation.consortium == consortium


# Deliverables


def test_deliverable_str_code_and_due_date(deliverable, consortium):
    assert str(deliverable) == "D1.1 Exosome QC protocol"
    assert deliverable.code == "D1.1"
    assert deliverable.consortium == consortium
    assert deliverable.due_date == D(2024, 12, 31)
    assert deliverable.status == DeliverableStatus.PLANNED


@pytest.mark.parametrize("month, due", [(1, D(2024, 1, 31)), (36, D(2026, 12, 31))])
def test_due_month_bounds_are_allowed(workpackage, month, due):
    deliverable = factories.DeliverableFactory(workpackage=workpackage, due_month=month)
    assert deliverable.due_date == due


@pytest.mark.parametrize(
    "month, message",
    [
        (0, "Ensure this value is greater than or equal to 1."),
        (37, "Month 37 is outside the consortium's duration (1 to 36)."),
    ],
)
def test_due_month_lies_within_the_consortium(workpackage, month, message):
    errors = refused(factories.DeliverableFactory, workpackage=workpackage, due_month=month)
    assert errors == {"due_month": [message]}
    assert not Deliverable.objects.exists()


def test_moving_the_due_month_recomputes_the_due_date(deliverable):
    deliverable.due_month = 18
    deliverable.full_clean()
    assert deliverable.due_date == D(2025, 6, 30)


def test_changing_to_an_invalid_due_month_keeps_the_stored_one(deliverable):
    errors = refused_update(deliverable, due_month=40)
    assert errors == {"due_month": ["Month 40 is outside the consortium's duration (1 to 36)."]}
    assert (deliverable.due_month, deliverable.due_date) == (12, D(2024, 12, 31))


def test_deliverable_number_is_unique_in_its_workpackage(deliverable, consortium, partner_b):
    errors = refused(factories.DeliverableFactory, workpackage=deliverable.workpackage, number=1)
    assert errors == {
        NON_FIELD_ERRORS: ["This workpackage already has a deliverable with this number."]
    }
    assert Deliverable.objects.count() == 1
    wp2 = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner_b)
    assert factories.DeliverableFactory(workpackage=wp2, number=1).code == "D2.1"


def test_deliverable_lead_comes_from_its_consortium(workpackage, other_partner):
    errors = refused(
        factories.DeliverableFactory, workpackage=workpackage, lead_partner=other_partner
    )
    assert errors == {"lead_partner": OTHER_CONSORTIUM}
    assert not Deliverable.objects.exists()


def test_deliverable_consortium_follows_its_workpackage(workpackage, consortium, other_consortium):
    deliverable = factories.DeliverableFactory(workpackage=workpackage, consortium=other_consortium)
    deliverable.refresh_from_db()
    assert deliverable.consortium == consortium


@pytest.mark.parametrize("values", [{"number": 2}, {"due_month": 0}])
def test_database_refuses_invalid_deliverable(deliverable, values):
    factories.DeliverableFactory(workpackage=deliverable.workpackage, number=2)
    assert_db_refuses(Deliverable, deliverable.pk, **values)


def test_days_late(deliverable):
    assert deliverable.days_late(today=D(2024, 12, 31)) == 0
    assert deliverable.days_late(today=D(2025, 1, 10)) == 10
    # Once sent, the delay stops at the first submission…
    deliverable.first_submitted_at = datetime.datetime(2025, 1, 4, 9, tzinfo=datetime.UTC)
    deliverable.status = DeliverableStatus.SUBMITTED
    assert deliverable.days_late(today=D(2025, 3, 1)) == 4
    deliverable.status = DeliverableStatus.APPROVED
    assert deliverable.days_late(today=D(2025, 3, 1)) == 4
    # …and runs again while it is back with its lead partner.
    deliverable.status = DeliverableStatus.CHANGES_REQUESTED
    assert deliverable.days_late(today=D(2025, 3, 1)) == 60


def test_overdue_deliverables(deliverable, workpackage):
    later = factories.DeliverableFactory(workpackage=workpackage, due_month=24)
    sent = factories.DeliverableFactory(workpackage=workpackage, due_month=6)
    Deliverable.objects.filter(pk=sent.pk).update(status=DeliverableStatus.SUBMITTED)
    back = factories.DeliverableFactory(workpackage=workpackage, due_month=6)
    Deliverable.objects.filter(pk=back.pk).update(status=DeliverableStatus.CHANGES_REQUESTED)
    overdue = set(Deliverable.objects.overdue(today=D(2025, 1, 1)))
    assert overdue == {deliverable, back}
    assert later not in overdue
    assert set(Deliverable.objects.overdue(today=D(2024, 12, 31))) == {back}


# Milestones


def test_milestone_code_and_consortium(milestone, consortium, workpackage):
    assert milestone.code == "MS1"
    assert str(milestone).startswith("MS1 ")
    assert milestone.consortium == consortium
    assert milestone.due_date == D(2025, 6, 30)
    assert list(milestone.workpackages.all()) == [workpackage]


def test_milestone_number_is_unique_in_a_consortium(milestone, partner_b, other_partner):
    errors = refused(factories.MilestoneFactory, lead_partner=partner_b, number=1)
    assert errors == {
        NON_FIELD_ERRORS: ["This consortium already has a milestone with this number."]
    }
    assert Milestone.objects.count() == 1
    factories.MilestoneFactory(lead_partner=other_partner, number=1)


def test_milestone_due_month_lies_within_the_consortium(partner_a):
    errors = refused(factories.MilestoneFactory, lead_partner=partner_a, due_month=37)
    assert errors == {"due_month": ["Month 37 is outside the consortium's duration (1 to 36)."]}
    assert not Milestone.objects.exists()


@pytest.mark.parametrize(
    "values",
    [
        {"number": 2},
        {"status": "achieved"},
        {"achieved_on": D(2024, 5, 1)},
        {"status": "missed", "achieved_on": D(2024, 5, 1)},
    ],
)
def test_database_refuses_invalid_milestone(milestone, partner_a, values):
    factories.MilestoneFactory(lead_partner=partner_a, number=2)
    assert_db_refuses(Milestone, milestone.pk, **values)


# Budget lines


def test_granted_amount_follows_the_partner_rate(partner_b, workpackage, budget_line):
    assert budget_line.funding_rate == Decimal("100.00")
    assert budget_line.granted_amount == Decimal("100000.00")
    line = factories.BudgetLineFactory(
        partner=partner_b, workpackage=workpackage, planned_amount=Decimal("33333.34")
    )
    assert line.funding_rate == Decimal("50.00")
    assert line.granted_amount == Decimal("16666.67")
    explicit = factories.BudgetLineFactory(
        partner=partner_b, workpackage=workpackage, heading="operating", funding_rate=Decimal(70)
    )
    assert explicit.granted_amount == Decimal("70000.00")


def test_budget_line_str(budget_line):
    assert str(budget_line) == "P1 BioWin · WP1 · Personnel"


def test_one_budget_line_per_partner_workpackage_and_heading(budget_line):
    errors = refused(
        factories.BudgetLineFactory,
        partner=budget_line.partner,
        workpackage=budget_line.workpackage,
        heading="personnel",
    )
    assert errors == {
        NON_FIELD_ERRORS: [
            "This partner already has a budget line for this workpackage and heading."
        ]
    }
    assert BudgetLine.objects.count() == 1


@pytest.mark.parametrize(
    "values, errors",
    [
        (
            {"planned_amount": Decimal("-0.01")},
            {"planned_amount": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"granted_amount": Decimal("-1")},
            {"granted_amount": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            {"granted_amount": Decimal("100000.01")},
            {"granted_amount": ["The granted amount cannot exceed the planned amount."]},
        ),
        (
            {"funding_rate": Decimal("100.01")},
            {"funding_rate": ["Ensure this value is less than or equal to 100."]},
        ),
        (
            {"funding_rate": Decimal("-1")},
            {"funding_rate": ["Ensure this value is greater than or equal to 0."]},
        ),
    ],
)
def test_budget_line_money_and_rates(budget_line, values, errors):
    assert refused_update(budget_line, **values) == errors
    assert (budget_line.planned_amount, budget_line.granted_amount, budget_line.funding_rate) == (
        Decimal("100000.00"),
        Decimal("100000.00"),
        Decimal("100.00"),
    )


def test_budget_line_rate_bounds_are_allowed(budget_line):
    for rate in (Decimal(0), Decimal(100)):
        budget_line.funding_rate = rate
        budget_line.full_clean()


def test_budget_line_workpackage_comes_from_the_partner_consortium(partner_a, other_workpackage):
    errors = refused(factories.BudgetLineFactory, partner=partner_a, workpackage=other_workpackage)
    assert errors == {"workpackage": OTHER_CONSORTIUM}
    assert not BudgetLine.objects.exists()


def test_budget_line_heading_comes_from_the_partner_consortium(budget_line, other_consortium):
    foreign = CostCategory.objects.get(consortium=other_consortium, code="operating")
    errors = refused_update(budget_line, category=foreign)
    assert errors == {"category": OTHER_CONSORTIUM}
    assert budget_line.category.consortium_id == budget_line.consortium_id


@pytest.mark.parametrize(
    "values",
    [
        {"planned_amount": Decimal("-1"), "granted_amount": None},
        {"granted_amount": Decimal("-1")},
        {"granted_amount": Decimal("100000.01")},
        {"funding_rate": Decimal("100.01")},
    ],
)
def test_database_refuses_invalid_budget_line(budget_line, values):
    assert_db_refuses(BudgetLine, budget_line.pk, **values)


def test_database_refuses_a_second_line_on_the_same_heading(budget_line, operating):
    other = factories.BudgetLineFactory(
        partner=budget_line.partner, workpackage=budget_line.workpackage, heading="operating"
    )
    assert_db_refuses(BudgetLine, other.pk, category=budget_line.category)


# Expenses


def test_expense_str_and_consortium(expense, consortium):
    assert str(expense) == "P1 BioWin · 2024-01-15 · 1200.00 EUR"
    assert expense.consortium == consortium
    assert expense.status == "draft"


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-10")])
def test_expense_amount_is_positive(budget_line, amount):
    errors = refused(factories.ExpenseFactory, line=budget_line, amount=amount)
    assert errors == {"amount": ["An expense amount must be greater than zero."]}
    assert not Expense.objects.exists()


def test_expense_date_lies_in_its_period(expense):
    errors = refused_update(expense, incurred_on=D(2024, 7, 1))
    assert errors == {
        "incurred_on": ["The date falls outside the reporting period P1 (01/2024 – 06/2024)."]
    }
    assert expense.incurred_on == D(2024, 1, 15)


def test_expense_on_a_flat_rate_heading_is_refused(partner_a, workpackage, overheads):
    line = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="overheads"
    )
    errors = refused(factories.ExpenseFactory, line=line)
    assert errors == {
        "category": ["Flat-rate headings are computed, not declared: choose another heading."]
    }
    assert not Expense.objects.exists()


def test_expense_needs_a_budget_line(budget_line, operating):
    errors = refused(factories.ExpenseFactory, line=budget_line, category=operating)
    assert errors == {
        "category": ["The partner has no budget line for this workpackage and heading."]
    }
    assert not Expense.objects.exists()


def test_expense_needs_its_own_partner_budget_line(budget_line, partner_b):
    errors = refused(factories.ExpenseFactory, line=budget_line, partner=partner_b)
    assert errors == {
        "category": ["The partner has no budget line for this workpackage and heading."]
    }
    assert not Expense.objects.exists()


def test_expense_on_a_cancelled_budget_line_is_refused(budget_line):
    BudgetLine.objects.filter(pk=budget_line.pk).update(status=BudgetLineStatus.CANCELLED)
    errors = refused(factories.ExpenseFactory, line=budget_line)
    assert errors == {
        "category": ["The partner has no budget line for this workpackage and heading."]
    }
    assert not Expense.objects.exists()


def test_expense_period_comes_from_the_partner_consortium(expense, other_consortium):
    foreign = other_consortium.periods.get(number=1)
    errors = refused_update(expense, period=foreign)
    assert errors == {"period": OTHER_CONSORTIUM}
    assert expense.period.consortium_id == expense.consortium_id


def test_expense_workpackage_comes_from_the_partner_consortium(expense, other_workpackage):
    errors = refused_update(expense, workpackage=other_workpackage)
    assert errors["workpackage"] == OTHER_CONSORTIUM
    assert expense.workpackage.consortium_id == expense.consortium_id


def test_expense_without_partner_names_only_the_missing_partner(workpackage, personnel, period):
    expense = Expense(
        workpackage=workpackage,
        category=personnel,
        period=period,
        incurred_on=period.start_date,
        amount=Decimal(5),
        description="Pipettes",
    )
    with pytest.raises(ValidationError) as exc:
        expense.full_clean()
    assert exc.value.message_dict == {"partner": ["This field cannot be null."]}


@pytest.mark.parametrize(
    "values",
    [
        {"amount": Decimal(0)},
        {"amount": Decimal("-1")},
        {"accepted_amount": Decimal("1200.01")},
        {"accepted_amount": Decimal("-1")},
        {"status": "accepted"},
    ],
)
def test_database_refuses_invalid_expense(expense, values):
    assert_db_refuses(Expense, expense.pk, **values)


# Effort


def test_effort_is_recorded_once_per_partner_workpackage_and_period(partner_a, workpackage):
    factories.EffortFactory(partner=partner_a, workpackage=workpackage)
    errors = refused(factories.EffortFactory, partner=partner_a, workpackage=workpackage)
    assert errors == {
        NON_FIELD_ERRORS: ["Effort for this partner, workpackage and period is already recorded."]
    }
    assert Effort.objects.count() == 1


def test_effort_cannot_be_negative(partner_a, workpackage):
    effort = factories.EffortFactory(partner=partner_a, workpackage=workpackage)
    errors = refused_update(effort, actual_person_months=Decimal("-0.5"))
    assert errors == {"actual_person_months": ["Ensure this value is greater than or equal to 0."]}
    assert effort.actual_person_months is None
    assert_db_refuses(Effort, effort.pk, planned_person_months=Decimal("-1"))


def test_effort_stays_in_the_partner_consortium(partner_a, other_workpackage, other_consortium):
    errors = refused(factories.EffortFactory, partner=partner_a, workpackage=other_workpackage)
    assert errors == {"workpackage": OTHER_CONSORTIUM}
    errors = refused(
        factories.EffortFactory,
        partner=partner_a,
        period=other_consortium.periods.get(number=1),
    )
    assert errors == {"period": OTHER_CONSORTIUM}
    assert not Effort.objects.exists()


# Jobs


@pytest.mark.parametrize("fte", [Decimal("0.01"), Decimal("0.5"), Decimal(1)])
def test_fte_range_allows(partner_a, fte):
    assert factories.JobRecordFactory(partner=partner_a, fte=fte).fte == fte


@pytest.mark.parametrize(
    "fte, message",
    [
        (Decimal(0), "Ensure this value is greater than or equal to 0.01."),
        (Decimal("1.01"), "Ensure this value is less than or equal to 1."),
        (Decimal("-0.5"), "Ensure this value is greater than or equal to 0.01."),
    ],
)
def test_fte_range_refuses(partner_a, fte, message):
    errors = refused(factories.JobRecordFactory, partner=partner_a, fte=fte)
    assert errors == {"fte": [message]}
    assert not JobRecord.objects.exists()


def test_job_cannot_end_before_it_starts(job):
    errors = refused_update(job, end_date=job.start_date - datetime.timedelta(days=1))
    assert errors == {"end_date": ["A job cannot end before it starts."]}
    assert job.end_date is None
    job.end_date = job.start_date
    job.full_clean()


def test_job_workpackage_comes_from_the_partner_consortium(partner_a, other_workpackage):
    errors = refused(factories.JobRecordFactory, partner=partner_a, workpackage=other_workpackage)
    assert errors == {"workpackage": OTHER_CONSORTIUM}
    assert not JobRecord.objects.exists()


@pytest.mark.parametrize(
    "values",
    [
        {"fte": Decimal(0)},
        {"fte": Decimal("1.01")},
        {"end_date": D(2024, 3, 30)},
    ],
)
def test_database_refuses_invalid_job(job, values):
    assert job.start_date == D(2024, 3, 31)
    assert_db_refuses(JobRecord, job.pk, **values)


# The database keeps every row in its own consortium, whatever the Python code does.


@postgresql_only
@pytest.mark.parametrize(
    "model_fixture, field, foreign_fixture",
    [
        ("workpackage", "lead_partner", "other_partner"),
        ("deliverable", "workpackage", "other_workpackage"),
        ("deliverable", "lead_partner", "other_partner"),
        ("milestone", "lead_partner", "other_partner"),
        ("budget_line", "workpackage", "other_workpackage"),
        ("budget_line", "partner", "other_partner"),
        ("expense", "workpackage", "other_workpackage"),
        ("expense", "period", "other_period"),
        ("job", "workpackage", "other_workpackage"),
    ],
)
def test_database_refuses_relations_across_consortia(
    request, model_fixture, field, foreign_fixture, other_consortium
):
    row = request.getfixturevalue(model_fixture)
    if foreign_fixture == "other_period":
        foreign = other_consortium.periods.get(number=1)
    else:
        foreign = request.getfixturevalue(foreign_fixture)
    assert_db_refuses(type(row), row.pk, **{field: foreign})


@postgresql_only
def test_database_refuses_participant_from_another_consortium(workpackage, other_partner):
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkpackageParticipant.objects.create(
            workpackage=workpackage, partner=other_partner, consortium=workpackage.consortium
        )


@postgresql_only
def test_database_refuses_a_row_claiming_another_consortium(budget_line, other_consortium):
    assert_db_refuses(BudgetLine, budget_line.pk, consortium=other_consortium)
