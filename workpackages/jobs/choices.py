"""Enumerations of the jobs, in the region's terms (category, contract, impact, status)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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
