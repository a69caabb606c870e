"""The team page: the partner contact invites colleagues (test_team_invitations.py), sets roles
and access; everyone reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.choices import MembershipRole
from consortium.invitations import membership_invite
from consortium.models import Membership
from consortium.services import membership_grant
from consortium.teams import membership_deactivate
from tests import factories
from tests.web import client_for

pytestmark = pytest.mark.django_db

User = get_user_model()


def _invite(client: Client, capture: Any, **data: str) -> Any:
    with capture(execute=True):
        return client.post(reverse("team-invite"), data)


def _membership(user: Any) -> Membership:
    return Membership.objects.get(user=user)


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("MEMBER-A@example.org", "finance", "is already in the team"),
        ("not-an-email", "finance", "Enter a valid email address."),
        ("new@example.org", "boss", "Select a valid choice."),
    ],
)
def test_refused_invitations_change_nothing(
    contact: Any,
    partner_member: Any,
    other_partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
    email: str,
    role: str,
    message: str,
) -> None:
    before = (User.objects.count(), Membership.objects.count(), Membership.history.count())

    response = _invite(
        client_for(contact), django_capture_on_commit_callbacks, email=email, role=role
    )

    assert response.status_code == 200
    assert message in response.context["form"].errors.as_text()
    assert (User.objects.count(), Membership.objects.count(), Membership.history.count()) == before
    assert mailoutbox == []


def test_the_service_refuses_bad_values_by_field(contact: Any, partner_a: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        membership_invite(partner=partner_a, email="jane@", role="boss", invited_by=contact)
    assert set(refused.value.message_dict) == {"email", "role"}
    assert not User.objects.filter(email__startswith="jane").exists()


def test_a_finance_officer_reads_the_team_but_changes_nothing(
    contact: Any, partner_member: Any
) -> None:
    client = client_for(partner_member)
    page = client.get(reverse("team"))
    assert page.status_code == 200
    content = page.content.decode()
    assert "contact-a@example.org" in content and "member-a@example.org" in content
    assert reverse("team-invite") not in content
    target = _membership(contact).pk
    member_page = client.get(reverse("team-member", args=[target])).content.decode()
    assert "contact-a@example.org" in member_page
    assert reverse("team-role", args=[target]) not in member_page
    assert reverse("team-deactivate", args=[target]) not in member_page

    assert client.get(reverse("team-invite")).status_code == 403
    assert (
        client.post(
            reverse("team-invite"), {"email": "x@example.org", "role": "contact"}
        ).status_code
        == 403
    )
    for name, data in [
        ("team-role", {"role": "contributor"}),
        ("team-deactivate", {}),
        ("team-reactivate", {}),
        ("team-resend", {}),
    ]:
        assert client.post(reverse(name, args=[target]), data).status_code == 403
    assert not User.objects.filter(email="x@example.org").exists()
    assert _membership(contact).history.count() == 1


def test_another_partners_member_is_not_found(contact: Any, other_partner_member: Any) -> None:
    client = client_for(contact)
    target = _membership(other_partner_member).pk
    assert client.get(reverse("team-member", args=[target])).status_code == 404
    for name, data in [
        ("team-role", {"role": "contact"}),
        ("team-deactivate", {}),
        ("team-reactivate", {}),
        ("team-resend", {}),
    ]:
        assert client.post(reverse(name, args=[target]), data).status_code == 404
    membership = _membership(other_partner_member)
    assert (membership.role, membership.is_active) == (MembershipRole.FINANCE, True)
    assert "member-b@example.org" not in client.get(reverse("team")).content.decode()


def test_role_changes_and_access_are_recorded_with_who_old_and_new(
    contact: Any, partner_member: Any
) -> None:
    client = client_for(contact)
    target = _membership(partner_member).pk

    changed = client.post(reverse("team-role", args=[target]), {"role": "contributor"})
    assert changed.status_code == 302
    latest, before = _membership(partner_member).history.all()[:2]
    assert (latest.history_user, before.role, latest.role) == (contact, "finance", "contributor")

    assert client.post(reverse("team-deactivate", args=[target])).status_code == 302
    latest, before = _membership(partner_member).history.all()[:2]
    assert (latest.history_user, before.is_active, latest.is_active) == (contact, True, False)
    # Without access, the former member no longer reaches the partner pages.
    assert client_for(partner_member).get(reverse("team")).status_code == 403

    assert client.post(reverse("team-reactivate", args=[target])).status_code == 302
    assert _membership(partner_member).is_active
    page = client.get(reverse("team-member", args=[target])).content.decode()
    assert "Finance officer → Contributor" in page
    assert "Access taken away." in page and "Access given back." in page


def test_the_last_contact_keeps_their_role_and_access(contact: Any, partner_a: Any) -> None:
    client = client_for(contact)
    mine = _membership(contact).pk

    demoted = client.post(reverse("team-role", args=[mine]), {"role": "finance"})
    assert demoted.status_code == 200
    assert "You are the last active partner contact" in demoted.content.decode()
    left = client.post(reverse("team-deactivate", args=[mine]))
    assert left.status_code == 200
    assert "You are the last active partner contact" in left.content.decode()
    membership = _membership(contact)
    assert (membership.role, membership.is_active, membership.history.count()) == (
        MembershipRole.CONTACT,
        True,
        1,
    )

    # With a second contact, the first may step down.
    colleague = factories.UserFactory()
    membership_grant(partner=partner_a, user=colleague, role="contact", granted_by=None)
    assert client.post(reverse("team-role", args=[mine]), {"role": "finance"}).status_code == 302
    assert _membership(contact).role == MembershipRole.FINANCE


def test_the_team_page_costs_the_same_queries_for_2_or_15_members(
    contact: Any, partner_a: Any
) -> None:
    client = client_for(contact)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("team")).status_code == 200
        return len(captured)

    membership_grant(
        partner=partner_a, user=factories.UserFactory(), role="finance", granted_by=None
    )
    two = queries()
    for _n in range(13):
        membership_grant(
            partner=partner_a, user=factories.UserFactory(), role="contributor", granted_by=None
        )
    assert Membership.objects.filter(partner=partner_a).count() == 15
    assert queries() == two


def test_a_member_who_never_chose_a_password_can_be_sent_the_link_again(
    contact: Any,
    partner_a: Any,
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    """Members added before invitations waited for an answer may still have no password: the
    partner contact sends them a link to choose one."""
    kim = factories.UserFactory(username="kim", email="kim@example.org")
    kim.set_unusable_password()
    kim.save()
    membership_grant(partner=partner_a, user=kim, role="finance", granted_by=None)
    client = client_for(contact)

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("team-resend", args=[_membership(kim).pk]))
        refused = client.post(reverse("team-resend", args=[_membership(partner_member).pk]))

    assert again.status_code == 302
    assert refused.status_code == 200
    assert "has already chosen a password" in refused.content.decode()
    assert [m.to for m in mailoutbox] == [["kim@example.org"]]
    assert "password/reset" in mailoutbox[0].body


def test_the_team_services_themselves_let_only_contacts_and_coordinators_change_a_team(
    partner_member: Any, contact: Any, coordinator: Any, partner_a: Any, eager_tasks: None
) -> None:
    """The rule is kept by the services, not only by the pages: a finance officer calling them
    directly is refused and nothing changes; the partner contact and the coordinators may."""
    finance = _membership(partner_member)
    with pytest.raises(PermissionDenied):
        membership_invite(
            partner=partner_a, email="new@example.org", role="finance", invited_by=partner_member
        )
    with pytest.raises(PermissionDenied):
        membership_deactivate(membership=_membership(contact), changed_by=partner_member)
    assert not Membership.objects.filter(user__email="new@example.org").exists()
    assert _membership(contact).is_active

    assert membership_deactivate(membership=finance, changed_by=contact).is_active is False
    invited = membership_invite(
        partner=partner_a, email="new@example.org", role="finance", invited_by=coordinator
    )
    assert invited.partner == partner_a and invited.status == "pending"
    assert Membership.objects.restrict(partner_member, "change").count() == 0
    assert set(Membership.objects.restrict(contact, "change")) == set(
        Membership.objects.filter(partner=partner_a)
    )
