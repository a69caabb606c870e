"""Writes on the consortium: every one is a keyword-only function named `<entity>_<action>`."""

from __future__ import annotations

import datetime
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import choices, dates
from .models import Consortium, ConsortiumRole, CostCategory, Membership, ReportingPeriod

# The Walloon guide's eligible cost headings; flat rates vary by agreement and stay editable.
WALLOON_COST_HEADINGS: list[dict[str, Any]] = [
    {"code": "personnel", "name": "Personnel", "position": 10},
    {"code": "operating", "name": "Operating costs", "position": 20},
    {"code": "equipment", "name": "Equipment / depreciation", "position": 30},
    {"code": "subcontracting", "name": "Subcontracting", "position": 40},
    {
        "code": "overheads",
        "name": "Overheads",
        "position": 50,
        "kind": choices.CostCategoryKind.FLAT_RATE,
        "flat_rate": Decimal("17.00"),
        "flat_rate_base": "personnel",
    },
]


def save_with_history(instance: Any, *, user: Any, update_fields: list[str] | None = None) -> None:
    """Validate and save, recording `user` as the author of the history row."""
    instance.full_clean()
    instance._history_user = user
    if update_fields is None:
        instance.save()
    else:
        instance.save(update_fields=[*update_fields, "updated_at"])


def check_state(instance: Any, allowed: Collection[str], action: str) -> None:
    """Refuse a transition from a state that doesn't allow it, naming the current state."""
    if instance.status not in allowed:
        raise ValidationError(
            _("Cannot %(action)s %(object)s: it is %(status)s.")
            % {
                "action": action,
                "object": instance,
                "status": instance.get_status_display().lower(),
            },
            code="invalid_state",
        )


@transaction.atomic
def reporting_periods_generate(*, consortium: Consortium) -> list[ReportingPeriod]:
    """Cut the consortium's duration into periods of its reporting length; idempotent.

    Existing periods keep their number; their dates are realigned if the consortium's dates moved.
    """
    periods = []
    number = 1
    start = consortium.start_date
    while start <= consortium.end_date:
        end = min(
            dates.add_months(start, consortium.reporting_period_months)
            - datetime.timedelta(days=1),
            consortium.end_date,
        )
        period, _created = ReportingPeriod.objects.update_or_create(
            consortium=consortium,
            number=number,
            defaults={
                "start_date": start,
                "end_date": end,
                "statement_due_date": end + datetime.timedelta(days=consortium.statement_due_days),
            },
        )
        periods.append(period)
        number += 1
        start = end + datetime.timedelta(days=1)
    ReportingPeriod.objects.filter(consortium=consortium, number__gte=number).exclude(
        expenses__isnull=False
    ).exclude(efforts__isnull=False).delete()
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
    user_staff_sync(user=user)
    return membership


def user_staff_sync(*, user: Any) -> None:
    """Only coordinators (and superusers) are staff: partner users and observers never reach the admin."""
    is_staff = (
        user.is_superuser
        or ConsortiumRole.objects.filter(
            user=user, kind=choices.ConsortiumRoleKind.COORDINATOR, is_active=True
        ).exists()
    )
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
