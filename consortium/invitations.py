"""Invitations to a partner's team. An invitation waits for the answer of the person it was sent
to. Its link carries a secret whose digest only is stored; accepting it grants the membership in
the name of who invited, and only while they still manage the team.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from consortium import choices
from consortium.backends import accounts_with_address
from consortium.emails import absolute, email_later
from consortium.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Partner,
    Profile,
    language_of,
)
from consortium.querysets import (
    may_manage_team,
)
from consortium.records import (
    save_with_history,
)
from consortium.teams import (
    check_team_manager,
    current_language,
    email_normalise,
    new_username,
    person_name,
    same_address,
    team_lock,
)


@transaction.atomic
def membership_invite(
    *,
    partner: Partner,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    invited_by: Any,
) -> Invitation:
    """Invite a person to the partner's team by email. Nothing changes for them until they
    accept: someone with an account signs in to answer, someone without one chooses a password
    as they accept. Whether the address has an account or not, the inviter gets the same answer
    and sees the address they typed, no more; what would tell (another partner, a switched-off
    account) is said to the invitee when they answer. `first_name` and `last_name` are offered
    to a person who creates their account."""
    check_team_manager(invited_by, partner)
    email = email_normalise(email)
    errors: dict[str, str] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = gettext("Enter a valid email address.")
    if role not in choices.MembershipRole.values:
        errors["role"] = gettext("Choose one of the roles offered.")
    if errors:
        raise ValidationError(errors, code="invalid")
    partner = team_lock(partner.pk)
    _check_partner_active(partner)
    # What the team page already shows the inviter may be said: a member with this address, an
    # invitation to it still waiting.
    members = Membership.objects.filter(partner=partner, is_active=True).select_related("user")
    if any(same_address(m.user.email, email) for m in members.filter(user__email__iexact=email)):
        raise ValidationError(
            {"email": gettext("%(email)s is already in the team.") % {"email": email}},
            code="already_member",
        )
    waiting = Invitation.objects.filter(
        partner=partner, status=InvitationStatus.PENDING, email__iexact=email
    )
    if any(same_address(invitation.email, email) for invitation in waiting):
        raise ValidationError(
            {
                "email": gettext(
                    "An invitation to %(email)s is already waiting for an answer: send it "
                    "again from the team page, or cancel it first."
                )
                % {"email": email}
            },
            code="already_invited",
        )
    invitation = Invitation(
        partner=partner,
        email=email,
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        # A person who creates their account reads the app in the language they were invited in.
        language=current_language(),
        invited_by=invited_by,
        status=InvitationStatus.PENDING,
    )
    key = _invitation_renew(invitation)
    save_with_history(invitation, user=invited_by)
    _invitation_email(invitation=invitation, key=key)
    return invitation


def _check_partner_active(partner: Partner) -> None:
    if partner.status != choices.PartnerStatus.ACTIVE:
        raise ValidationError(
            gettext("%(partner)s has left the consortium: its team no longer changes.")
            % {"partner": partner},
            code="partner_withdrawn",
        )


def _invitation_renew(invitation: Invitation) -> str:
    """Give the invitation a new secret and INVITATION_DAYS from now; returns the secret, for
    the email (a previous link stops working)."""
    key = secrets.token_urlsafe(32)
    invitation.key_digest = Invitation.digest(key)
    invitation.sent_at = timezone.now()
    invitation.expires_at = invitation.sent_at + datetime.timedelta(days=settings.INVITATION_DAYS)
    return key


def _invitation_email(*, invitation: Invitation, key: str) -> None:
    """Queue the invitation's email to the address typed: the same email whether an account uses
    that address or not; the link's page tells the person what to do. It is written in the
    account's language when one account uses the address, else in the inviter's."""
    accounts = accounts_with_address(invitation.email)
    account = accounts[0] if len(accounts) == 1 else None
    partner = invitation.partner
    inviter = invitation.invited_by
    name = account.get_full_name() if account else f"{invitation.first_name} {invitation.last_name}"
    email_later(
        template="accounts/emails/team_invitation",
        context={
            "name": name.strip(),
            "inviter": person_name(inviter),
            "inviter_email": getattr(inviter, "email", ""),
            "partner": partner.organisation.short_name,
            "consortium": partner.consortium.name,
            "acronym": partner.consortium.acronym,
            # The lazy label: it is rendered in the reader's language, not the inviter's.
            "role": choices.MembershipRole(invitation.role).label,
            "expires": invitation.expires_at,
            "link": absolute(reverse("invitation", args=[key])),
        },
        to=invitation.email,
        language=language_of(account) if account else invitation.language,
    )


def _invitation_locked(invitation: Invitation) -> Invitation:
    """The invitation as committed now, locked, after its partner's team lock."""
    partner = team_lock(invitation.partner_id)
    locked = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("invited_by")
        .get(pk=invitation.pk)
    )
    locked.partner = partner
    return locked


def _check_answerable(invitation: Invitation) -> None:
    """Refuse an answer to an invitation that is no longer waiting for one."""
    if not invitation.is_open:
        raise ValidationError(
            gettext(
                "This invitation is no longer valid: it has expired, been cancelled or been "
                "answered already. Ask %(inviter)s for a new one if you still want to join."
            )
            % {"inviter": person_name(invitation.invited_by)},
            code="invitation_closed",
        )


def _check_addressee(invitation: Invitation, user: Any) -> None:
    """Only the account that uses the invitation's address answers it."""
    if not (user and user.is_authenticated and user.is_active):
        raise ValidationError(
            gettext("Sign in with the account that uses %(email)s to answer this invitation.")
            % {"email": invitation.email},
            code="sign_in",
        )
    if not same_address(user.email, invitation.email):
        raise ValidationError(
            gettext(
                "This invitation was sent to %(email)s, and you are signed in with another "
                "account: sign out, then sign in with the account that uses this address."
            )
            % {"email": invitation.email},
            code="other_account",
        )


def _invitation_join(invitation: Invitation, user: Any) -> Membership:
    """Grant the membership the invitation offers to `user`, in the inviter's name, and close
    the invitation as accepted by `user`."""
    partner = invitation.partner
    inviter = invitation.invited_by
    _check_partner_active(partner)
    if inviter is None or not may_manage_team(inviter, partner):
        raise ValidationError(
            gettext(
                "%(inviter)s no longer manages the team of %(partner)s, so this invitation no "
                "longer holds: ask the partner contact for a new one."
            )
            % {"inviter": person_name(inviter), "partner": partner},
            code="inviter_gone",
        )
    memberships = list(
        Membership.objects.select_for_update(of=("self",))
        .filter(user=user, partner__consortium_id=partner.consortium_id)
        .select_related("partner__organisation")
    )
    refusal = Membership(partner=partner, user=user, is_active=True).other_partner_error()
    if refusal is not None:
        raise refusal
    membership = next((m for m in memberships if m.partner_id == partner.pk), None)
    if membership is None or not membership.is_active:
        # Granted by who invited: the person's acceptance is recorded on the invitation.
        membership = membership or Membership(partner=partner, user=user)
        membership.partner = partner
        membership.role = invitation.role
        membership.is_active = True
        save_with_history(membership, user=inviter)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_by = user
    invitation.answered_at = timezone.now()
    invitation.membership = membership
    save_with_history(
        invitation,
        user=user,
        update_fields=["status", "answered_by", "answered_at", "membership"],
    )
    return membership


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: Any) -> Membership:
    """The person the invitation was sent to joins the team with their account: their membership
    is created, or given back, in the role offered, as granted by who invited them. A person
    already in the team keeps their membership as it is."""
    invitation = _invitation_locked(invitation)
    _check_answerable(invitation)
    _check_addressee(invitation, user)
    return _invitation_join(invitation, user)


@transaction.atomic
def invitation_accept_with_new_account(
    *, invitation: Invitation, password: str, first_name: str = "", last_name: str = ""
) -> Membership:
    """A person without an account accepts: their account is created with the address the
    invitation went to (the link proved it theirs) and the password they chose, then they join
    the team as `invitation_accept` says."""
    invitation = _invitation_locked(invitation)
    _check_answerable(invitation)
    if accounts_with_address(invitation.email):
        raise ValidationError(
            gettext("An account already uses %(email)s: sign in with it to answer.")
            % {"email": invitation.email},
            code="account_exists",
        )
    users = get_user_model()._default_manager
    user = users.model(
        username=new_username(invitation.email),
        email=invitation.email,
        first_name=(first_name or invitation.first_name).strip(),
        last_name=(last_name or invitation.last_name).strip(),
        is_active=True,
        is_staff=False,
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}, code="password_invalid") from error
    user.set_password(password)
    user.full_clean()
    user.save()
    save_with_history(Profile(user=user, language=invitation.language), user=user)
    return _invitation_join(invitation, user)


@transaction.atomic
def invitation_decline(*, invitation: Invitation, user: Any = None) -> Invitation:
    """The person says no: nothing changes for them, and the link stops working. When an account
    uses the address, its owner answers signed in; otherwise the link is enough."""
    invitation = _invitation_locked(invitation)
    _check_answerable(invitation)
    signed_in = user is not None and user.is_authenticated
    if accounts_with_address(invitation.email) or signed_in:
        _check_addressee(invitation, user)
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_by = user if signed_in else None
    invitation.answered_at = timezone.now()
    save_with_history(
        invitation,
        user=invitation.answered_by,
        update_fields=["status", "answered_by", "answered_at"],
    )
    return invitation


def _team_invitation(invitation: Invitation, *, acting: Any) -> Invitation:
    invitation = _invitation_locked(invitation)
    check_team_manager(acting, invitation.partner)
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, sent_by: Any) -> Invitation:
    """Send a waiting (or expired) invitation again, with a new link valid INVITATION_DAYS: the
    previous link stops working, and the invitation now comes from `sent_by`."""
    invitation = _team_invitation(invitation, acting=sent_by)
    _check_partner_active(invitation.partner)
    if invitation.status != InvitationStatus.PENDING:
        raise ValidationError(
            gettext(
                "The invitation to %(email)s has been answered or cancelled: invite the person "
                "again instead."
            )
            % {"email": invitation.email},
            code="invitation_closed",
        )
    key = _invitation_renew(invitation)
    invitation.invited_by = sent_by
    save_with_history(
        invitation,
        user=sent_by,
        update_fields=["key_digest", "sent_at", "expires_at", "invited_by"],
    )
    _invitation_email(invitation=invitation, key=key)
    return invitation


@transaction.atomic
def invitation_cancel(*, invitation: Invitation, cancelled_by: Any) -> Invitation:
    """Withdraw a waiting invitation (its link stops working), or take a declined one off the
    team page. An accepted invitation stays: the member's access is changed on their page."""
    invitation = _team_invitation(invitation, acting=cancelled_by)
    if invitation.status == InvitationStatus.CANCELLED:
        return invitation
    if invitation.status == InvitationStatus.ACCEPTED:
        raise ValidationError(
            gettext(
                "The invitation to %(email)s has been accepted: change the member's access on "
                "their page instead."
            )
            % {"email": invitation.email},
            code="invitation_accepted",
        )
    invitation.status = InvitationStatus.CANCELLED
    save_with_history(invitation, user=cancelled_by, update_fields=["status"])
    return invitation
