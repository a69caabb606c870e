"""Workflow notifications: the events the services of `workpackages/` record for the people
concerned, and each person's choice of the kinds they receive.

A service calls one `notify_*` function inside its own transaction, after its write: one row per
recipient, the people concerned at that moment (a partner's active team for what happens to the
partner's work, the consortium's active coordinators for what partners send them), never the
person who acted. A refusal or a rollback records nothing. The reporting app lists the rows in
each person's daily digest (`reporting/notifications.py`), leaving out the kinds they switched off
by then.

The functions take the rows of `workpackages/` as they are (this app does not import it) and keep
what the digest says of them in no language: codes, titles, amounts, dates, the comment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from consortium.choices import ConsortiumRoleKind
from consortium.models import (
    COORDINATOR_KINDS,
    PARTNER_KINDS,
    ConsortiumRole,
    Membership,
    Notification,
    NotificationKind,
    Profile,
)
from consortium.records import save_with_history

OPT_OUT_SALT = "consortium.notifications-opt-out"


# Who is told ------------------------------------------------------------------------------------


def partner_team(partner_id: int) -> list[int]:
    """The ids of the partner's active people (active accounts, active memberships)."""
    return list(
        Membership.objects.filter(partner_id=partner_id, is_active=True, user__is_active=True)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


def coordinators(consortium_id: int) -> list[int]:
    """The ids of the consortium's active coordinators."""
    return list(
        ConsortiumRole.objects.filter(
            consortium_id=consortium_id,
            kind=ConsortiumRoleKind.COORDINATOR,
            is_active=True,
            user__is_active=True,
        )
        .order_by("user_id")
        .values_list("user_id", flat=True)
    )


def notification_record(
    *,
    kind: str,
    recipients: Iterable[int],
    consortium_id: int,
    partner_id: int | None,
    user: Any,
    data: dict[str, Any],
) -> list[Notification]:
    """One pending notification per recipient but the person who acted (`user`, None for the
    application's own work). Written in the caller's transaction, in one insert."""
    actor_id = getattr(user, "pk", None)
    rows = [
        Notification(
            user_id=recipient,
            kind=kind,
            consortium_id=consortium_id,
            partner_id=partner_id,
            actor_id=actor_id,
            data=data,
        )
        for recipient in dict.fromkeys(recipients)
        if recipient != actor_id
    ]
    return Notification.objects.bulk_create(rows)


def _money(value: Any) -> str:
    return f"{value:.2f}"


def _period(period: Any) -> dict[str, Any]:
    return {
        "period": period.pk,
        "period_number": period.number,
        "period_start": period.start_date.isoformat(),
        "period_end": period.end_date.isoformat(),
    }


# What the services record -----------------------------------------------------------------------


def notify_deliverable_submitted(*, submission: Any, user: Any) -> list[Notification]:
    """A new version of a deliverable was sent for review: its consortium's coordinators."""
    deliverable = submission.deliverable
    return notification_record(
        kind=NotificationKind.DELIVERABLE_SUBMITTED,
        recipients=coordinators(deliverable.consortium_id),
        consortium_id=deliverable.consortium_id,
        partner_id=deliverable.lead_partner_id,
        user=user,
        data={
            "deliverable": deliverable.pk,
            "code": deliverable.code,
            "title": deliverable.title,
            "version": submission.version,
        },
    )


def notify_deliverable_changes_requested(*, review: Any, user: Any) -> list[Notification]:
    """A coordinator sent a deliverable back with what to change: its lead partner's team."""
    deliverable = review.deliverable
    submission = review.submission
    return notification_record(
        kind=NotificationKind.CHANGES_REQUESTED,
        recipients=partner_team(deliverable.lead_partner_id),
        consortium_id=deliverable.consortium_id,
        partner_id=deliverable.lead_partner_id,
        user=user,
        data={
            "deliverable": deliverable.pk,
            "code": deliverable.code,
            "title": deliverable.title,
            "version": submission.version if submission is not None else None,
            "comment": review.comment,
        },
    )


def _expense(expense: Any) -> dict[str, Any]:
    return {
        "expense": expense.pk,
        "description": expense.description,
        "incurred_on": expense.incurred_on.isoformat(),
        "amount": _money(expense.amount),
        "comment": expense.review_comment,
    }


def notify_expense_rejected(*, expense: Any, user: Any) -> list[Notification]:
    """A coordinator rejected an expense: its partner's team."""
    return notification_record(
        kind=NotificationKind.EXPENSE_REJECTED,
        recipients=partner_team(expense.partner_id),
        consortium_id=expense.consortium_id,
        partner_id=expense.partner_id,
        user=user,
        data=_expense(expense),
    )


def notify_expense_partly_accepted(*, expense: Any, user: Any) -> list[Notification]:
    """A coordinator accepted an expense for less than declared: its partner's team. An expense
    accepted in full tells nobody."""
    if expense.accepted_amount is None or expense.accepted_amount >= expense.amount:
        return []
    return notification_record(
        kind=NotificationKind.EXPENSE_PARTLY_ACCEPTED,
        recipients=partner_team(expense.partner_id),
        consortium_id=expense.consortium_id,
        partner_id=expense.partner_id,
        user=user,
        data={**_expense(expense), "accepted_amount": _money(expense.accepted_amount)},
    )


def notify_statement_submitted(*, statement: Any, user: Any) -> list[Notification]:
    """A partner submitted its expense statement for a period: the consortium's coordinators."""
    return notification_record(
        kind=NotificationKind.STATEMENT_SUBMITTED,
        recipients=coordinators(statement.consortium_id),
        consortium_id=statement.consortium_id,
        partner_id=statement.partner_id,
        user=user,
        data={
            "statement": statement.pk,
            **_period(statement.period),
            "lines": statement.lines,
            "total": _money(statement.total),
        },
    )


def notify_statement_reopened(*, statement: Any, reason: str, user: Any) -> list[Notification]:
    """A coordinator reopened a partner's expense statement: the partner's team."""
    return notification_record(
        kind=NotificationKind.STATEMENT_REOPENED,
        recipients=partner_team(statement.partner_id),
        consortium_id=statement.consortium_id,
        partner_id=statement.partner_id,
        user=user,
        data={**_period(statement.period), "reason": reason},
    )


# What each person chooses -----------------------------------------------------------------------


def kinds_offered(user: Any) -> list[str]:
    """The kinds a person may be told of: a partner's team's if they work for one, the
    coordinators' if they coordinate a consortium (every kind for a superuser)."""
    if user.is_superuser:
        return list(NotificationKind.values)
    kinds: list[str] = []
    if Membership.objects.filter(user_id=user.pk, is_active=True).exists():
        kinds.extend(PARTNER_KINDS)
    if ConsortiumRole.objects.filter(
        user_id=user.pk, kind=ConsortiumRoleKind.COORDINATOR, is_active=True
    ).exists():
        kinds.extend(COORDINATOR_KINDS)
    return kinds


def notifications_off_of(user: Any) -> set[str]:
    """The kinds the person switched off."""
    value = Profile.objects.filter(user_id=user.pk).values_list("notifications_off", flat=True)
    return set(value.first() or [])


@transaction.atomic
def notification_settings_set(*, user: Any, receive: Iterable[str], offered: Iterable[str]) -> Any:
    """Among the kinds `offered` to the person, receive those in `receive` and switch the others
    off; kinds not offered keep their setting. Recorded in the profile's history, by the person."""
    offered = list(offered)
    receive = set(receive)
    unknown = receive - set(offered)
    if unknown:
        raise ValidationError(
            {"receive": _("Choose among the notifications offered.")}, code="notification_kind"
        )
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    current = list(profile.notifications_off or [])
    kept = [kind for kind in current if kind not in offered]
    off = kept + [
        kind for kind in NotificationKind.values if kind in offered and kind not in receive
    ]
    if sorted(off) != sorted(current):
        profile.notifications_off = sorted(off)
        save_with_history(profile, user=user)
    return profile


@transaction.atomic
def notifications_stop(*, user: Any) -> Any:
    """Switch every kind off (the one-click link of every digest)."""
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    if sorted(profile.notifications_off or []) != sorted(NotificationKind.values):
        profile.notifications_off = sorted(NotificationKind.values)
        save_with_history(profile, user=user)
    return profile


def opt_out_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=OPT_OUT_SALT)


def opt_out_user(token: str) -> Any:
    """The active person a digest's opt-out link was made for, or None."""
    try:
        value = signing.loads(token, salt=OPT_OUT_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(value, int):
        return None
    return get_user_model().objects.filter(pk=value, is_active=True).first()
