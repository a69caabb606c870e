"""The report archive: each report a consortium received, its files, and to whom it went."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium.models import Consortium, TimeStamped
from consortium.querysets import (
    Action,
    ScopedQuerySet,
    person_scope,
)
from reporting import choices


def default_language() -> str:
    return settings.LANGUAGE_CODE


class OverseenQuerySet(ScopedQuerySet):
    """Reports hold every partner's money: coordinators and observers read them, partner people
    (who see only their own partner's money) don't. Rows matching `owner_private` (a report no
    coordinator has sent yet) are the coordinators' alone."""

    def restrict(self, user: Any, action: Action = "view") -> Any:
        if action == "view" and user.is_authenticated and user.is_active and not user.is_superuser:
            consortium_id = f"{self.consortium_path}_id"
            scope = person_scope(user)
            if self.owner_private is None:
                return self.filter(**{f"{consortium_id}__in": scope.overseen})
            return self.filter(
                Q(**{f"{consortium_id}__in": scope.coordinated})
                | (Q(**{f"{consortium_id}__in": scope.observed}) & ~self.owner_private)
            )
        return super().restrict(user, action)


class ReportArchiveQuerySet(OverseenQuerySet):
    # A report is its coordinators' draft until one of them (or a schedule set to send without
    # review) sends it: the funder never reads a draft.
    owner_private = Q(released_at__isnull=True)


class Report(TimeStamped):
    """One report of one kind for one consortium and one period: there is never a second."""

    kind = models.CharField(_("kind"), max_length=20, choices=choices.ReportKind.choices)
    consortium = models.ForeignKey(
        Consortium, verbose_name=_("consortium"), on_delete=models.PROTECT, related_name="reports"
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.ReportStatus.choices,
        default=choices.ReportStatus.PENDING,
        db_index=True,
    )
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    queued_at = models.DateTimeField(
        _("queued at"),
        null=True,
        blank=True,
        help_text=_("When the task queue last took this report to generate and send it."),
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    released_at = models.DateTimeField(
        _("sent for delivery at"),
        null=True,
        blank=True,
        help_text=_(
            "When a coordinator (or a schedule set to send without review) sent the report to "
            "its recipients. Until then it is a draft that only the coordinators read."
        ),
    )
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    error = models.TextField(_("last error"), blank=True)

    objects = ReportArchiveQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["consortium_id", "-period_end", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "consortium", "period_start", "period_end"],
                name="report_unique_period",
                violation_error_message=_(
                    "This consortium already has this report for this period."
                ),
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="report_period_ordered",
                violation_error_message=_("A report's period cannot end before it starts."),
            ),
        ]
        indexes = [models.Index(fields=["consortium", "kind", "status"])]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} {self.consortium} {self.period_start} – {self.period_end}"
        )

    def clean(self) -> None:
        super().clean()
        if self.kind != choices.ReportKind.SEMESTER or not self.consortium_id:
            return
        from consortium.models import ReportingPeriod

        covered = ReportingPeriod.objects.filter(
            consortium_id=self.consortium_id,
            start_date=self.period_start,
            end_date=self.period_end,
        )
        if not covered.exists():
            raise ValidationError(
                _("A semester report covers one of the consortium's reporting periods, exactly."),
                code="semester_period",
            )
        if self.period_end >= timezone.localdate():
            raise ValidationError(
                _("A semester report is made once its reporting period has ended."),
                code="semester_not_ended",
            )

    @property
    def key(self) -> dict[str, Any]:
        """What makes the report unique, as the keyword arguments of the services take it."""
        return {
            "kind": self.kind,
            "consortium": self.consortium,
            "period_start": self.period_start,
            "period_end": self.period_end,
        }

    @property
    def is_draft(self) -> bool:
        return self.released_at is None


class ReportQuerySet(OverseenQuerySet):
    consortium_path = "report__consortium"
    owner_private = Q(report__released_at__isnull=True)


class ReportSchedule(TimeStamped):
    """Which reports a consortium receives on the installation's schedule, and whether each goes
    out as soon as it is generated or waits for a coordinator to read and send it. Its
    coordinators own it; the times of the weekly and monthly firings are the installation's."""

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="report_schedules",
    )
    kind = models.CharField(_("report"), max_length=20, choices=choices.ReportKind.choices)
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("Untick to stop creating this report.")
    )
    review_first = models.BooleanField(
        _("review before sending"),
        default=True,
        help_text=_(
            "Ticked: the report waits in the archive until a coordinator has read it and sends "
            "it. Unticked: it goes to its recipients as soon as it is generated."
        ),
    )
    days_after_period_end = models.PositiveSmallIntegerField(
        _("days after the period's end"),
        default=45,
        validators=[MaxValueValidator(180)],
        help_text=_(
            "Semester reports only: how many days after a reporting period ends its report is "
            "generated, to let the statements come in and be reviewed."
        ),
    )

    objects = OverseenQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        ordering = ["consortium_id", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["consortium", "kind"],
                name="report_schedule_unique_kind",
                violation_error_message=_(
                    "This consortium already has a schedule for this report."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consortium} · {self.get_kind_display()}"


class ReportDocument(models.Model):
    """A report rendered in one language: the HTML sent as the email's body (its charts referred
    to by `cid:`), the XLSX and the PDF attached to it, and the charts' PNG images."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="documents"
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    html = models.TextField(_("rendered report"))
    text = models.TextField(_("plain text"))
    xlsx = models.FileField(_("spreadsheet"), upload_to="reports/%Y/%m/")
    pdf = models.FileField(_("PDF"), upload_to="reports/%Y/%m/")
    chart = models.FileField(_("chart"), upload_to="reports/%Y/%m/", blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("report document")
        verbose_name_plural = _("report documents")
        ordering = ["report", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "language"], name="report_document_unique_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report} ({self.language})"


class ReportRecipient(TimeStamped):
    """An address outside the consortium's coordinators that receives its reports (the funder's
    officer, a board member), in the language it reads."""

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="report_recipients",
    )
    email = models.EmailField(_("email"))
    name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=default_language
    )
    progress_report = models.BooleanField(_("progress reports"), default=True)
    jobs_report = models.BooleanField(_("jobs-created reports"), default=True)
    semester_report = models.BooleanField(_("semester reports"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = OverseenQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("report recipient")
        verbose_name_plural = _("report recipients")
        ordering = ["consortium_id", "email"]
        constraints = [
            models.UniqueConstraint(
                "consortium",
                Lower("email"),
                name="report_recipient_unique_email",
                violation_error_message=_(
                    "This address already receives this consortium's reports."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class Outgoing(TimeStamped):
    """An email to one person, sent at most once, with the outcome of each attempt."""

    language = models.CharField(_("language"), max_length=8, default=default_language)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.DeliveryStatus.choices,
        default=choices.DeliveryStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        abstract = True


class ReportDelivery(Outgoing):
    """A report's email to one recipient."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.PROTECT, related_name="deliveries"
    )
    email = models.EmailField(_("email"))

    objects = ReportQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        ordering = ["report", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "email"],
                name="report_delivery_unique_recipient",
                violation_error_message=_("This report already goes to this address."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report} → {self.email}"


class ReminderDigest(Outgoing):
    """The day's digest of deadlines for one partner user: there is never a second that day.

    `items` keeps what the digest lists when it is planned, so that a retry sends the same email.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="reminder_digests",
    )
    day = models.DateField(_("day"))
    email = models.EmailField(_("email"))
    items = models.JSONField(_("deadlines"), default=list)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reminder digest")
        verbose_name_plural = _("reminder digests")
        ordering = ["-day", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="reminder_digest_unique_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.day}"


class Heartbeat(models.Model):
    """When a periodic piece of work last ran (the outbox's sweep, fired by beat every few
    minutes): a silence longer than a few of its intervals is an alert (`reporting/alerts.py`)."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    beat_at = models.DateTimeField(_("last run"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} {self.beat_at:%Y-%m-%d %H:%M}"
