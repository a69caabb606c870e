"""A person's email address is where their password reset links go, so it is theirs: a
coordinator can't change it, a superuser can, and the person changes it themself, confirmed from
the new address while signed in. The old address is told, and every change is recorded."""

from __future__ import annotations

import datetime
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consortium.accounts import user_email_set
from consortium.models import EmailAddressChange
from tests import factories
from tests.web import client_for
from tests.workpackages.test_admin_validation import form_data

pytestmark = pytest.mark.django_db

User = get_user_model()
ATTACKER = "mallory@evil.example"
NEW = "ana.lopez@cellforge.example"


def _link(body: str) -> str:
    [url] = re.findall(r"https?://\S+", body)
    return urlsplit(url).path


def _ask(client: Client, capture: Any, email: str, password: str = factories.PASSWORD) -> Any:
    with capture(execute=True):
        return client.post(reverse("email_change"), {"email": email, "password": password})


def test_a_coordinator_cannot_take_an_account_over_through_its_email_address(
    coordinator: Any,
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(coordinator)
    url = reverse("admin:auth_user_change", args=[partner_member.pk])
    data = form_data(client, url)
    data["email"] = ATTACKER
    client.post(url, data)

    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("password_reset"), {"email": ATTACKER})

    partner_member.refresh_from_db()
    assert partner_member.email == "member-a@example.org"
    assert [message.to for message in mailoutbox] == []
    assert not EmailAddressChange.objects.exists()


def test_a_person_changes_their_address_from_the_new_one(
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(partner_member)
    page = client.get(reverse("dashboard")).content.decode()
    assert reverse("email_change") in page  # next to "My password"

    asked = _ask(client, django_capture_on_commit_callbacks, NEW)

    assert asked.status_code == 302
    assert [str(m) for m in get_messages(asked.wsgi_request)] == [
        f"A link to confirm {NEW} is on its way to that address. Your address changes once you "
        "open it, signed in, within 24 hours."
    ]
    partner_member.refresh_from_db()
    assert partner_member.email == "member-a@example.org"  # nothing yet
    [confirmation] = mailoutbox
    assert confirmation.to == [NEW]
    link = _link(confirmation.body)

    # Opening the link shows the change; a mail scanner's GET changes nothing.
    shown = client.get(link)
    assert shown.status_code == 200 and NEW in shown.content.decode()
    partner_member.refresh_from_db()
    assert partner_member.email == "member-a@example.org"

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(link)

    assert done.status_code == 302
    partner_member.refresh_from_db()
    assert partner_member.email == NEW
    change = EmailAddressChange.objects.get()
    assert (change.user, change.old_email, change.new_email, change.changed_by) == (
        partner_member,
        "member-a@example.org",
        NEW,
        partner_member,
    )
    notice = mailoutbox[1]
    assert notice.to == ["member-a@example.org"]
    assert "member-a@example.org" in notice.body and NEW in notice.body
    # The link works once.
    assert client.post(link).status_code == 400
    assert EmailAddressChange.objects.count() == 1


def test_the_change_needs_the_current_password(
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    """A session left open must not be enough to send password reset links elsewhere."""
    refused = _ask(client_for(partner_member), django_capture_on_commit_callbacks, NEW, "wrong")

    assert refused.status_code == 200
    assert "This is not your current password." in refused.content.decode()
    assert mailoutbox == []


def test_the_link_is_opened_by_the_account_it_belongs_to_and_in_time(
    partner_member: Any,
    other_partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
    time_machine: Any,
) -> None:
    """Someone who gets the link (a mistyped address's owner) can't use it: it needs the
    account signed in."""
    _ask(client_for(partner_member), django_capture_on_commit_callbacks, ATTACKER)
    link = _link(mailoutbox[0].body)

    assert Client().post(link)["Location"].startswith(reverse("login"))
    stranger = client_for(other_partner_member)
    assert stranger.post(link).status_code == 400
    assert "another account" in stranger.get(link).content.decode()

    time_machine.move_to(timezone.now() + datetime.timedelta(days=1, minutes=1))
    late = client_for(partner_member).post(link)
    assert late.status_code == 400
    assert "This link no longer works" in late.content.decode()

    partner_member.refresh_from_db()
    other_partner_member.refresh_from_db()
    assert (partner_member.email, other_partner_member.email) == (
        "member-a@example.org",
        "member-b@example.org",
    )
    assert not EmailAddressChange.objects.exists()


def test_a_password_change_ends_a_pending_link(
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    _ask(client_for(partner_member), django_capture_on_commit_callbacks, NEW)
    partner_member.set_password("Another-Horse-43")
    partner_member.save()

    assert client_for(partner_member).post(_link(mailoutbox[0].body)).status_code == 400
    partner_member.refresh_from_db()
    assert partner_member.email == "member-a@example.org"


def test_an_address_another_account_uses_is_refused_at_confirmation(
    partner_member: Any,
    other_partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(partner_member)
    _ask(client, django_capture_on_commit_callbacks, "MEMBER-B@example.org")

    refused = client.post(_link(mailoutbox[0].body))

    assert refused.status_code == 400
    assert "Another account already uses" in refused.content.decode()
    partner_member.refresh_from_db()
    assert partner_member.email == "member-a@example.org"


def test_a_superuser_changes_an_address_in_the_admin_and_it_is_recorded(
    superuser: Any,
    partner_member: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
    mailoutbox: list[Any],
) -> None:
    client = client_for(superuser)
    url = reverse("admin:auth_user_change", args=[partner_member.pk])
    data = form_data(client, url)
    data["email"] = NEW

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)

    assert response.status_code == 302
    partner_member.refresh_from_db()
    assert partner_member.email == NEW
    change = EmailAddressChange.objects.get()
    assert (change.old_email, change.new_email, change.changed_by) == (
        "member-a@example.org",
        NEW,
        superuser,
    )
    [notice] = mailoutbox
    assert notice.to == ["member-a@example.org"] and superuser.get_full_name() in notice.body
    # The change shows on the person's page.
    assert f"member-a@example.org → {NEW}" in client.get(url).content.decode()


def test_the_service_lets_superusers_only_set_someones_address(
    coordinator: Any, partner_member: Any
) -> None:
    with pytest.raises(PermissionDenied):
        user_email_set(user=partner_member, email=ATTACKER, changed_by=coordinator)
    with pytest.raises(ValidationError):
        user_email_set(
            user=partner_member,
            email="not-an-address",
            changed_by=factories.UserFactory(is_superuser=True),
        )
    partner_member.refresh_from_db()
    assert partner_member.email == "member-a@example.org"
    assert not EmailAddressChange.objects.exists()


def test_the_email_page_is_for_anyone_signed_in(coordinator: Any) -> None:
    """Coordinators who work for no partner change their address there too."""
    assert Client().get(reverse("email_change"))["Location"].startswith(reverse("login"))
    assert client_for(coordinator).get(reverse("email_change")).status_code == 200
