"""Enumerations of the scheduled reports and their deliveries."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportKind(models.TextChoices):
    PROGRESS = "progress", _("Progress report")
    JOBS = "jobs", _("Jobs-created report")
    SEMESTER = "semester", _("Semester report")


class ReportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    GENERATED = "generated", _("Generated")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
