"""One attempt at a delivery, made as the worker makes it, to a real receiver on the loopback: the
body, the headers and the signature the receiver checks; what a failure, a redirect, a silence,
a switched-off webhook or a refused address leave in the log; retries; and a coordinator's
redelivery."""

from __future__ import annotations

import datetime
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from consortium.models import WebhookDelivery, WebhookDeliveryState, WebhookEvent
from consortium.webhook_delivery import attempt_key, webhook_attempt, webhook_backoff
from consortium.webhooks import (
    verify,
    webhook_redeliver,
    webhook_secret_rotate,
    webhook_update,
)
from tests.webhooks.conftest import Receiver
from workpackages.money.services import expense_accept

pytestmark = pytest.mark.django_db


def _accepted(expense: Any, coordinator: Any) -> WebhookDelivery:
    """The expense accepted for 800.00 of its 1,200.00: the delivery of the event."""
    expense_accept(
        expense=expense,
        user=coordinator,
        accepted_amount=Decimal("800.00"),
        comment="Only the first order is eligible.",
    )
    return WebhookDelivery.objects.select_related("event").get()


def _attempt(delivery: WebhookDelivery) -> Any:
    """The attempt the message queued for the delivery's next attempt makes."""
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None
    return webhook_attempt(delivery_id=delivery.pk, key=attempt_key(delivery.next_attempt_at))


def test_a_delivery_is_signed_and_its_body_says_what_happened(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any
) -> None:
    delivery = _accepted(submitted_expense, coordinator)

    assert _attempt(delivery) is None

    [request] = receiver.requests
    event = delivery.event
    assert verify(subscribed.secret, request.headers, request.body)
    assert request.path == "/hooks/erp"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("Consortium-Manager-Webhooks/")
    assert request.headers["Webhook-Id"] == str(event.id)
    assert re.fullmatch(r"v1=[0-9a-f]{64}", request.headers["Webhook-Signature"])
    body = request.json
    assert body["id"] == str(event.id)
    assert body["type"] == "expense.accepted"
    assert body["created_at"].endswith("Z")
    assert datetime.datetime.fromisoformat(body["created_at"]) == event.created_at
    assert body["consortium"] == {"id": subscribed.consortium_id, "acronym": "PIT-TEST"}
    expense = submitted_expense
    assert body["data"] == {
        "object": "expense",
        "id": expense.pk,
        "status": "accepted",
        "currency": "EUR",
        "amount": "1200.00",
        "accepted_amount": "800.00",
        "partner": expense.partner_id,
        "workpackage": expense.workpackage_id,
        "cost_heading": expense.category_id,
        "period": expense.period_id,
        "incurred_on": expense.incurred_on.isoformat(),
        "invoice_reference": expense.invoice_reference,
        "submitted_at": body["data"]["submitted_at"],
        "reviewed_at": body["data"]["reviewed_at"],
        "review_comment": "Only the first order is eligible.",
    }
    assert body["data"]["reviewed_at"].endswith("Z")
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.DELIVERED
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (1, 200, "")
    assert delivery.response_excerpt == '{"received": true}'
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert receiver.processed == [str(event.id)]


def test_the_receiver_refuses_a_replay_a_changed_body_and_another_secret(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any
) -> None:
    _attempt(_accepted(submitted_expense, coordinator))
    [request] = receiver.requests
    headers, body, secret = request.headers, request.body, subscribed.secret
    sent_at = int(headers["Webhook-Timestamp"])

    assert verify(secret, headers, body, now=sent_at + 299)
    assert verify(secret, {name.lower(): value for name, value in headers.items()}, body)
    # The same request replayed more than five minutes later, or from the future.
    assert not verify(secret, headers, body, now=sent_at + 301)
    assert not verify(secret, headers, body, now=sent_at - 301)
    # A replay with a new timestamp but the old signature.
    assert not verify(secret, {**headers, "Webhook-Timestamp": str(sent_at + 1)}, body)
    assert not verify(secret, headers, body.replace(b"800.00", b"1200.00"))
    assert not verify("whsec_another", headers, body)
    assert not verify(secret, {**headers, "Webhook-Signature": ""}, body)
    assert not verify(secret, {**headers, "Webhook-Timestamp": "yesterday"}, body)


def test_a_failed_attempt_is_logged_and_the_next_one_delivers_it_once(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any, settings: Any
) -> None:
    settings.WEBHOOKS_RETRY_BACKOFF = 30
    receiver.script = [500]
    delivery = _accepted(submitted_expense, coordinator)
    first_key = attempt_key(delivery.next_attempt_at)

    retry = _attempt(delivery)

    delivery.refresh_from_db()
    assert retry is not None and retry.delay == webhook_backoff(1) == 30
    assert delivery.state == WebhookDeliveryState.PENDING
    assert (delivery.attempts, delivery.response_status) == (1, 500)
    assert delivery.response_excerpt == "boom: the ERP is down"
    assert delivery.last_error == "The receiver answered 500."
    assert delivery.last_attempt_at is not None
    assert delivery.next_attempt_at == delivery.last_attempt_at + datetime.timedelta(seconds=30)
    assert retry.key == attempt_key(delivery.next_attempt_at)
    # The first message again (delivered twice by the queue) finds its attempt made.
    assert webhook_attempt(delivery_id=delivery.pk, key=first_key) is None
    assert len(receiver.requests) == 1

    assert webhook_attempt(delivery_id=delivery.pk, key=retry.key) is None
    assert webhook_attempt(delivery_id=delivery.pk, key=retry.key) is None

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 2, "")
    event_id = str(delivery.event_id)
    assert [r.event_id for r in receiver.requests] == [event_id, event_id]
    assert receiver.successes == [event_id]
    # Each attempt is a row of the delivery's history: created, failed, delivered.
    log = list(delivery.history.order_by("history_id").values_list("attempts", "response_status"))
    assert log == [(0, None), (1, 500), (2, 200)]
    assert webhook_backoff(2) == 60 and webhook_backoff(3) == 120 and webhook_backoff(9) == 150


def test_after_its_last_attempt_a_delivery_fails_and_a_coordinator_sends_it_again(
    subscribed: Any,
    receiver: Receiver,
    submitted_expense: Any,
    coordinator: Any,
    other_coordinator: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    receiver.script = [503, 503]
    delivery = _accepted(submitted_expense, coordinator)
    assert _attempt(delivery) is not None
    assert _attempt(delivery) is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)

    with pytest.raises(PermissionDenied):
        webhook_redeliver(delivery=delivery, user=other_coordinator)
    with django_capture_on_commit_callbacks() as queued:
        again = webhook_redeliver(delivery=delivery, user=coordinator)

    assert len(queued) == 1
    assert (again.state, again.attempts) == ("pending", 0)
    assert again.history.latest().history_user == coordinator
    assert again.history.latest().history_change_reason == "sent again"
    with pytest.raises(ValidationError) as waiting:
        webhook_redeliver(delivery=again, user=coordinator)
    assert "waiting for its next attempt already" in waiting.value.messages[0]

    assert _attempt(again) is None
    again.refresh_from_db()
    assert (again.state, again.attempts, again.response_status) == ("delivered", 1, 200)
    assert receiver.successes == [str(again.event_id)]
    assert len(receiver.requests) == 3


def test_a_redirection_is_not_followed(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any
) -> None:
    receiver.script = [302]
    receiver.redirect_to = receiver.url.replace("/hooks/erp", "/elsewhere")
    delivery = _accepted(submitted_expense, coordinator)

    _attempt(delivery)

    delivery.refresh_from_db()
    assert [request.path for request in receiver.requests] == ["/hooks/erp"]
    assert (delivery.state, delivery.response_status) == ("pending", 302)
    assert delivery.last_error == (
        f"The receiver answered with a redirection to {receiver.redirect_to}, which is not "
        "followed: subscribe the final address."
    )


def test_a_receiver_that_does_not_answer_in_time_is_tried_again_later(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any, settings: Any
) -> None:
    settings.WEBHOOKS_TIMEOUT = 1
    receiver.hold.set()
    delivery = _accepted(submitted_expense, coordinator)

    assert _attempt(delivery) is not None

    receiver.hold.clear()
    delivery.refresh_from_db()
    assert delivery.state == WebhookDeliveryState.PENDING
    assert delivery.response_status is None
    assert delivery.last_error == "No complete answer within 1 seconds."


def test_an_answer_sent_a_byte_at_a_time_is_cut_at_the_attempts_deadline(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any, settings: Any
) -> None:
    """Each byte comes well within a read's timeout: only the attempt's own deadline ends it,
    so that a slow receiver does not hold a worker (and the delivery's row) for minutes."""
    settings.WEBHOOKS_TIMEOUT = 1
    receiver.drip = 0.2  # about ten seconds for the whole answer
    delivery = _accepted(submitted_expense, coordinator)

    started = time.monotonic()
    assert _attempt(delivery) is not None
    assert time.monotonic() - started < 5

    delivery.refresh_from_db()
    assert (delivery.state, delivery.response_status) == ("pending", None)
    assert delivery.last_error == "No complete answer within 1 seconds."


def test_a_switched_off_webhook_fails_its_waiting_deliveries_at_once(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any
) -> None:
    delivery = _accepted(submitted_expense, coordinator)
    webhook_update(subscription=subscribed, user=coordinator, is_active=False)

    assert _attempt(delivery) is None

    delivery.refresh_from_db()
    assert (delivery.state, delivery.last_error) == ("failed", "The webhook is switched off.")
    assert receiver.requests == []
    with pytest.raises(ValidationError) as off:
        webhook_redeliver(delivery=delivery, user=coordinator)
    assert off.value.messages == [
        "The webhook “Finance office ERP” is switched off: switch it on first."
    ]


def test_a_new_secret_signs_the_deliveries_still_waiting(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any
) -> None:
    old = subscribed.secret
    delivery = _accepted(submitted_expense, coordinator)
    rotated = webhook_secret_rotate(subscription=subscribed, user=coordinator)

    _attempt(delivery)

    [request] = receiver.requests
    assert rotated.secret.startswith("whsec_") and rotated.secret != old
    assert verify(rotated.secret, request.headers, request.body)
    assert not verify(old, request.headers, request.body)
    latest = rotated.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator, "secret rotated")
    assert not hasattr(latest, "secret")


def test_the_address_rule_is_asked_again_at_each_attempt(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any, settings: Any
) -> None:
    delivery = _accepted(submitted_expense, coordinator)
    # The installation no longer allows its own network: the loopback receiver is refused.
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False

    assert _attempt(delivery) is not None

    delivery.refresh_from_db()
    assert receiver.requests == []
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == (
        "127.0.0.1 leads to a private, local or reserved address: webhooks go to "
        "addresses on the public internet only."
    )


def test_an_event_is_written_once_with_a_delivery_per_listening_webhook(
    subscribed: Any, receiver: Receiver, submitted_expense: Any, coordinator: Any
) -> None:
    _accepted(submitted_expense, coordinator)

    event = WebhookEvent.objects.get()
    assert event.type == "expense.accepted"
    assert event.consortium_id == subscribed.consortium_id
    assert list(event.deliveries.values_list("subscription_id", flat=True)) == [subscribed.pk]
