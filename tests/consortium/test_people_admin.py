"""A person's page in the coordinators' admin: their roles and memberships are edited inline,
`is_staff` follows the roles, and people shared with another consortium or superusers are out of a
coordinator's hands."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from consortium.choices import ConsortiumRoleKind, MembershipRole
from consortium.models import ConsortiumRole, EmailAddressChange, Membership, Organisation
from consortium.services import consortium_role_grant, membership_grant
from tests import factories
from tests.web import client_for as _client
from tests.workpackages.test_admin_validation import form_data

pytestmark = pytest.mark.django_db

User = get_user_model()

INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."


def _person_url(person: Any) -> str:
    return reverse("admin:auth_user_change", args=[person.pk])


def _add_row(data: dict[str, Any], prefix: str, **fields: Any) -> None:
    """Fill the inline's next blank row, as the "Add another" link does."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    data.update({f"{prefix}-{index}-{name}": str(value) for name, value in fields.items()})


def _errors(response: Any) -> Any:
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return response.status_code
    return context["adminform"].form.errors, [
        formset.formset.errors for formset in context.get("inline_admin_formsets", [])
    ]


@pytest.fixture
def second_consortium(coordinator: Any) -> Any:
    """A second consortium run by the same coordinator, where partner A's member may also work."""
    second = factories.ConsortiumFactory(acronym="PIT-SECOND")
    consortium_role_grant(
        consortium=second, user=coordinator, kind=ConsortiumRoleKind.COORDINATOR, granted_by=None
    )
    return second


@pytest.mark.parametrize(
    ("kind", "is_staff"),
    [(ConsortiumRoleKind.COORDINATOR, True), (ConsortiumRoleKind.OBSERVER, False)],
)
def test_roles_and_memberships_are_added_on_the_persons_page(
    coordinator: Any,
    consortium: Any,
    second_consortium: Any,
    partner_member: Any,
    kind: str,
    is_staff: bool,
) -> None:
    second_partner = factories.PartnerFactory(consortium=second_consortium, number=1)
    client = _client(coordinator)
    url = _person_url(partner_member)
    data = form_data(client, url)
    _add_row(data, "consortium_roles", consortium=consortium.pk, kind=kind, is_active="on")
    _add_row(data, "memberships", partner=second_partner.pk, role="contact", is_active="on")

    response = client.post(url, data)

    assert response.status_code == 302, _errors(response)
    role = ConsortiumRole.objects.get(user=partner_member)
    assert (role.consortium, role.kind, role.is_active) == (consortium, kind, True)
    assert sorted(
        Membership.objects.filter(user=partner_member).values_list(
            "partner__consortium__acronym", "role", "is_active"
        )
    ) == [("PIT-SECOND", "contact", True), ("PIT-TEST", "finance", True)]
    partner_member.refresh_from_db()
    assert partner_member.is_staff is is_staff
    assert not partner_member.is_superuser


@pytest.fixture
def shared_person(partner_member: Any, other_partner: Any) -> Any:
    """Partner A's member, who also works for a partner of another consortium."""
    membership_grant(
        partner=other_partner, user=partner_member, role=MembershipRole.CONTACT, granted_by=None
    )
    return partner_member


def test_a_person_shared_with_another_consortium_is_read_only_to_a_coordinator(
    coordinator: Any, shared_person: Any
) -> None:
    client = _client(coordinator)
    url = _person_url(shared_person)
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="email"' not in page.content.decode()
    assert shared_person.email in page.content.decode()

    first_name = shared_person.first_name
    data = form_data(client, url)
    data.update(email="hijacked@example.org", first_name="Mallory")
    response = client.post(url, data)

    assert response.status_code == 302, _errors(response)
    shared_person.refresh_from_db()
    assert (shared_person.email, shared_person.first_name) == ("member-a@example.org", first_name)


def test_a_person_of_the_coordinators_consortia_only_is_editable(
    coordinator: Any, partner_member: Any
) -> None:
    client = _client(coordinator)
    url = _person_url(partner_member)
    data = form_data(client, url)
    data.update(first_name="Alex", last_name="Martin")

    response = client.post(url, data)

    assert response.status_code == 302, _errors(response)
    partner_member.refresh_from_db()
    assert (partner_member.first_name, partner_member.last_name) == ("Alex", "Martin")


def test_a_superuser_edits_a_person_shared_between_consortia(
    superuser: Any, shared_person: Any
) -> None:
    client = _client(superuser)
    url = _person_url(shared_person)
    data = form_data(client, url)
    data.update(email="alex.martin@example.org")

    response = client.post(url, data)

    assert response.status_code == 302, _errors(response)
    shared_person.refresh_from_db()
    assert shared_person.email == "alex.martin@example.org"
    change = EmailAddressChange.objects.get()
    assert (change.user, change.old_email, change.new_email, change.changed_by) == (
        shared_person,
        "member-a@example.org",
        "alex.martin@example.org",
        superuser,
    )


@pytest.fixture
def member_superuser(superuser: Any, partner_a: Any) -> Any:
    """A superuser who also works for partner A: a member of the coordinator's consortium."""
    factories.MembershipFactory(user=superuser, partner=partner_a)
    return superuser


def test_superusers_are_not_among_a_coordinators_people(
    coordinator: Any, partner_member: Any, member_superuser: Any
) -> None:
    client = _client(coordinator)

    listed = client.get(reverse("admin:auth_user_changelist")).context["cl"].queryset
    assert partner_member in listed and member_superuser not in listed
    assert client.get(_person_url(member_superuser)).status_code == 404

    def autocomplete(term: str) -> list[str]:
        found = client.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "consortium",
                "model_name": "membership",
                "field_name": "user",
                "term": term,
            },
        )
        assert found.status_code == 200
        return [row["id"] for row in found.json()["results"]]

    assert autocomplete(partner_member.username) == [str(partner_member.pk)]
    assert autocomplete(member_superuser.username) == []


@pytest.mark.parametrize(
    ("model", "values"),
    [
        ("consortiumrole", {"kind": "observer", "is_active": "on"}),
        ("membership", {"role": "contact", "is_active": "on"}),
    ],
)
def test_a_coordinator_cannot_give_a_superuser_a_role_or_membership(
    coordinator: Any,
    consortium: Any,
    partner_b: Any,
    member_superuser: Any,
    model: str,
    values: dict[str, str],
) -> None:
    target = {
        "consortiumrole": {"consortium": consortium.pk},
        "membership": {"partner": partner_b.pk},
    }
    before = (ConsortiumRole.objects.count(), Membership.objects.count())

    response = _client(coordinator).post(
        reverse(f"admin:consortium_{model}_add"),
        {"user": member_superuser.pk, **target[model], **values},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"user": [INVALID_CHOICE]}
    assert (ConsortiumRole.objects.count(), Membership.objects.count()) == before
    member_superuser.refresh_from_db()
    assert member_superuser.is_staff and member_superuser.is_superuser


def test_a_persons_log_is_for_superusers_only(
    coordinator: Any, partner_member: Any, superuser: Any
) -> None:
    url = reverse("admin:auth_user_history", args=[partner_member.pk])
    assert _client(coordinator).get(url).status_code == 404
    assert _client(superuser).get(url).status_code == 200


def test_an_organisation_shared_with_another_consortium_is_read_only(
    coordinator: Any, other_coordinator: Any, partner_a: Any, other_consortium: Any
) -> None:
    organisation = partner_a.organisation
    factories.PartnerFactory(consortium=other_consortium, organisation=organisation)
    url = reverse("admin:consortium_organisation_change", args=[organisation.pk])
    for user in (coordinator, other_coordinator):
        client = _client(user)
        page = client.get(url)
        assert page.status_code == 200 and 'name="legal_name"' not in page.content.decode()
        client.post(url, {"legal_name": "Hijacked SA", "short_name": "Hijacked"})
        history = reverse("admin:consortium_organisation_history", args=[organisation.pk])
        assert client.get(history).status_code == 404
    organisation.refresh_from_db()
    assert organisation.legal_name != "Hijacked SA"


def test_an_organisation_a_coordinator_created_leaves_their_hands_once_a_partner_elsewhere(
    coordinator: Any, other_consortium: Any
) -> None:
    client = _client(coordinator)
    client.post(
        reverse("admin:consortium_organisation_add"),
        {
            "legal_name": "Ciney Cell SRL",
            "short_name": "Ciney Cell",
            "kind": "start_up",
            "enterprise_number": "0403.170.701",
            "country": "BE",
        },
    )
    organisation = Organisation.objects.get(short_name="Ciney Cell")
    url = reverse("admin:consortium_organisation_change", args=[organisation.pk])
    assert client.get(url).status_code == 200
    factories.PartnerFactory(consortium=other_consortium, organisation=organisation)
    assert client.get(url).status_code == 404


def test_a_coordinator_sees_a_persons_email_address_but_cannot_change_it(
    coordinator: Any, partner_member: Any
) -> None:
    client = _client(coordinator)
    url = _person_url(partner_member)
    page = client.get(url).content.decode()
    assert 'name="email"' not in page
    assert "member-a@example.org" in page

    data = form_data(client, url)
    data.update(email="mallory@evil.example", first_name="Alex")
    response = client.post(url, data)

    assert response.status_code == 302, _errors(response)
    partner_member.refresh_from_db()
    assert (partner_member.email, partner_member.first_name) == ("member-a@example.org", "Alex")
    assert not EmailAddressChange.objects.exists()


def test_a_coordinator_still_sets_a_new_persons_address(coordinator: Any, partner_a: Any) -> None:
    response = _client(coordinator).post(
        reverse("admin:auth_user_add"),
        {
            "username": "sam",
            "email": "sam@lab.example",
            "first_name": "Sam",
            "last_name": "Peeters",
            "partner": partner_a.pk,
            "membership_role": "finance",
            "password1": "Correct-Horse-42",
            "password2": "Correct-Horse-42",
        },
    )

    assert response.status_code == 302, _errors(response)
    assert User.objects.get(username="sam").email == "sam@lab.example"
