"""Webhooks: the events the services emit, and the coordinators' subscriptions to them.

A service that submits, decides or sends something calls `emit` in its own transaction, after its
write, with the rows concerned (one event per row; a decision on many rows is one call): each
event is written with one delivery per active subscription of its consortium that listens to its
type, and the deliveries are handed to the queue once the transaction commits. A refusal or a
rollback emits nothing, and an event nobody listens to writes nothing.

The functions take the rows of the other apps as they are (this app does not import them) and
keep what the body says of them in no language: ids, codes, statuses, amounts as strings, dates
and moments in ISO 8601 (UTC).

Subscriptions are written by the services below, which every door calls (the admin through the
write rule registered at the end of this module); only the consortium's coordinators reach them.
How a delivery is sent, signed and checked is `consortium/webhook_delivery.py`; `verify` is the
reference a receiver follows.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from simple_history.utils import bulk_create_with_history

from consortium.models import (
    Consortium,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
    WebhookEventType,
    WebhookSubscription,
    new_webhook_secret,
)
from consortium.querysets import authorize
from consortium.records import WriteRule, keeps, locked, save_with_history, write_rule_register
from consortium.tasks import deliver_webhook, enqueue_all
from consortium.webhook_delivery import (
    attempt_key,
    iso_utc,
    signature,
    verify,
    webhook_body,
    webhook_headers,
    webhook_target,
)

__all__ = [
    "emit",
    "signature",
    "verify",
    "webhook_body",
    "webhook_headers",
    "webhook_redeliver",
    "webhook_secret_rotate",
    "webhook_subscribe",
    "webhook_update",
]

# The history's change reasons, in the consortium's own words whatever the language of the page.
SECRET_ROTATED = "secret rotated"  # noqa: S105  (a change reason, not a secret)
REDELIVERY = "sent again"


# What each event says of its row ----------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _moment(value: datetime.datetime | None) -> str | None:
    return None if value is None else iso_utc(value)


def _deliverable(deliverable: Any) -> dict[str, Any]:
    return {
        "object": "deliverable",
        "id": deliverable.pk,
        "code": deliverable.code,
        "title": deliverable.title,
        "status": deliverable.status,
        "workpackage": deliverable.workpackage_id,
        "lead_partner": deliverable.lead_partner_id,
        "due_date": _day(deliverable.due_date),
        "first_submitted_at": _moment(deliverable.first_submitted_at),
        "approved_at": _moment(deliverable.approved_at),
    }


def _expense(expense: Any) -> dict[str, Any]:
    return {
        "object": "expense",
        "id": expense.pk,
        "status": expense.status,
        "currency": "EUR",
        "amount": _money(expense.amount),
        "accepted_amount": _money(expense.accepted_amount),
        "partner": expense.partner_id,
        "workpackage": expense.workpackage_id,
        "cost_heading": expense.category_id,
        "period": expense.period_id,
        "incurred_on": _day(expense.incurred_on),
        "invoice_reference": expense.invoice_reference,
        "submitted_at": _moment(expense.submitted_at),
        "reviewed_at": _moment(expense.reviewed_at),
        "review_comment": expense.review_comment,
    }


def _statement(statement: Any) -> dict[str, Any]:
    return {
        "object": "statement",
        "id": statement.pk,
        "partner": statement.partner_id,
        "period": statement.period_id,
        "currency": "EUR",
        "lines": statement.lines,
        "total": _money(statement.total),
        "submitted_at": _moment(statement.submitted_at),
        "reopened_at": _moment(statement.reopened_at),
        "reopen_reason": statement.reopen_reason,
    }


def _milestone(milestone: Any) -> dict[str, Any]:
    return {
        "object": "milestone",
        "id": milestone.pk,
        "code": milestone.code,
        "title": milestone.title,
        "status": milestone.status,
        "lead_partner": milestone.lead_partner_id,
        "due_date": _day(milestone.due_date),
        "achieved_on": _day(milestone.achieved_on),
        # The evidence it is reached, or why it was missed.
        "evidence": milestone.evidence,
    }


def _job(job: Any) -> dict[str, Any]:
    return {
        "object": "job",
        "id": job.pk,
        "status": job.status,
        "partner": job.partner_id,
        "workpackage": job.workpackage_id,
        "position_title": job.position_title,
        "impact": job.impact,
        "category": job.category,
        "contract_type": job.contract_type,
        "fte": _money(job.fte),
        "start_date": _day(job.start_date),
        "end_date": _day(job.end_date),
    }


def _report(report: Any) -> dict[str, Any]:
    return {
        "object": "report",
        "id": report.pk,
        "kind": report.kind,
        "status": report.status,
        "period_start": _day(report.period_start),
        "period_end": _day(report.period_end),
        "sent_at": _moment(report.sent_at),
    }


DATA: dict[str, Callable[[Any], dict[str, Any]]] = {
    "deliverable": _deliverable,
    "expense": _expense,
    "statement": _statement,
    "milestone": _milestone,
    "job": _job,
    "report": _report,
}


# Emitting ---------------------------------------------------------------------------------------


def emit(event_type: str, *rows: Any, **extra: Any) -> list[WebhookEvent]:
    """Record the event `event_type` (a `WebhookEventType`) of each row, in the caller's
    transaction, for the active subscriptions of the row's consortium that listen to it, and
    hand their deliveries to the queue once the transaction commits. `extra` adds fields to
    each event's data (the version a deliverable's review is about, say).

    Three queries whatever the number of rows (the subscriptions, the events, the deliveries
    with their history), and one when nobody listens."""
    if event_type not in WebhookEventType.values:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    if not rows:
        return []
    consortia = {row.consortium_id for row in rows}
    listening: dict[int, list[WebhookSubscription]] = {}
    # The JSON list is read here, not filtered in SQL: SQLite (`make run`) cannot look inside it.
    for subscription in WebhookSubscription.objects.filter(
        consortium_id__in=consortia, is_active=True
    ).only("pk", "consortium_id", "events"):
        if event_type in subscription.events:
            listening.setdefault(subscription.consortium_id, []).append(subscription)
    if not listening:
        return []
    describe = DATA[event_type.split(".", 1)[0]]
    now = timezone.now()
    events: list[WebhookEvent] = []
    deliveries: list[WebhookDelivery] = []
    for row in rows:
        subscriptions = listening.get(row.consortium_id)
        if not subscriptions:
            continue
        event = WebhookEvent(
            id=uuid.uuid4(),
            consortium_id=row.consortium_id,
            type=event_type,
            created_at=now,
            data={**describe(row), **extra},
        )
        events.append(event)
        deliveries.extend(
            WebhookDelivery(event=event, subscription=subscription, next_attempt_at=now)
            for subscription in subscriptions
        )
    WebhookEvent.objects.bulk_create(events)
    made = bulk_create_with_history(deliveries, WebhookDelivery)
    _queue_on_commit(made)
    return events


def _queue_on_commit(deliveries: Iterable[WebhookDelivery]) -> None:
    """Hand the deliveries to the queue once the transaction commits (through one connection);
    those the queue does not take then wait for the sweep."""
    calls = [
        (delivery.pk, attempt_key(delivery.next_attempt_at))
        for delivery in deliveries
        if delivery.next_attempt_at is not None
    ]
    if calls:
        transaction.on_commit(partial(enqueue_all, deliver_webhook, calls))


# Subscriptions ----------------------------------------------------------------------------------


def _event_types(events: Iterable[str]) -> list[str]:
    """The types chosen, each once, in the order of `WebhookEventType` (unknown ones after, for
    the validation to name them)."""
    chosen = list(dict.fromkeys(events))
    known = [kind for kind in WebhookEventType.values if kind in chosen]
    return known + [kind for kind in chosen if kind not in WebhookEventType.values]


def _validated(subscription: WebhookSubscription, *, check_address: bool) -> None:
    """The row's own validation, then the address rule (which resolves the host name)."""
    subscription.full_clean()
    if check_address:
        webhook_target(subscription.url, unresolved_ok=True)


@transaction.atomic
def webhook_subscribe(
    *,
    consortium: Consortium,
    url: str,
    events: Iterable[str],
    user: Any,
    description: str = "",
    is_active: bool = True,
) -> WebhookSubscription:
    """Subscribe `url` to the consortium's `events` (coordinators), with a new signing secret
    its receiver checks each delivery with."""
    subscription = WebhookSubscription(
        consortium=consortium,
        url=url.strip(),
        events=_event_types(events),
        description=description.strip(),
        is_active=is_active,
        created_by=user,
        secret=new_webhook_secret(),
    )
    authorize(user, subscription, "manage")
    _validated(subscription, check_address=True)
    save_with_history(subscription, user=user)
    return subscription


EDITABLE = ("url", "events", "description", "is_active")


@transaction.atomic
def webhook_update(*, subscription: WebhookSubscription, user: Any, **changes: Any) -> Any:
    """Change a subscription's address, events, description or whether it is on (coordinators).
    A new address passes the address rule; deliveries still waiting go to it."""
    subscription = locked(WebhookSubscription, subscription.pk)
    authorize(user, subscription, "manage")
    if "consortium" in changes and changes.pop("consortium") != subscription.consortium:
        raise ValidationError(
            {"consortium": gettext("A webhook stays with its consortium.")},
            code="other_consortium",
        )
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"A webhook's {', '.join(sorted(unknown))} is not changed here")
    if "url" in changes:
        changes["url"] = changes["url"].strip()
    if "events" in changes:
        changes["events"] = _event_types(changes["events"])
    if "description" in changes:
        changes["description"] = changes["description"].strip()
    changed = [name for name, value in changes.items() if getattr(subscription, name) != value]
    if not changed:
        return subscription
    for name in changed:
        setattr(subscription, name, changes[name])
    _validated(subscription, check_address="url" in changed)
    save_with_history(subscription, user=user, update_fields=changed)
    return subscription


@transaction.atomic
def webhook_secret_rotate(*, subscription: WebhookSubscription, user: Any) -> WebhookSubscription:
    """Give a subscription a new signing secret (coordinators): every attempt from now on is
    signed with it, those of deliveries already waiting included. The history records when and
    by whom, not the secret."""
    subscription = locked(WebhookSubscription, subscription.pk)
    authorize(user, subscription, "manage")
    subscription.secret = new_webhook_secret()
    subscription._change_reason = SECRET_ROTATED  # type: ignore[attr-defined]  # simple-history's
    save_with_history(subscription, user=user, update_fields=["secret"])
    return subscription


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, user: Any) -> WebhookDelivery:
    """Send a delivered or failed delivery again (coordinators): a new round of attempts with a
    new signature, once the transaction commits. The history keeps the earlier rounds and who
    asked for this one."""
    delivery = locked(WebhookDelivery, delivery.pk)
    authorize(user, delivery, "manage")
    if delivery.state == WebhookDeliveryState.PENDING:
        raise ValidationError(
            gettext(
                "This delivery is waiting for its next attempt already: it is sent again only "
                "once it is delivered or has failed."
            ),
            code="invalid_state",
        )
    subscription = WebhookSubscription.objects.only("is_active", "url", "description").get(
        pk=delivery.subscription_id
    )
    if not subscription.is_active:
        raise ValidationError(
            gettext("The webhook “%(webhook)s” is switched off: switch it on first.")
            % {"webhook": subscription},
            code="webhook_off",
        )
    delivery.state = WebhookDeliveryState.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.delivered_at = None
    delivery._change_reason = REDELIVERY  # type: ignore[attr-defined]  # simple-history's
    save_with_history(
        delivery, user=user, update_fields=["state", "attempts", "next_attempt_at", "delivered_at"]
    )
    _queue_on_commit([delivery])
    return delivery


# How every door writes whole subscriptions (`record_create`, `record_update`): through the
# services above.


def _created(instance: WebhookSubscription, *, user: Any, related: Any) -> WebhookSubscription:
    return webhook_subscribe(
        consortium=instance.consortium,
        url=instance.url,
        events=instance.events or [],
        description=instance.description,
        is_active=instance.is_active,
        user=user,
    )


def _updated(stored: WebhookSubscription, *, user: Any, changes: dict[str, Any]) -> Any:
    return webhook_update(subscription=stored, user=user, **changes)


write_rule_register(
    WebhookSubscription,
    WriteRule(
        fixed=keeps(("consortium",), gettext_noop("A webhook stays with its consortium.")),
        create=_created,
        update=_updated,
    ),
)
