"""The partnership itself: consortia, organisations, partners, people's roles, periods, cost headings."""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token
from simple_history.models import HistoricalRecords

from consortium import choices, dates
from consortium.constraints import ValidatedModel
from consortium.querysets import (
    PartnerOwnedQuerySet,
    ScopedQuerySet,
    contact_partners,
    coordinated_consortia,
    manageable_people,
    member_consortia,
    overseen_consortia,
    people_managed_alone,
)
from consortium.validators import (
    normalise_enterprise_number,
    validate_enterprise_number,
    validate_vat_id,
)

# Percentages (funding rates, shares) are stored as 0–100 with two decimals.
PERCENT_VALIDATORS = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]


class TimeStamped(ValidatedModel):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        abstract = True


class ConsortiumQuerySet(ScopedQuerySet):
    consortium_path = ""


class Consortium(TimeStamped):
    """A funded partnership (e.g. the Walloon PIT in ATMP): its money, its dates and its job targets."""

    name = models.CharField(_("name"), max_length=200)
    acronym = models.CharField(_("acronym"), max_length=30, unique=True)
    funder = models.CharField(_("funder"), max_length=200)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    total_budget = models.DecimalField(
        _("total budget (EUR)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
    )
    public_funding_share = models.DecimalField(
        _("public funding share (%)"),
        max_digits=5,
        decimal_places=2,
        validators=PERCENT_VALIDATORS,
        help_text=_("Share of the total budget paid by public money, in per cent."),
    )
    direct_jobs_target = models.PositiveIntegerField(_("direct jobs target"), default=0)
    indirect_jobs_target = models.PositiveIntegerField(_("indirect jobs target"), default=0)
    jobs_horizon_years = models.PositiveSmallIntegerField(
        _("jobs horizon (years)"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("Years from the start date within which the job targets are to be met."),
    )
    reporting_period_months = models.PositiveSmallIntegerField(
        _("reporting period (months)"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    statement_due_days = models.PositiveSmallIntegerField(
        _("statement due (days after period end)"),
        default=60,
        validators=[MaxValueValidator(365)],
    )

    objects = ConsortiumQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("consortium")
        verbose_name_plural = _("consortia")
        ordering = ["acronym"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")),
                name="consortium_end_after_start",
                violation_error_message=_("The end date must be after the start date."),
            ),
            models.CheckConstraint(
                condition=Q(total_budget__gte=0),
                name="consortium_budget_not_negative",
                violation_error_message=_("The total budget cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(public_funding_share__gte=0, public_funding_share__lte=100),
                name="consortium_public_share_percent",
                violation_error_message=_("The public funding share is a percentage (0 to 100)."),
            ),
            models.CheckConstraint(
                condition=Q(reporting_period_months__gte=1, reporting_period_months__lte=12),
                name="consortium_period_length",
                violation_error_message=_("A reporting period lasts 1 to 12 months."),
            ),
        ]

    def __str__(self) -> str:
        return self.acronym

    @property
    def duration_months(self) -> int:
        return dates.months_between(self.start_date, self.end_date)

    @property
    def public_funding(self) -> Decimal:
        return (self.total_budget * self.public_funding_share / 100).quantize(Decimal("0.01"))

    @property
    def jobs_horizon_date(self) -> datetime.date:
        return dates.add_months(self.start_date, 12 * self.jobs_horizon_years)

    def month_due_date(self, month: int) -> datetime.date:
        return dates.month_end(self.start_date, month)

    def validate_month(self, month: int | None, field: str) -> None:
        """Raise on a project month outside 1 … duration, keyed on the form field `field`."""
        if month is not None and not 1 <= month <= self.duration_months:
            raise ValidationError(
                {
                    field: _(
                        "Month %(month)s is outside the consortium's duration (1 to %(last)s)."
                    )
                    % {"month": month, "last": self.duration_months}
                },
                code="month_out_of_range",
            )


class OrganisationQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: str = "view") -> OrganisationQuerySet:
        """Organisations taking part in the user's consortia, plus those a coordinator created
        and hasn't made a partner yet (once a partner, the partnership decides who sees it)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        consortia = coordinated_consortia(user) if action != "view" else overseen_consortia(user)
        condition = Q(partnerships__consortium_id__in=consortia) | Q(
            created_by_id=user.pk, partnerships__isnull=True
        )
        if action == "view":
            condition |= Q(partnerships__consortium_id__in=member_consortia(user))
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
        ordering = ["consortium", "number"]
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

    def __str__(self) -> str:
        return f"P{self.number} {self.organisation.short_name}"


class MembershipQuerySet(PartnerOwnedQuerySet):
    consortium_path = "partner__consortium"

    def owners(self, user: Any) -> QuerySet[Any]:
        """A team is changed by its partner contacts, not by every member (`may_manage_team`)."""
        return contact_partners(user)


class Membership(TimeStamped):
    """A user working for a partner, with what they do there."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=choices.MembershipRole.choices)
    is_active = models.BooleanField(_("active"), default=True)

    objects = MembershipQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["partner", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "partner"],
                name="membership_unique_user_partner",
                violation_error_message=_("This user already belongs to this partner."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.partner} ({self.get_role_display()})"

    def clean(self) -> None:
        refusal = self.other_partner_error()
        if refusal is not None:
            raise ValidationError({"user": refusal})

    def other_partner_error(self) -> ValidationError | None:
        """A person works for one partner per consortium: the refusal if this membership, active,
        would be their second. The one rule every door (the admin, the team pages, invitations)
        asks."""
        if not self.is_active or self.partner_id is None or self.user_id is None:
            return None
        elsewhere = (
            Membership.objects.filter(
                user_id=self.user_id,
                partner__consortium_id=self.partner.consortium_id,
                is_active=True,
            )
            .exclude(pk=self.pk)
            .exclude(partner_id=self.partner_id)
        )
        if not elsewhere.exists():
            return None
        user: Any = self.user
        return ValidationError(
            _(
                "%(person)s already works for another partner of this consortium, and a person "
                "works for one partner per consortium: ask the consortium's coordinators."
            ),
            params={"person": user.get_full_name() or user.get_username()},
            code="membership_other_partner",
        )


class ProfileQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: str = "view") -> ProfileQuerySet:
        """A person's own profile; a coordinator reads those of the people of their consortia and
        changes those of the people who take part in no other consortium."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        people = manageable_people(user) if action == "view" else people_managed_alone(user)
        return self.filter(Q(user_id=user.pk) | Q(user_id__in=people.values("pk")))

    def may_create(self, user: Any, profile: Profile) -> bool:
        return bool(
            profile.user_id == user.pk
            or people_managed_alone(user).filter(pk=profile.user_id).exists()
        )


class Profile(TimeStamped):
    """What a person chooses for themselves: the language of the app and of their emails, and
    whether they receive the daily digest of their partner's deadlines."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="profile",
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Left empty, the site's default language is used."),
    )
    deadline_reminders = models.BooleanField(
        _("deadline reminders"),
        default=True,
        help_text=_("A daily email listing the partner's deliverables due soon or overdue."),
    )
    # The secret part of the person's calendar feed URL; empty when they have none or revoked it.
    calendar_token = models.CharField(
        _("calendar feed key"), max_length=64, null=True, blank=True, unique=True, editable=False
    )

    objects = ProfileQuerySet.as_manager()
    # The feed key is a secret: the history records who changed the profile and when, not the key.
    history = HistoricalRecords(excluded_fields=["calendar_token"])

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)


def language_of(user: Any) -> str:
    """The language a person reads: the one they chose, else the site's default."""
    profile = getattr(user, "profile", None) if user.pk else None
    return (profile.language if profile else "") or settings.LANGUAGE_CODE


class ConsortiumRole(TimeStamped):
    """A consortium-wide role: coordinators run the consortium, observers (the funder) read it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="consortium_roles",
    )
    consortium = models.ForeignKey(
        Consortium, verbose_name=_("consortium"), on_delete=models.CASCADE, related_name="roles"
    )
    kind = models.CharField(_("role"), max_length=20, choices=choices.ConsortiumRoleKind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("consortium role")
        verbose_name_plural = _("consortium roles")
        ordering = ["consortium", "kind", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "consortium"],
                name="consortium_role_unique_user",
                violation_error_message=_("This user already has a role in this consortium."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_kind_display()} ({self.consortium})"


class ReportingPeriod(ValidatedModel):
    """A reporting period (6 months by default) after which partners file their expense statements."""

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="periods",
    )
    number = models.PositiveSmallIntegerField(_("number"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    statement_due_date = models.DateField(_("statement due date"))

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reporting period")
        verbose_name_plural = _("reporting periods")
        ordering = ["consortium", "number"]
        constraints = [
            # Lets PostgreSQL check with composite foreign keys that related rows share the consortium.
            models.UniqueConstraint(fields=["id", "consortium"], name="period_id_consortium"),
            models.UniqueConstraint(
                fields=["consortium", "number"],
                name="period_unique_number",
                violation_error_message=_("This consortium already has a period with this number."),
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="period_end_after_start",
                violation_error_message=_("A period cannot end before it starts."),
            ),
            models.CheckConstraint(
                condition=Q(statement_due_date__gte=F("end_date")),
                name="period_statement_after_end",
                violation_error_message=_("The statement is due after the period ends."),
            ),
        ]
        indexes = [models.Index(fields=["consortium", "start_date", "end_date"])]

    def __str__(self) -> str:
        return _("P%(number)s (%(start)s – %(end)s)") % {
            "number": self.number,
            "start": self.start_date.strftime("%m/%Y"),
            "end": self.end_date.strftime("%m/%Y"),
        }

    def contains(self, day: datetime.date) -> bool:
        return self.start_date <= day <= self.end_date


class CostCategory(ValidatedModel):
    """An eligible cost heading of a consortium (personnel, operating costs, overheads…)."""

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.CASCADE,
        related_name="cost_categories",
    )
    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=choices.CostCategoryKind.choices,
        default=choices.CostCategoryKind.ACTUAL,
    )
    flat_rate = models.DecimalField(
        _("flat rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=PERCENT_VALIDATORS,
        null=True,
        blank=True,
        help_text=_("For flat-rate headings: the percentage applied to the base heading."),
    )
    flat_rate_base = models.ForeignKey(
        "self",
        verbose_name=_("flat rate applies to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cost category")
        verbose_name_plural = _("cost categories")
        ordering = ["consortium", "position", "code"]
        constraints = [
            # Lets PostgreSQL check with composite foreign keys that related rows share the consortium.
            models.UniqueConstraint(
                fields=["id", "consortium"], name="cost_category_id_consortium"
            ),
            models.UniqueConstraint(
                fields=["consortium", "code"],
                name="cost_category_unique_code",
                violation_error_message=_(
                    "This consortium already has a cost category with this code."
                ),
            ),
            models.CheckConstraint(
                condition=Q(kind="actual", flat_rate__isnull=True, flat_rate_base__isnull=True)
                | Q(
                    kind="flat_rate",
                    flat_rate__isnull=False,
                    flat_rate__gte=0,
                    flat_rate__lte=100,
                    flat_rate_base__isnull=False,
                ),
                name="cost_category_flat_rate_complete",
                violation_error_message=_(
                    "A flat-rate heading needs its rate and base heading; other headings have neither."
                ),
            ),
        ]

    def __str__(self) -> str:
        return gettext(self.name)

    def _rule_changed(self) -> bool:
        stored = (
            CostCategory.objects.filter(pk=self.pk)
            .values_list("kind", "flat_rate", "flat_rate_base_id")
            .first()
        )
        return stored != (self.kind, self.flat_rate, self.flat_rate_base_id)

    @property
    def is_flat_rate(self) -> bool:
        return self.kind == choices.CostCategoryKind.FLAT_RATE

    def clean(self) -> None:
        if self.pk is not None and self._rule_changed() and self.budget_lines.exists():
            raise ValidationError(
                _(
                    "Budget lines use this heading: its kind and flat rate can no longer change, "
                    "or past consumption would be rewritten. Add a new heading instead."
                ),
                code="heading_in_use",
            )
        base = self.flat_rate_base
        if base is not None and (base.consortium_id != self.consortium_id or base.is_flat_rate):
            raise ValidationError(
                {
                    "flat_rate_base": _(
                        "The base must be an actual-cost heading of the same consortium."
                    )
                },
                code="flat_rate_base_invalid",
            )


class InvitationStatus(models.TextChoices):
    """Where an invitation to a partner's team stands; a pending one past its date has expired."""

    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")


class InvitationQuerySet(PartnerOwnedQuerySet):
    consortium_path = "partner__consortium"

    def owners(self, user: Any) -> QuerySet[Any]:
        """Invitations are the team's business: its partner contacts send and cancel them."""
        return contact_partners(user)

    def for_key(self, key: str) -> InvitationQuerySet:
        """The invitation whose emailed link carries `key` (only its digest is stored)."""
        return self.filter(key_digest=Invitation.digest(key))


class Invitation(TimeStamped):
    """An invitation to work for a partner, sent to an email address by someone who manages its
    team. Nothing changes for the person it reaches until they accept it: only then is their
    account attached (or, for someone without one, created) and their membership granted, in the
    name of who invited them. Until then the inviter knows the address they typed, and no more."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField(_("email address"), max_length=254)
    role = models.CharField(_("role"), max_length=20, choices=choices.MembershipRole.choices)
    # What the inviter typed, offered to a person who creates their account when they accept.
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        help_text=_("The language of the account created for a person who has none."),
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=InvitationStatus.choices,
        default=InvitationStatus.PENDING,
        db_index=True,
    )
    # The SHA-256 of the secret in the emailed link: the link itself is nowhere but in the email.
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("expires at"))
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    membership = models.ForeignKey(
        Membership,
        verbose_name=_("membership"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )

    objects = InvitationQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["key_digest"])

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                F("partner"),
                Lower("email"),
                condition=Q(status="pending"),
                name="invitation_one_pending_per_address",
                violation_error_message=_(
                    "An invitation to this address is already waiting for an answer."
                ),
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("sent_at")),
                name="invitation_expires_after_sent",
                violation_error_message=_("An invitation expires after it is sent."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "cancelled"]) | Q(answered_at__isnull=False),
                name="invitation_answered_has_date",
                violation_error_message=_("An answered invitation has the date of its answer."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.partner}"

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return self.status == InvitationStatus.PENDING and self.expires_at <= timezone.now()

    @property
    def is_open(self) -> bool:
        """Waiting for an answer, and still in time for one."""
        return self.status == InvitationStatus.PENDING and not self.is_expired


class EmailAddressChange(models.Model):
    """A change of a person's email address, where their password reset links go: who made it,
    when, the old address and the new one. Written once, never edited."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="email_changes",
    )
    old_email = models.EmailField(_("old address"), max_length=254, blank=True)
    new_email = models.EmailField(_("new address"), max_length=254)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("email address change")
        verbose_name_plural = _("email address changes")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.old_email} → {self.new_email}"


def password_fingerprint(user: Any, secret: str | bytes | None = None) -> str:
    """A keyed digest of the person's password hash: it changes whenever the password does,
    whichever way it is set, and tells nothing of the hash without the site's secret key."""
    return salted_hmac(
        "consortium.ApiToken.password", user.password, secret=secret, algorithm="sha256"
    ).hexdigest()


class ApiToken(Token):
    """An API token (DRF's, whose key and owner it shares) bound to the password it was issued
    under and to a lifetime of API_TOKEN_DAYS. `consortium.authentication` accepts a key only
    through this table, so a password set by any means (a page, the admin, `changepassword`, the
    shell) ends every token issued before, with no hook to forget."""

    token_ptr = models.OneToOneField(
        Token,
        parent_link=True,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="binding",
    )
    password_fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def expires_at(self) -> datetime.datetime:
        return self.created + datetime.timedelta(days=settings.API_TOKEN_DAYS)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def matches_password(self, user: Any) -> bool:
        """Whether `user` still has the password this token was issued under (the site's
        previous secret keys included, as Django does for sessions)."""
        return any(
            constant_time_compare(self.password_fingerprint, password_fingerprint(user, secret))
            for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        )
