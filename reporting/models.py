"""The report archive: each report a consortium received, its files, and to whom it went."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium.models import Consortium, TimeStamped
from consortium.querysets import Action, ScopedQuerySet, overseen_consortia

from . import choices


class OverseenQuerySet(ScopedQuerySet):
    """Reports hold every partner's money: coordinators and observers read them, partner people
    (who see only their own partner's money) don't."""

    def restrict(self, user: Any, action: Action = "view") -> Any:
        if action == "view" and user.is_authenticated and user.is_active and not user.is_superuser:
            return self.filter(**{f"{self.consortium_path}_id__in": overseen_consortia(user)})
        return super().restrict(user, action)


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
    html = models.TextField(_("rendered report"), blank=True)
    xlsx = models.FileField(_("spreadsheet"), upload_to="reports/%Y/%m/", blank=True)
    pdf = models.FileField(_("PDF"), upload_to="reports/%Y/%m/", blank=True)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)

    objects = OverseenQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["html"])

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["consortium", "-period_end", "kind"]
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


class ReportDeliveryQuerySet(OverseenQuerySet):
    consortium_path = "report__consortium"


class ReportDelivery(TimeStamped):
    """A report's email to one recipient: sent at most once, with each attempt's outcome."""

    report = models.ForeignKey(
        Report, verbose_name=_("report"), on_delete=models.PROTECT, related_name="deliveries"
    )
    email = models.EmailField(_("email"))
    language = models.CharField(_("language"), max_length=8, default="en")
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

    objects = ReportDeliveryQuerySet.as_manager()
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
