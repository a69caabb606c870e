"""Sending webhooks: the address rule, the body and its signature, and one attempt at a delivery.

The address rule (`webhook_target`) is asked when a subscription is saved and again at every
attempt, of every address the host name resolves to, and the request goes to the address it
vetted (a host name that resolves elsewhere a moment later reaches nothing new). Only https://
addresses on the public internet are accepted, unless the installation allows plain HTTP
(`WEBHOOKS_ALLOW_HTTP`) or its own network (`WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`).

A delivery's row is locked from the check of its state to the record of the attempt, and each
message of the queue names the attempt it is for (the row's `next_attempt_at`): a message
delivered twice, or handed to another worker after its own died, finds the attempt made and does
nothing; an attempt cut short by a worker's death left nothing recorded and is made again. So
an event reaches a receiver at least once; the receiver recognises a second copy by its
`Webhook-Id`.

This module imports no task: the tasks (`consortium/tasks.py`) call it, and the services that
queue them (`consortium/webhooks.py`) build on it.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from consortium.models import (
    RESPONSE_EXCERPT_LENGTH,
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

# How far a receiver's clock and ours may differ before it refuses a delivery as a replay.
TOLERANCE_SECONDS = 300
SIGNATURE_VERSION = "v1"
USER_AGENT = "Consortium-Manager-Webhooks/1.0"
# The most of a receiver's answer read: the log keeps its beginning only.
EXCERPT_BYTES = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}
# The most deliveries one sweep hands to the queue: the next sweep takes the rest.
SWEEP_BATCH = 500


# The address rule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a delivery goes: the URL's parts and the addresses the rule accepted."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _refused_address(address: str) -> bool:
    """Whether an address lies outside the public internet: loopback, private, link-local,
    multicast, reserved, unspecified or shared (carrier-grade NAT) ranges, IPv4 ones written as
    IPv6 included."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return True
        # An IPv4 address carried in an IPv6 one (mapped, 6to4, Teredo) is judged as itself.
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            return _refused_address(str(ip.sixtofour)) or ip.is_reserved
        elif ip.teredo is not None:
            return any(_refused_address(str(inner)) for inner in ip.teredo)
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_unspecified
    )


def _scheme_message() -> str:
    if settings.WEBHOOKS_ALLOW_HTTP:
        return gettext("A webhook's address starts with https:// or http://.")
    return gettext("A webhook's address starts with https://.")


def webhook_target(url: str, *, unresolved_ok: bool = False) -> Target:
    """Where `url` leads, if webhooks may go there; otherwise a `ValidationError` saying why (on
    the `url` field). Resolves the host name: every address it has must be allowed. With
    `unresolved_ok` (a subscription being saved), a name that leads to no address yet is
    accepted with none: nothing can be sent to it, and each attempt judges it again."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(
            {"url": gettext("Enter a valid address.")}, code="webhook_url"
        ) from None
    allowed_schemes = {"https", "http"} if settings.WEBHOOKS_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed_schemes:
        raise ValidationError({"url": _scheme_message()}, code="webhook_scheme")
    host = parts.hostname
    if not host:
        raise ValidationError({"url": gettext("Enter a valid address.")}, code="webhook_url")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            {
                "url": gettext(
                    "A webhook's address holds no user name or password: the signature of each "
                    "delivery proves where it comes from."
                )
            },
            code="webhook_credentials",
        )
    port = port or DEFAULT_PORTS[parts.scheme]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        found = []
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses and not unresolved_ok:
        raise ValidationError(
            {
                "url": gettext("The host name %(host)s leads to no address: check it.")
                % {"host": host}
            },
            code="webhook_unresolved",
        )
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            if _refused_address(address):
                raise ValidationError(
                    {
                        "url": gettext(
                            "%(host)s leads to a private, local or reserved address: webhooks "
                            "go to addresses on the public internet only."
                        )
                        % {"host": host}
                    },
                    code="webhook_private_address",
                )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(parts.scheme, host, port, path, addresses)


# The body and its signature ---------------------------------------------------------------------


def iso_utc(moment: datetime.datetime) -> str:
    """A moment in ISO 8601, in UTC, with its Z."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def webhook_body(event: WebhookEvent) -> bytes:
    """The JSON body every attempt of every delivery of `event` posts, byte for byte."""
    consortium = event.consortium
    envelope = {
        "id": str(event.id),
        "type": event.type,
        "created_at": iso_utc(event.created_at),
        "consortium": {"id": consortium.pk, "acronym": consortium.acronym},
        "data": event.data,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """`Webhook-Signature`: the HMAC-SHA256, in hexadecimal, of the timestamp, a dot and the raw
    body, keyed with the subscription's secret, after the version of the scheme."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def webhook_headers(
    *, event_id: str, secret: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one attempt: the event's id, the attempt's moment and their signature."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": event_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether a delivery a receiver got is genuine and fresh: signed with `secret` over the
    timestamp and the raw `body` as received, and sent less than `tolerance` seconds from `now`
    (the receiver's clock) either way. A receiver answers any other request with an error, and
    so refuses a recorded delivery replayed later. `headers` in any letter case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    raw = body.encode() if isinstance(body, str) else body
    try:
        timestamp = int(lowered.get("webhook-timestamp", ""))
    except ValueError:
        return False
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, raw)
    offered = lowered.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


# One attempt -------------------------------------------------------------------------------------


def webhook_backoff(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: WEBHOOKS_RETRY_BACKOFF,
    doubled each time, under the ceiling `consortium.tasks.backoff` keeps for emails (a retry
    waits in its worker, unacknowledged, and must run before Redis hands it to another)."""
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    ceiling = max(visibility - settings.CELERY_TASK_TIME_LIMIT - 60, 1)
    return int(min(settings.WEBHOOKS_RETRY_BACKOFF * 2 ** max(attempts - 1, 0), ceiling))


def attempt_key(moment: datetime.datetime) -> str:
    """How a message of the queue names the attempt it is for."""
    return moment.astimezone(datetime.UTC).isoformat()


@dataclass(frozen=True)
class Answer:
    status: int | None = None
    excerpt: str = ""
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _connect(target: Target, deadline: float) -> socket.socket:
    """A connection to one of the addresses the rule accepted, the first that answers before
    the attempt's deadline."""
    failure: OSError = OSError("no address")
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return socket.create_connection((address, target.port), timeout=remaining)
        except OSError as error:
            failure = error
    raise failure


def _cut(sock: socket.socket) -> None:
    """End a connection whose attempt is past its deadline: a read waiting on it returns."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = DEFAULT_PORTS.get(target.scheme)
    return host if target.port == default else f"{host}:{target.port}"


def post(target: Target, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `target`, over TLS for https:// (the certificate checked against the host
    name), without following a redirect; the answer's status and beginning, or what went wrong.
    The whole attempt (connection, request, answer) takes at most WEBHOOKS_TIMEOUT seconds: a
    receiver that answers a byte at a time does not hold a worker longer."""
    timeout = settings.WEBHOOKS_TIMEOUT
    deadline = time.monotonic() + timeout
    watchdog: threading.Timer | None = None
    try:
        sock = _connect(target, deadline)
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _cut, args=(sock,))
        watchdog.daemon = True
        watchdog.start()
        if target.scheme == "https":
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=target.host)
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
        # The connection goes to the address the rule vetted, not to a new lookup of the name.
        connection.sock = sock
        try:
            connection.request(
                "POST", target.path, body=body, headers={"Host": _host_header(target), **headers}
            )
            response = connection.getresponse()
            raw = response.read(EXCERPT_BYTES)
            location = response.getheader("Location", "")
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as error:
        if time.monotonic() >= deadline:
            late = gettext("No complete answer within %(seconds)s seconds.") % {"seconds": timeout}
            return Answer(error=late)
        return Answer(error=f"{type(error).__name__}: {error}"[:2000])
    finally:
        if watchdog is not None:
            watchdog.cancel()
    excerpt = raw.decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_LENGTH]
    problem = ""
    if 300 <= response.status < 400:
        problem = gettext(
            "The receiver answered with a redirection to %(location)s, which is not followed: "
            "subscribe the final address."
        ) % {"location": location[:300] or "–"}
    elif not 200 <= response.status < 300:
        problem = gettext("The receiver answered %(status)s.") % {"status": response.status}
    return Answer(status=response.status, excerpt=excerpt, error=problem)


@dataclass(frozen=True)
class Retry:
    """The attempt failed and another is due: in `delay` seconds, for the message named `key`."""

    key: str
    delay: int


def webhook_attempt(*, delivery_id: int, key: str) -> Retry | None:
    """Make the attempt of a waiting delivery that the message `key` names, at most once: none
    if the row is delivered, failed, locked by a worker making an attempt right now, or already
    past that attempt. A 2xx answer delivers it; anything else is recorded with the answer and
    the delivery waits for its next attempt, or fails after WEBHOOKS_MAX_ATTEMPTS of them (a
    switched-off subscription fails it at once). Returns the retry due, if any."""
    with transaction.atomic():
        row = (
            WebhookDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("event__consortium", "subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if (
            row is None
            or row.state != WebhookDeliveryState.PENDING
            or row.next_attempt_at is None
            or attempt_key(row.next_attempt_at) != key
        ):
            return None
        subscription = row.subscription
        now = timezone.now()
        row.attempts += 1
        row.last_attempt_at = now
        if not subscription.is_active:
            answer = Answer(error=gettext("The webhook is switched off."))
            final = True
        else:
            try:
                target = webhook_target(subscription.url)
            except ValidationError as refusal:
                answer = Answer(error=" ".join(refusal.messages))
            else:
                try:
                    body = webhook_body(row.event)
                    headers = webhook_headers(
                        event_id=str(row.event_id), secret=subscription.secret, body=body
                    )
                    answer = post(target, body, headers)
                except Exception as error:
                    # Recorded as this attempt's failure: raised, it would leave the delivery
                    # waiting for the sweep again and again without counting an attempt.
                    logger.exception("Webhook delivery %s could not be sent", row.pk)
                    answer = Answer(error=f"{type(error).__name__}: {error}"[:2000])
            final = row.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS
        row.response_status = answer.status
        row.response_excerpt = answer.excerpt
        row.last_error = answer.error
        retry = None
        if answer.delivered:
            row.state = WebhookDeliveryState.DELIVERED
            row.delivered_at = now
            row.next_attempt_at = None
        elif final:
            row.state = WebhookDeliveryState.FAILED
            row.next_attempt_at = None
            logger.warning(
                "Webhook delivery %s failed after %s attempts: %s",
                row.pk,
                row.attempts,
                answer.error,
            )
        else:
            delay = webhook_backoff(row.attempts)
            row.next_attempt_at = now + datetime.timedelta(seconds=delay)
            retry = Retry(key=attempt_key(row.next_attempt_at), delay=delay)
        row.save(
            update_fields=[
                "state",
                "attempts",
                "next_attempt_at",
                "last_attempt_at",
                "response_status",
                "response_excerpt",
                "last_error",
                "delivered_at",
                "updated_at",
            ]
        )
    return retry


def webhook_deliveries_lost(now: datetime.datetime | None = None) -> list[tuple[int, str]]:
    """(id, key) of the waiting deliveries whose next attempt is more than DISPATCH_STALE_MINUTES
    past: their message was lost (Redis away when it was to be queued, a task that died without
    its retry). A delivery waiting for a retry the queue holds is left alone."""
    moment = now or timezone.now()
    stale = moment - datetime.timedelta(minutes=settings.DISPATCH_STALE_MINUTES)
    rows = (
        WebhookDelivery.objects.filter(
            state=WebhookDeliveryState.PENDING, next_attempt_at__lt=stale
        )
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:SWEEP_BATCH]
    )
    return [(pk, attempt_key(at)) for pk, at in rows]
