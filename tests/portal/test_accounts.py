"""Signing in with a username or an email address, signing out, passwords, the remembered
language, session expiry and CSRF."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse

from consortium.models import Profile
from tests import factories
from tests.polling import wait_for
from tests.portal.conftest import PASSWORD
from tests.web import client_for

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password, **extra})


@pytest.mark.parametrize(
    "name", ["member-a", "ana.lopez@umosane.example", " Ana.Lopez@UMosane.example "]
)
def test_login_with_username_or_email(member: Any, name: str) -> None:
    client = Client()
    response = login(client, name)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert int(client.session[SESSION_KEY]) == member.pk
    assert client.get(reverse("dashboard")).status_code == 200


def test_login_follows_next_on_this_site_only(member: Any) -> None:
    response = login(Client(), "member-a", next=reverse("expense-list"))
    assert response["Location"] == reverse("expense-list")
    response = login(Client(), "member-a", next="https://evil.example/")
    assert response["Location"] == reverse("dashboard")


@pytest.mark.parametrize(
    ("name", "password"),
    [("member-a", "wrong"), ("nobody", PASSWORD), ("MEMBER-A", PASSWORD), ("", "")],
)
def test_wrong_credentials_sign_nobody_in(member: Any, name: str, password: str) -> None:
    client = Client()
    response = login(client, name, password)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert b'role="alert"' in response.content


def test_an_address_shared_by_two_accounts_signs_in_neither(member: Any) -> None:
    other = factories.UserFactory(username="ana2", email="ana.lopez@umosane.example")
    other.set_password(PASSWORD)
    other.save()
    client = Client()
    assert login(client, "ana.lopez@umosane.example").status_code == 200
    assert SESSION_KEY not in client.session
    assert login(client, "ana2").status_code == 302


def test_inactive_account_cannot_sign_in(member: Any) -> None:
    member.is_active = False
    member.save()
    client = Client()
    assert login(client, "member-a").status_code == 200
    assert SESSION_KEY not in client.session


def test_logout_is_a_post(member: Any) -> None:
    client = client_for(member)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))


def test_pages_need_a_signed_in_partner(coordinator: Any, observer: Any) -> None:
    anonymous = Client().get(reverse("expense-list"))
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('login')}?next={reverse('expense-list')}"
    # A coordinator who works for no partner goes to the admin, an observer to the funder's
    # pages, anyone else is told why not.
    assert client_for(coordinator).get(reverse("dashboard"))["Location"] == reverse("admin:index")
    assert client_for(observer).get(reverse("dashboard"))["Location"] == reverse("funder")
    response = client_for(factories.UserFactory()).get(reverse("dashboard"))
    assert response.status_code == 403
    assert b"works for no partner" in response.content


def test_language_is_remembered_for_the_person(member: Any) -> None:
    client = client_for(member)
    response = client.post(reverse("language"), {"language": "fr", "next": reverse("job-list")})
    assert response["Location"] == reverse("job-list")
    profile = Profile.objects.get(user=member)
    assert profile.language == "fr"
    assert profile.history.latest().history_user == member
    page = client.get(reverse("dashboard"))
    assert page["Content-Language"] == "fr"
    assert b'<html lang="fr">' in page.content
    # On another device, signing in brings the choice back, whatever the browser asks for.
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    login(other, "member-a")
    assert b'<html lang="fr">' in other.get(reverse("dashboard")).content


def test_language_switch_refuses_unknown_languages_and_foreign_next(member: Any) -> None:
    client = client_for(member)
    response = client.post(reverse("language"), {"language": "xx"})
    assert response.status_code == 302
    assert not Profile.objects.filter(user=member, language="xx").exists()
    response = client.post(reverse("language"), {"language": "fr", "next": "//evil.example/"})
    assert response["Location"] == reverse("dashboard")


def test_language_before_signing_in_is_kept_in_a_cookie() -> None:
    client = Client()
    client.post(reverse("language"), {"language": "fr", "next": reverse("login")})
    assert client.cookies["django_language"].value == "fr"
    assert b'<html lang="fr">' in client.get(reverse("login")).content


def test_password_reset_email_in_the_persons_language(
    member: Any, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    Profile.objects.create(user=member, language="fr")
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(reverse("password_reset"), {"email": "ana.lopez@umosane.example"})
    assert response["Location"] == reverse("password_reset_done")
    [message] = mail.outbox
    assert message.to == ["Ana.Lopez@UMosane.example"]
    assert isinstance(message, EmailMultiAlternatives)
    html = str(message.alternatives[0][0])
    assert '<html lang="fr">' in html
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", message.body)
    assert link is not None
    path = link.group(0).removeprefix(settings.SITE_URL.rstrip("/"))

    client = Client()
    form = client.get(path, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Another-Horse-77", "new_password2": "Another-Horse-77"},
    )
    assert done["Location"] == reverse("password_reset_complete")
    assert login(Client(), "member-a", "Another-Horse-77").status_code == 302
    # The link works once.
    again = Client().get(path, follow=True)
    assert b"no longer works" in again.content or again.context["validlink"] is False


def test_password_reset_tells_nothing_about_unknown_addresses(
    member: Any, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_password_reset_goes_through_a_real_worker_and_smtp(
    member: Any, smtp: Any, celery_worker: Any
) -> None:
    response = Client().post(reverse("password_reset"), {"email": "ana.lopez@umosane.example"})
    assert response.status_code == 302
    [message] = wait_for(lambda: smtp.messages, what="the reset email")
    assert message["To"] == "Ana.Lopez@UMosane.example"
    assert "/accounts/password/reset/" in message.get_body(("plain",)).get_content()


def test_change_password(member: Any) -> None:
    client = client_for(member)
    bad = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    )
    assert bad.status_code == 200
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    good = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Fresh-Horse-99",
            "new_password2": "Fresh-Horse-99",
        },
    )
    assert good["Location"] == reverse("password_change_done")
    member.refresh_from_db()
    assert member.check_password("Fresh-Horse-99")


def test_sessions_expire_when_idle() -> None:
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_an_expired_session_signs_out(member: Any) -> None:
    client = client_for(member)
    session = client.session
    session.set_expiry(-1)
    session.save()
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))


def test_forms_need_a_csrf_token(member: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("language"), {"language": "fr"})
    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert not Profile.objects.filter(user=member, language="fr").exists()
    page = client.get(reverse("dashboard"))
    assert b"csrfmiddlewaretoken" in page.content
