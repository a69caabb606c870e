"""Jobs created: the regional KPI, counted as headcount and FTE, direct or indirect, forecast or realised."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from consortium.models import Partner
from consortium.querysets import PartnerOwnedQuerySet
from workpackages.base import ConsortiumOwned
from workpackages.jobs import choices
from workpackages.workplan.models import Workpackage


class JobRecord(ConsortiumOwned):
    """One position a partner creates (or plans to) thanks to the programme. Never a person's name."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="jobs"
    )
    workpackage = models.ForeignKey(
        Workpackage,
        verbose_name=_("workpackage"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
    )
    position_title = models.CharField(
        _("position title"),
        max_length=150,
        help_text=_("The position, not the person: e.g. 'QC analyst'."),
    )
    category = models.CharField(_("category"), max_length=20, choices=choices.JobCategory.choices)
    contract_type = models.CharField(
        _("contract"), max_length=20, choices=choices.ContractType.choices
    )
    fte = models.DecimalField(
        _("FTE"),
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal(1))],
        help_text=_("Full-time equivalent, more than 0 and at most 1."),
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    impact = models.CharField(
        _("direct or indirect"), max_length=10, choices=choices.JobImpact.choices, db_index=True
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=choices.JobStatus.choices,
        default=choices.JobStatus.FORECAST,
        db_index=True,
    )
    evidence_note = models.TextField(_("evidence"), blank=True)

    objects = PartnerOwnedQuerySet.as_manager()
    history = HistoricalRecords()

    consortium_source = "partner"
    same_consortium_fields = ("workpackage",)

    class Meta:
        verbose_name = _("job record")
        verbose_name_plural = _("jobs created")
        # By ids, which an index serves (partners are numbered in the order they are created).
        ordering = ["consortium_id", "partner_id", "start_date", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fte__gt=0, fte__lte=1),
                name="job_fte_range",
                violation_error_message=_("FTE must be more than 0 and at most 1."),
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="job_end_after_start",
                violation_error_message=_("A job cannot end before it starts."),
            ),
        ]
        indexes = [
            models.Index(fields=["consortium", "impact", "status"]),
            models.Index(
                fields=["consortium", "partner", "start_date", "id"], name="job_list_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position_title} ({self.partner})"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, ValidationError] = {}
        if (
            self.status == choices.JobStatus.REALISED
            and self.start_date
            and self.start_date > timezone.localdate()
        ):
            errors["start_date"] = ValidationError(
                _("A job that starts in the future is still a forecast."),
                code="realised_in_future",
            )
        if self.start_date and self.consortium_id:
            consortium = self.consortium
            if not consortium.start_date <= self.start_date < consortium.jobs_horizon_date:
                errors["start_date"] = ValidationError(
                    _(
                        "A job created by the partnership starts between its start, %(start)s, "
                        "and the end of its jobs horizon, %(end)s."
                    ),
                    params={
                        "start": date_format(consortium.start_date, "SHORT_DATE_FORMAT"),
                        "end": date_format(
                            consortium.jobs_horizon_date - datetime.timedelta(days=1),
                            "SHORT_DATE_FORMAT",
                        ),
                    },
                    code="start_outside_programme",
                )
        # Also a database constraint; checked here to name the field that is wrong.
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = ValidationError(
                _("A job cannot end before it starts."), code="job_end_before_start"
            )
        if errors:
            raise ValidationError(errors)
