"""The money: budget lines (partner × WP × heading), expenses against them, and person-months."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium.memo import read_once
from consortium.models import PERCENT_VALIDATORS, CostCategory, Partner, ReportingPeriod
from consortium.querysets import PartnerOwnedQuerySet
from workpackages.base import CENT, ConsortiumOwned, cents
from workpackages.money import choices
from workpackages.uploads import validate_sent_name
from workpackages.validators import (
    validate_document_content,
    validate_document_extension,
    validate_upload_size,
)
from workpackages.workplan.models import Workpackage


class BudgetLine(ConsortiumOwned):
    """What a partner plans to spend on one cost heading in one workpackage, and what the funder grants."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="budget_lines"
    )
    workpackage = models.ForeignKey(
        Workpackage,
        verbose_name=_("workpackage"),
        on_delete=models.PROTECT,
        related_name="budget_lines",
    )
    category = models.ForeignKey(
        CostCategory,
        verbose_name=_("cost category"),
        on_delete=models.PROTECT,
        related_name="budget_lines",
    )
    planned_amount = models.DecimalField(
        _("planned amount (EUR)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
    )
    funding_rate = models.DecimalField(
        _("funding rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=PERCENT_VALIDATORS,
        null=True,
        blank=True,
        help_text=_("Leave empty to use the partner's default funding rate."),
    )
    granted_amount = models.DecimalField(
        _("granted amount (EUR)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text=_("Leave empty to compute it: planned amount × funding rate."),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.BudgetLineStatus.choices,
        default=choices.BudgetLineStatus.ACTIVE,
        db_index=True,
    )

    objects = PartnerOwnedQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "partner"
    same_consortium_fields = ("workpackage", "category")
    always_validated = ("consortium", "status")

    class Meta:
        verbose_name = _("budget line")
        verbose_name_plural = _("budget lines")
        ordering = ["consortium_id", "partner__number", "workpackage__number", "category__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "workpackage", "category"],
                condition=Q(status="active"),
                name="budget_line_unique",
                violation_error_message=_(
                    "This partner already has a budget line for this workpackage and heading."
                ),
            ),
            models.CheckConstraint(
                condition=Q(planned_amount__gte=0),
                name="budget_line_planned_not_negative",
                violation_error_message=_("The planned amount cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(granted_amount__gte=0),
                name="budget_line_granted_not_negative",
                violation_error_message=_("The granted amount cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(granted_amount__lte=models.F("planned_amount")),
                name="budget_line_granted_within_planned",
                violation_error_message=_("The granted amount cannot exceed the planned amount."),
            ),
            models.CheckConstraint(
                condition=Q(funding_rate__gte=0, funding_rate__lte=100),
                name="budget_line_funding_rate_percent",
                violation_error_message=_("A funding rate is a percentage (0 to 100)."),
            ),
        ]
        indexes = [models.Index(fields=["consortium", "partner", "workpackage"])]

    def __str__(self) -> str:
        return f"{self.partner} · {self.workpackage.code} · {self.category}"

    def clean(self) -> None:
        super().clean()
        participation = self.participation_error()
        if participation is not None:
            raise ValidationError({"workpackage": participation})
        if self.funding_rate is None and self._has("partner"):
            self.funding_rate = self.partner.default_funding_rate
        # Only from valid inputs: a bad planned amount or rate has its own message already.
        if (
            self.granted_amount is None
            and self.planned_amount is not None
            and self.planned_amount >= 0
            and self.funding_rate is not None
            and 0 <= self.funding_rate <= 100
        ):
            self.granted_amount = (self.planned_amount * self.funding_rate / 100).quantize(CENT)
        # Also a database constraint; checked here to name the field that is wrong.
        if (
            self.granted_amount is not None
            and self.planned_amount is not None
            and self.planned_amount >= 0
            and self.granted_amount > self.planned_amount
        ):
            raise ValidationError(
                {"granted_amount": _("The granted amount cannot exceed the planned amount.")},
                code="granted_above_planned",
            )


# The lines a statement declares, and that the partner's totals count: every one but the withdrawn.
DECLARED = ~Q(status=choices.ExpenseStatus.WITHDRAWN)


class ExpenseQuerySet(PartnerOwnedQuerySet):
    # A draft is the partner's until submitted: the funder never reads it.
    owner_private = Q(status=choices.ExpenseStatus.DRAFT)

    def declared(self) -> ExpenseQuerySet:
        """The lines a statement declares (`DECLARED`)."""
        return self.filter(DECLARED)

    def declared_totals(self) -> tuple[int, Decimal]:
        """How many lines are declared, and their total to the cent, in one query."""
        totals = self.declared().order_by().aggregate(lines=Count("pk"), total=Sum("amount"))
        return totals["lines"], cents(totals["total"])


class Expense(ConsortiumOwned):
    """A cost a partner declares for a reporting period, with its evidence, until accepted or rejected."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="expenses"
    )
    workpackage = models.ForeignKey(
        Workpackage,
        verbose_name=_("workpackage"),
        on_delete=models.PROTECT,
        related_name="expenses",
    )
    category = models.ForeignKey(
        CostCategory,
        verbose_name=_("cost category"),
        on_delete=models.PROTECT,
        related_name="expenses",
    )
    period = models.ForeignKey(
        ReportingPeriod,
        verbose_name=_("reporting period"),
        on_delete=models.PROTECT,
        related_name="expenses",
        # Left out, it is the period the date falls in (`clean`): no door needs to name it.
        blank=True,
        help_text=_("Leave empty to use the period the date falls in."),
    )
    incurred_on = models.DateField(_("date"))
    amount = models.DecimalField(_("amount (EUR)"), max_digits=14, decimal_places=2)
    accepted_amount = models.DecimalField(
        _("accepted amount (EUR)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
    )
    description = models.CharField(_("description"), max_length=255)
    invoice_reference = models.CharField(_("invoice reference"), max_length=100, blank=True)
    evidence = models.FileField(
        _("evidence file"),
        upload_to="evidence/%Y/%m/",
        max_length=255,
        blank=True,
        validators=[
            validate_sent_name,
            validate_document_extension,
            validate_upload_size,
            validate_document_content,
        ],
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=choices.ExpenseStatus.choices,
        default=choices.ExpenseStatus.DRAFT,
        db_index=True,
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_comment = models.TextField(_("review comment"), blank=True)

    objects = ExpenseQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "partner"
    same_consortium_fields = ("workpackage", "category", "period")

    class Meta:
        verbose_name = _("expense")
        verbose_name_plural = _("expenses")
        ordering = ["consortium_id", "-incurred_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="expense_amount_positive",
                violation_error_message=_("An expense amount must be greater than zero."),
            ),
            models.CheckConstraint(
                condition=Q(accepted_amount__isnull=True)
                | Q(accepted_amount__gte=0, accepted_amount__lte=models.F("amount")),
                name="expense_accepted_within_amount",
                violation_error_message=_(
                    "The accepted amount lies between zero and the declared amount."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(status="accepted") | Q(accepted_amount__isnull=False),
                name="expense_accepted_has_amount",
                violation_error_message=_("An accepted expense has an accepted amount."),
            ),
        ]
        indexes = [
            models.Index(fields=["consortium", "partner", "status"]),
            models.Index(fields=["consortium", "period", "status"]),
            # The lists' order: a page is read from the index, not sorted from every row.
            models.Index(fields=["consortium", "-incurred_on", "id"], name="expense_list_order"),
            # The accepted costs per partner × workpackage × heading (and period), which every
            # budget figure adds up, read from the index alone.
            models.Index(
                fields=["partner", "workpackage", "category"],
                include=["accepted_amount", "period"],
                condition=Q(status="accepted"),
                name="expense_accepted_costs",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.incurred_on} · {self.amount} EUR"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, ValidationError] = {}
        if not self._has("period") and self.incurred_on and self.consortium_id:
            found = read_once(
                ("period of", self.consortium_id, self.incurred_on),
                ReportingPeriod.objects.filter(
                    consortium_id=self.consortium_id,
                    start_date__lte=self.incurred_on,
                    end_date__gte=self.incurred_on,
                ).first,
            )
            if found is None:
                errors["incurred_on"] = ValidationError(
                    _("No reporting period of the consortium contains this date."),
                    code="no_period",
                )
            else:
                self.period = found
        if (
            "incurred_on" not in errors
            and self.incurred_on
            and self.incurred_on > timezone.localdate()
        ):
            errors["incurred_on"] = ValidationError(
                _("An expense is declared once it is incurred: the date is after today."),
                code="incurred_in_future",
            )
        if self._has("period") and self.incurred_on and not self.period.contains(self.incurred_on):
            errors["incurred_on"] = ValidationError(
                _("The date falls outside the reporting period %(period)s."),
                params={"period": self.period},
                code="date_outside_period",
            )
        # Also a database constraint; checked here to name the field that is wrong.
        if self.amount is not None and self.amount <= 0:
            errors["amount"] = ValidationError(
                _("An expense amount must be greater than zero."), code="amount_not_positive"
            )
        if self._has("category") and self.category.is_flat_rate:
            errors["category"] = ValidationError(
                _("Flat-rate headings are computed, not declared: choose another heading."),
                code="flat_rate_category",
            )
        elif (participation := self.participation_error()) is not None:
            errors["workpackage"] = participation
        elif (
            self._has("partner")
            and self._has("workpackage")
            and self._has("category")
            and not read_once(
                ("budget line", self.partner_id, self.workpackage_id, self.category_id),
                BudgetLine.objects.filter(
                    partner_id=self.partner_id,
                    workpackage_id=self.workpackage_id,
                    category_id=self.category_id,
                    status=choices.BudgetLineStatus.ACTIVE,
                ).exists,
            )
        ):
            errors["category"] = ValidationError(
                _("The partner has no budget line for this workpackage and heading."),
                code="no_budget_line",
            )
        if (
            self.status == choices.ExpenseStatus.DRAFT
            and self._has("partner")
            and self._has("period")
            # A statement the coordinators reopened takes lines again until it is submitted anew.
            and read_once(
                ("statement submitted", self.partner_id, self.period_id),
                Statement.objects.filter(partner_id=self.partner_id, period_id=self.period_id)
                .submitted()
                .exists,
            )
        ):
            errors["period"] = ValidationError(
                _(
                    "The expense statement of %(period)s has been submitted: its lines are locked. "
                    "Choose another period or ask the coordinators."
                ),
                params={"period": self.period},
                code="statement_submitted",
            )
        if errors:
            raise ValidationError(errors)


# A statement as the partner sent it: not reopened by the coordinators since.
SUBMITTED_STATEMENT = Q(reopened_at__isnull=True)


class StatementQuerySet(PartnerOwnedQuerySet):
    def submitted(self) -> StatementQuerySet:
        """The statements that lock their period (`SUBMITTED_STATEMENT`): reopened ones aside."""
        return self.filter(SUBMITTED_STATEMENT)


class Statement(ConsortiumOwned):
    """A partner's expense statement for one reporting period: submitting it sends the period's
    draft lines to the coordinators and locks the period against new ones. `lines` and `total`
    are what it declares: the period's lines, withdrawn ones aside.

    The coordinators may reopen a submitted statement, with the reason the partner reads: until
    the partner submits it again (the same row, the history keeping every step), the period takes
    lines again and the statement counts as not submitted."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="statements"
    )
    period = models.ForeignKey(
        ReportingPeriod,
        verbose_name=_("reporting period"),
        on_delete=models.PROTECT,
        related_name="statements",
    )
    submitted_at = models.DateTimeField(_("submitted at"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    lines = models.PositiveIntegerField(_("lines"), default=0)
    total = models.DecimalField(_("total (EUR)"), max_digits=14, decimal_places=2, default=0)
    reopened_at = models.DateTimeField(_("reopened at"), null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reopened by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reopen_reason = models.TextField(_("reason for reopening"), blank=True)

    objects = StatementQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "partner"
    same_consortium_fields = ("period",)

    class Meta:
        verbose_name = _("expense statement")
        verbose_name_plural = _("expense statements")
        ordering = ["consortium_id", "period__number", "partner__number"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period"],
                name="statement_unique_period",
                violation_error_message=_(
                    "This partner has already submitted its statement for this period."
                ),
            ),
            models.CheckConstraint(
                condition=Q(reopened_at__isnull=True, reopen_reason="")
                | (Q(reopened_at__isnull=False) & ~Q(reopen_reason="")),
                name="statement_reopened_with_reason",
                violation_error_message=_("A reopened statement has the reason it was reopened."),
            ),
        ]

    def __str__(self) -> str:
        return _("Statement of %(partner)s for %(period)s") % {
            "partner": self.partner,
            "period": self.period,
        }

    @property
    def is_reopened(self) -> bool:
        """Whether the coordinators have reopened it since it was last submitted."""
        return self.reopened_at is not None


class Effort(ConsortiumOwned):
    """Person-months a partner plans and then reports in one workpackage for one period."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="efforts"
    )
    workpackage = models.ForeignKey(
        Workpackage, verbose_name=_("workpackage"), on_delete=models.PROTECT, related_name="efforts"
    )
    period = models.ForeignKey(
        ReportingPeriod,
        verbose_name=_("reporting period"),
        on_delete=models.PROTECT,
        related_name="efforts",
    )
    planned_person_months = models.DecimalField(
        _("planned person-months"),
        max_digits=7,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(10000))],
    )
    actual_person_months = models.DecimalField(
        _("actual person-months"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(10000))],
    )

    objects = PartnerOwnedQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "partner"
    same_consortium_fields = ("workpackage", "period")

    class Meta:
        verbose_name = _("effort")
        verbose_name_plural = _("effort")
        # By ids, which an index serves: a page of a large consortium's effort is read from it,
        # not sorted from every row (periods, partners and workpackages are created in order).
        ordering = ["consortium_id", "period_id", "partner_id", "workpackage_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "workpackage", "period"],
                name="effort_unique",
                violation_error_message=_(
                    "Effort for this partner, workpackage and period is already recorded."
                ),
            ),
            models.CheckConstraint(
                condition=Q(planned_person_months__gte=0)
                & (Q(actual_person_months__isnull=True) | Q(actual_person_months__gte=0)),
                name="effort_not_negative",
                violation_error_message=_("Person-months cannot be negative."),
            ),
        ]
        indexes = [
            models.Index(
                fields=["consortium", "period", "partner", "workpackage"], name="effort_list_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.workpackage.code} · P{self.period.number}"

    def clean(self) -> None:
        super().clean()
        participation = self.participation_error()
        if participation is not None:
            raise ValidationError({"workpackage": participation})
