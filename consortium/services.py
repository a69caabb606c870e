"""Writes on the consortium: every one is a keyword-only function named `<entity>_<action>`."""

from __future__ import annotations

import datetime
import itertools
import re
import secrets
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext, gettext_noop

from . import choices, dates
from .emails import absolute, email_later
from .models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    Membership,
    Partner,
    Profile,
    ReportingPeriod,
    language_of,
)
from .querysets import coordinated_consortia, may_manage_team

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


def save_with_history(instance: Any, *, user: Any, update_fields: list[str] | None = None) -> None:
    """Validate and save, recording `user` as the author of the history row.

    A transition that saves only `update_fields` validates those fields; the service has checked
    the state and the database's constraints still hold the invariants, which spares one query
    per relation and per constraint on every decision.
    """
    if update_fields is None:
        instance.full_clean()
    else:
        instance.clean_fields(
            exclude=[f.name for f in instance._meta.concrete_fields if f.name not in update_fields]
        )
    instance._history_user = user
    if update_fields is None:
        instance.save()
    else:
        instance.save(update_fields=[*update_fields, "updated_at"])


def check_state(instance: Any, allowed: Collection[str], message: str) -> None:
    """Refuse a transition from a state that doesn't allow it.

    `message` is the whole translated sentence, with `%(object)s` and `%(status)s` (the current
    state), so that each language can phrase each action its own way.
    """
    if instance.status not in allowed:
        raise ValidationError(
            message % {"object": instance, "status": instance.get_status_display().lower()},
            code="invalid_state",
        )


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
def reporting_periods_generate(*, consortium: Consortium) -> list[ReportingPeriod]:
    """Create or realign the periods from the consortium's dates; idempotent.

    Periods that already hold expenses or effort never move: the change is refused instead.
    """
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
def consortium_create(*, user: Any, **fields: Any) -> Consortium:
    """Create a consortium with its reporting periods and the Walloon cost headings."""
    consortium = Consortium(**fields)
    save_with_history(consortium, user=user)
    reporting_periods_generate(consortium=consortium)
    cost_categories_seed(consortium=consortium)
    return consortium


@transaction.atomic
def consortium_role_grant(
    *, consortium: Consortium, user: Any, kind: str, granted_by: Any
) -> ConsortiumRole:
    """Give `user` a consortium-wide role; coordinators get into the admin, observers never do."""
    role = ConsortiumRole.objects.filter(
        consortium=consortium, user=user
    ).first() or ConsortiumRole(consortium=consortium, user=user)
    role.kind = kind
    role.is_active = True
    save_with_history(role, user=granted_by)
    user_staff_sync(user=user)
    return role


@transaction.atomic
def membership_grant(*, partner: Any, user: Any, role: str, granted_by: Any) -> Membership:
    """Attach `user` to `partner` with `role`; a user works for one partner per consortium."""
    membership = Membership.objects.filter(partner=partner, user=user).first() or Membership(
        partner=partner, user=user
    )
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
    """Queue the invitation: a link to choose a password, or to sign in for people who have one."""
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
) -> Membership:
    """Add a person to the partner's team by email, creating their account if they have none,
    and email them an invitation in their language (a new person's: the inviter's)."""
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
    if partner.status != choices.PartnerStatus.ACTIVE:
        raise ValidationError(
            gettext("%(partner)s has left the consortium: its team no longer changes.")
            % {"partner": partner},
            code="partner_withdrawn",
        )
    users = get_user_model()._default_manager
    matches = list(users.filter(email__iexact=email).select_related("profile").order_by("pk")[:2])
    if len(matches) > 1:
        raise ValidationError(
            {
                "email": gettext(
                    "Several accounts use this email address: ask the consortium's "
                    "coordinators to add this person."
                )
            },
            code="email_shared",
        )
    if matches:
        user = matches[0]
        language = language_of(user)
        if not user.is_active:
            raise ValidationError(
                {
                    "email": gettext(
                        "This person's account is switched off: ask the consortium's coordinators."
                    )
                },
                code="user_inactive",
            )
        memberships = list(
            Membership.objects.select_for_update(of=("self",)).filter(
                user=user, partner__consortium_id=partner.consortium_id
            )
        )
        membership = next((m for m in memberships if m.partner_id == partner.pk), None)
        if membership is not None and membership.is_active:
            raise ValidationError(
                {"email": gettext("%(email)s is already in the team.") % {"email": email}},
                code="already_member",
            )
        if any(m.is_active and m.partner_id != partner.pk for m in memberships):
            raise ValidationError(
                {
                    "email": gettext(
                        "%(email)s already works for another partner of this consortium, and a "
                        "person works for one partner per consortium: ask the consortium's "
                        "coordinators."
                    )
                    % {"email": email}
                },
                code="membership_other_partner",
            )
        membership = membership or Membership(partner=partner, user=user)
    else:
        language = _current_language()
        user = users.model(
            username=_new_username(email),
            email=email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            is_active=True,
            is_staff=False,
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
        # New people read the app, and the next emails, in the language they were invited in.
        save_with_history(Profile(user=user, language=language), user=invited_by)
        membership = Membership(partner=partner, user=user)
    membership.partner = partner
    membership.role = role
    membership.is_active = True
    save_with_history(membership, user=invited_by)
    _invitation_send(membership=membership, invited_by=invited_by, language=language)
    return membership


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
    elsewhere = (
        Membership.objects.filter(
            user_id=membership.user_id,
            partner__consortium_id=membership.partner.consortium_id,
            is_active=True,
        )
        .exclude(pk=membership.pk)
        .exists()
    )
    if elsewhere:
        raise ValidationError(
            gettext(
                "%(person)s now works for another partner of this consortium, and a person "
                "works for one partner per consortium: ask the consortium's coordinators."
            )
            % {"person": _person_name(membership.user)},
            code="membership_other_partner",
        )
    membership.is_active = True
    save_with_history(membership, user=changed_by, update_fields=["is_active"])
    return membership
