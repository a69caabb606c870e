"""Invariants of the consortium models: each bad value is refused by model validation with the
message the user reads, nothing reaches the database, and the database refuses it on its own."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from consortium.models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)
from tests import factories
from tests.assertions import assert_db_refuses, refused, refused_update

pytestmark = pytest.mark.django_db

D = datetime.date


# Organisation


def test_enterprise_number_is_normalised():
    organisation = factories.OrganisationFactory(enterprise_number="BE 0403.170.701")
    organisation.refresh_from_db()
    assert organisation.enterprise_number == "0403170701"
    assert organisation.enterprise_number_display == "0403.170.701"


@pytest.mark.parametrize(
    "typed, message",
    [
        (
            "BE 0403.170.702",
            "This enterprise number fails its check digits: please check it for typing errors.",
        ),
        (
            "0403.170",
            "A Belgian enterprise number has 10 digits and starts with 0 or 1 (e.g. 0403.170.701).",
        ),
        (
            "0403.A70.701",
            "A Belgian enterprise number has 10 digits and starts with 0 or 1 (e.g. 0403.170.701).",
        ),
    ],
)
def test_invalid_enterprise_number_is_refused(typed, message):
    before = Organisation.objects.count()
    errors = refused(factories.OrganisationFactory, enterprise_number=typed)
    assert errors == {"enterprise_number": [message]}
    assert Organisation.objects.count() == before


def test_too_long_enterprise_number_is_refused():
    errors = refused(factories.OrganisationFactory, enterprise_number="04031707011")
    assert errors["enterprise_number"] == [
        "A Belgian enterprise number has 10 digits and starts with 0 or 1 (e.g. 0403.170.701).",
        "Ensure this value has at most 10 characters (it has 11).",
    ]
    assert not Organisation.objects.exists()


def test_changing_to_an_invalid_enterprise_number_keeps_the_stored_one():
    organisation = factories.OrganisationFactory(enterprise_number="0403170701")
    errors = refused_update(organisation, enterprise_number="0403170799")
    assert errors["enterprise_number"] == [
        "This enterprise number fails its check digits: please check it for typing errors."
    ]
    assert organisation.enterprise_number == "0403170701"


@pytest.mark.parametrize(
    "typed",
    [
        None,
        "",
    ],
)
def test_organisation_needs_an_identifier(typed):
    errors = refused(factories.OrganisationFactory, enterprise_number=typed, vat_id=" ")
    assert errors == {
        NON_FIELD_ERRORS: [
            "Give a Belgian enterprise number or, for a foreign organisation, its VAT id."
        ]
    }
    assert not Organisation.objects.exists()


def test_foreign_organisation_has_a_normalised_vat_id():
    organisation = factories.OrganisationFactory(
        enterprise_number=None, vat_id="fr 403 032 650 45", country="FR"
    )
    organisation.refresh_from_db()
    assert organisation.enterprise_number is None
    assert organisation.vat_id == "FR40303265045"
    assert organisation.enterprise_number_display == ""


def test_several_foreign_organisations_without_enterprise_number():
    for vat_id in ("FR40303265045", "NL123456789B01"):
        factories.OrganisationFactory(enterprise_number="", vat_id=vat_id)
    assert Organisation.objects.filter(enterprise_number__isnull=True).count() == 2


def test_invalid_vat_id_is_refused():
    errors = refused(factories.OrganisationFactory, enterprise_number=None, vat_id="40303265045")
    assert errors["vat_id"] == [
        "A VAT id starts with the two-letter country code, e.g. FR40303265045."
    ]
    assert not Organisation.objects.exists()


def test_enterprise_number_is_unique():
    factories.OrganisationFactory(enterprise_number="0403170701")
    errors = refused(factories.OrganisationFactory, enterprise_number="BE 0403 170 701")
    assert errors == {
        "enterprise_number": ["Organisation with this Belgian enterprise number already exists."]
    }
    assert Organisation.objects.count() == 1


@pytest.mark.parametrize(
    "values",
    [
        {"enterprise_number": "12345"},
        {"enterprise_number": "040317070A"},
        {"enterprise_number": None, "vat_id": ""},
    ],
)
def test_database_refuses_organisation_without_valid_identifier(values):
    organisation = factories.OrganisationFactory()
    assert_db_refuses(Organisation, organisation.pk, **values)


# Consortium


def test_consortium_str_and_money(consortium):
    assert str(consortium) == "PIT-TEST"
    assert consortium.duration_months == 36
    assert consortium.public_funding == Decimal("48600000.00")


@pytest.mark.parametrize("end_date", [D(2023, 12, 31), D(2024, 1, 1)])
def test_consortium_ends_after_it_starts(end_date):
    errors = refused(factories.ConsortiumFactory, start_date=D(2024, 1, 1), end_date=end_date)
    assert errors == {NON_FIELD_ERRORS: ["The end date must be after the start date."]}
    assert not Consortium.objects.exists()


def test_consortium_budget_cannot_be_negative(consortium):
    errors = refused_update(consortium, total_budget=Decimal("-0.01"))
    assert errors == {"total_budget": ["Ensure this value is greater than or equal to 0."]}
    assert consortium.total_budget == Decimal("81000000.00")


@pytest.mark.parametrize(
    "share, message",
    [
        (Decimal("100.01"), "Ensure this value is less than or equal to 100."),
        (Decimal("-1"), "Ensure this value is greater than or equal to 0."),
    ],
)
def test_public_funding_share_is_a_percentage(consortium, share, message):
    errors = refused_update(consortium, public_funding_share=share)
    assert errors == {"public_funding_share": [message]}
    assert consortium.public_funding_share == Decimal("60.00")


@pytest.mark.parametrize("share", [Decimal(0), Decimal(100)])
def test_public_funding_share_bounds_are_allowed(consortium, share):
    consortium.public_funding_share = share
    consortium.full_clean()


@pytest.mark.parametrize(
    "values",
    [
        {"end_date": D(2023, 12, 31)},
        {"end_date": D(2024, 1, 1)},
        {"total_budget": Decimal("-1")},
        {"public_funding_share": Decimal("100.5")},
        {"public_funding_share": Decimal("-0.5")},
        {"reporting_period_months": 13},
        {"reporting_period_months": 0},
    ],
)
def test_database_refuses_invalid_consortium(consortium, values):
    assert_db_refuses(Consortium, consortium.pk, **values)


def test_acronym_is_unique(consortium):
    errors = refused(factories.ConsortiumFactory, acronym="PIT-TEST")
    assert errors == {"acronym": ["Consortium with this Acronym already exists."]}
    assert Consortium.objects.count() == 1


# Partner


def test_partner_str(partner_a):
    assert str(partner_a) == "P1 BioWin"


def test_partner_number_is_unique_in_a_consortium(consortium, partner_a, other_consortium):
    before = Partner.objects.count()
    errors = refused(factories.PartnerFactory, consortium=consortium, number=1)
    assert errors == {NON_FIELD_ERRORS: ["Another partner already has this number."]}
    assert Partner.objects.count() == before
    # The same number in another consortium is another partner.
    factories.PartnerFactory(consortium=other_consortium, number=1)


def test_organisation_joins_a_consortium_once(consortium, partner_a):
    errors = refused(
        factories.PartnerFactory, consortium=consortium, organisation=partner_a.organisation
    )
    assert errors == {
        NON_FIELD_ERRORS: ["This organisation is already a partner of the consortium."]
    }
    assert consortium.partners.count() == 1


def test_one_organisation_in_two_consortia(partner_a, other_consortium):
    factories.PartnerFactory(consortium=other_consortium, organisation=partner_a.organisation)
    assert partner_a.organisation.partnerships.count() == 2


@pytest.mark.parametrize(
    "rate, message",
    [
        (Decimal("100.01"), "Ensure this value is less than or equal to 100."),
        (Decimal("-0.01"), "Ensure this value is greater than or equal to 0."),
    ],
)
def test_partner_funding_rate_is_a_percentage(partner_b, rate, message):
    errors = refused_update(partner_b, default_funding_rate=rate)
    assert errors == {"default_funding_rate": [message]}
    assert partner_b.default_funding_rate == Decimal("50.00")


def test_partner_cannot_leave_before_it_joined(partner_b):
    errors = refused_update(
        partner_b, status="withdrawn", joined_on=D(2024, 3, 1), left_on=D(2024, 2, 29)
    )
    assert errors == {NON_FIELD_ERRORS: ["A partner cannot leave before it joined."]}
    assert partner_b.status == "active"
    assert partner_b.left_on is None


def test_active_partner_has_no_leaving_date(partner_b):
    errors = refused_update(partner_b, left_on=D(2025, 6, 30))
    assert errors == {
        NON_FIELD_ERRORS: ["An active partner has no leaving date; withdraw it instead."]
    }
    assert partner_b.left_on is None


def test_withdrawn_partner_may_leave_on_the_day_it_joined(partner_b):
    partner_b.status = "withdrawn"
    partner_b.left_on = partner_b.joined_on
    partner_b.full_clean()


@pytest.mark.parametrize(
    "values",
    [
        {"number": 2},
        {"default_funding_rate": Decimal("101")},
        {"status": "withdrawn", "left_on": D(2023, 12, 31)},
        {"left_on": D(2025, 1, 1)},
    ],
)
def test_database_refuses_invalid_partner(partner_a, partner_b, values):
    assert_db_refuses(Partner, partner_a.pk, **values)


# Membership and consortium roles


def test_user_works_for_one_partner_per_consortium(partner_member, partner_b):
    before = Membership.objects.count()
    errors = refused(factories.MembershipFactory, user=partner_member, partner=partner_b)
    assert errors == {"user": [other_partner_message(partner_member)]}
    assert Membership.objects.count() == before


def test_user_may_work_for_partners_of_different_consortia(partner_member, other_partner):
    factories.MembershipFactory(user=partner_member, partner=other_partner)
    assert partner_member.memberships.count() == 2


def test_former_membership_does_not_block_a_new_partner(partner_member, partner_b):
    partner_member.memberships.update(is_active=False)
    factories.MembershipFactory(user=partner_member, partner=partner_b)


def test_reactivating_a_membership_checks_the_other_partner(partner_member, partner_a, partner_b):
    old = Membership.objects.get(user=partner_member, partner=partner_a)
    Membership.objects.filter(pk=old.pk).update(is_active=False)
    factories.MembershipFactory(user=partner_member, partner=partner_b)
    old.refresh_from_db()
    errors = refused_update(old, is_active=True)
    assert errors == {"user": [other_partner_message(partner_member)]}
    assert old.is_active is False


def test_membership_is_unique(partner_member, partner_a):
    errors = refused(factories.MembershipFactory, user=partner_member, partner=partner_a)
    assert errors == {NON_FIELD_ERRORS: ["This user already belongs to this partner."]}
    assert partner_member.memberships.count() == 1


def test_database_refuses_duplicate_membership(partner_member, partner_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=partner_member, partner=partner_a, role="contact")


def test_one_role_per_user_and_consortium(coordinator, consortium):
    errors = refused(
        factories.ConsortiumRoleFactory, user=coordinator, consortium=consortium, kind="observer"
    )
    assert errors == {NON_FIELD_ERRORS: ["This user already has a role in this consortium."]}
    assert ConsortiumRole.objects.get(user=coordinator).kind == "coordinator"
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsortiumRole.objects.create(user=coordinator, consortium=consortium, kind="observer")


# Reporting periods


def test_period_str(period):
    assert str(period) == "P1 (01/2024 – 06/2024)"
    assert period.contains(D(2024, 1, 1))
    assert period.contains(D(2024, 6, 30))
    assert not period.contains(D(2024, 7, 1))


def test_period_cannot_end_before_it_starts(period):
    errors = refused_update(period, end_date=D(2023, 12, 31))
    assert errors == {NON_FIELD_ERRORS: ["A period cannot end before it starts."]}
    assert period.end_date == D(2024, 6, 30)


def test_period_statement_due_after_the_period(period):
    errors = refused_update(period, statement_due_date=D(2024, 6, 29))
    assert errors == {NON_FIELD_ERRORS: ["The statement is due after the period ends."]}
    assert period.statement_due_date == D(2024, 8, 29)


def test_period_number_is_unique(consortium, period):
    duplicate = ReportingPeriod(
        consortium=consortium,
        number=1,
        start_date=period.start_date,
        end_date=period.end_date,
        statement_due_date=period.statement_due_date,
    )
    with pytest.raises(ValidationError) as exc:
        duplicate.full_clean()
    assert exc.value.message_dict == {
        NON_FIELD_ERRORS: ["This consortium already has a period with this number."]
    }
    assert consortium.periods.count() == 6


@pytest.mark.parametrize(
    "values",
    [
        {"end_date": D(2023, 12, 31)},
        {"statement_due_date": D(2024, 6, 1)},
        {"number": 2},
    ],
)
def test_database_refuses_invalid_period(period, values):
    assert_db_refuses(ReportingPeriod, period.pk, **values)


# Cost categories


def test_cost_category_code_is_unique(consortium):
    category = CostCategory(consortium=consortium, code="personnel", name="Staff")
    with pytest.raises(ValidationError) as exc:
        category.full_clean()
    assert exc.value.message_dict == {
        NON_FIELD_ERRORS: ["This consortium already has a cost category with this code."]
    }
    assert consortium.cost_categories.filter(code="personnel").count() == 1


def test_same_code_in_another_consortium(consortium, other_consortium):
    assert CostCategory.objects.filter(code="personnel").count() == 2


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "flat_rate"},
        {"kind": "flat_rate", "flat_rate": Decimal("7")},
        {"kind": "actual", "flat_rate": Decimal("7")},
    ],
)
def test_flat_rate_heading_is_complete(consortium, values):
    category = CostCategory(consortium=consortium, code="travel", name="Travel", **values)
    with pytest.raises(ValidationError) as exc:
        category.full_clean()
    assert exc.value.message_dict == {
        NON_FIELD_ERRORS: [
            "A flat-rate heading needs its rate and base heading; other headings have neither."
        ]
    }
    assert not consortium.cost_categories.filter(code="travel").exists()


def test_flat_rate_base_is_an_actual_heading_of_the_same_consortium(
    consortium, other_consortium, overheads
):
    for base in (
        CostCategory.objects.get(consortium=other_consortium, code="personnel"),
        overheads,
    ):
        category = CostCategory(
            consortium=consortium,
            code="indirect",
            name="Indirect",
            kind="flat_rate",
            flat_rate=Decimal(7),
            flat_rate_base=base,
        )
        with pytest.raises(ValidationError) as exc:
            category.full_clean()
        assert exc.value.message_dict == {
            "flat_rate_base": ["The base must be an actual-cost heading of the same consortium."]
        }
    assert not CostCategory.objects.filter(code="indirect").exists()


@pytest.mark.parametrize(
    "values",
    [
        {"code": "operating"},
        {"flat_rate": None},
        {"flat_rate": Decimal("100.5")},
        {"flat_rate_base": None},
        {"kind": "actual"},
    ],
)
def test_database_refuses_invalid_cost_category(overheads, values):
    assert_db_refuses(CostCategory, overheads.pk, **values)


def other_partner_message(person):
    return (
        f"{person.get_full_name()} already works for another partner of this consortium, and a "
        "person works for one partner per consortium: ask the consortium's coordinators."
    )
