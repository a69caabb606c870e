"""The address rule: webhooks go to https:// addresses on the public internet, unless the
installation allows plain HTTP or its own network. Every address a host name resolves to is
judged; a refused address is a refusal on the subscription's address, and nothing is saved. A
host name that leads to no address yet cannot be judged when the webhook is saved: each attempt
judges it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from consortium.models import WebhookDelivery, WebhookSubscription
from consortium.webhook_delivery import attempt_key, webhook_attempt, webhook_target
from consortium.webhooks import webhook_subscribe, webhook_update
from workpackages.jobs.services import job_realise

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/hooks/consortium?source=cm"

NOT_PUBLIC = [
    "https://127.0.0.1/hooks",
    "https://127.8.9.10/hooks",
    "https://localhost:8443/hooks",
    "https://10.1.2.3/hooks",
    "https://172.16.0.5/hooks",
    "https://192.168.1.10/hooks",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hooks",
    "https://0.0.0.0/hooks",
    "https://224.0.0.1/hooks",
    "https://240.0.0.1/hooks",
    "https://[::1]/hooks",
    "https://[fe80::1]/hooks",
    "https://[fc00::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",
    "https://[ff02::1]/hooks",
    "https://[2002:a00:1::1]/hooks",
    "https://[fec0::1]/hooks",
]


def _refusal(url: str) -> str:
    with pytest.raises(ValidationError) as refused:
        webhook_target(url)
    return " ".join(refused.value.message_dict["url"])


@pytest.fixture
def public_only(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    settings.WEBHOOKS_ALLOW_HTTP = False


@pytest.mark.parametrize("url", NOT_PUBLIC)
def test_loopback_private_link_local_and_reserved_addresses_are_refused(
    public_only: None, url: str
) -> None:
    assert "a private, local or reserved address" in _refusal(url)


@pytest.mark.parametrize("url", NOT_PUBLIC)
def test_an_installation_that_allows_its_own_network_accepts_them(settings: Any, url: str) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    assert webhook_target(url).addresses


def test_a_public_address_is_accepted_and_the_request_goes_to_it(public_only: None) -> None:
    target = webhook_target(PUBLIC)
    assert (target.scheme, target.host, target.port) == ("https", "93.184.215.14", 443)
    assert target.path == "/hooks/consortium?source=cm"
    assert target.addresses == ("93.184.215.14",)
    assert webhook_target("https://[2606:4700:4700::1111]:8443/").port == 8443


def test_plain_http_needs_the_installation_s_allowance(public_only: None, settings: Any) -> None:
    http = PUBLIC.replace("https://", "http://")
    assert _refusal(http) == "A webhook's address starts with https://."
    settings.WEBHOOKS_ALLOW_HTTP = True
    assert webhook_target(http).port == 80
    assert (
        _refusal("ftp://93.184.215.14/") == "A webhook's address starts with https:// or http://."
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not an address", "A webhook's address starts with https://."),
        ("javascript:alert(1)", "A webhook's address starts with https://."),
        ("https:///hooks", "Enter a valid address."),
        ("https://93.184.215.14:99999/", "Enter a valid address."),
        (
            "https://erp:secret@93.184.215.14/",
            "A webhook's address holds no user name or password: the signature of each "
            "delivery proves where it comes from.",
        ),
        (
            "https://nowhere.invalid/hooks",
            "The host name nowhere.invalid leads to no address: check it.",
        ),
    ],
)
def test_what_is_not_an_address_is_refused_with_its_reason(
    public_only: None, url: str, message: str
) -> None:
    assert _refusal(url) == message


def test_a_refused_address_saves_nothing(
    public_only: None, consortium: Any, coordinator: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        webhook_subscribe(
            consortium=consortium,
            url="https://192.168.1.10/hooks",
            events=["expense.accepted"],
            user=coordinator,
        )

    assert refused.value.message_dict == {
        "url": [
            "192.168.1.10 leads to a private, local or reserved address: webhooks "
            "go to addresses on the public internet only."
        ]
    }
    assert not WebhookSubscription.objects.exists()
    assert not WebhookSubscription.history.exists()


def test_a_subscription_keeps_its_address_when_a_new_one_is_refused(
    consortium: Any, coordinator: Any, settings: Any
) -> None:
    subscription = webhook_subscribe(
        consortium=consortium, url=PUBLIC, events=["job.realised"], user=coordinator
    )
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False

    with pytest.raises(ValidationError):
        webhook_update(subscription=subscription, user=coordinator, url="https://[::1]:8000/")
    with pytest.raises(ValidationError) as no_event:
        webhook_update(subscription=subscription, user=coordinator, events=[])

    assert no_event.value.message_dict == {
        "events": ["Choose at least one event to send to this address."]
    }
    subscription.refresh_from_db()
    assert (subscription.url, subscription.events) == (PUBLIC, ["job.realised"])
    assert subscription.history.count() == 1


def test_a_host_name_without_an_address_yet_is_judged_at_each_attempt(
    public_only: None, consortium: Any, coordinator: Any, job: Any
) -> None:
    subscription = webhook_subscribe(
        consortium=consortium,
        url="https://erp.pit-atmp.invalid/hooks",
        events=["job.realised"],
        user=coordinator,
    )
    job_realise(job=job, user=coordinator)
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.next_attempt_at is not None

    retry = webhook_attempt(delivery_id=delivery.pk, key=attempt_key(delivery.next_attempt_at))

    delivery.refresh_from_db()
    assert retry is not None
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == (
        "The host name erp.pit-atmp.invalid leads to no address: check it."
    )
