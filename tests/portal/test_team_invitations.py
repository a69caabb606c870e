"""Inviting someone to a partner's team: nothing happens to them until they accept, and the
partner contact who invites learns nothing about them meanwhile, not even whether the address has
an account. The person sees who invites them, to which partner, consortium and role, and accepts
or declines; the membership is then granted in the inviter's name."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consortium.choices import MembershipRole
from consortium.invitations import (
    invitation_accept,
    invitation_cancel,
    invitation_resend,
    membership_invite,
)
from consortium.models import Invitation, InvitationStatus, Membership
from consortium.services import membership_grant
from consortium.teams import membership_deactivate, membership_role_set
from tests import factories
from tests.web import client_for

pytestmark = pytest.mark.django_db

User = get_user_model()

SIGNED_IN_AT = datetime.datetime(2026, 11, 20, 9, 41, tzinfo=datetime.UTC)
NEW_PASSWORD = "a-Fresh-passw0rd-for-rita"  # noqa: S105  (the one a newcomer chooses)


def _invite(client: Client, capture: Any, **data: str) -> Any:
    with capture(execute=True):
        return client.post(reverse("team-invite"), data)


def _link(body: str) -> str:
    """The path of the one link of an email's text."""
    [url] = re.findall(r"https?://\S+", body)
    return urlsplit(url).path


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _signed_in(user: Any) -> Client:
    """A client signed in through the sign-in page, as the invitee does after following the link."""
    client = Client()
    answer = client.post(
        reverse("login"), {"username": user.username, "password": factories.PASSWORD}
    )
    assert answer.status_code == 302, answer.content
    return client


@pytest.fixture
def someone(request: pytest.FixtureRequest) -> Any:
    """An account somebody else manages, with a name, a recent sign-in and an address."""
    person = request.getfixturevalue(request.param)
    person.first_name, person.last_name = "Rita", "Vermeulen"
    person.email = f"{person.username}@Region.example"
    person.last_login = SIGNED_IN_AT
    person.save()
    return person


@pytest.mark.parametrize("someone", ["other_coordinator", "observer", "superuser"], indirect=True)
def test_inviting_an_existing_account_attaches_nobody_until_they_accept(
    contact: Any,
    partner_a: Any,
    someone: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    staff = (someone.is_staff, someone.is_superuser)
    typed = someone.email.upper()
    client = client_for(contact)

    response = _invite(client, django_capture_on_commit_callbacks, email=typed, role="contact")

    assert response.status_code == 302
    # Nothing changes for them: no membership, no access to the partner's pages.
    assert not Membership.objects.filter(user=someone).exists()
    someone.refresh_from_db()
    assert (someone.is_staff, someone.is_superuser) == staff
    assert client_for(someone).get(reverse("team")).status_code in {302, 403}
    # Nothing about them is shown to the inviter: the address typed, and no more.
    page = client.get(reverse("team")).content.decode()
    for secret in (someone.username, "Rita", "Vermeulen", "20/11/2026"):
        assert secret not in page
    assert typed.lower() in page.lower()
    [email] = mailoutbox
    stored = typed.rsplit("@", 1)[0] + "@region.example"
    assert email.to == [stored]

    # They sign in, see the invitation, and accept it.
    visitor = _signed_in(someone)
    shown = visitor.get(_link(email.body))
    assert shown.status_code == 200
    text = shown.content.decode()
    for fact in ("BioWin", "A test partnership", "PIT-TEST", "Partner contact"):
        assert fact in text
    assert contact.get_full_name() in text and "contact-a@example.org" in text
    accepted = visitor.post(_link(email.body) + "accept/")
    assert accepted.status_code == 302 and accepted["Location"] == reverse("dashboard")

    membership = Membership.objects.get(user=someone, partner=partner_a)
    assert (membership.role, membership.is_active) == (MembershipRole.CONTACT, True)
    [granted] = membership.history.all()
    assert (granted.history_type, granted.history_user) == ("+", contact)
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.answered_by, invitation.membership) == (
        InvitationStatus.ACCEPTED,
        someone,
        membership,
    )
    assert invitation.history.latest().history_user == someone
    # Now a member, they are on the team page like any colleague.
    assert "Rita" in client.get(reverse("team")).content.decode()
    assert visitor.get(reverse("team")).status_code == 200


def test_the_inviter_cannot_tell_an_existing_account_from_a_new_address(
    contact: Any,
    partner_a: Any,
    observer: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    time_machine: Any,
) -> None:
    # Both invitations are sent within the same minute, as the page shows their times.
    time_machine.move_to(timezone.now(), tick=False)
    observer.email = "observer@region.example"
    observer.save()
    users = User.objects.count()

    answers = {}
    for address in ("observer@region.example", "newcomer@region.example"):
        response = _invite(
            client_for(contact),
            django_capture_on_commit_callbacks,
            email=address,
            role="finance",
            first_name="Rita",
            last_name="Vermeulen",
        )
        answers[address] = (
            response.status_code,
            response["Location"],
            [text.replace(address, "<address>") for text in _messages(response)],
        )

    assert answers["observer@region.example"] == answers["newcomer@region.example"]
    assert User.objects.count() == users
    assert not Membership.objects.filter(partner=partner_a).exclude(user=contact).exists()
    page = client_for(contact).get(reverse("team")).content.decode()
    rows = re.findall(r"<tr>.*?</tr>", page, flags=re.S)
    invited = [re.sub(r"/\d+/", "/N/", row) for row in rows if "@region.example" in row]
    assert len(invited) == 2
    assert invited[0].replace("newcomer", "X") == invited[1].replace("observer", "X")


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("member-b@example.org", None),  # works for another partner: said to them, not to us
        ("off@example.org", None),  # a switched-off account: the same
        ("MEMBER-A@example.org", "is already in the team"),
        ("not-an-email", "Enter a valid email address."),
    ],
)
def test_the_invite_form_refuses_only_what_the_team_page_already_shows(
    contact: Any,
    partner_member: Any,
    other_partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
    email: str,
    message: str | None,
) -> None:
    factories.UserFactory(username="off", email="off@example.org", is_active=False)
    before = (Membership.objects.count(), Membership.history.count())

    response = _invite(
        client_for(contact), django_capture_on_commit_callbacks, email=email, role="finance"
    )

    assert (Membership.objects.count(), Membership.history.count()) == before
    if message is None:
        assert response.status_code == 302
        assert len(mailoutbox) == 1 and Invitation.objects.count() == 1
    else:
        assert response.status_code == 200
        assert message in response.context["form"].errors.as_text()
        assert mailoutbox == [] and not Invitation.objects.exists()


def test_the_service_itself_waits_for_consent(contact: Any, partner_a: Any, observer: Any) -> None:
    """The rule holds in `membership_invite`, whichever page or command calls it."""
    invitation = membership_invite(
        partner=partner_a, email=observer.email, role=MembershipRole.CONTACT, invited_by=contact
    )

    assert not Membership.objects.filter(user=observer).exists()
    assert invitation.status == InvitationStatus.PENDING
    assert invitation.history.get().history_user == contact
    with pytest.raises(ValidationError) as twice:
        membership_invite(
            partner=partner_a, email=observer.email.upper(), role="finance", invited_by=contact
        )
    assert twice.value.message_dict["email"][0].startswith("An invitation to")


def test_only_the_account_that_uses_the_address_answers(
    contact: Any,
    partner_a: Any,
    observer: Any,
    other_partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email=observer.email,
        role="contact",
    )
    link = _link(mailoutbox[0].body)

    # Without signing in: told to sign in, and answering is refused.
    anonymous = Client().get(link)
    assert anonymous.status_code == 200
    assert f"{reverse('login')}?next={link}" in anonymous.content.decode().replace("%2F", "/")
    assert Client().post(link + "accept/").status_code == 200
    # Signed in with another account (the link forwarded): refused, told why.
    intruder = _signed_in(other_partner_member)
    page = intruder.get(link).content.decode()
    assert "sign in with the account that uses observer@example.org" in page
    refused = intruder.post(link + "accept/")
    assert "you are signed in with another account" in refused.content.decode()
    assert not Membership.objects.filter(user=other_partner_member, partner=partner_a).exists()
    assert not Membership.objects.filter(user=observer).exists()
    assert Invitation.objects.get().status == InvitationStatus.PENDING
    # The service refuses likewise, whoever calls it.
    with pytest.raises(ValidationError):
        invitation_accept(invitation=Invitation.objects.get(), user=other_partner_member)
    # A made-up link leads nowhere.
    assert Client().get(reverse("invitation", args=["made-up"])).status_code == 404


def test_declining_changes_nothing_and_closes_the_link(
    contact: Any,
    partner_a: Any,
    observer: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email=observer.email,
        role="finance",
    )
    link = _link(mailoutbox[0].body)
    visitor = _signed_in(observer)

    declined = visitor.post(link + "decline/")

    assert declined.status_code == 200
    assert not Membership.objects.filter(user=observer).exists()
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.answered_by) == (InvitationStatus.DECLINED, observer)
    assert visitor.get(link).status_code == 410
    assert visitor.post(link + "accept/").status_code == 410
    assert not Membership.objects.filter(user=observer).exists()
    # The team page says it was declined, and the contact takes it off the list.
    team = client_for(contact).get(reverse("team")).content.decode()
    assert "Declined" in team
    client_for(contact).post(reverse("team-invitation-cancel", args=[invitation.pk]))
    assert "observer@example.org" not in client_for(contact).get(reverse("team")).content.decode()


def test_working_for_another_partner_of_the_consortium_is_said_to_the_invitee_only(
    contact: Any,
    partner_a: Any,
    other_partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    """A person works for one partner per consortium: the invitation can't be accepted, and
    the invitee, not the inviter, is told so."""
    answer = _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email=other_partner_member.email,
        role="finance",
    )
    assert answer.status_code == 302

    refused = _signed_in(other_partner_member).post(_link(mailoutbox[0].body) + "accept/")

    assert refused.status_code == 200
    assert html.unescape(refused.content.decode()).count(
        f"{other_partner_member.get_full_name()} already works for another partner of this "
        "consortium, and a person works for one partner per consortium: ask the consortium's "
        "coordinators."
    )
    assert not Membership.objects.filter(user=other_partner_member, partner=partner_a).exists()
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_an_invitation_expires_and_a_new_link_replaces_the_old_one(
    contact: Any,
    partner_a: Any,
    observer: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
    time_machine: Any,
) -> None:
    _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email=observer.email,
        role="finance",
    )
    first = _link(mailoutbox[0].body)
    time_machine.move_to(timezone.now() + datetime.timedelta(days=8))

    client = client_for(contact)
    visitor = _signed_in(observer)
    assert visitor.get(first).status_code == 410
    assert visitor.post(first + "accept/").status_code == 410
    assert not Membership.objects.filter(user=observer).exists()
    assert "Expired on" in client.get(reverse("team")).content.decode()

    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("team-invitation-resend", args=[invitation.pk]))
    assert again.status_code == 302
    second = _link(mailoutbox[1].body)
    assert second != first
    assert Client().get(first).status_code == 404  # the previous link no longer exists
    assert visitor.post(second + "accept/").status_code == 302
    assert Membership.objects.get(user=observer).is_active


def test_a_cancelled_invitation_can_no_longer_be_accepted(
    contact: Any,
    partner_a: Any,
    observer: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(contact)
    _invite(client, django_capture_on_commit_callbacks, email=observer.email, role="finance")
    invitation = Invitation.objects.get()

    assert client.post(reverse("team-invitation-cancel", args=[invitation.pk])).status_code == 302

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.CANCELLED
    assert invitation.history.latest().history_user == contact
    assert _signed_in(observer).post(_link(mailoutbox[0].body) + "accept/").status_code == 410
    assert not Membership.objects.filter(user=observer).exists()


def test_an_invitation_holds_only_while_its_sender_manages_the_team(
    contact: Any,
    partner_a: Any,
    observer: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    """The membership is granted in the inviter's name: a contact who stepped down can't grant
    one any more, by an invitation sent before."""
    _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email=observer.email,
        role="contact",
    )
    colleague = factories.UserFactory()
    membership_grant(partner=partner_a, user=colleague, role="contact", granted_by=None)
    membership_role_set(
        membership=Membership.objects.get(user=contact), role="finance", changed_by=colleague
    )

    refused = _signed_in(observer).post(_link(mailoutbox[0].body) + "accept/")

    assert "no longer manages the team" in refused.content.decode()
    assert not Membership.objects.filter(user=observer).exists()


def test_a_newcomer_chooses_a_password_as_they_accept(
    contact: Any,
    partner_a: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    users = User.objects.count()
    _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email="  Jane.Doe@Example.ORG ",
        role=MembershipRole.FINANCE,
        first_name="Jane",
        last_name="Doe",
    )
    assert User.objects.count() == users
    [email] = mailoutbox
    assert email.to == ["Jane.Doe@example.org"]
    contact_name = contact.get_full_name()
    assert contact_name in email.subject and "BioWin" in email.subject
    for fact in (contact_name, "contact-a@example.org", "BioWin", "A test partnership"):
        assert fact in email.body
    assert "as Finance officer" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and 'lang="en"' in html

    visitor = Client()
    link = _link(email.body)
    form = visitor.get(link)
    assert form.context["form"].initial == {"first_name": "Jane", "last_name": "Doe"}
    weak = visitor.post(
        link + "accept/",
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "new_password1": "janedoe",
            "new_password2": "janedoe",
        },
    )
    assert weak.status_code == 200 and weak.context["form"].errors["new_password1"]
    assert User.objects.count() == users

    done = visitor.post(
        link + "accept/",
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    user = User.objects.get(email="Jane.Doe@example.org")
    assert (user.username, user.first_name, user.last_name) == ("jane.doe", "Jane", "Doe")
    assert user.is_active and not user.is_staff and user.check_password(NEW_PASSWORD)
    assert int(visitor.session[SESSION_KEY]) == user.pk
    assert visitor.get(reverse("team")).status_code == 200
    membership = Membership.objects.get(user=user, partner=partner_a)
    assert (membership.role, membership.is_active) == (MembershipRole.FINANCE, True)
    assert membership.history.get().history_user == contact
    # The link works once; they sign in as anyone does.
    assert Client().get(link).status_code == 410
    assert (
        Client()
        .post(reverse("login"), {"username": "jane.doe@example.org", "password": NEW_PASSWORD})
        .status_code
        == 302
    )


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
    [email] = mailoutbox
    assert "Personne de contact" in email.body and "Partner contact" not in email.body
    assert 'lang="fr"' in email.alternatives[0][0]
    Client().post(
        _link(email.body) + "accept/",
        {
            "first_name": "Léa",
            "last_name": "Martin",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert User.objects.get(email="lea@example.be").profile.language == "fr"


def test_inviting_a_former_member_gives_their_access_back_once_they_accept(
    contact: Any, partner_a: Any, partner_member: Any
) -> None:
    former = membership_deactivate(
        membership=Membership.objects.get(user=partner_member), changed_by=contact
    )

    invitation = membership_invite(
        partner=partner_a, email="member-a@example.org", role="contributor", invited_by=contact
    )
    former.refresh_from_db()
    assert not former.is_active

    again = invitation_accept(invitation=invitation, user=partner_member)

    assert again.pk == former.pk
    assert (again.role, again.is_active) == (MembershipRole.CONTRIBUTOR, True)
    latest = again.history.first()
    assert (latest.history_user, latest.role, latest.is_active) == (contact, "contributor", True)


def test_only_those_who_manage_the_team_resend_or_cancel(
    contact: Any, partner_a: Any, partner_member: Any, other_partner_member: Any, observer: Any
) -> None:
    invitation = membership_invite(
        partner=partner_a, email=observer.email, role="finance", invited_by=contact
    )
    with pytest.raises(PermissionDenied):
        invitation_resend(invitation=invitation, sent_by=partner_member)
    with pytest.raises(PermissionDenied):
        invitation_cancel(invitation=invitation, cancelled_by=partner_member)
    for name in ("team-invitation-resend", "team-invitation-cancel"):
        url = reverse(name, args=[invitation.pk])
        assert client_for(partner_member).post(url).status_code == 403
        assert client_for(other_partner_member).post(url).status_code == 403
    invitation.refresh_from_db()
    assert (invitation.status, invitation.history.count()) == (InvitationStatus.PENDING, 1)
    # Colleagues who don't manage the team don't see the invitations either.
    assert observer.email not in client_for(partner_member).get(reverse("team")).content.decode()


def test_the_invite_page_says_how_it_works(contact: Any, settings: Any) -> None:
    settings.INVITATION_DAYS = 10
    page = client_for(contact).get(reverse("team-invite")).content.decode()
    assert "They join the team once they accept it" in page
    assert "waits for an answer for 10 days" in page


def test_a_refused_acceptance_creates_no_account(
    contact: Any,
    partner_a: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    """Nothing is half-saved: when the invitation no longer holds (its sender stepped down),
    the account a newcomer was creating is not kept either."""
    _invite(
        client_for(contact),
        django_capture_on_commit_callbacks,
        email="kim@example.org",
        role="finance",
    )
    colleague = factories.UserFactory()
    membership_grant(partner=partner_a, user=colleague, role="contact", granted_by=None)
    membership_role_set(
        membership=Membership.objects.get(user=contact), role="finance", changed_by=colleague
    )
    users = User.objects.count()

    refused = Client().post(
        _link(mailoutbox[0].body) + "accept/",
        {
            "first_name": "Kim",
            "last_name": "Lambert",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert refused.status_code == 200
    assert "no longer manages the team" in refused.content.decode()
    assert User.objects.count() == users
    assert Invitation.objects.get().status == InvitationStatus.PENDING
