"""Webhooks: addresses a consortium's coordinators subscribe to its events, the events the services
emit, and the delivery of each event to each subscription, with the log of its attempts.

The services of every app emit events in their own transaction (`consortium/webhooks.py`); a
worker posts each delivery, signed with its subscription's secret (`consortium/webhook_delivery.py`).
Only the consortium's coordinators see and manage its subscriptions and their deliveries.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium.models.base import TimeStamped
from consortium.models.consortia import Consortium
from consortium.models.partners import WebsiteField
from consortium.querysets import Action, ScopedQuerySet

WEBHOOK_SECRET_MARKER = "whsec_"  # noqa: S105  (a public marker, not a secret)
# How much of a receiver's answer the log keeps.
RESPONSE_EXCERPT_LENGTH = 500


class WebhookEventType(models.TextChoices):
    """What a subscription can listen to: the decisions and submissions of the consortium's
    work, each named `<object>.<what happened>`."""

    DELIVERABLE_SUBMITTED = "deliverable.submitted", _("Deliverable submitted")
    DELIVERABLE_APPROVED = "deliverable.approved", _("Deliverable approved")
    DELIVERABLE_CHANGES_REQUESTED = (
        "deliverable.changes_requested",
        _("Changes requested on a deliverable"),
    )
    EXPENSE_SUBMITTED = "expense.submitted", _("Expense submitted")
    EXPENSE_ACCEPTED = "expense.accepted", _("Expense accepted (in full or in part)")
    EXPENSE_REJECTED = "expense.rejected", _("Expense rejected")
    STATEMENT_SUBMITTED = "statement.submitted", _("Expense statement submitted")
    STATEMENT_REOPENED = "statement.reopened", _("Expense statement reopened")
    MILESTONE_ACHIEVED = "milestone.achieved", _("Milestone achieved")
    MILESTONE_MISSED = "milestone.missed", _("Milestone missed")
    JOB_REALISED = "job.realised", _("Job realised")
    REPORT_SENT = "report.sent", _("Report sent")


class WebhookDeliveryState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


def validate_webhook_events(value: Any) -> None:
    """`WebhookSubscription.events`: a list of known event types, each once (that there is at
    least one is the model's `clean`)."""
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise ValidationError(_("A list of event types is expected."), code="webhook_events")
    unknown = sorted(set(value) - set(WebhookEventType.values))
    if unknown:
        raise ValidationError(
            _("Unknown event type: %(types)s."),
            params={"types": ", ".join(unknown)},
            code="webhook_event_unknown",
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("An event type is listed twice."), code="webhook_event_twice")


def new_webhook_secret() -> str:
    return f"{WEBHOOK_SECRET_MARKER}{secrets.token_urlsafe(32)}"


class CoordinatorsOnlyQuerySet(ScopedQuerySet):
    """Rows only the consortium's coordinators see and manage, whatever the action: its
    integrations' addresses, secrets and delivery logs are nobody else's business."""

    def restrict(self, user: Any, action: Action = "view") -> Self:
        return super().restrict(user, "manage")


class WebhookSubscription(TimeStamped):
    """An address that receives some of a consortium's events, each delivery signed with the
    subscription's secret. Switched off rather than deleted: its deliveries are its log."""

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    url = WebsiteField(
        _("address"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_(
            "Where each event is posted, for example https://erp.example.org/hooks/consortium."
        ),
    )
    description = models.CharField(
        _("description"),
        max_length=200,
        blank=True,
        help_text=_("What receives these events, for example “ERP of the finance office”."),
    )
    secret = models.CharField(
        _("signing secret"), max_length=100, default=new_webhook_secret, editable=False
    )
    events = models.JSONField(
        _("events"), default=list, validators=[validate_webhook_events], blank=True
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Switched off, the address receives nothing until it is switched on again."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    objects = CoordinatorsOnlyQuerySet.as_manager()
    # The secret is no history: that it was changed, by whom and when, is.
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["consortium_id", "id"]

    def __str__(self) -> str:
        return self.description or self.url

    def clean(self) -> None:
        super().clean()
        if not self.events:
            raise ValidationError(
                {"events": _("Choose at least one event to send to this address.")},
                code="webhook_events_empty",
            )


class WebhookEvent(models.Model):
    """Something that happened in a consortium, as its subscriptions receive it: written once by
    the service that made it happen, in its transaction, never changed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="webhook_events",
    )
    type = models.CharField(_("event"), max_length=40, choices=WebhookEventType.choices)
    created_at = models.DateTimeField(_("happened at"), default=timezone.now, db_index=True)
    # The body's `data`: the object's kind and id and the few fields an integration needs, in no
    # language (codes, amounts as strings, dates in ISO 8601).
    data = models.JSONField(_("data"), default=dict)

    objects = CoordinatorsOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDeliveryQuerySet(CoordinatorsOnlyQuerySet):
    consortium_path = "subscription__consortium"


class WebhookDelivery(TimeStamped):
    """One event sent to one subscription: waiting for its next attempt, delivered, or failed
    after its last attempt. Each attempt is a row of its history (when, the answer's status and
    its beginning, the error); a coordinator's redelivery starts a new round of attempts."""

    event = models.ForeignKey(
        WebhookEvent,
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    subscription = models.ForeignKey(
        WebhookSubscription,
        verbose_name=_("webhook"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=WebhookDeliveryState.choices,
        default=WebhookDeliveryState.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When a pending delivery is next tried; each message handed to the queue names it, so that a
    # message delivered twice finds the attempt made already and does nothing.
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), null=True, blank=True, default=timezone.now
    )
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("answer's status"), null=True, blank=True)
    response_excerpt = models.TextField(_("answer"), blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscription"],
                name="webhook_delivery_once_per_subscription",
                violation_error_message=_("This event is already delivered to this webhook."),
            ),
            models.CheckConstraint(
                condition=~Q(state="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_has_next_attempt",
                violation_error_message=_("A waiting delivery has the time of its next attempt."),
            ),
            models.CheckConstraint(
                condition=~Q(state="delivered") | Q(delivered_at__isnull=False),
                name="webhook_delivery_delivered_has_date",
                violation_error_message=_("A delivery marked delivered has the time it arrived."),
            ),
        ]
        # The sweep looks for waiting deliveries whose next attempt is long past.
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.subscription}"
