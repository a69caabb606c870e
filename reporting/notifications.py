"""The daily digest of workflow notifications: each person told, once a day, of what happened to
their work (a deliverable sent back, an expense rejected or accepted for less, a statement
reopened) or, for coordinators, of what partners sent them (a deliverable's new version, a
statement). The services record the events (`consortium/notifications.py`); the digest is planned
once per person and day and sent at most once, in the reader's language, leaving out the kinds
they switched off (read when it is planned and again when it is sent).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from consortium.choices import ConsortiumRoleKind, PartnerStatus
from consortium.models import (
    COORDINATOR_KINDS,
    ConsortiumRole,
    Membership,
    Notification,
    NotificationDigest,
    NotificationState,
    language_of,
)
from consortium.notifications import notifications_off_of
from reporting import emails
from reporting.outbox import deliver_once

# Events still waiting after this many days (the daily task did not run, say) are not sent late.
MAX_AGE_DAYS = 7


def _day_end(day: datetime.date) -> datetime.datetime:
    """The first moment of the day after `day`, in the site's time zone."""
    midnight = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
    return timezone.make_aware(midnight)


def _item(event: Notification) -> dict[str, Any]:
    """What the digest lists of one event, kept on the digest so that a retry sends the same."""
    actor = event.actor
    return {
        **event.data,
        "id": event.pk,
        "kind": event.kind,
        "consortium": event.consortium.acronym,
        "partner": str(event.partner) if event.partner is not None else "",
        "partner_id": event.partner_id,
        "actor": (actor.get_full_name() or actor.get_username()) if actor is not None else "",
        "at": event.created_at.isoformat(),
    }


@transaction.atomic
def notifications_plan(*, day: datetime.date | None = None) -> list[NotificationDigest]:
    """Plan the day's digests: one per person with notifications waiting, an active account, an
    address and at least one kind of theirs not switched off. Each lists the events recorded since
    their previous digest (those after it is planned wait for the next day's); events of a kind
    the person switched off, or of a person who cannot receive them, are set aside for good.
    Planning again the same day adds nobody twice, and the events of a person already served that
    day wait for the next."""
    day = day or timezone.localdate()
    end = _day_end(day)
    too_old = end - datetime.timedelta(days=MAX_AGE_DAYS + 1)
    # Locked: two plannings at once list each event once (the second sees them listed).
    waiting = list(
        Notification.objects.select_for_update(of=("self",))
        .filter(state=NotificationState.PENDING, created_at__lt=end)
        .select_related("user__profile", "consortium", "partner__organisation", "actor")
        .order_by("user_id", "created_at", "pk")
    )
    served = set(
        NotificationDigest.objects.filter(day=day).values_list("user_id", flat=True).distinct()
    )
    by_user: dict[int, list[Notification]] = defaultdict(list)
    skipped: list[Notification] = []
    reaches = _still_concerned(waiting)
    for event in waiting:
        if event.created_at < too_old or not reaches(event):
            skipped.append(event)
        elif event.user_id not in served:
            by_user[event.user_id].append(event)
    digests: list[NotificationDigest] = []
    listed: dict[int, list[Notification]] = {}
    for user_id, events in by_user.items():
        user = events[0].user
        profile = getattr(user, "profile", None)
        off = set(profile.notifications_off or []) if profile is not None else set()
        wanted = [event for event in events if event.kind not in off]
        skipped.extend(event for event in events if event.kind in off)
        if not wanted:
            continue
        if not user.is_active or not user.email:
            skipped.extend(wanted)
            continue
        digests.append(
            NotificationDigest(
                user_id=user_id,
                day=day,
                email=user.email,
                language=language_of(user),
                items=[_item(event) for event in wanted],
            )
        )
        listed[user_id] = wanted
    created = NotificationDigest.objects.bulk_create(digests)
    now = timezone.now()
    changed: list[Notification] = []
    for digest in created:
        for event in listed[digest.user_id]:
            event.state, event.digest, event.updated_at = NotificationState.LISTED, digest, now
            changed.append(event)
    for event in skipped:
        event.state, event.updated_at = NotificationState.SKIPPED, now
        changed.append(event)
    Notification.objects.bulk_update(changed, ["state", "digest", "updated_at"])
    return created


def _still_concerned(events: list[Notification]) -> Any:
    """Whether each event's reader still has the access that made them its reader: a partner's
    event, an active membership of that (active) partner; a coordinators' event, an active
    coordinator's role in its consortium. Someone who left since reads none of it. Two queries."""
    users = {event.user_id for event in events}
    members = set(
        Membership.objects.filter(
            user_id__in=users, is_active=True, partner__status=PartnerStatus.ACTIVE
        ).values_list("user_id", "partner_id")
    )
    coordinators = set(
        ConsortiumRole.objects.filter(
            user_id__in=users, kind=ConsortiumRoleKind.COORDINATOR, is_active=True
        ).values_list("user_id", "consortium_id")
    )

    def reaches(event: Notification) -> bool:
        if event.kind in COORDINATOR_KINDS:
            return (event.user_id, event.consortium_id) in coordinators
        return (event.user_id, event.partner_id) in members

    return reaches


def _wanted_items(digest: NotificationDigest) -> list[dict[str, Any]]:
    """The digest's items whose kinds its reader still receives."""
    off = notifications_off_of(digest.user)
    return [item for item in digest.items if item.get("kind") not in off]


def _still_wanted(digest: NotificationDigest) -> bool:
    """Whether the reader still wants the digest: they may have left, or switched off every kind
    it lists, since it was planned."""
    user = get_user_model().objects.get(pk=digest.user_id)
    return bool(user.is_active and _wanted_items(digest))


def notification_send(*, digest_id: int, final: bool = True) -> bool:
    """Email one planned digest, at most once, without the kinds its reader switched off since."""
    return deliver_once(
        cast(Any, NotificationDigest),
        digest_id,
        lambda digest: emails.notification_message(digest, items=_wanted_items(digest)),
        final=final,
        wanted=_still_wanted,
    )
