"""Deadline reminders: each partner user's daily digest of the deliverables due in 30, 7 or 1 days
or overdue, planned once per day and sent at most once, and the person's choice to receive none.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from consortium.choices import PartnerStatus
from consortium.models import Membership, Profile, language_of
from consortium.records import save_with_history
from reporting import emails
from reporting.models import ReminderDigest
from reporting.outbox import deliver_once
from workpackages.workplan.models import Deliverable, open_deliverable, overdue_deliverable

# Days before a deliverable's due date on which its partner's people are reminded of it.
REMINDER_DAYS = (30, 7, 1)


def reminders_plan(*, day: datetime.date | None = None) -> list[ReminderDigest]:
    """Plan today's digests: one per partner user who has deliverables of their partner due in
    30, 7 or 1 days or overdue, has an address and hasn't opted out. Planning again the same day
    adds nobody twice. Five queries whatever the number of partners, people or deliverables."""
    day = day or timezone.localdate()
    reminded = [day + datetime.timedelta(days=n) for n in REMINDER_DAYS]
    deliverables = (
        Deliverable.objects.filter(
            (open_deliverable() & Q(due_date__in=reminded)) | overdue_deliverable(day),
            consortium__end_date__gte=day - datetime.timedelta(days=365),
        )
        .select_related("consortium", "workpackage")
        .order_by("due_date", "pk")
    )
    by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for deliverable in deliverables:
        by_partner[deliverable.lead_partner_id].append(
            {
                "id": deliverable.pk,
                "code": deliverable.code,
                "title": deliverable.title,
                "consortium": deliverable.consortium.acronym,
                "due_date": deliverable.due_date.isoformat(),
                "days": (deliverable.due_date - day).days,
            }
        )
    memberships = (
        Membership.objects.filter(
            is_active=True,
            partner_id__in=list(by_partner),
            partner__status=PartnerStatus.ACTIVE,
            user__is_active=True,
        )
        .exclude(user__email="")
        .exclude(user__profile__deadline_reminders=False)
        .select_related("user__profile")
        .order_by("user_id", "partner_id")
    )
    items: dict[int, list[dict[str, Any]]] = defaultdict(list)
    people: dict[int, Any] = {}
    for membership in memberships:
        people[membership.user_id] = membership.user
        items[membership.user_id].extend(by_partner[membership.partner_id])
    planned = set(
        ReminderDigest.objects.filter(day=day, user_id__in=list(people)).values_list(
            "user_id", flat=True
        )
    )
    digests = [
        ReminderDigest(
            user_id=user_id,
            day=day,
            email=people[user_id].email,
            language=language_of(people[user_id]),
            items=items[user_id],
        )
        for user_id in people
        if user_id not in planned
    ]
    ReminderDigest.objects.bulk_create(digests, ignore_conflicts=True)
    # Rows created with ignore_conflicts come back without their ids: read them again, and
    # record their creation in the history as a save() would.
    created = list(
        ReminderDigest.objects.filter(
            day=day, user_id__in=[digest.user_id for digest in digests]
        ).order_by("pk")
    )
    if created:
        ReminderDigest.history.bulk_history_create(created)
    return created


def _still_reminded(digest: ReminderDigest) -> bool:
    """Whether the person still wants the digest: they may have opted out or left since 08:00."""
    user = get_user_model().objects.select_related("profile").get(pk=digest.user_id)
    profile = getattr(user, "profile", None)
    return user.is_active and (profile is None or profile.deadline_reminders)


def reminder_send(*, digest_id: int, final: bool = True) -> bool:
    """Email one planned digest, at most once, unless its reader opted out in the meantime."""
    return deliver_once(
        ReminderDigest, digest_id, emails.reminder_message, final=final, wanted=_still_reminded
    )


@transaction.atomic
def reminders_opt_out(*, user: Any) -> None:
    """Stop the daily digest for `user` (from the link in every digest)."""
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    if profile.deadline_reminders:
        profile.deadline_reminders = False
        save_with_history(profile, user=user)
