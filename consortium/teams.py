"""The partner's team: the partner contact invites colleagues, sets their role and their access.

Every change of one partner's team locks the partner's row first, so that two contacts acting at
once can't both remove "the other" last contact, nor invite the same person twice.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from consortium import choices
from consortium.backends import identifier_key
from consortium.emails import absolute, email_later
from consortium.models import (
    Membership,
    Partner,
    language_of,
)
from consortium.querysets import (
    may_manage_team,
)
from consortium.records import (
    save_with_history,
)


def team_lock(partner_id: int) -> Partner:
    # FOR NO KEY UPDATE: expenses and jobs being saved for this partner don't wait on the team.
    return (
        Partner.objects.select_for_update(no_key=True, of=("self",))
        .select_related("organisation", "consortium")
        .get(pk=partner_id)
    )


def check_team_manager(user: Any, partner: Partner) -> None:
    """Refuse a team change by someone who doesn't manage the partner's team."""
    if not may_manage_team(user, partner):
        raise PermissionDenied(gettext("Only the partner contact manages the team."))


def _team_member(membership: Membership, *, acting: Any) -> Membership:
    """The membership as committed now, locked, after its partner's team lock; `acting` must
    manage the team."""
    partner = team_lock(membership.partner_id)
    check_team_manager(acting, partner)
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    locked.partner = partner
    return locked


def person_name(user: Any) -> str:
    if user is None:
        return gettext("the consortium's coordinators")
    return user.get_full_name() or user.get_username()


def keep_a_contact(membership: Membership, *, acting: Any) -> str | None:
    """Why `membership` may not stop being an active partner contact, if it is the last one."""
    if not (membership.is_active and membership.role == choices.MembershipRole.CONTACT):
        return None
    others = (
        Membership.objects.filter(
            partner_id=membership.partner_id,
            role=choices.MembershipRole.CONTACT,
            is_active=True,
            user__is_active=True,
        )
        .exclude(pk=membership.pk)
        .exists()
    )
    if others:
        return None
    if acting is not None and acting.pk == membership.user_id:
        return gettext(
            "You are the last active partner contact of %(partner)s: make a colleague partner "
            "contact first, then change your own role or access."
        ) % {"partner": membership.partner}
    return gettext(
        "%(person)s is the last active partner contact of %(partner)s: make another member "
        "partner contact first."
    ) % {"person": person_name(membership.user), "partner": membership.partner}


def current_language() -> str:
    """The language of the page being answered, as one of the site's languages."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return settings.LANGUAGE_CODE


def new_username(email: str) -> str:
    """A free username made of the address's local part: `jane.doe`, else `jane.doe2`…"""
    local = email.rsplit("@", 1)[0].lower()
    base = re.sub(r"[^\w.@+-]", "", local)[:140] or "user"
    users = get_user_model()._default_manager
    taken = {
        name.lower()
        for name in users.filter(username__istartswith=base).values_list("username", flat=True)
    }
    if base not in taken:
        return base
    return next(f"{base}{n}" for n in itertools.count(2) if f"{base}{n}" not in taken)


def invitation_send(*, membership: Membership, invited_by: Any, language: str) -> None:
    """Queue the invitation of a member added before invitations waited for an answer: a link to
    choose a password, or to sign in for people who have one (`membership_invitation_resend`)."""
    user = membership.user
    if user.has_usable_password():
        link = absolute(reverse("login"))
    else:
        path = reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
        link = absolute(path)
    partner = membership.partner
    email_later(
        template="accounts/emails/invitation",
        context={
            "user": user,
            "name": user.get_full_name(),
            "inviter": person_name(invited_by),
            "inviter_email": getattr(invited_by, "email", ""),
            "partner": partner.organisation.short_name,
            "consortium": partner.consortium.name,
            "acronym": partner.consortium.acronym,
            # The lazy label: it is rendered in the reader's language, not the inviter's.
            "role": choices.MembershipRole(membership.role).label,
            "sets_password": not user.has_usable_password(),
            "link": link,
        },
        to=user.email,
        language=language,
    )


def email_normalise(email: str) -> str:
    """The address as stored: no surrounding spaces, the domain in lower case."""
    return get_user_model()._default_manager.normalize_email((email or "").strip())


@transaction.atomic
def membership_invitation_resend(*, membership: Membership, sent_by: Any) -> Membership:
    """Send the invitation again to a member who hasn't chosen a password yet (its link lasts a
    day). Nothing changes in the team, so nothing is recorded in the history."""
    membership = _team_member(membership, acting=sent_by)
    user = membership.user
    if not (membership.is_active and user.is_active):
        raise ValidationError(
            gettext("%(person)s has no access to the partner pages: give it back first.")
            % {"person": person_name(user)},
            code="inactive",
        )
    if user.has_usable_password():
        raise ValidationError(
            gettext(
                "%(person)s has already chosen a password: they sign in as usual, and can "
                "reset a forgotten password from the sign-in page."
            )
            % {"person": person_name(user)},
            code="has_password",
        )
    invitation_send(membership=membership, invited_by=sent_by, language=language_of(user))
    return membership


@transaction.atomic
def membership_role_set(*, membership: Membership, role: str, changed_by: Any) -> Membership:
    """Give a member another role; the partner always keeps an active partner contact."""
    if role not in choices.MembershipRole.values:
        raise ValidationError({"role": gettext("Choose one of the roles offered.")}, code="invalid")
    membership = _team_member(membership, acting=changed_by)
    if membership.role == role:
        return membership
    if role != choices.MembershipRole.CONTACT:
        refusal = keep_a_contact(membership, acting=changed_by)
        if refusal:
            raise ValidationError({"role": refusal}, code="last_contact")
    membership.role = role
    save_with_history(membership, user=changed_by, update_fields=["role"])
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, changed_by: Any) -> Membership:
    """Take a member's access to the partner's pages away; their records and history stay."""
    membership = _team_member(membership, acting=changed_by)
    if not membership.is_active:
        return membership
    refusal = keep_a_contact(membership, acting=changed_by)
    if refusal:
        raise ValidationError(refusal, code="last_contact")
    membership.is_active = False
    save_with_history(membership, user=changed_by, update_fields=["is_active"])
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership, changed_by: Any) -> Membership:
    """Give a member their access back, unless they now work for another partner of the
    consortium. Giving access back never leaves the partner without a contact."""
    membership = _team_member(membership, acting=changed_by)
    if membership.is_active:
        return membership
    membership.is_active = True
    refusal = membership.other_partner_error()
    if refusal is not None:
        raise refusal
    save_with_history(membership, user=changed_by, update_fields=["is_active"])
    return membership


def same_address(one: str, other: str) -> bool:
    return identifier_key(one) == identifier_key(other)
