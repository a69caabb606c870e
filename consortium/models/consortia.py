"""A consortium and its calendar: reporting periods and cost headings."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Self

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium import choices, dates
from consortium.models.base import PERCENT_VALIDATORS, TimeStamped
from consortium.querysets import (
    ScopedQuerySet,
    overseen_consortia,
)


class ConsortiumQuerySet(ScopedQuerySet):
    consortium_path = ""

    def overseen_by(self, user: Any) -> Self:
        """The consortia whose whole picture the person reads (the funder's pages): those they
        observe or coordinate; every one for a superuser."""
        consortia = self.restrict(user, "view")
        if user.is_superuser:
            return consortia
        return consortia.filter(pk__in=overseen_consortia(user))


class Consortium(TimeStamped):
    """A funded partnership (e.g. the Walloon PIT in ATMP): its money, its dates and its job targets."""

    name = models.CharField(_("name"), max_length=200, help_text=_("In English."))
    name_fr = models.CharField(
        _("name in French"),
        max_length=200,
        blank=True,
        help_text=_("As the grant agreement writes it; the English name is used when empty."),
    )
    acronym = models.CharField(_("acronym"), max_length=30, unique=True)
    funder = models.CharField(_("funder"), max_length=200)
    agreement_number = models.CharField(_("grant agreement number"), max_length=60, blank=True)
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

    def name_in(self, language: str | None) -> str:
        """The consortium's name in `language` (French or English)."""
        if (language or "").startswith("fr") and self.name_fr:
            return self.name_fr
        return self.name

    @property
    def localized_name(self) -> str:
        """The name in the language being written."""
        return self.name_in(translation.get_language())

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


class ReportingPeriod(TimeStamped):
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
        ordering = ["consortium_id", "number"]
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


def heading_name(name: str) -> str:
    """A cost heading's name in the reader's language when it is one of the seeded headings,
    whose names the catalogue translates; a name a coordinator typed, exactly as typed (gettext
    would turn its line breaks into newlines)."""
    translated = gettext(name)
    return name if translated == name.replace("\r\n", "\n").replace("\r", "\n") else translated


class CostCategory(TimeStamped):
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
    evidence_required = models.BooleanField(
        _("evidence required"),
        default=False,
        help_text=_(
            "Expenses of this heading are submitted with their evidence file (invoice, receipt) "
            "attached."
        ),
    )

    objects = ScopedQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cost category")
        verbose_name_plural = _("cost categories")
        ordering = ["consortium_id", "position", "code"]
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
        return heading_name(self.name)

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
