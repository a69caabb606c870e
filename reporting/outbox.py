"""The outbox of the report archive: one delivery row per recipient of a report, each sent at most
once. The row is locked while its email goes out and marked sent in the same transaction, so a
task delivered twice, or a second beat firing, finds it sent and stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from consortium.choices import ConsortiumRoleKind
from consortium.models import WebhookEventType, language_of
from consortium.querysets import authorize
from consortium.records import save_with_history
from consortium.webhooks import emit
from reporting import emails
from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.models import ReminderDigest, Report, ReportDelivery, ReportRecipient

logger = logging.getLogger(__name__)


def _valid_address(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        logger.warning("Reports skip the invalid address %r", email)
        return False
    return True


# The recipient's box that says they receive each kind of report.
RECIPIENT_FLAGS: dict[str, str] = {
    ReportKind.PROGRESS: "progress_report",
    ReportKind.JOBS: "jobs_report",
    ReportKind.SEMESTER: "semester_report",
}


def report_recipients(report: Report) -> list[tuple[str, str]]:
    """Who receives a report, as (address, language): the consortium's active coordinators with
    an address, then the extra addresses configured for this kind of report."""
    users = (
        get_user_model()
        .objects.filter(
            is_active=True,
            consortium_roles__consortium_id=report.consortium_id,
            consortium_roles__kind=ConsortiumRoleKind.COORDINATOR,
            consortium_roles__is_active=True,
        )
        .exclude(email="")
        .select_related("profile")
        .order_by("pk")
    )
    found: dict[str, str] = {}
    for user in users:
        if _valid_address(user.email):
            found.setdefault(user.email.lower(), language_of(user))
    wanted = RECIPIENT_FLAGS[report.kind]
    extra = ReportRecipient.objects.filter(
        consortium_id=report.consortium_id, is_active=True, **{wanted: True}
    )
    for recipient in extra.order_by("pk"):
        found.setdefault(recipient.email.lower(), recipient.language)
    return list(found.items())


@transaction.atomic
def report_deliveries_plan(*, report: Report, user: Any = None) -> list[ReportDelivery]:
    """Add a pending delivery for each recipient who has none yet; return those still to send.
    A draft (not sent for delivery yet) goes to no one."""
    report = Report.objects.select_for_update(of=("self",)).get(pk=report.pk)
    if report.released_at is None:
        return []
    planned = set(report.deliveries.values_list("email", flat=True))
    added = 0
    for email, language in report_recipients(report):
        if email not in planned:
            delivery = ReportDelivery(report=report, email=email, language=language)
            save_with_history(delivery, user=user)
            added += 1
    if added and report.status == ReportStatus.SENT:
        # A recipient added since it went out: the report is not sent to everyone any more.
        report.status = ReportStatus.GENERATED
        save_with_history(report, user=user)
    return list(report.deliveries.filter(status=DeliveryStatus.PENDING).order_by("pk"))


@transaction.atomic
def report_resend(*, report: Report, user: Any) -> list[ReportDelivery]:
    """ "Send now" from the admin: failed deliveries get another round of attempts and every
    recipient without a sent email gets one. Recipients already served are not mailed again."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    authorize(user, report, "manage")
    for delivery in report.deliveries.filter(status=DeliveryStatus.FAILED):
        delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
        save_with_history(delivery, user=user)
    if report.status == ReportStatus.FAILED:
        report.status = ReportStatus.GENERATED if report.generated_at else ReportStatus.PENDING
    report.queued_at = None  # Until the queue takes it again, the dispatcher looks after it.
    save_with_history(report, user=user)
    return report_deliveries_plan(report=report, user=user)


def _settle(report_id: int) -> None:
    """A report is sent once every recipient has their email, failed once one has given up."""
    report = Report.objects.select_for_update().get(pk=report_id)
    statuses = set(report.deliveries.values_list("status", flat=True))
    before = (report.status, report.error)
    if DeliveryStatus.FAILED in statuses:
        report.status = ReportStatus.FAILED
        failed = report.deliveries.filter(status=DeliveryStatus.FAILED).first()
        report.error = f"{failed.email}: {failed.last_error}" if failed else ""
    elif statuses == {DeliveryStatus.SENT}:
        report.status = ReportStatus.SENT
        first_sending = report.sent_at is None
        report.sent_at = report.sent_at or timezone.now()
        report.error = ""
        if first_sending:
            emit(WebhookEventType.REPORT_SENT, report)
    if (report.status, report.error) != before:
        save_with_history(report, user=None)


def deliver_once(
    model: type[ReportDelivery] | type[ReminderDigest],
    pk: int,
    build: Callable[[Any], Any],
    *,
    final: bool,
    wanted: Callable[[Any], bool] = lambda row: True,
) -> bool:
    """Send one row's email unless it went already, failed for good or is no longer `wanted`.
    The row stays locked from the check to the mark, so two workers holding the same task send
    it once. An SMTP or connection error is recorded on the row and raised again for the task to
    retry, or, on the `final` attempt, marks the row failed; any other error (a document gone
    missing) fails the row at once. Returns whether an email left now."""
    failure: Exception | None = None
    retry = False
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        if row.status != DeliveryStatus.PENDING:
            return False
        if not wanted(row):
            row.status = DeliveryStatus.CANCELLED
            row.save(update_fields=["status", "updated_at"])
            return False
        row.attempts += 1
        try:
            build(row).send()
        except emails.SEND_ERRORS as error:
            failure, retry = error, not final
        except Exception as error:  # Recorded on the row, and raised again below.
            failure = error
        if failure is None:
            row.status, row.sent_at, row.last_error = DeliveryStatus.SENT, timezone.now(), ""
        else:
            row.last_error = f"{type(failure).__name__}: {failure}"[:2000]
            row.status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        row.save(update_fields=["attempts", "last_error", "status", "sent_at", "updated_at"])
    # Raised after the commit, so that the attempt and its error stay recorded.
    if failure is not None and (retry or not isinstance(failure, emails.SEND_ERRORS)):
        raise failure
    return failure is None


def delivery_send(*, delivery_id: int, final: bool = True) -> bool:
    """Email a report to one recipient, at most once."""
    try:
        sent = deliver_once(ReportDelivery, delivery_id, emails.report_message, final=final)
    finally:
        with transaction.atomic():
            report_id = ReportDelivery.objects.values_list("report_id", flat=True).get(
                pk=delivery_id
            )
            _settle(report_id)
    return sent
