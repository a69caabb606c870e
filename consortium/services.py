"""Writes on the consortium: every one is a keyword-only function named `<entity>_<action>`."""

from __future__ import annotations

import datetime
import itertools
import re
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext, gettext_noop
from rest_framework.authtoken.models import Token

from consortium import choices, dates
from consortium.backends import accounts_with_address, identifier_key
from consortium.emails import absolute, email_later
from consortium.models import (
    ApiToken,
    Consortium,
    ConsortiumRole,
    CostCategory,
    EmailAddressChange,
    Invitation,
    InvitationStatus,
    Membership,
    Organisation,
    Partner,
    Profile,
    ReportingPeriod,
    language_of,
    password_fingerprint,
)
from consortium.querysets import (
    authorize,
    coordinated_consortia,
    may_edit_organisation,
    may_manage_team,
)
from consortium.records import (
    WriteRule,
    keeps,
    save_with_history,
    with_changes,
    write_rule_register,
)

# The Walloon guide's eligible cost headings; flat rates vary by agreement and stay editable.
# Names are stored in English and shown translated while a coordinator hasn't renamed them.
WALLOON_COST_HEADINGS: list[dict[str, Any]] = [
    {"code": "personnel", "name": gettext_noop("Personnel"), "position": 10},
    {"code": "operating", "name": gettext_noop("Operating costs"), "position": 20},
    {"code": "equipment", "name": gettext_noop("Equipment / depreciation"), "position": 30},
    {"code": "subcontracting", "name": gettext_noop("Subcontracting"), "position": 40},
    {
        "code": "overheads",
        "name": gettext_noop("Overheads"),
        "position": 50,
        "kind": choices.CostCategoryKind.FLAT_RATE,
        "flat_rate": Decimal("17.00"),
        "flat_rate_base": "personnel",
    },
]


def reporting_periods_plan(
    consortium: Consortium,
) -> list[tuple[int, datetime.date, datetime.date, datetime.date]]:
    """(number, start, end, statement due) of each period, counted in project months from the
    start date so that periods never drift (a consortium starting on the 31st included)."""
    length = consortium.reporting_period_months
    if not length or length < 1 or not consortium.start_date or not consortium.end_date:
        return []
    plan = []
    number = 1
    while (start := dates.add_months(consortium.start_date, (number - 1) * length)) <= (
        consortium.end_date
    ):
        end = min(dates.month_end(consortium.start_date, number * length), consortium.end_date)
        due = end + datetime.timedelta(days=consortium.statement_due_days)
        plan.append((number, start, end, due))
        number += 1
    return plan


def reporting_periods_conflicts(consortium: Consortium) -> list[str]:
    """Why the periods can't follow the consortium's dates: a period that holds expenses or effort
    would move or disappear, and its rows would no longer fall within it."""
    if consortium.pk is None:
        return []
    planned = {
        number: (start, end) for number, start, end, _due in reporting_periods_plan(consortium)
    }
    # Expenses and effort point at periods from the workpackages app: reached by reverse names.
    used = (
        ReportingPeriod.objects.filter(consortium_id=consortium.pk)
        .filter(Q(expenses__isnull=False) | Q(efforts__isnull=False))
        .distinct()
    )
    return [
        gettext(
            "Period %(period)s holds expenses or effort and cannot move: change the dates or "
            "the period length back, or move its records first."
        )
        % {"period": period}
        for period in used
        if planned.get(period.number) != (period.start_date, period.end_date)
    ]


@transaction.atomic
def reporting_periods_generate(
    *, consortium: Consortium, user: Any = None
) -> list[ReportingPeriod]:
    """Create or realign the periods from the consortium's dates; idempotent.

    Periods that already hold expenses or effort never move: the change is refused instead.
    """
    if consortium.pk is not None:
        authorize(user, consortium, "manage")
    conflicts = reporting_periods_conflicts(consortium)
    if conflicts:
        raise ValidationError(conflicts, code="periods_in_use")
    periods = []
    for number, start, end, due in reporting_periods_plan(consortium):
        period, _created = ReportingPeriod.objects.update_or_create(
            consortium=consortium,
            number=number,
            defaults={"start_date": start, "end_date": end, "statement_due_date": due},
        )
        periods.append(period)
    ReportingPeriod.objects.filter(consortium=consortium, number__gt=len(periods)).delete()
    return periods


@transaction.atomic
def cost_categories_seed(*, consortium: Consortium) -> list[CostCategory]:
    """Create the Walloon cost headings a consortium does not have yet; idempotent."""
    created: dict[str, CostCategory] = {}
    for heading in WALLOON_COST_HEADINGS:
        values = dict(heading)
        base_code = values.pop("flat_rate_base", None)
        if base_code:
            values["flat_rate_base"] = created[base_code]
        category, _created = CostCategory.objects.get_or_create(
            consortium=consortium, code=values.pop("code"), defaults=values
        )
        created[category.code] = category
    return list(created.values())


@transaction.atomic
def consortium_create(
    *, user: Any, instance: Consortium | None = None, **fields: Any
) -> Consortium:
    """Create a consortium with its reporting periods and the Walloon cost headings. A new
    consortium has no coordinator yet: only a superuser sets one up."""
    consortium = instance or Consortium()
    for name, value in fields.items():
        setattr(consortium, name, value)
    authorize(user, consortium, "manage")
    save_with_history(consortium, user=user)
    reporting_periods_generate(consortium=consortium, user=user)
    cost_categories_seed(consortium=consortium)
    return consortium


def _last_coordinator(role: ConsortiumRole) -> bool:
    """Whether `role` is the consortium's only active coordinator."""
    if not (role.is_active and role.kind == choices.ConsortiumRoleKind.COORDINATOR):
        return False
    return (
        not ConsortiumRole.objects.filter(
            consortium_id=role.consortium_id,
            kind=choices.ConsortiumRoleKind.COORDINATOR,
            is_active=True,
            user__is_active=True,
        )
        .exclude(pk=role.pk)
        .exists()
    )


def _role_locked(consortium_id: int, user_id: int) -> ConsortiumRole | None:
    # The consortium's row first: two coordinators ending each other's role at once can't both
    # leave it without a coordinator.
    Consortium.objects.select_for_update(no_key=True).filter(pk=consortium_id).first()
    return (
        ConsortiumRole.objects.select_for_update(of=("self",))
        .filter(consortium_id=consortium_id, user_id=user_id)
        .first()
    )


@transaction.atomic
def consortium_role_grant(
    *, consortium: Consortium, user: Any, kind: str, granted_by: Any
) -> ConsortiumRole:
    """Give `user` a consortium-wide role; coordinators get into the admin, observers never do.
    The consortium always keeps an active coordinator."""
    if kind not in choices.ConsortiumRoleKind.values:
        raise ValidationError({"kind": gettext("Choose one of the roles offered.")}, code="invalid")
    role = _role_locked(consortium.pk, user.pk) or ConsortiumRole(consortium=consortium, user=user)
    authorize(granted_by, role if role.pk else ConsortiumRole(consortium=consortium), "manage")
    if role.pk and kind != role.kind and _last_coordinator(role):
        raise ValidationError({"kind": _last_coordinator_message(role)}, code="last_coordinator")
    role.kind = kind
    role.is_active = True
    save_with_history(role, user=granted_by)
    user_staff_sync(user=user)
    return role


def _last_coordinator_message(role: ConsortiumRole) -> str:
    return gettext(
        "%(person)s is the last coordinator of %(consortium)s: make someone else coordinator first."
    ) % {"person": _person_name(role.user), "consortium": role.consortium}


@transaction.atomic
def consortium_role_end(*, role: ConsortiumRole, ended_by: Any) -> ConsortiumRole:
    """End a person's consortium-wide role; it stays in the history. The last coordinator stays."""
    role = _role_locked(role.consortium_id, role.user_id) or role
    authorize(ended_by, role, "manage")
    if not role.is_active:
        return role
    if _last_coordinator(role):
        raise ValidationError(_last_coordinator_message(role), code="last_coordinator")
    role.is_active = False
    save_with_history(role, user=ended_by, update_fields=["is_active"])
    user_staff_sync(user=role.user)
    return role


@transaction.atomic
def membership_grant(*, partner: Any, user: Any, role: str, granted_by: Any) -> Membership:
    """Attach `user` to `partner` with `role` (a coordinator's decision, for people already known
    to the consortium); a user works for one partner per consortium."""
    membership = Membership.objects.filter(partner=partner, user=user).first() or Membership(
        partner=partner, user=user
    )
    authorize(granted_by, membership, "manage")
    if role not in choices.MembershipRole.values:
        raise ValidationError({"role": gettext("Choose one of the roles offered.")}, code="invalid")
    if membership.pk and role != choices.MembershipRole.CONTACT:
        refusal = _keep_a_contact(membership, acting=granted_by)
        if refusal:
            raise ValidationError({"role": refusal}, code="last_contact")
    membership.role = role
    membership.is_active = True
    save_with_history(membership, user=granted_by)
    return membership


def user_staff_sync(*, user: Any) -> None:
    """Only coordinators (and superusers) are staff: partner users and observers never reach the admin."""
    is_staff = user.is_superuser or coordinated_consortia(user).exists()
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


@transaction.atomic
def profile_language_set(*, user: Any, language: str) -> Profile:
    """Remember the language a person chose; their pages and emails follow it."""
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    profile.language = language
    save_with_history(profile, user=user)
    return profile


@transaction.atomic
def calendar_feed_renew(*, user: Any) -> Profile:
    """Give the person a new secret calendar feed address; the previous one stops answering."""
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    profile.calendar_token = secrets.token_urlsafe(32)
    save_with_history(profile, user=user)
    return profile


@transaction.atomic
def calendar_feed_revoke(*, user: Any) -> Profile:
    """Switch the person's calendar feed off: its address answers no more."""
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    profile.calendar_token = None
    save_with_history(profile, user=user)
    return profile


# The partner's team: the partner contact invites colleagues, sets their role and their access.
# Every change of one partner's team locks the partner's row first, so that two contacts acting
# at once can't both remove "the other" last contact, nor invite the same person twice.


def _team_lock(partner_id: int) -> Partner:
    # FOR NO KEY UPDATE: expenses and jobs being saved for this partner don't wait on the team.
    return (
        Partner.objects.select_for_update(no_key=True, of=("self",))
        .select_related("organisation", "consortium")
        .get(pk=partner_id)
    )


def _check_team_manager(user: Any, partner: Partner) -> None:
    """Refuse a team change by someone who doesn't manage the partner's team."""
    if not may_manage_team(user, partner):
        raise PermissionDenied(gettext("Only the partner contact manages the team."))


def _team_member(membership: Membership, *, acting: Any) -> Membership:
    """The membership as committed now, locked, after its partner's team lock; `acting` must
    manage the team."""
    partner = _team_lock(membership.partner_id)
    _check_team_manager(acting, partner)
    locked = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    locked.partner = partner
    return locked


def _person_name(user: Any) -> str:
    if user is None:
        return gettext("the consortium's coordinators")
    return user.get_full_name() or user.get_username()


def _keep_a_contact(membership: Membership, *, acting: Any) -> str | None:
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
    ) % {"person": _person_name(membership.user), "partner": membership.partner}


def _current_language() -> str:
    """The language of the page being answered, as one of the site's languages."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return settings.LANGUAGE_CODE


def _new_username(email: str) -> str:
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


def _invitation_send(*, membership: Membership, invited_by: Any, language: str) -> None:
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
            "inviter": _person_name(invited_by),
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


def _email_normalise(email: str) -> str:
    """The address as stored: no surrounding spaces, the domain in lower case."""
    return get_user_model()._default_manager.normalize_email((email or "").strip())


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
    _check_team_manager(invited_by, partner)
    email = _email_normalise(email)
    errors: dict[str, str] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = gettext("Enter a valid email address.")
    if role not in choices.MembershipRole.values:
        errors["role"] = gettext("Choose one of the roles offered.")
    if errors:
        raise ValidationError(errors, code="invalid")
    partner = _team_lock(partner.pk)
    _check_partner_active(partner)
    # What the team page already shows the inviter may be said: a member with this address, an
    # invitation to it still waiting.
    members = Membership.objects.filter(partner=partner, is_active=True).select_related("user")
    if any(_same_address(m.user.email, email) for m in members.filter(user__email__iexact=email)):
        raise ValidationError(
            {"email": gettext("%(email)s is already in the team.") % {"email": email}},
            code="already_member",
        )
    waiting = Invitation.objects.filter(
        partner=partner, status=InvitationStatus.PENDING, email__iexact=email
    )
    if any(_same_address(invitation.email, email) for invitation in waiting):
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
        language=_current_language(),
        invited_by=invited_by,
        status=InvitationStatus.PENDING,
    )
    key = _invitation_renew(invitation)
    save_with_history(invitation, user=invited_by)
    _invitation_email(invitation=invitation, key=key)
    return invitation


@transaction.atomic
def membership_invitation_resend(*, membership: Membership, sent_by: Any) -> Membership:
    """Send the invitation again to a member who hasn't chosen a password yet (its link lasts a
    day). Nothing changes in the team, so nothing is recorded in the history."""
    membership = _team_member(membership, acting=sent_by)
    user = membership.user
    if not (membership.is_active and user.is_active):
        raise ValidationError(
            gettext("%(person)s has no access to the partner pages: give it back first.")
            % {"person": _person_name(user)},
            code="inactive",
        )
    if user.has_usable_password():
        raise ValidationError(
            gettext(
                "%(person)s has already chosen a password: they sign in as usual, and can "
                "reset a forgotten password from the sign-in page."
            )
            % {"person": _person_name(user)},
            code="has_password",
        )
    _invitation_send(membership=membership, invited_by=sent_by, language=language_of(user))
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
        refusal = _keep_a_contact(membership, acting=changed_by)
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
    refusal = _keep_a_contact(membership, acting=changed_by)
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


# Invitations: an invitation waits for the answer of the person it was sent to. Its link carries a
# secret whose digest only is stored; accepting it grants the membership in the name of who
# invited, and only while they still manage the team.


def _same_address(one: str, other: str) -> bool:
    return identifier_key(one) == identifier_key(other)


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
            "inviter": _person_name(inviter),
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
    partner = _team_lock(invitation.partner_id)
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
            % {"inviter": _person_name(invitation.invited_by)},
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
    if not _same_address(user.email, invitation.email):
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
            % {"inviter": _person_name(inviter), "partner": partner},
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
        username=_new_username(invitation.email),
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
    _check_team_manager(acting, invitation.partner)
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


# Email addresses: password reset links go to a person's address, so it changes only when the
# person confirms the new one from that address (signed in, within a day), or by a superuser. The
# old address is told either way, and every change is recorded (EmailAddressChange).

EMAIL_CHANGE_SALT = "consortium.email-change"


def _email_change_state(user: Any) -> str:
    """Changes with the address and the password: a confirmation link works once, and no longer
    after the password changes."""
    return salted_hmac(
        EMAIL_CHANGE_SALT, f"{user.pk}\0{user.email}\0{user.password}", algorithm="sha256"
    ).hexdigest()


@transaction.atomic
def user_email_change_request(*, user: Any, email: str, password: str) -> str:
    """Email a link confirming `email` as the person's new address to that address; nothing
    changes until they open it. Their password is asked again: a session left open must not be
    enough to send someone's password reset links elsewhere. Returns the address as stored."""
    errors: dict[str, str] = {}
    if not user.check_password(password):
        errors["password"] = gettext("This is not your current password.")
    email = _email_normalise(email)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = gettext("Enter a valid email address.")
    else:
        if _same_address(email, user.email):
            errors["email"] = gettext("This is already your email address.")
    if errors:
        raise ValidationError(errors, code="invalid")
    token = signing.dumps(
        {"user": user.pk, "email": email, "state": _email_change_state(user)},
        salt=EMAIL_CHANGE_SALT,
    )
    email_later(
        template="accounts/emails/email_change",
        context={
            "user": user,
            "email": email,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
            "link": absolute(reverse("email_change_confirm", args=[token])),
        },
        to=email,
        language=language_of(user),
    )
    return email


def email_change_target(*, user: Any, token: str) -> str:
    """The new address a confirmation link carries, if it is `user`'s, unused and in time."""
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.BadSignature as error:
        raise ValidationError(
            gettext(
                "This link no longer works: it has expired or has been used already. Ask for a "
                "new one on the email address page."
            ),
            code="link_invalid",
        ) from error
    if data.get("user") != user.pk:
        raise ValidationError(
            gettext(
                "This link changes the address of another account: sign out, then sign in with "
                "that account to open it."
            ),
            code="other_account",
        )
    if data.get("state") != _email_change_state(user):
        raise ValidationError(
            gettext(
                "This link no longer works: it has expired or has been used already. Ask for a "
                "new one on the email address page."
            ),
            code="link_invalid",
        )
    return str(data["email"])


@transaction.atomic
def user_email_change_confirm(*, user: Any, token: str) -> EmailAddressChange:
    """The person, signed in, confirms the address the link was sent to: it becomes theirs, and
    their old address is told."""
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    email = email_change_target(user=locked, token=token)
    if any(account.pk != locked.pk for account in accounts_with_address(email)):
        raise ValidationError(
            gettext("Another account already uses %(email)s: ask the consortium's coordinators.")
            % {"email": email},
            code="email_taken",
        )
    return _email_set(user=locked, email=email, changed_by=user)


@transaction.atomic
def user_email_set(*, user: Any, email: str, changed_by: Any) -> EmailAddressChange:
    """A superuser sets someone's address (the people admin); the old address is told."""
    if not (changed_by.is_active and changed_by.is_superuser):
        raise PermissionDenied(email_owner_only())
    email = _email_normalise(email)
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError(
            {"email": gettext("Enter a valid email address.")}, code="invalid"
        ) from error
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    return _email_set(user=locked, email=email, changed_by=changed_by)


def email_owner_only() -> str:
    """Who changes an email address, where password reset links go: what every door says."""
    return gettext(
        "Only the person themself, confirming from the new address, or a superuser changes an "
        "email address."
    )


def _email_set(*, user: Any, email: str, changed_by: Any) -> EmailAddressChange:
    old = user.email
    user.email = email
    user.save(update_fields=["email"])
    change = EmailAddressChange.objects.create(
        user=user, old_email=old, new_email=email, changed_by=changed_by
    )
    if old and not _same_address(old, email):
        email_later(
            template="accounts/emails/email_changed",
            context={
                "user": user,
                "old": old,
                "new": email,
                "when": change.changed_at,
                "by_self": changed_by is not None and changed_by.pk == user.pk,
                "by": _person_name(changed_by),
            },
            to=old,
            language=language_of(user),
        )
    return change


# API tokens: one per person, bound to the password it was issued under and lasting
# API_TOKEN_DAYS (consortium.authentication checks both at every request).


@transaction.atomic
def api_token_issue(*, user: Any) -> ApiToken:
    """The person's API token: the same one while it holds, a new one once the password it was
    issued under has changed or it has expired (a key made elsewhere is replaced too)."""
    # One token per person: two requests at once get the same one.
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    current = ApiToken.objects.filter(user_id=locked.pk).first()
    if current is not None and current.matches_password(locked) and not current.is_expired:
        return current
    Token.objects.filter(user_id=locked.pk).delete()
    return ApiToken.objects.create(user=locked, password_fingerprint=password_fingerprint(locked))


@transaction.atomic
def api_token_revoke(*, user: Any) -> None:
    """Revoke the person's API token: requests sending it are refused from now on."""
    Token.objects.filter(user_id=user.pk).delete()


# How every door writes the consortium's own rows (`records.record_create` / `record_update`).


def _periods_follow_the_dates(
    consortium: Consortium, *, user: Any, changes: Any, creating: bool
) -> None:
    if creating:
        return
    conflicts = reporting_periods_conflicts(with_changes(consortium, changes))
    if conflicts:
        raise ValidationError(conflicts, code="periods_in_use")


def _periods_regenerate(consortium: Consortium, *, user: Any, creating: bool) -> None:
    reporting_periods_generate(consortium=consortium, user=user)


def _consortium_new(consortium: Consortium, *, user: Any, related: dict[str, Any]) -> Consortium:
    return consortium_create(user=user, instance=consortium)


def organisation_details_refusal(user: Any, organisation: Organisation) -> str | None:
    """Why `user` may not change the organisation's own details, if they may not."""
    if may_edit_organisation(user, organisation):
        return None
    return gettext(
        "This organisation also takes part in a consortium you don't coordinate: its details "
        "change with the agreement of its coordinators, ask a superuser."
    )


def _organisation_details(
    organisation: Organisation, *, user: Any, changes: Any, creating: bool
) -> None:
    if creating:
        # Who recorded it sees it until it becomes a partner (`Organisation.objects.restrict`).
        organisation.created_by_id = getattr(user, "pk", None)
    elif changes and (refusal := organisation_details_refusal(user, organisation)):
        raise ValidationError(refusal, code="organisation_shared")


def _membership_new(membership: Membership, *, user: Any, related: dict[str, Any]) -> Membership:
    granted = membership_grant(
        partner=membership.partner, user=membership.user, role=membership.role, granted_by=user
    )
    if not membership.is_active:
        # Added with its access off: both steps are in the history.
        granted = membership_deactivate(membership=granted, changed_by=user)
    return granted


def _membership_change(stored: Membership, *, user: Any, changes: dict[str, Any]) -> Membership:
    """A membership's role and access change through the team's own services, which keep the
    partner's last contact; who and which partner it is never change."""
    moved = [name for name in ("user", "partner") if name in changes]
    if moved:
        raise ValidationError(
            {
                name: gettext(
                    "A membership keeps its person and its partner: switch this one off and add "
                    "another."
                )
                for name in moved
            },
            code="fixed_field",
        )
    membership = stored
    if changes.get("is_active") is True:
        membership = membership_reactivate(membership=membership, changed_by=user)
    if "role" in changes:
        membership = membership_role_set(
            membership=membership, role=changes["role"], changed_by=user
        )
    if changes.get("is_active") is False:
        membership = membership_deactivate(membership=membership, changed_by=user)
    if not changes:
        authorize(user, stored, "manage")
    return membership


def _role_new(role: ConsortiumRole, *, user: Any, related: dict[str, Any]) -> ConsortiumRole:
    granted = consortium_role_grant(
        consortium=role.consortium, user=role.user, kind=role.kind, granted_by=user
    )
    if not role.is_active:
        granted = consortium_role_end(role=granted, ended_by=user)
    return granted


def _role_change(stored: ConsortiumRole, *, user: Any, changes: dict[str, Any]) -> ConsortiumRole:
    moved = [name for name in ("user", "consortium") if name in changes]
    if moved:
        raise ValidationError(
            {
                name: gettext(
                    "A role keeps its person and its consortium: end this one and grant another."
                )
                for name in moved
            },
            code="fixed_field",
        )
    active = changes.get("is_active", stored.is_active)
    if "kind" in changes and not active:
        raise ValidationError(
            {"kind": gettext("An ended role doesn't change: give it back, with its new kind.")},
            code="role_ended",
        )
    role = stored
    if "kind" in changes or changes.get("is_active") is True:
        role = consortium_role_grant(
            consortium=stored.consortium,
            user=stored.user,
            kind=changes.get("kind", stored.kind),
            granted_by=user,
        )
    if changes.get("is_active") is False:
        role = consortium_role_end(role=stored, ended_by=user)
    if not changes:
        authorize(user, stored, "manage")
    return role


write_rule_register(
    Consortium,
    WriteRule(
        checks=(_periods_follow_the_dates,),
        after=(_periods_regenerate,),
        create=_consortium_new,
    ),
)
write_rule_register(Organisation, WriteRule(checks=(_organisation_details,)))
write_rule_register(
    Partner,
    WriteRule(
        fixed=keeps(
            ("consortium", "organisation"),
            gettext_noop(
                "A partner keeps its consortium and its organisation: withdraw it and add another."
            ),
        )
    ),
)
write_rule_register(
    CostCategory,
    WriteRule(
        fixed=keeps(("consortium",), gettext_noop("A cost heading stays in its consortium."))
    ),
)
write_rule_register(Membership, WriteRule(create=_membership_new, update=_membership_change))
write_rule_register(
    Profile, WriteRule(fixed=keeps(("user",), gettext_noop("A profile stays its person's.")))
)
write_rule_register(ConsortiumRole, WriteRule(create=_role_new, update=_role_change))
