"""Enumerations of the consortium app, in the funders' vocabulary."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganisationKind(models.TextChoices):
    UNIVERSITY = "university", _("University")
    UNIVERSITY_HOSPITAL = "university_hospital", _("University hospital")
    RESEARCH_CENTRE = "research_centre", _("Research centre")
    LARGE_COMPANY = "large_company", _("Large company")
    SME = "sme", _("SME")
    START_UP = "start_up", _("Start-up")
    PUBLIC_BODY = "public_body", _("Public body")
    NON_PROFIT = "non_profit", _("Non-profit / cluster")


class PartnerRole(models.TextChoices):
    COORDINATOR = "coordinator", _("Coordinator")
    BENEFICIARY = "beneficiary", _("Beneficiary")
    ASSOCIATED = "associated", _("Associated partner")


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class MembershipRole(models.TextChoices):
    """A user's role within a partner organisation."""

    CONTACT = "contact", _("Partner contact")
    FINANCE = "finance", _("Finance officer")
    CONTRIBUTOR = "contributor", _("Contributor")


class ConsortiumRoleKind(models.TextChoices):
    """A user's role over a whole consortium."""

    COORDINATOR = "coordinator", _("Coordinator")
    OBSERVER = "observer", _("Observer (funder, read-only)")


class CostCategoryKind(models.TextChoices):
    ACTUAL = "actual", _("Actual costs")
    FLAT_RATE = "flat_rate", _("Flat rate on another category")


class SecondFactorState(models.TextChoices):
    """Whether a person signs in with a second factor (an authenticator app and recovery codes)."""

    OFF = "off", _("Off")
    ON = "on", _("On")


class SecondFactorEvent(models.TextChoices):
    """What changed a person's second factor."""

    TURNED_ON = "turned_on", _("Turned on")
    TURNED_OFF = "turned_off", _("Turned off")
    RESET = "reset", _("Reset")
    CODES_RENEWED = "codes_renewed", _("New recovery codes")
