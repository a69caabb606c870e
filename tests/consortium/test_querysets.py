"""Who sees and manages what: `Model.objects.restrict(user, action)` for every role.

Coordinators and observers see their whole consortium; partner users see the consortium's work
plan but only their own partner's money, effort and jobs; only coordinators manage.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from consortium.models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)
from consortium.querysets import authorize, person_scope, scopes_per_request
from consortium.services import consortium_role_grant
from tests import factories
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant

pytestmark = pytest.mark.django_db

# model → how its rows reach their consortium
WORK_PLAN = {
    Consortium: "pk",
    Partner: "consortium",
    ConsortiumRole: "consortium",
    ReportingPeriod: "consortium",
    CostCategory: "consortium",
    Workpackage: "consortium",
    WorkpackageParticipant: "consortium",
    Deliverable: "consortium",
    Milestone: "consortium",
}
# Rows private to one partner: other partners of the consortium never see them.
PARTNER_OWNED = {
    Membership: "partner__consortium",
    BudgetLine: "consortium",
    Expense: "consortium",
    Effort: "consortium",
    JobRecord: "consortium",
}
ALL_MODELS = {**WORK_PLAN, **PARTNER_OWNED}

BOTH = ("view", "manage")


def pks(queryset):
    return set(queryset.values_list("pk", flat=True))


def rows_of(model, consortium):
    return pks(model.objects.filter(**{ALL_MODELS[model]: consortium.pk}))


def in_consortium(consortium):
    return lambda model: rows_of(model, consortium)


def of_partner(partner):
    return lambda model: pks(model.objects.filter(partner=partner))


def nothing(model):
    return set()


def everything(model):
    return pks(model.objects.all())


def mismatches(user, actions, expected, models=ALL_MODELS):
    """The (model, action) pairs whose restricted rows differ from `expected(model)`.

    Looping over models and actions inside one test keeps the suite fast: the world is built once
    per role rather than once per model and action.
    """
    found = {}
    for model in models:
        wanted = expected(model)
        for action in [actions] if isinstance(actions, str) else actions:
            visible = pks(model.objects.restrict(user, action))
            if visible != wanted:
                found[f"{model.__name__}/{action}"] = {"visible": visible, "expected": wanted}
    return found


def _partner_rows(partner, workpackage, other_member=None):
    line = factories.BudgetLineFactory(partner=partner, workpackage=workpackage)
    factories.ExpenseFactory(line=line, amount=Decimal("500.00"))
    factories.EffortFactory(partner=partner, workpackage=workpackage)
    factories.JobRecordFactory(partner=partner, workpackage=workpackage)
    if other_member is not None:
        factories.MembershipFactory(user=other_member, partner=partner)


@pytest.fixture
def world(
    consortium,
    other_consortium,
    partner_a,
    partner_b,
    other_partner,
    workpackage,
    other_workpackage,
    deliverable,
    milestone,
    coordinator,
    other_coordinator,
    observer,
    partner_member,
    other_partner_member,
):
    """Every kind of row, for partner A and partner B of `consortium` and in `other_consortium`."""
    factories.WorkpackageParticipantFactory(workpackage=other_workpackage, partner=other_partner)
    _partner_rows(partner_a, workpackage, other_member=factories.UserFactory())
    _partner_rows(partner_b, workpackage)
    _partner_rows(other_partner, other_workpackage, other_member=factories.UserFactory())
    factories.DeliverableFactory(workpackage=other_workpackage)
    factories.MilestoneFactory(lead_partner=other_partner)
    for model in ALL_MODELS:
        assert rows_of(model, consortium), model
        assert rows_of(model, other_consortium), model
    return consortium


def test_coordinator_sees_and_manages_its_consortium_only(world, coordinator):
    assert mismatches(coordinator, BOTH, in_consortium(world)) == {}


def test_other_coordinator_sees_only_the_other_consortium(
    world, other_consortium, other_coordinator
):
    assert mismatches(other_coordinator, BOTH, in_consortium(other_consortium)) == {}


def but_drafts(expected):
    """`expected`, less the draft expenses: a partner's own until submitted."""
    drafts = pks(Expense.objects.filter(status="draft"))
    return lambda model: expected(model) - drafts if model is Expense else expected(model)


def test_observer_reads_its_whole_consortium_but_drafts_and_manages_nothing(world, observer):
    assert Expense.objects.filter(partner__consortium=world, status="draft").exists()
    assert mismatches(observer, "view", but_drafts(in_consortium(world))) == {}
    assert mismatches(observer, "manage", nothing) == {}


def test_partner_member_reads_the_work_plan_and_its_own_partner_rows(
    world, partner_member, partner_a
):
    assert mismatches(partner_member, "view", in_consortium(world), WORK_PLAN) == {}
    assert mismatches(partner_member, "view", of_partner(partner_a), PARTNER_OWNED) == {}
    assert mismatches(partner_member, "manage", nothing) == {}


def test_other_partner_member_reads_only_partner_b_rows(
    world, other_partner_member, partner_a, partner_b
):
    user = other_partner_member
    assert mismatches(user, "view", in_consortium(world), WORK_PLAN) == {}
    assert mismatches(user, "view", of_partner(partner_b), PARTNER_OWNED) == {}
    assert mismatches(user, "manage", nothing) == {}
    for model in PARTNER_OWNED:
        assert not model.objects.restrict(user).filter(partner=partner_a).exists(), model
    expense = Expense.objects.get(partner=partner_a)
    assert not Expense.objects.restrict(user).filter(pk=expense.pk).exists()


def test_anonymous_sees_nothing_and_superuser_everything(world, anonymous, superuser):
    assert mismatches(anonymous, BOTH, nothing) == {}
    assert mismatches(superuser, BOTH, everything) == {}


def test_deactivated_users_see_nothing(world, coordinator, observer, partner_member):
    for user in (coordinator, observer, partner_member):
        user.is_active = False
        user.save(update_fields=["is_active"])
        assert mismatches(user, BOTH, nothing) == {}, user.username


def test_ended_role_and_membership_grant_nothing(world, coordinator, partner_member):
    ConsortiumRole.objects.filter(user=coordinator).update(is_active=False)
    Membership.objects.filter(user=partner_member).update(is_active=False)
    assert mismatches(coordinator, BOTH, nothing) == {}
    assert mismatches(partner_member, BOTH, nothing) == {}


def test_observer_promoted_to_coordinator_manages(world, observer):
    consortium_role_grant(consortium=world, user=observer, kind="coordinator", granted_by=None)
    assert mismatches(observer, "manage", in_consortium(world)) == {}


def test_restrict_keeps_the_model_queryset_methods(world, partner_member, deliverable):
    overdue = Deliverable.objects.restrict(partner_member).overdue(today=deliverable.due_date)
    assert list(overdue) == []
    later = deliverable.due_date.replace(year=deliverable.due_date.year + 1)
    assert deliverable in Deliverable.objects.restrict(partner_member).overdue(today=later)


def test_restrict_reads_the_persons_ids_once_per_request_then_one_query_a_list(
    world, coordinator, partner_member, superuser, django_assert_num_queries
):
    for user in (coordinator, partner_member, superuser):
        with scopes_per_request():
            if not user.is_superuser:
                # The person's roles and memberships: two queries (a superuser's reads none).
                with django_assert_num_queries(2):
                    person_scope(user)
            for model in [*ALL_MODELS, Organisation]:
                with django_assert_num_queries(1):
                    list(model.objects.restrict(user, "view"))


def test_a_request_that_grants_access_reads_the_scope_again(world, observer):
    with scopes_per_request():
        assert Partner.objects.restrict(observer, "manage").count() == 0
        consortium_role_grant(consortium=world, user=observer, kind="coordinator", granted_by=None)
        managed = Partner.objects.restrict(observer, "manage")
        assert managed.count() == Partner.objects.filter(consortium=world).count() > 0


def test_a_decision_reads_the_roles_as_they_are_not_as_the_request_read_them(
    world, partner_member, partner_a
):
    """`authorize` runs under the row's lock: a membership another process ended while the
    request waited (no signal reaches this one) is ended for the decision."""
    draft = Expense(partner=partner_a, consortium=partner_a.consortium)
    with scopes_per_request():
        assert partner_a.pk in person_scope(partner_member).partners
        authorize(partner_member, draft, "change")
        Membership.objects.filter(user=partner_member).update(is_active=False)
        # The request's lists still read what it read first…
        assert partner_a.pk in person_scope(partner_member).partners
        # …its decisions don't.
        with pytest.raises(PermissionDenied):
            authorize(partner_member, draft, "change")


def test_the_scope_matches_ids_not_subqueries(world, partner_member):
    sql = str(Expense.objects.restrict(partner_member, "view").query)
    assert "SELECT" not in sql.split("WHERE", 1)[1], sql


# Organisations have no consortium of their own: they are seen through their partnerships.


@pytest.fixture
def organisations(partner_a, partner_b, other_partner):
    return {
        "a": partner_a.organisation,
        "b": partner_b.organisation,
        "other": other_partner.organisation,
        "unattached": factories.OrganisationFactory(),
    }


def test_coordinator_sees_the_organisations_of_its_consortium(coordinator, organisations):
    expected = {organisations["a"].pk, organisations["b"].pk}
    assert pks(Organisation.objects.restrict(coordinator, "view")) == expected
    assert pks(Organisation.objects.restrict(coordinator, "manage")) == expected
    created = factories.OrganisationFactory(created_by=coordinator)
    # A coordinator keeps the organisation it just created before it becomes a partner.
    assert pks(Organisation.objects.restrict(coordinator, "manage")) == {*expected, created.pk}


def test_organisation_in_two_consortia_is_seen_from_both(
    coordinator, other_coordinator, organisations, other_consortium
):
    factories.PartnerFactory(consortium=other_consortium, organisation=organisations["a"])
    assert organisations["a"] in Organisation.objects.restrict(coordinator)
    seen_by_other = Organisation.objects.restrict(other_coordinator)
    assert pks(seen_by_other) == {organisations["a"].pk, organisations["other"].pk}
    # Two partnerships, still one row.
    assert seen_by_other.filter(pk=organisations["a"].pk).count() == 1


def test_partner_member_and_observer_read_but_never_manage_organisations(
    partner_member, observer, organisations
):
    expected = {organisations["a"].pk, organisations["b"].pk}
    for user in (partner_member, observer):
        assert pks(Organisation.objects.restrict(user, "view")) == expected
        assert not Organisation.objects.restrict(user, "manage").exists()


def test_anonymous_and_superuser_on_organisations(anonymous, superuser, organisations):
    for action in BOTH:
        assert not Organisation.objects.restrict(anonymous, action).exists()
        assert pks(Organisation.objects.restrict(superuser, action)) == pks(
            Organisation.objects.all()
        )
