"""Writes on the consortium: creation with its periods and headings, roles, memberships, history."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from consortium.models import Consortium, ConsortiumRole, CostCategory, Membership, ReportingPeriod
from consortium.records import check_state, save_with_history
from consortium.services import (
    consortium_create,
    consortium_role_grant,
    cost_categories_seed,
    membership_grant,
    reporting_periods_generate,
    user_staff_sync,
)
from tests import factories
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db

D = datetime.date

CONSORTIUM_FIELDS = {
    "name": "Technological Innovation Partnership in ATMP",
    "acronym": "ATMP",
    "funder": "SPW Économie Emploi Recherche",
    "start_date": D(2024, 1, 17),
    "end_date": D(2027, 1, 16),
    "total_budget": Decimal("81000000"),
    "public_funding_share": Decimal("60"),
}


def period_dates(consortium):
    return [
        (p.number, p.start_date, p.end_date, p.statement_due_date)
        for p in consortium.periods.order_by("number")
    ]


# Consortium creation


def test_consortium_create_adds_periods_headings_and_history(superuser):
    consortium = consortium_create(user=superuser, **CONSORTIUM_FIELDS)
    assert consortium.duration_months == 36
    assert period_dates(consortium)[0] == (1, D(2024, 1, 17), D(2024, 7, 16), D(2024, 9, 14))
    assert period_dates(consortium)[-1] == (6, D(2026, 7, 17), D(2027, 1, 16), D(2027, 3, 17))
    assert list(consortium.cost_categories.values_list("code", flat=True)) == [
        "personnel",
        "operating",
        "equipment",
        "subcontracting",
        "overheads",
    ]
    [created] = consortium.history.all()
    assert created.history_type == "+"
    assert created.history_user == superuser


def test_consortium_create_refuses_invalid_dates_and_stores_nothing(superuser):
    with pytest.raises(ValidationError) as exc:
        consortium_create(
            user=superuser, **{**CONSORTIUM_FIELDS, "end_date": CONSORTIUM_FIELDS["start_date"]}
        )
    assert exc.value.message_dict == {
        NON_FIELD_ERRORS: ["The end date must be after the start date."]
    }
    assert not Consortium.objects.exists()
    assert not ReportingPeriod.objects.exists()
    assert not CostCategory.objects.exists()


# Reporting periods


def test_six_month_periods_cover_the_consortium(consortium):
    assert period_dates(consortium) == [
        (1, D(2024, 1, 1), D(2024, 6, 30), D(2024, 8, 29)),
        (2, D(2024, 7, 1), D(2024, 12, 31), D(2025, 3, 1)),
        (3, D(2025, 1, 1), D(2025, 6, 30), D(2025, 8, 29)),
        (4, D(2025, 7, 1), D(2025, 12, 31), D(2026, 3, 1)),
        (5, D(2026, 1, 1), D(2026, 6, 30), D(2026, 8, 29)),
        (6, D(2026, 7, 1), D(2026, 12, 31), D(2027, 3, 1)),
    ]


def test_last_period_is_cut_at_the_end_date():
    consortium = factories.ConsortiumFactory(end_date=D(2025, 2, 28))
    assert period_dates(consortium)[-1] == (3, D(2025, 1, 1), D(2025, 2, 28), D(2025, 4, 29))


def test_generating_periods_twice_changes_nothing(consortium):
    before = list(consortium.periods.values_list("pk", "number", "start_date", "end_date"))
    reporting_periods_generate(consortium=consortium)
    after = list(consortium.periods.values_list("pk", "number", "start_date", "end_date"))
    assert after == before


def test_periods_follow_a_new_reporting_length(consortium):
    first = consortium.periods.get(number=1)
    consortium.reporting_period_months = 12
    consortium.save()
    reporting_periods_generate(consortium=consortium)
    assert period_dates(consortium) == [
        (1, D(2024, 1, 1), D(2024, 12, 31), D(2025, 3, 1)),
        (2, D(2025, 1, 1), D(2025, 12, 31), D(2026, 3, 1)),
        (3, D(2026, 1, 1), D(2026, 12, 31), D(2027, 3, 1)),
    ]
    assert consortium.periods.get(number=1).pk == first.pk


def test_periods_holding_expenses_are_never_deleted(consortium, budget_line):
    expense = factories.ExpenseFactory(line=budget_line, period_number=6)
    before = period_dates(consortium)
    consortium.end_date = D(2025, 12, 31)
    consortium.save()
    with pytest.raises(ValidationError) as exc:
        reporting_periods_generate(consortium=consortium)
    assert exc.value.messages == [
        "Period P6 (07/2026 – 12/2026) holds expenses or effort and cannot move: change the "
        "dates or the period length back, or move its records first."
    ]
    assert period_dates(consortium) == before
    expense.refresh_from_db()
    assert expense.period.number == 6


def test_regenerating_periods_never_moves_a_period_holding_expenses(
    consortium, budget_line, partner_member, coordinator
):
    expense = factories.ExpenseFactory(line=budget_line, period_number=2)
    expense_submit(expense=expense, user=partner_member)
    before = period_dates(consortium)
    consortium.reporting_period_months = 12
    consortium.save()
    with pytest.raises(ValidationError):
        reporting_periods_generate(consortium=consortium)
    assert period_dates(consortium) == before
    expense.refresh_from_db()
    assert expense.period.contains(expense.incurred_on)
    assert expense_accept(expense=expense, user=coordinator).status == "accepted"


def test_periods_stay_aligned_on_project_months_when_starting_on_the_31st():
    consortium = factories.ConsortiumFactory(start_date=D(2024, 8, 31), end_date=D(2027, 8, 30))
    assert consortium.duration_months == 36
    assert consortium.periods.count() == 6
    starts = list(consortium.periods.values_list("start_date", flat=True))
    assert starts == [
        consortium.month_due_date(6 * k) + datetime.timedelta(days=1) for k in range(6)
    ]


# Cost headings


def test_walloon_headings(consortium, personnel, overheads):
    assert overheads.is_flat_rate
    assert overheads.flat_rate == Decimal("17.00")
    assert overheads.flat_rate_base == personnel
    assert not personnel.is_flat_rate


def test_seeding_headings_twice_keeps_edited_rates(consortium, overheads):
    CostCategory.objects.filter(pk=overheads.pk).update(flat_rate=Decimal("15"))
    seeded = cost_categories_seed(consortium=consortium)
    assert len(seeded) == 5
    assert consortium.cost_categories.count() == 5
    overheads.refresh_from_db()
    assert overheads.flat_rate == Decimal("15.00")


# Roles and memberships


def test_coordinator_becomes_staff(coordinator, consortium):
    assert coordinator.is_staff
    assert ConsortiumRole.objects.get(user=coordinator, consortium=consortium).kind == "coordinator"


def test_observer_and_partner_member_never_reach_the_admin(observer, partner_member):
    assert not observer.is_staff
    assert not partner_member.is_staff


def test_granting_another_role_replaces_the_first(coordinator, consortium, superuser):
    colleague = factories.UserFactory()
    consortium_role_grant(
        consortium=consortium, user=colleague, kind="coordinator", granted_by=superuser
    )
    role = consortium_role_grant(
        consortium=consortium, user=coordinator, kind="observer", granted_by=superuser
    )
    coordinator.refresh_from_db()
    assert not coordinator.is_staff
    assert ConsortiumRole.objects.filter(user=coordinator).count() == 1
    latest = role.history.first()
    assert latest.history_user == superuser
    delta = latest.diff_against(latest.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [("kind", "coordinator", "observer")]


def test_coordinator_elsewhere_stays_staff(coordinator, other_consortium, consortium):
    consortium_role_grant(
        consortium=other_consortium, user=coordinator, kind="coordinator", granted_by=None
    )
    colleague = factories.UserFactory()
    consortium_role_grant(
        consortium=consortium, user=colleague, kind="coordinator", granted_by=None
    )
    consortium_role_grant(consortium=consortium, user=coordinator, kind="observer", granted_by=None)
    coordinator.refresh_from_db()
    assert coordinator.is_staff


def test_superuser_stays_staff(superuser):
    user_staff_sync(user=superuser)
    superuser.refresh_from_db()
    assert superuser.is_staff


def test_staff_flag_is_removed_from_a_plain_user():
    user = factories.UserFactory(is_staff=True)
    user_staff_sync(user=user)
    user.refresh_from_db()
    assert not user.is_staff


def test_membership_grant_refuses_a_second_partner(partner_member, partner_b, coordinator):
    before = list(Membership.objects.values_list("pk", "partner_id", "is_active"))
    with pytest.raises(ValidationError) as exc:
        membership_grant(
            partner=partner_b, user=partner_member, role="contact", granted_by=coordinator
        )
    assert exc.value.message_dict == {
        "user": [
            f"{partner_member.get_full_name()} already works for another partner of this "
            "consortium, and a person works for one partner per consortium: ask the "
            "consortium's coordinators."
        ]
    }
    assert list(Membership.objects.values_list("pk", "partner_id", "is_active")) == before


def test_membership_grant_reactivates_and_records_who(partner_member, partner_a, coordinator):
    membership = Membership.objects.get(user=partner_member, partner=partner_a)
    Membership.objects.filter(pk=membership.pk).update(is_active=False)
    again = membership_grant(
        partner=partner_a, user=partner_member, role="contributor", granted_by=coordinator
    )
    assert again.pk == membership.pk
    assert again.is_active
    assert again.role == "contributor"
    assert again.history.first().history_user == coordinator


# Helpers every service relies on


def test_check_state_names_the_object_and_its_state(partner_a):
    with pytest.raises(ValidationError) as exc:
        check_state(partner_a, {"withdrawn"}, "Cannot reinstate %(object)s: it is %(status)s.")
    assert exc.value.messages == ["Cannot reinstate P1 BioWin: it is active."]
    assert exc.value.code == "invalid_state"


def test_save_with_history_validates_before_saving(consortium, coordinator):
    consortium.total_budget = Decimal("-5")
    with pytest.raises(ValidationError):
        save_with_history(consortium, user=coordinator, update_fields=["total_budget"])
    consortium.refresh_from_db()
    assert consortium.total_budget == Decimal("81000000.00")
    assert consortium.history.count() == 1


def test_save_with_history_records_the_author(consortium, coordinator):
    consortium.direct_jobs_target = 600
    save_with_history(consortium, user=coordinator, update_fields=["direct_jobs_target"])
    latest = consortium.history.first()
    assert latest.history_user == coordinator
    delta = latest.diff_against(latest.prev_record)
    assert "direct_jobs_target" in delta.changed_fields
    assert latest.prev_record.direct_jobs_target == 470
