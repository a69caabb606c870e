"""Writes on the consortium itself: its reporting periods and cost headings, its coordinators
and observers, a person's place in a partner's team, a person's profile; and how every door writes
the consortium's own rows (their `WriteRule`). Every write is a keyword-only function named
`<entity>_<action>`. The partner's team, its invitations and a person's address and API token
have their own modules: `team.py`, `invitations.py`, `accounts.py`.
"""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext
from simple_history.utils import bulk_create_with_history

from consortium import choices, dates
from consortium.models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    IntegrationToken,
    Membership,
    Organisation,
    Partner,
    Profile,
    ReportingPeriod,
    password_fingerprint,
)
from consortium.models.people import INTEGRATION_TOKEN_PREFIX_LENGTH
from consortium.querysets import (
    authorize,
    coordinated_consortia,
    may_edit_organisation,
)
from consortium.records import (
    WriteRule,
    keeps,
    save_with_history,
    with_changes,
    write_rule_register,
)
from consortium.teams import (
    keep_a_contact,
    membership_deactivate,
    membership_reactivate,
    membership_role_set,
    person_name,
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
    stored = {
        period.number: period
        for period in ReportingPeriod.objects.select_for_update()
        .filter(consortium=consortium)
        .order_by()
    }
    periods, new = [], []
    for number, start, end, due in reporting_periods_plan(consortium):
        period = stored.pop(number, None)
        if period is None:
            period = ReportingPeriod(consortium=consortium, number=number)
            new.append(period)
        elif (period.start_date, period.end_date, period.statement_due_date) == (start, end, due):
            periods.append(period)
            continue
        period.start_date, period.end_date, period.statement_due_date = start, end, due
        if period.pk is not None:
            if user is not None:
                period._history_user = user
            period.save(
                update_fields=["start_date", "end_date", "statement_due_date", "updated_at"]
            )
        periods.append(period)
    # New periods in one insert, with their history rows in another.
    if new:
        bulk_create_with_history(new, ReportingPeriod, default_user=user)
    if stored:
        ReportingPeriod.objects.filter(pk__in=[period.pk for period in stored.values()]).delete()
    return periods


@transaction.atomic
def cost_categories_seed(*, consortium: Consortium) -> list[CostCategory]:
    """Create the Walloon cost headings a consortium does not have yet; idempotent."""
    stored = {category.code: category for category in consortium.cost_categories.all()}
    missing = [heading for heading in WALLOON_COST_HEADINGS if heading["code"] not in stored]
    # Headings without a base first, so that a flat rate's base has its id when it is written;
    # each batch in one insert, with its history rows in another.
    for with_base in (False, True):
        batch = []
        for heading in missing:
            values = dict(heading)
            base_code = values.pop("flat_rate_base", None)
            if bool(base_code) != with_base:
                continue
            if base_code:
                values["flat_rate_base"] = stored[base_code]
            batch.append(CostCategory(consortium=consortium, **values))
        if batch:
            for category in bulk_create_with_history(batch, CostCategory):
                stored[category.code] = category
    return [stored[heading["code"]] for heading in WALLOON_COST_HEADINGS]


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
    ) % {"person": person_name(role.user), "consortium": role.consortium}


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
        refusal = keep_a_contact(membership, acting=granted_by)
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


# Integration tokens ---------------------------------------------------------------------------

# The lifetimes a person picks from, in days; those over INTEGRATION_TOKEN_MAX_DAYS are not offered.
INTEGRATION_TOKEN_LIFETIMES = (30, 90, 180, 365)


def integration_token_lifetimes() -> list[int]:
    """The lifetimes offered, in days: a token of an integration nobody looks after any more
    stops by itself within INTEGRATION_TOKEN_MAX_DAYS (365 unless the site sets fewer)."""
    longest = settings.INTEGRATION_TOKEN_MAX_DAYS
    return [days for days in INTEGRATION_TOKEN_LIFETIMES if days <= longest] or [longest]


def integration_tokens_allowed() -> int:
    """How many live tokens a person may hold at once (INTEGRATION_TOKENS_PER_PERSON, 20)."""
    return int(settings.INTEGRATION_TOKENS_PER_PERSON)


@transaction.atomic
def integration_token_issue(
    *, user: Any, name: str, expires_in_days: int, read_only: bool
) -> tuple[IntegrationToken, str]:
    """A new token for one of the person's integrations, and its secret, which is shown this
    once: only its digest is kept. Its name tells the person's tokens apart, so a live one of the
    same name is refused; one that has expired or was ended by a password change gives its name
    up (it is recorded as revoked). Bound to the person's current password."""
    # The person's row, locked: two requests at once cannot both take a name or the last place.
    locked = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        raise PermissionDenied(gettext("This account is inactive."))
    name = " ".join(str(name or "").split())
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = gettext("Give the token a name: what it is for, such as “ERP sync”.")
    elif len(name) > IntegrationToken._meta.get_field("name").max_length:  # type: ignore[operator]
        errors["name"] = gettext("A token's name has at most 100 characters.")
    lifetimes = integration_token_lifetimes()
    if expires_in_days not in lifetimes:
        errors["expires_in_days"] = gettext(
            "Choose how long the token lasts among the durations offered: %(days)s days."
        ) % {"days": ", ".join(str(days) for days in lifetimes)}
    if errors:
        raise ValidationError(errors, code="invalid")
    now = timezone.now()
    live = IntegrationToken.objects.select_related("user").live().filter(user_id=locked.pk)
    same_name = live.filter(name__iexact=name).first()
    if same_name is not None:
        if same_name.matches_password(locked) and not same_name.is_expired:
            raise ValidationError(
                {
                    "name": gettext(
                        "You already have a token named “%(name)s”: revoke it first, or choose "
                        "another name."
                    )
                    % {"name": same_name.name}
                },
                code="name_taken",
            )
        _integration_token_end(same_name, by=locked, at=now)
    allowed = integration_tokens_allowed()
    working = [
        token
        for token in live.filter(expires_at__gt=now)
        if not token.is_revoked and token.matches_password(locked)
    ]
    if len(working) >= allowed:
        raise ValidationError(
            ngettext(
                "You hold %(count)s token already, the most a person may: revoke one you no "
                "longer use first.",
                "You hold %(count)s tokens already, the most a person may: revoke one you no "
                "longer use first.",
                allowed,
            )
            % {"count": allowed},
            code="too_many",
        )
    secret = IntegrationToken.new_secret()
    token = IntegrationToken(
        user=locked,
        name=name,
        prefix=secret[:INTEGRATION_TOKEN_PREFIX_LENGTH],
        secret_digest=IntegrationToken.digest(secret),
        read_only=bool(read_only),
        created_at=now,
        expires_at=now + datetime.timedelta(days=expires_in_days),
        password_fingerprint=password_fingerprint(locked),
    )
    token.full_clean()
    token._history_user = locked  # type: ignore[attr-defined]
    token.save()
    return token, secret


@transaction.atomic
def integration_token_revoke(*, token: IntegrationToken, by: Any) -> IntegrationToken:
    """Revoke one of the person's tokens: requests sending it are refused from now on, and their
    other tokens go on working. Only its owner revokes it."""
    if by is None or token.user_id != by.pk:
        raise PermissionDenied(gettext("Only the person who created a token revokes it."))
    locked = IntegrationToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if locked.is_revoked:
        raise ValidationError(
            gettext("The token “%(name)s” is already revoked.") % {"name": locked.name},
            code="already_revoked",
        )
    _integration_token_end(locked, by=by, at=timezone.now())
    return locked


@transaction.atomic
def integration_tokens_end(*, user: Any, by: Any) -> int:
    """End every token of `user` not yet revoked nor expired, each in the history (a second
    factor reset after a lost phone: whoever holds the phone holds no token either); the others
    keep the state they ended in. How many were ended."""
    now = timezone.now()
    working = IntegrationToken.objects.select_for_update().filter(
        user_id=user.pk, revoked_at__isnull=True, expires_at__gt=now
    )
    ended = 0
    for token in working:
        _integration_token_end(token, by=by, at=now)
        ended += 1
    return ended


def _integration_token_end(token: IntegrationToken, *, by: Any, at: Any) -> None:
    token.revoked_at = at
    token.revoked_by = by
    token._history_user = by  # type: ignore[attr-defined]
    token.save(update_fields=["revoked_at", "revoked_by"])
