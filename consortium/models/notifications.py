"""Workflow notifications: what happened to a person's work (a deliverable sent back, an expense
rejected, a statement submitted...), recorded once per recipient by the service that made it
happen, and the daily digest that tells each person of theirs, sent at most once.

The services of `workpackages/` record the events (`consortium/notifications.py`); the reporting
app plans and sends the digests (`reporting/notifications.py`). What a person chose not to receive
is on their profile (`Profile.notifications_off`), read when the digest is planned and sent.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from consortium.models.base import TimeStamped
from consortium.models.consortia import Consortium
from consortium.models.partners import Partner


class NotificationKind(models.TextChoices):
    """What a person can be told of. The first four go to a partner's team, the last two to the
    consortium's coordinators."""

    CHANGES_REQUESTED = "changes_requested", _("Changes requested on a deliverable")
    EXPENSE_REJECTED = "expense_rejected", _("Expense rejected")
    EXPENSE_PARTLY_ACCEPTED = "expense_partly_accepted", _("Expense accepted for a lower amount")
    STATEMENT_REOPENED = "statement_reopened", _("Expense statement reopened")
    DELIVERABLE_SUBMITTED = "deliverable_submitted", _("New deliverable version submitted")
    STATEMENT_SUBMITTED = "statement_submitted", _("Expense statement submitted")


# The kinds a partner's team is told of, and those the coordinators are.
PARTNER_KINDS = (
    NotificationKind.CHANGES_REQUESTED,
    NotificationKind.EXPENSE_REJECTED,
    NotificationKind.EXPENSE_PARTLY_ACCEPTED,
    NotificationKind.STATEMENT_REOPENED,
)
COORDINATOR_KINDS = (
    NotificationKind.DELIVERABLE_SUBMITTED,
    NotificationKind.STATEMENT_SUBMITTED,
)


def validate_notification_kinds(value: Any) -> None:
    """`Profile.notifications_off`: a list of distinct known kinds."""
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise ValidationError(
            _("A list of kinds of notification is expected."), code="notification_kinds"
        )
    unknown = sorted(set(value) - set(NotificationKind.values))
    if unknown:
        raise ValidationError(
            _("Unknown kind of notification: %(kinds)s."),
            params={"kinds": ", ".join(unknown)},
            code="notification_kind_unknown",
        )
    if len(set(value)) != len(value):
        raise ValidationError(
            _("A kind of notification is listed twice."), code="notification_kind_twice"
        )


class NotificationState(models.TextChoices):
    PENDING = "pending", _("Waiting for the daily digest")
    LISTED = "listed", _("Listed in a digest")
    SKIPPED = "skipped", _("Not sent (switched off, or no address)")


def default_language() -> str:
    return settings.LANGUAGE_CODE


class DigestStatus(models.TextChoices):
    """The same values as the reporting outbox's `DeliveryStatus`, whose `deliver_once` sends the
    digests."""

    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class NotificationDigest(TimeStamped):
    """The day's digest of one person's notifications: there is never a second that day.

    `items` keeps what the digest lists when it is planned, so that a retry sends the same email.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_digests",
    )
    day = models.DateField(_("day"))
    email = models.EmailField(_("email"))
    language = models.CharField(_("language"), max_length=8, default=default_language)
    items = models.JSONField(_("notifications"), default=list)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=DigestStatus.choices,
        default=DigestStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification digest")
        verbose_name_plural = _("notification digests")
        ordering = ["-day", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="notification_digest_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"


class Notification(TimeStamped):
    """One event told to one person: recorded in the transaction of the service that made it
    happen (rolled back with it), for the people concerned at that moment; listed in their next
    daily digest unless they switched that kind off by then."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=30, choices=NotificationKind.choices)
    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    # What the digest says of it, in no language: codes, titles, amounts, dates, the comment.
    data = models.JSONField(_("details"), default=dict, blank=True)
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=NotificationState.choices,
        default=NotificationState.PENDING,
    )
    digest = models.ForeignKey(
        NotificationDigest,
        verbose_name=_("digest"),
        on_delete=models.SET_NULL,
        related_name="notifications",
        null=True,
        blank=True,
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["user", "created_at", "pk"]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_kind_display()}"
