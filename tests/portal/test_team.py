"""The team page: the partner contact invites colleagues, sets roles and access; everyone reads."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.choices import MembershipRole
from consortium.models import Membership
from consortium.services import membership_deactivate, membership_grant, membership_invite
from tests import factories
from tests.web import client_for

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "a-Fresh-passw0rd-for-jane"  # noqa: S105  (the one the invitee chooses)


def _invite(client: Client, capture: Any, **data: str) -> Any:
    with capture(execute=True):
        return client.post(reverse("team-invite"), data)


def _link(body: str) -> str:
    """The path of the one link of an email's text."""
    [url] = re.findall(r"https?://\S+", body)
    return urlsplit(url).path


def _membership(user: Any) -> Membership:
    return Membership.objects.get(user=user)


def test_contact_invites_a_new_colleague_who_chooses_a_password_and_signs_in(
    contact: Any,
    partner_a: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    response = _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email="  Jane.Doe@Example.ORG ",
        role=MembershipRole.FINANCE,
        first_name="Jane",
        last_name="Doe",
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("team")
    user = User.objects.get(email="Jane.Doe@example.org")
    assert (user.username, user.first_name, user.last_name) == ("jane.doe", "Jane", "Doe")
    assert user.is_active and not user.is_staff and not user.has_usable_password()
    membership = Membership.objects.get(user=user, partner=partner_a)
    assert (membership.role, membership.is_active) == (MembershipRole.FINANCE, True)
    [created] = membership.history.all()
    assert (created.history_type, created.history_user) == ("+", contact)
    assert user.profile.history.get().history_user == contact

    [email] = mailoutbox
    assert email.to == ["Jane.Doe@example.org"]
    contact_name = contact.get_full_name()
    assert contact_name in email.subject and "BioWin" in email.subject
    assert "PIT-TEST" in email.subject
    for fact in (contact_name, "contact-a@example.org", "BioWin", "A test partnership"):
        assert fact in email.body
    assert "as Finance officer" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and 'lang="en"' in html

    # The invitee follows the link, chooses a password, then signs in with their address.
    visitor = Client()
    page = visitor.get(_link(email.body), follow=True)
    assert page.context["validlink"] is True
    password = NEW_PASSWORD
    done = visitor.post(
        page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    assert done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(password)
    signed_in = visitor.post(
        reverse("login"), {"username": "Jane.Doe@example.org", "password": password}
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    assert visitor.get("/").status_code == 200
    # The link works once.
    assert Client().get(_link(email.body), follow=True).context["validlink"] is False


def test_inviting_a_user_of_another_consortium_adds_them_with_a_sign_in_link(
    contact: Any,
    partner_a: Any,
    other_partner: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    sam = factories.UserFactory(username="sam", email="sam@lab.example")
    membership_grant(partner=other_partner, user=sam, role="contact", granted_by=None)
    users = User.objects.count()

    response = _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email="sam@LAB.example",
        role=MembershipRole.CONTRIBUTOR,
    )

    assert response.status_code == 302
    assert User.objects.count() == users
    membership = Membership.objects.get(user=sam, partner=partner_a)
    assert (membership.role, membership.is_active) == (MembershipRole.CONTRIBUTOR, True)
    assert membership.history.get().history_user == contact
    sam.refresh_from_db()
    assert sam.has_usable_password()
    [email] = mailoutbox
    assert email.to == ["sam@lab.example"]
    assert _link(email.body) == reverse("login")
    assert "password/reset" not in email.body and "as Contributor" in email.body
    assert (
        Client()
        .post(reverse("login"), {"username": "sam@lab.example", "password": factories.PASSWORD})
        .status_code
        == 302
    )


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("member-b@example.org", "finance", "already works for another partner"),
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


def test_the_invitation_speaks_the_inviters_language_to_a_newcomer(
    contact: Any,
    partner_a: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(contact)
    client.post(reverse("language"), {"language": "fr"})

    response = _invite(
        client, django_capture_on_commit_callbacks, email="lea@example.be", role="contact"
    )

    assert response.status_code == 302
    newcomer = User.objects.get(email="lea@example.be")
    assert newcomer.profile.language == "fr"
    [email] = mailoutbox
    assert "Personne de contact" in email.body and "Partner contact" not in email.body
    assert 'lang="fr"' in email.alternatives[0][0]


def test_a_pending_invitation_can_be_sent_again(
    contact: Any,
    partner_a: Any,
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(contact)
    _invite(client, django_capture_on_commit_callbacks, email="kim@example.org", role="finance")
    kim = _membership(User.objects.get(email="kim@example.org")).pk

    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("team-resend", args=[kim]))
        refused = client.post(reverse("team-resend", args=[_membership(partner_member).pk]))

    assert again.status_code == 302
    assert refused.status_code == 200
    assert "has already chosen a password" in refused.content.decode()
    assert [m.to for m in mailoutbox] == [["kim@example.org"], ["kim@example.org"]]
    assert "password/reset" in mailoutbox[1].body


def test_inviting_a_former_member_gives_their_access_back(
    contact: Any, partner_a: Any, partner_member: Any
) -> None:
    former = membership_deactivate(membership=_membership(partner_member), changed_by=contact)

    again = membership_invite(
        partner=partner_a, email="member-a@example.org", role="contributor", invited_by=contact
    )

    assert again.pk == former.pk
    assert (again.role, again.is_active) == (MembershipRole.CONTRIBUTOR, True)
    latest = again.history.first()
    assert (latest.history_user, latest.role, latest.is_active) == (contact, "contributor", True)


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
    assert invited.partner == partner_a and invited.is_active
    assert Membership.objects.restrict(partner_member, "change").count() == 0
    assert set(Membership.objects.restrict(contact, "change")) == set(
        Membership.objects.filter(partner=partner_a)
    )
