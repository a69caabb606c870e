"""People in the coordinators' admin: who a coordinator may add, see and change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from consortium.models import Membership
from tests.web import client_for as _client

pytestmark = pytest.mark.django_db

User = get_user_model()


def _person(partner: Any, **changes: Any) -> dict[str, Any]:
    return {
        "username": "qc-analyst",
        "email": "qc@example.org",
        "first_name": "Alex",
        "last_name": "Martin",
        "partner": partner.pk,
        "membership_role": "finance",
        "password1": "a-Long-enough-passphrase-2026",
        "password2": "a-Long-enough-passphrase-2026",
        "usable_password": "true",
        **changes,
    }


def test_coordinator_adds_a_person_to_one_of_its_partners(coordinator: Any, partner_a: Any) -> None:
    client = _client(coordinator)
    response = client.post(reverse("admin:auth_user_add"), _person(partner_a))
    assert response.status_code == 302
    person = User.objects.get(username="qc-analyst")
    membership = Membership.objects.get(user=person)
    assert (membership.partner, membership.role) == (partner_a, "finance")
    assert not person.is_staff and not person.is_superuser
    assert membership.history.first().history_user == coordinator
    assert client.get(reverse("admin:auth_user_change", args=[person.pk])).status_code == 200


def test_coordinator_cannot_add_a_person_to_another_consortium(
    coordinator: Any, other_partner: Any
) -> None:
    before = User.objects.count()
    response = _client(coordinator).post(reverse("admin:auth_user_add"), _person(other_partner))
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert User.objects.count() == before


def test_coordinator_cannot_set_someone_elses_password(
    coordinator: Any, partner_member: Any
) -> None:
    client = _client(coordinator)
    url = reverse("admin:auth_user_password_change", args=[partner_member.pk])
    assert client.get(url).status_code == 403
    own = reverse("admin:auth_user_password_change", args=[coordinator.pk])
    assert client.get(own).status_code == 200


def test_coordinator_cannot_make_anyone_staff_or_superuser(
    coordinator: Any, partner_member: Any
) -> None:
    url = reverse("admin:auth_user_change", args=[partner_member.pk])
    response = _client(coordinator).post(
        url,
        {
            "username": partner_member.username,
            "email": partner_member.email,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "consortium_roles-TOTAL_FORMS": "0",
            "consortium_roles-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "profile-TOTAL_FORMS": "0",
            "profile-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    partner_member.refresh_from_db()
    assert not partner_member.is_staff and not partner_member.is_superuser


def test_people_of_other_consortia_are_hidden(
    coordinator: Any, other_coordinator: Any, partner_member: Any
) -> None:
    client = _client(coordinator)
    listed = client.get(reverse("admin:auth_user_changelist")).context["cl"].queryset
    assert partner_member in listed and other_coordinator not in listed
    url = reverse("admin:auth_user_change", args=[other_coordinator.pk])
    assert client.get(url).status_code == 404
