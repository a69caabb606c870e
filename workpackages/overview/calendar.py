"""A person's calendar feed (iCalendar): the deadlines of the partners they work for.

Calendar programs (Outlook, Google Calendar, Apple Calendar, Thunderbird) subscribe to the feed's
secret address and poll it; they sign in with nothing else, so the address's key is the
credential. The feed holds, for each partner the person works for (active membership of an active
partner): the deliverables and milestones the partner leads, on their due dates, and the due
dates of the consortium's expense statements. Each is an all-day event whose UID stays the same
from one poll to the next, so calendars update events instead of duplicating them. A finished item
says so in its title (an approved deliverable, an achieved or missed milestone, a submitted
statement) instead of reading as due.

A UID is the item's kind and primary key at a fixed domain, `UID_DOMAIN`, never the site's host:
RFC 5545 asks UIDs to be unique the world over, not to resolve, and a host taken from `SITE_URL`
would give every event a new UID, and every subscribed calendar a duplicate of it, the day the
site moves to another address. The default domain sits under `.invalid` (RFC 2606), which
nobody can own; installations that keep it share it, so one whose people also subscribe to
another installation's feed sets its own `CALENDAR_UID_DOMAIN` (one of its domains), once.

The feed's address handed out on the calendar page is on the host the page was served from; an
address written where there is no request (an email) is on `SITE_URL`.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vDuration
from icalendar.enums import TRANSP

from consortium.models import Membership, Profile, ReportingPeriod, language_of
from consortium.portal import memberships_of
from workpackages.money.models import Statement
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus
from workpackages.workplan.models import Deliverable, Milestone

# What `calendar_feed_renew` hands out: URL-safe base64, within the column's 64 characters.
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
PRODID = "-//Consortium Manager//Partner deadlines//EN"
# Calendar programs that honour it poll twice a day; the deadlines don't move faster than that.
REFRESH = datetime.timedelta(hours=12)
# The domain part of every UID unless `CALENDAR_UID_DOMAIN` names another (see above).
UID_DOMAIN = "consortium-manager.invalid"


@dataclass(frozen=True)
class FeedItem:
    """One deadline of the feed: an all-day event on `day`."""

    uid: str
    day: datetime.date
    summary: str
    description: str
    url: str
    kind: str  # deliverable, milestone or statement


def site_url(path: str) -> str:
    """An absolute address on the site, for calendars and emails read away from it."""
    return settings.SITE_URL.rstrip("/") + path


def uid_domain() -> str:
    """The domain that makes UIDs unique the world over (RFC 5545), whatever the site's host."""
    return str(getattr(settings, "CALENDAR_UID_DOMAIN", "") or UID_DOMAIN)


def feed_url(token: str, request: HttpRequest | None = None) -> str:
    """The feed's address: on the host `request` was served from, else on `SITE_URL`."""
    path = reverse("calendar-feed", kwargs={"token": token})
    return request.build_absolute_uri(path) if request is not None else site_url(path)


def feed_owner(token: str) -> Any:
    """The active person whose feed key `token` is, or None. The key is looked up by its unique
    column: the database compares it, not Python, and nothing else identifies the caller."""
    if not TOKEN.fullmatch(token):
        return None  # Not a key we hand out (and a NUL byte would not even reach the database).
    profile = (
        Profile.objects.select_related("user")
        .filter(calendar_token=token, user__is_active=True)
        .first()
    )
    return profile.user if profile is not None else None


def _deliverable_items(user: Any, memberships: list[Membership], domain: str) -> list[FeedItem]:
    partners = [membership.partner for membership in memberships]
    rows = (
        Deliverable.objects.restrict(user, "view")
        .filter(lead_partner__in=partners)
        .select_related("workpackage", "lead_partner__organisation")
        .order_by("due_date", "workpackage__number", "number")
    )
    items = []
    for deliverable in rows:
        workpackage = deliverable.workpackage
        items.append(
            FeedItem(
                uid=f"deliverable-{deliverable.pk}@{domain}",
                day=deliverable.due_date,
                summary=(
                    _("%(code)s %(title)s (approved)")
                    if deliverable.status == DeliverableStatus.APPROVED
                    else _("%(code)s %(title)s (due)")
                )
                % {"code": deliverable.code, "title": deliverable.title},
                description="\n".join(
                    [
                        _("Deliverable of %(workpackage)s, led by %(partner)s.")
                        % {"workpackage": workpackage, "partner": deliverable.lead_partner},
                        _("Status: %(status)s.") % {"status": deliverable.get_status_display()},
                    ]
                ),
                url=site_url(reverse("deliverable-detail", kwargs={"pk": deliverable.pk})),
                kind="deliverable",
            )
        )
    return items


def _milestone_items(user: Any, memberships: list[Membership], domain: str) -> list[FeedItem]:
    partners = [membership.partner for membership in memberships]
    rows = (
        Milestone.objects.restrict(user, "view")
        .filter(lead_partner__in=partners)
        .select_related("lead_partner__organisation")
        .prefetch_related("workpackages")
        .order_by("due_date", "number")
    )
    items = []
    for milestone in rows:
        codes = ", ".join(workpackage.code for workpackage in milestone.workpackages.all())
        names = {"code": milestone.code, "title": milestone.title}
        if milestone.status == MilestoneStatus.ACHIEVED and milestone.achieved_on:
            summary = _("%(code)s %(title)s (milestone achieved on %(day)s)") % {
                **names,
                "day": date_format(milestone.achieved_on, "DATE_FORMAT"),
            }
        elif milestone.status == MilestoneStatus.MISSED:
            summary = _("%(code)s %(title)s (milestone missed)") % names
        else:
            summary = _("%(code)s %(title)s (milestone due)") % names
        items.append(
            FeedItem(
                uid=f"milestone-{milestone.pk}@{domain}",
                day=milestone.due_date,
                summary=summary,
                description="\n".join(
                    [
                        _("Milestone of %(workpackages)s, led by %(partner)s.")
                        % {"workpackages": codes or "–", "partner": milestone.lead_partner},
                        _("Status: %(status)s.") % {"status": milestone.get_status_display()},
                        _("Means of verification: %(means)s")
                        % {"means": milestone.means_of_verification},
                    ]
                ),
                url=site_url(reverse("workplan-milestones")),
                kind="milestone",
            )
        )
    return items


def _statement_items(user: Any, memberships: list[Membership], domain: str) -> list[FeedItem]:
    # A person works for one partner per consortium: a period's statement is that partner's.
    by_consortium = {membership.partner.consortium_id: membership for membership in memberships}
    submitted = (
        Statement.objects.restrict(user, "view")
        .submitted()  # a reopened statement is due again
        .filter(period=OuterRef("pk"), partner__in=[m.partner for m in memberships])
        .values("submitted_at")[:1]
    )
    rows = (
        ReportingPeriod.objects.restrict(user, "view")
        .filter(consortium_id__in=list(by_consortium))
        .annotate(submitted_at=Subquery(submitted))
        .order_by("statement_due_date", "consortium_id", "number")
    )
    items = []
    for period in rows:
        partner = by_consortium[period.consortium_id].partner
        if period.submitted_at:
            state = _("Submitted on %(day)s.") % {
                "day": timezone.localdate(period.submitted_at).strftime("%d/%m/%Y")
            }
        else:
            state = _("Not submitted yet.")
        items.append(
            FeedItem(
                uid=f"statement-{period.pk}-{partner.pk}@{domain}",
                day=period.statement_due_date,
                summary=(
                    _("Expense statement P%(number)s submitted (%(consortium)s)")
                    if period.submitted_at
                    else _("Expense statement P%(number)s due (%(consortium)s)")
                )
                % {"number": period.number, "consortium": partner.consortium.acronym},
                description="\n".join(
                    [
                        _("Expense statement of %(partner)s for %(period)s.")
                        % {"partner": partner, "period": period},
                        state,
                    ]
                ),
                url=site_url(reverse("expense-list")),
                kind="statement",
            )
        )
    return items


def feed_items(user: Any, memberships: list[Membership] | None = None) -> list[FeedItem]:
    """The deadlines of the person's partners, by date, in a fixed number of queries."""
    memberships = memberships_of(user) if memberships is None else memberships
    if not memberships:
        return []
    domain = uid_domain()
    items = (
        _deliverable_items(user, memberships, domain)
        + _milestone_items(user, memberships, domain)
        + _statement_items(user, memberships, domain)
    )
    return sorted(items, key=lambda item: (item.day, item.kind, item.summary))


def feed_calendar(user: Any, items: list[FeedItem], now: datetime.datetime) -> Calendar:
    """The iCalendar document of `items`."""
    calendar = Calendar.new(
        prodid=PRODID,
        name=_("Deadlines – Consortium Manager"),
        description=_("Deliverables, milestones and expense statements of your organisation."),
        uid=f"calendar-{user.pk}@{uid_domain()}",
        refresh_interval=REFRESH,
    )
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    for item in items:
        calendar.add_component(
            Event.new(
                uid=item.uid,
                stamp=now,
                start=item.day,
                end=item.day + datetime.timedelta(days=1),
                summary=item.summary,
                description=item.description,
                url=item.url,
                categories=[item.kind],
                transparency=TRANSP.TRANSPARENT,
            )
        )
    return calendar


def feed_for(token: str, *, now: datetime.datetime | None = None) -> bytes | None:
    """The feed of the person whose key `token` is, in their language, or None when the key is
    unknown or revoked, the person deactivated, or they work for no active partner any more."""
    user = feed_owner(token)
    if user is None:
        return None
    memberships = memberships_of(user)
    if not memberships:
        return None
    with translation.override(language_of(user)):
        items = feed_items(user, memberships)
        calendar = feed_calendar(user, items, now or timezone.now())
    return calendar.to_ical()
