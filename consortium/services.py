"""Writes on the consortium: every one is a keyword-only function named `<entity>_<action>`."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext, gettext_noop

from . import choices, dates
from .models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    Membership,
    Profile,
    ReportingPeriod,
)
from .querysets import coordinated_consortia

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
