"""Enumerations of the work plan, the budget and the jobs, in Horizon Europe's and the region's terms."""

from django.db import models
from django.utils.translation import gettext_lazy as _


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
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    SUBMITTED = "submitted", _("Submitted")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")


class MilestoneStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACHIEVED = "achieved", _("Achieved")
    MISSED = "missed", _("Missed")


class BudgetLineStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CANCELLED = "cancelled", _("Cancelled")


class ExpenseStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


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
    DIRECT = "direct", _("Direct")
    INDIRECT = "indirect", _("Indirect")


class JobStatus(models.TextChoices):
    FORECAST = "forecast", _("Forecast")
    REALISED = "realised", _("Realised")
    WITHDRAWN = "withdrawn", _("Withdrawn")
