"""What every model of the project builds on: timestamps, check constraints validated in one query,
percentages."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from consortium.constraints import ValidatedModel

# Percentages (funding rates, shares) are stored as 0–100 with two decimals.
PERCENT_VALIDATORS = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]


class TimeStamped(ValidatedModel):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        abstract = True
