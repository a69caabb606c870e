"""Enumerations of the work plan: deliverables, reviews and milestones.

A status is said of one row, so its label has a context: French agrees it with the row's noun
("Approuvé" for a deliverable) while a column of counts says "Approuvés".
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class DeliverableType(models.TextChoices):
    R = "R", _("R – Document, report")
    DEM = "DEM", _("DEM – Demonstrator, pilot, prototype")
    DEC = "DEC", _("DEC – Websites, patent filings, press & media, videos")
    DATA = "DATA", _("DATA – Data sets")
    DMP = "DMP", _("DMP – Data management plan")
    ETHICS = "ETHICS", _("ETHICS – Ethics")
    SECURITY = "SECURITY", _("SECURITY – Security")
    OTHER = "OTHER", _("OTHER – Software, diagrams, algorithms, models")


class Dissemination(models.TextChoices):
    PU = "PU", _("PU – Public")
    SEN = "SEN", _("SEN – Sensitive")
    R_UE = "R-UE/EU-R", _("R-UE/EU-R – EU restricted")
    C_UE = "C-UE/EU-C", _("C-UE/EU-C – EU confidential")
    S_UE = "S-UE/EU-S", _("S-UE/EU-S – EU secret")


class DeliverableStatus(models.TextChoices):
    PLANNED = "planned", pgettext_lazy("deliverable status", "Planned")
    IN_PROGRESS = "in_progress", pgettext_lazy("deliverable status", "In progress")
    SUBMITTED = "submitted", pgettext_lazy("deliverable status", "Submitted")
    CHANGES_REQUESTED = (
        "changes_requested",
        pgettext_lazy("deliverable status", "Changes requested"),
    )
    APPROVED = "approved", pgettext_lazy("deliverable status", "Approved")


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", pgettext_lazy("review decision", "Approved")
    CHANGES_REQUESTED = "changes_requested", pgettext_lazy("review decision", "Changes requested")


class MilestoneStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("milestone status", "Pending")
    ACHIEVED = "achieved", pgettext_lazy("milestone status", "Achieved")
    MISSED = "missed", pgettext_lazy("milestone status", "Missed")
