"""The coordinators' webhooks in the admin: they subscribe an address, read its secret, give it a
new one, read the log of its deliveries and send one again, all through the services. Nobody
else reaches any of it: another consortium's coordinator gets a 404, partners and observers get
nothing."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consortium.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
    WebhookSubscription,
)
from tests import factories
from tests.web import client_for
from tests.workpackages.test_admin_validation import form_data
from workpackages.money.services import expense_accept, expense_submit

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = reverse("admin:consortium_webhooksubscription_changelist")
DELIVERIES = reverse("admin:consortium_webhookdelivery_changelist")


def _change(model: str, pk: Any, view: str = "change") -> str:
    return reverse(f"admin:consortium_{model}_{view}", args=[pk])


def _send_again(delivery: WebhookDelivery) -> str:
    """Where the delivery's "Send again" button posts."""
    return reverse("admin:consortium_webhookdelivery_decide", args=[delivery.pk, "redeliver"])


def _failed(subscribed: Any, expense: Any, coordinator: Any) -> WebhookDelivery:
    expense_accept(expense=expense, user=coordinator)
    delivery = WebhookDelivery.objects.get(subscription=subscribed)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDeliveryState.FAILED,
        attempts=10,
        next_attempt_at=None,
        response_status=503,
        response_excerpt="Service Unavailable",
        last_error="The receiver answered 503.",
    )
    return delivery


def test_a_coordinator_subscribes_an_address_and_reads_its_secret(
    consortium: Any, coordinator: Any, receiver: Any
) -> None:
    client = client_for(coordinator)
    url = reverse("admin:consortium_webhooksubscription_add")
    data = {
        **form_data(client, url),
        "consortium": str(consortium.pk),
        "description": "Finance office ERP",
        "url": receiver.url,
        "events": ["expense.accepted", "statement.submitted"],
        "is_active": "on",
    }

    answer = client.post(url, data, follow=True)

    assert answer.status_code == 200
    subscription = WebhookSubscription.objects.get()
    assert subscription.events == ["expense.accepted", "statement.submitted"]
    assert subscription.created_by == coordinator
    assert subscription.secret.startswith("whsec_") and len(subscription.secret) > 40
    assert subscription.history.get().history_user == coordinator
    page = client.get(_change("webhooksubscription", subscription.pk)).content.decode()
    assert subscription.secret in page
    assert "Webhook-Signature" in page
    listed = client.get(SUBSCRIPTIONS).content.decode()
    assert "Finance office ERP" in listed and "2 events" in listed


def test_a_host_name_without_an_address_is_saved_with_a_warning(
    consortium: Any, coordinator: Any
) -> None:
    client = client_for(coordinator)
    url = reverse("admin:consortium_webhooksubscription_add")
    data = {
        **form_data(client, url),
        "consortium": str(consortium.pk),
        "url": "https://erp.pit-atmp.invalid/hooks",
        "events": ["job.realised"],
    }

    page = html.unescape(client.post(url, data, follow=True).content.decode())

    assert WebhookSubscription.objects.get().url == "https://erp.pit-atmp.invalid/hooks"
    assert (
        "The host name erp.pit-atmp.invalid leads to no address yet: its deliveries fail until "
        "it does. Check the address." in page
    )


def test_a_refused_address_shows_under_its_field_and_nothing_is_saved(
    consortium: Any, coordinator: Any, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_HTTP = False
    client = client_for(coordinator)
    url = reverse("admin:consortium_webhooksubscription_add")
    data = {
        **form_data(client, url),
        "consortium": str(consortium.pk),
        "url": "http://127.0.0.1:9/hooks",
        "events": [],
    }

    page = html.unescape(client.post(url, data).content.decode())

    assert "A webhook's address starts with https://." in page
    assert "This field is required." in page
    assert not WebhookSubscription.objects.exists()


def test_a_coordinator_changes_the_events_and_gives_the_webhook_a_new_secret(
    subscribed: Any, coordinator: Any
) -> None:
    client = client_for(coordinator)
    url = _change("webhooksubscription", subscribed.pk)
    data = {**form_data(client, url), "events": ["job.realised"], "is_active": ""}
    assert "consortium" not in data  # A webhook stays with its consortium.
    client.post(url, data)
    old = subscribed.secret

    answer = client.post(
        SUBSCRIPTIONS,
        {"action": "rotate_secret", "_selected_action": [subscribed.pk]},
        follow=True,
    )

    subscribed.refresh_from_db()
    assert (subscribed.events, subscribed.is_active) == (["job.realised"], False)
    assert subscribed.secret != old
    assert "1 webhook has a new signing secret: set it on its receiver." in html.unescape(
        answer.content.decode()
    )
    assert [row.history_user for row in subscribed.history.all()] == [coordinator] * 3


def test_the_log_shows_each_delivery_and_a_coordinator_sends_a_failed_one_again(
    subscribed: Any, submitted_expense: Any, coordinator: Any
) -> None:
    delivery = _failed(subscribed, submitted_expense, coordinator)
    client = client_for(coordinator)

    listed = html.unescape(client.get(DELIVERIES).content.decode())
    page = html.unescape(client.get(_change("webhookdelivery", delivery.pk)).content.decode())

    assert "Expense accepted (in full or in part)" in listed and "expense.accepted" in listed
    assert "Failed" in listed and "The receiver answered 503." in listed
    assert str(delivery.event_id) in page and '"accepted_amount": "1200.00"' in page
    assert "Service Unavailable" in page
    assert 'value="Send again"' in page

    answer = client.post(_send_again(delivery), follow=True)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert "1 delivery is on its way again." in html.unescape(answer.content.decode())
    assert delivery.history.latest().history_user == coordinator


def test_the_lists_take_as_many_queries_for_many_deliveries_as_for_a_few(
    subscribed: Any, budget_line: Any, partner_member: Any, coordinator: Any
) -> None:
    client = client_for(coordinator)
    client.get(DELIVERIES)  # Warms the process caches.
    counts = []
    for count in (2, 8):
        for _n in range(count):
            expense = factories.ExpenseFactory(line=budget_line, amount=Decimal("10.00"))
            expense_submit(expense=expense, user=partner_member)
            expense_accept(expense=expense, user=coordinator)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(DELIVERIES).status_code == 200
        with CaptureQueriesContext(connection) as listed:
            assert client.get(SUBSCRIPTIONS).status_code == 200
        counts.append((len(queries), len(listed)))
    assert counts[0] == counts[1]


def test_another_consortium_s_coordinator_finds_nothing(
    subscribed: Any, submitted_expense: Any, coordinator: Any, other_coordinator: Any
) -> None:
    delivery = _failed(subscribed, submitted_expense, coordinator)
    client = client_for(other_coordinator)

    assert str(subscribed) not in client.get(SUBSCRIPTIONS).content.decode()
    assert str(delivery.event_id) not in client.get(DELIVERIES).content.decode()
    for url in (
        _change("webhooksubscription", subscribed.pk),
        _change("webhooksubscription", subscribed.pk, "history"),
        _change("webhookdelivery", delivery.pk),
        _change("webhookdelivery", delivery.pk, "history"),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(_send_again(delivery)).status_code == 404
    client.post(DELIVERIES, {"action": "redeliver", "_selected_action": [delivery.pk]})
    client.post(SUBSCRIPTIONS, {"action": "rotate_secret", "_selected_action": [subscribed.pk]})
    secret = subscribed.secret
    subscribed.refresh_from_db()
    delivery.refresh_from_db()
    assert subscribed.secret == secret
    assert delivery.state == WebhookDeliveryState.FAILED


def test_partners_and_observers_get_nothing(
    subscribed: Any,
    submitted_expense: Any,
    coordinator: Any,
    partner_member: Any,
    observer: Any,
    superuser: Any,
) -> None:
    delivery = _failed(subscribed, submitted_expense, coordinator)
    for person in (partner_member, observer):
        for model in (WebhookSubscription, WebhookEvent, WebhookDelivery):
            for action in ("view", "change", "manage"):
                assert not model.objects.restrict(person, action).exists()
        client = client_for(person)
        for url in (SUBSCRIPTIONS, _change("webhookdelivery", delivery.pk)):
            answer = client.get(url)
            assert answer.status_code == 302 and "/login/" in answer["Location"]
    for model in (WebhookSubscription, WebhookEvent, WebhookDelivery):
        assert model.objects.restrict(coordinator, "view").count() == 1
        assert model.objects.restrict(superuser, "view").count() == 1
