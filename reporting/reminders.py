"""Deadline reminders: each partner user's daily digest of their partner's deadlines due in 30, 7
or 1 days or overdue, planned once per day and sent at most once, and the person's choice to
receive none. The deadlines are of three kinds:

- the deliverables the partner leads, until submitted or approved;
- the milestones the partner leads, while pending;
- the partner's expense statement of each reporting period, due on the period's
  `statement_due_date`, until the partner has submitted it (a statement the coordinators reopened
  is not submitted). A statement is owed by a partner with an active budget line in the
  consortium, that had joined it by the end of the period: a partner without a budget line has
  no cost to declare.

Each item of a digest names its `kind` ("milestone", "statement"); an item without one is a
deliverable, as in the digests planned before milestones and statements were reminded.
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
from consortium.models import Membership, Partner, Profile, ReportingPeriod, language_of
from consortium.records import save_with_history
from reporting import emails
from reporting.models import ReminderDigest
from reporting.outbox import deliver_once
from workpackages.money.models import Statement
from workpackages.money.selectors import owes_statements
from workpackages.workplan.choices import MilestoneStatus
from workpackages.workplan.models import (
    Deliverable,
    Milestone,
    open_deliverable,
    overdue_deliverable,
)

# Days before a deadline on which its partner's people are reminded of it; once it has passed,
# they are reminded every day until it is met.
REMINDER_DAYS = (30, 7, 1)
# A consortium that ended more than this long ago reminds nobody any more.
AFTER_THE_END = datetime.timedelta(days=365)


def _item(
    *,
    kind: str | None,
    pk: int,
    code: str,
    title: str,
    consortium: str,
    due: datetime.date,
    day: datetime.date,
    **extra: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {} if kind is None else {"kind": kind}
    item.update(
        {
            "id": pk,
            "code": code,
            "title": title,
            "consortium": consortium,
            "due_date": due.isoformat(),
            "days": (due - day).days,
            **extra,
        }
    )
    return item


def _due(field: str, day: datetime.date, reminded: list[datetime.date]) -> Q:
    """Due on one of the reminder days, or overdue."""
    return Q(**{f"{field}__in": reminded}) | Q(**{f"{field}__lt": day})


def _milestones_due(
    day: datetime.date, reminded: list[datetime.date]
) -> dict[int, list[dict[str, Any]]]:
    """The pending milestones due on a reminder day or overdue, by lead partner: one query."""
    by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    milestones = (
        Milestone.objects.filter(
            _due("due_date", day, reminded),
            status=MilestoneStatus.PENDING,
            consortium__end_date__gte=day - AFTER_THE_END,
        )
        .select_related("consortium")
        .order_by("due_date", "pk")
    )
    for milestone in milestones:
        by_partner[milestone.lead_partner_id].append(
            _item(
                kind="milestone",
                pk=milestone.pk,
                code=milestone.code,
                title=milestone.title,
                consortium=milestone.consortium.acronym,
                due=milestone.due_date,
                day=day,
            )
        )
    return by_partner


def _statements_due(
    day: datetime.date, reminded: list[datetime.date]
) -> dict[int, list[dict[str, Any]]]:
    """The expense statements due on a reminder day or overdue that their partners owe and have
    not submitted, by partner: three queries (the periods, the partners owing statements, the
    statements submitted)."""
    periods = list(
        ReportingPeriod.objects.filter(
            _due("statement_due_date", day, reminded),
            consortium__end_date__gte=day - AFTER_THE_END,
        )
        .select_related("consortium")
        .order_by("statement_due_date", "consortium_id", "number")
    )
    consortia = {period.consortium_id for period in periods}
    partners = list(
        Partner.objects.filter(consortium_id__in=consortia, status=PartnerStatus.ACTIVE)
        .filter(owes_statements())
        .order_by("consortium_id", "number")
        .values_list("pk", "consortium_id", "joined_on")
    )
    submitted = set(
        Statement.objects.filter(period__in=[period.pk for period in periods])
        .submitted()
        .values_list("partner_id", "period_id")
    )
    by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for period in periods:
        for partner_id, consortium_id, joined_on in partners:
            if consortium_id != period.consortium_id or joined_on > period.end_date:
                continue
            if (partner_id, period.pk) in submitted:
                continue
            by_partner[partner_id].append(
                _item(
                    kind="statement",
                    pk=period.pk,
                    code=f"P{period.number}",
                    title="",
                    consortium=period.consortium.acronym,
                    due=period.statement_due_date,
                    day=day,
                    start=period.start_date.isoformat(),
                    end=period.end_date.isoformat(),
                )
            )
    return by_partner


def reminders_plan(*, day: datetime.date | None = None) -> list[ReminderDigest]:
    """Plan today's digests: one per partner user whose partner has deliverables, milestones or
    expense statements due in 30, 7 or 1 days or overdue, who has an address and hasn't opted
    out. Planning again the same day adds nobody twice. Nine queries whatever the number of
    partners, people, deliverables, milestones or periods."""
    day = day or timezone.localdate()
    reminded = [day + datetime.timedelta(days=n) for n in REMINDER_DAYS]
    deliverables = (
        Deliverable.objects.filter(
            (open_deliverable() & Q(due_date__in=reminded)) | overdue_deliverable(day),
            consortium__end_date__gte=day - AFTER_THE_END,
        )
        .select_related("consortium", "workpackage")
        .order_by("due_date", "pk")
    )
    by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for deliverable in deliverables:
        by_partner[deliverable.lead_partner_id].append(
            _item(
                kind=None,
                pk=deliverable.pk,
                code=deliverable.code,
                title=deliverable.title,
                consortium=deliverable.consortium.acronym,
                due=deliverable.due_date,
                day=day,
            )
        )
    for others in (_milestones_due(day, reminded), _statements_due(day, reminded)):
        for partner_id, found in others.items():
            by_partner[partner_id].extend(found)
    for deadlines in by_partner.values():
        # Each partner's deadlines by date; a deliverable first on the same day.
        deadlines.sort(key=lambda item: item["due_date"])
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
