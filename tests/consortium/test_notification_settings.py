"""A person's choice of the workflow notifications they receive: the page reachable from the
partner pages (and, for coordinators, from every digest), which changes only the person's own
settings, refuses bad input and records each change in the profile's history; and the digest's
one-click link that stops them all."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from consortium.models import NotificationKind, Profile
from consortium.notifications import opt_out_token
from tests.web import client_for

pytestmark = pytest.mark.django_db

URL = "/accounts/notifications/"
PARTNER = ["changes_requested", "expense_rejected", "expense_partly_accepted", "statement_reopened"]
COORDINATOR = ["deliverable_submitted", "statement_submitted"]


def _off(user: Any) -> list[str]:
    return list(
        Profile.objects.filter(user=user).values_list("notifications_off", flat=True).first() or []
    )


def test_the_page_has_its_name_and_the_partner_pages_link_to_it(partner_member: Any) -> None:
    assert reverse("notification-settings") == URL
    page = client_for(partner_member).get(reverse("dashboard"))
    assert page.status_code == 200
    assert f'href="{URL}"' in page.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    for response in (Client().get(URL), Client().post(URL, {"receive": PARTNER})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert not Profile.objects.exists()


def test_each_person_is_offered_the_kinds_of_their_role(
    partner_member: Any, coordinator: Any, observer: Any
) -> None:
    partner_page = client_for(partner_member).get(URL).content.decode()
    assert all(f'value="{kind}"' in partner_page for kind in PARTNER)
    assert not any(f'value="{kind}"' in partner_page for kind in COORDINATOR)
    # Everything is received until switched off.
    assert partner_page.count("checked") == len(PARTNER)
    coordinator_page = client_for(coordinator).get(URL).content.decode()
    assert all(f'value="{kind}"' in coordinator_page for kind in COORDINATOR)
    assert not any(f'value="{kind}"' in coordinator_page for kind in PARTNER)
    observer_page = client_for(observer).get(URL).content.decode()
    assert not any(f'value="{kind}"' in observer_page for kind in NotificationKind.values)


def test_saving_changes_the_persons_own_settings_only_and_keeps_the_history(
    partner_member: Any, other_partner_member: Any
) -> None:
    other = Profile.objects.create(user=other_partner_member, language="fr")
    client = client_for(partner_member)
    response = client.post(URL, {"receive": ["changes_requested", "statement_reopened"]})
    assert response.status_code == 302 and response["Location"] == URL
    assert _off(partner_member) == ["expense_partly_accepted", "expense_rejected"]
    profile = Profile.objects.get(user=partner_member)
    latest = profile.history.first()
    assert latest.history_user == partner_member
    assert latest.notifications_off == ["expense_partly_accepted", "expense_rejected"]
    # Somebody else's profile is untouched, whatever is posted.
    client.post(URL, {"receive": [], "user": other_partner_member.pk})
    assert _off(other_partner_member) == []
    assert other.history.count() == 1  # its creation
    assert _off(partner_member) == sorted(PARTNER)
    # The same choice again writes nothing.
    changes = profile.history.count()
    client.post(URL, {"receive": []})
    assert profile.history.count() == changes
    page = client.get(URL).content.decode()
    assert "checked" not in page


def test_bad_input_is_refused_and_changes_nothing(partner_member: Any) -> None:
    client = client_for(partner_member)
    for bad in (["not-a-kind"], ["changes_requested", "deliverable_submitted"]):
        response = client.post(URL, {"receive": bad})
        assert response.status_code == 200
        assert "is not one of the available choices" in response.content.decode()
    assert not Profile.objects.exists()


def test_kinds_not_offered_keep_their_setting(partner_member: Any) -> None:
    Profile.objects.create(user=partner_member, notifications_off=["statement_submitted"])
    client_for(partner_member).post(URL, {"receive": PARTNER[1:]})
    assert sorted(_off(partner_member)) == ["changes_requested", "statement_submitted"]


def test_the_profile_refuses_unknown_kinds(partner_member: Any) -> None:
    from django.core.exceptions import ValidationError

    for bad in (["nope"], "changes_requested", ["expense_rejected", "expense_rejected"]):
        profile = Profile(user=partner_member, notifications_off=bad)
        with pytest.raises(ValidationError):
            profile.full_clean()


# The digest's one-click opt-out ------------------------------------------------------------------


def _stop_url(user_id: int) -> str:
    return reverse("notifications-opt-out", args=[opt_out_token(user_id)])


def test_the_opt_out_link_asks_then_stops_every_notification(partner_member: Any) -> None:
    response = Client().get(_stop_url(partner_member.pk))
    assert response.status_code == 200
    assert '<form method="post">' in response.content.decode()
    assert not Profile.objects.exists()
    assert Client().post(_stop_url(partner_member.pk)).status_code == 200
    assert sorted(_off(partner_member)) == sorted(NotificationKind.values)
    profile = Profile.objects.get(user=partner_member)
    assert profile.history.first().history_user == partner_member
    changes = profile.history.count()
    assert Client().post(_stop_url(partner_member.pk)).status_code == 200
    assert profile.history.count() == changes


def test_the_opt_out_page_speaks_the_readers_language(partner_member: Any) -> None:
    Profile.objects.create(user=partner_member, language="fr")
    html = Client().get(_stop_url(partner_member.pk)).content.decode()
    assert '<html lang="fr">' in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_or_foreign_token_answers_404(
    partner_member: Any, other_partner_member: Any, method: str
) -> None:
    token = opt_out_token(partner_member.pk)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    reminders = signing.dumps(other_partner_member.pk, salt="reporting.reminders-opt-out")
    for bad in (tampered, reminders, signing.dumps(partner_member.pk), "not-a-token"):
        url = reverse("notifications-opt-out", args=[bad])
        assert getattr(Client(), method)(url).status_code == 404, bad
    other_partner_member.is_active = False
    other_partner_member.save(update_fields=["is_active"])
    assert getattr(Client(), method)(_stop_url(other_partner_member.pk)).status_code == 404
    assert not Profile.objects.exists()
