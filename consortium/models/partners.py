"""Organisations and the partners they are in a consortium."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium import choices
from consortium.models.base import PERCENT_VALIDATORS, TimeStamped
from consortium.models.consortia import Consortium
from consortium.querysets import (
    ScopedQuerySet,
    coordinated_consortia,
    person_scope,
)
from consortium.validators import (
    normalise_enterprise_number,
    validate_enterprise_number,
    validate_vat_id,
)


class OrganisationQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: str = "view") -> OrganisationQuerySet:
        """Organisations taking part in the user's consortia, plus those a coordinator created
        and hasn't made a partner yet (once a partner, the partnership decides who sees it)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        scope = person_scope(user)
        consortia = scope.coordinated if action != "view" else scope.overseen
        condition = Q(partnerships__consortium_id__in=consortia) | Q(
            created_by_id=user.pk, partnerships__isnull=True
        )
        if action == "view":
            condition |= Q(partnerships__consortium_id__in=scope.partner_consortia)
        return self.filter(pk__in=self.filter(condition).values("pk"))

    def may_create(self, user: Any, organisation: Organisation) -> bool:
        """Coordinators record the organisations they are about to make partners."""
        return bool(user.is_superuser or coordinated_consortia(user).exists())


class EnterpriseNumberField(models.CharField):
    """Stores the 10 digits; accepts what people type (`BE 0403.170.701`, `403170701`)."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return normalise_enterprise_number(value) or None if value else None

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]  # stubs name Field's arguments
        # Room for the dots, spaces and "BE" prefix people type; the 10 digits are checked after.
        return super().formfield(**{**kwargs, "max_length": 20})


class WebsiteField(models.URLField):
    """A website typed without its scheme (`www.example.be`) is taken as https."""

    def formfield(self, **kwargs: Any) -> Any:  # type: ignore[override]  # stubs name Field's arguments
        return super().formfield(**{**kwargs, "assume_scheme": "https"})


class Organisation(TimeStamped):
    """A legal entity (company, university, hospital…) that may take part in several consortia."""

    legal_name = models.CharField(_("legal name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=30, choices=choices.OrganisationKind.choices)
    enterprise_number = EnterpriseNumberField(
        _("Belgian enterprise number"),
        max_length=10,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_enterprise_number],
        help_text=_("10 digits, e.g. 0403.170.701; leave empty for a foreign organisation."),
    )
    vat_id = models.CharField(
        _("foreign VAT id"),
        max_length=15,
        blank=True,
        validators=[validate_vat_id],
        help_text=_("For organisations registered outside Belgium, e.g. FR40303265045."),
    )
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country code"), max_length=2, default="BE")
    website = WebsiteField(_("website"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = OrganisationQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["short_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(enterprise_number__isnull=True)
                | Q(enterprise_number__regex=r"^[01][0-9]{9}$"),
                name="organisation_enterprise_number_digits",
                violation_error_message=_("A Belgian enterprise number has 10 digits."),
            ),
            models.CheckConstraint(
                condition=Q(enterprise_number__isnull=False) | ~Q(vat_id=""),
                name="organisation_has_identifier",
                violation_error_message=_(
                    "Give a Belgian enterprise number or, for a foreign organisation, its VAT id."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.short_name

    def clean_fields(self, exclude: Any = None) -> None:
        # Django skips blank values in clean_fields: "" must become NULL here, or the identifier
        # check would count it and the uniqueness check would compare every foreign organisation.
        self.enterprise_number = self.enterprise_number or None
        self.vat_id = (self.vat_id or "").replace(" ", "").upper()
        super().clean_fields(exclude=exclude)

    @property
    def enterprise_number_display(self) -> str:
        n = self.enterprise_number or ""
        return f"{n[:4]}.{n[4:7]}.{n[7:]}" if n else ""


class PartnerQuerySet(ScopedQuerySet):
    # A partner's own people write for it ("change"): their expenses, effort and jobs name it.
    owner_path = ""


class Partner(TimeStamped):
    """An organisation's participation in one consortium, with its role and default funding rate."""

    consortium = models.ForeignKey(
        Consortium, verbose_name=_("consortium"), on_delete=models.PROTECT, related_name="partners"
    )
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="partnerships",
    )
    number = models.PositiveSmallIntegerField(
        _("partner number"),
        help_text=_("1 for the coordinator, then in the order of the agreement."),
    )
    role = models.CharField(
        _("role"),
        max_length=20,
        choices=choices.PartnerRole.choices,
        default=choices.PartnerRole.BENEFICIARY,
    )
    default_funding_rate = models.DecimalField(
        _("default funding rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=PERCENT_VALIDATORS,
        help_text=_("Share of eligible costs paid by the funder; budget lines may override it."),
    )
    jobs_commitment_direct = models.PositiveIntegerField(_("direct jobs committed"), default=0)
    jobs_commitment_indirect = models.PositiveIntegerField(_("indirect jobs committed"), default=0)
    joined_on = models.DateField(_("joined on"))
    left_on = models.DateField(_("left on"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.PartnerStatus.choices,
        default=choices.PartnerStatus.ACTIVE,
        db_index=True,
    )

    objects = PartnerQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["consortium_id", "number"]
        constraints = [
            # Lets PostgreSQL check with composite foreign keys that related rows share the consortium.
            models.UniqueConstraint(fields=["id", "consortium"], name="partner_id_consortium"),
            models.UniqueConstraint(
                fields=["consortium", "organisation"],
                name="partner_unique_organisation",
                violation_error_message=_(
                    "This organisation is already a partner of the consortium."
                ),
            ),
            models.UniqueConstraint(
                fields=["consortium", "number"],
                name="partner_unique_number",
                violation_error_message=_("Another partner already has this number."),
            ),
            models.CheckConstraint(
                condition=Q(default_funding_rate__gte=0, default_funding_rate__lte=100),
                name="partner_funding_rate_percent",
                violation_error_message=_("A funding rate is a percentage (0 to 100)."),
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=F("joined_on")),
                name="partner_left_after_joined",
                violation_error_message=_("A partner cannot leave before it joined."),
            ),
            models.CheckConstraint(
                condition=Q(status="active", left_on__isnull=True) | Q(status="withdrawn"),
                name="partner_active_has_not_left",
                violation_error_message=_(
                    "An active partner has no leaving date; withdraw it instead."
                ),
            ),
        ]

    # What its label reads: lists of partners fetch it with them (`RelatedLabelsFilter`).
    LABEL_RELATED = ("organisation",)

    def __str__(self) -> str:
        return f"P{self.number} {self.organisation.short_name}"
