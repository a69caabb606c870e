"""Enumerations of the work plan, the budget and the jobs, in Horizon Europe's and the region's terms.

A status is said of one row, so its label has a context: French agrees it with the row's noun
("Approuvé" for a deliverable, "Acceptée" for an expense) while a column of counts says "Approuvés".
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


class BudgetLineStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("budget line status", "Active")
    CANCELLED = "cancelled", pgettext_lazy("budget line status", "Cancelled")


class ExpenseStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("expense status", "Draft")
    SUBMITTED = "submitted", pgettext_lazy("expense status", "Submitted")
    ACCEPTED = "accepted", pgettext_lazy("expense status", "Accepted")
    REJECTED = "rejected", pgettext_lazy("expense status", "Rejected")
    WITHDRAWN = "withdrawn", pgettext_lazy("expense status", "Withdrawn")


class JobCategory(models.TextChoices):
    RESEARCHER = "researcher", _("Researcher")
    TECHNICIAN = "technician", _("Technician")
    PRODUCTION = "production", _("Production / GMP operator")
    QUALITY = "quality", _("Quality / regulatory")
    SUPPORT = "support", _("Support / management")


class ContractType(models.TextChoices):
    PERMANENT = "permanent", _("Permanent")
    FIXED_TERM = "fixed_term", _("Fixed-term")
    PHD = "phd", _("PhD")
    POSTDOC = "postdoc", _("Post-doc")


class JobImpact(models.TextChoices):
    DIRECT = "direct", pgettext_lazy("job impact", "Direct")
    INDIRECT = "indirect", pgettext_lazy("job impact", "Indirect")


class JobStatus(models.TextChoices):
    FORECAST = "forecast", pgettext_lazy("job status", "Forecast")
    REALISED = "realised", pgettext_lazy("job status", "Realised")
    WITHDRAWN = "withdrawn", pgettext_lazy("job status", "Withdrawn")
