"""Filters of the money (budget lines, expenses, effort), shared by the API and the partner pages."""

from __future__ import annotations

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from consortium.filtersets import (
    IsoDateFilter,
    visible,
)
from consortium.models import CostCategory, ReportingPeriod
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.filtersets import PartnerRowFilterSet


class BudgetLineFilterSet(PartnerRowFilterSet):
    category = filters.ModelChoiceFilter(queryset=visible(CostCategory), label=_("cost category"))
    status = filters.ChoiceFilter(choices=BudgetLineStatus.choices, label=_("status"))

    class Meta:
        model = BudgetLine
        fields: list[str] = []


class ExpenseFilterSet(PartnerRowFilterSet):
    category = filters.ModelChoiceFilter(queryset=visible(CostCategory), label=_("cost category"))
    period = filters.ModelChoiceFilter(
        queryset=visible(ReportingPeriod), label=_("reporting period")
    )
    status = filters.MultipleChoiceFilter(choices=ExpenseStatus.choices, label=_("status"))
    incurred_after = IsoDateFilter(
        field_name="incurred_on", lookup_expr="gte", label=_("incurred on or after")
    )
    incurred_before = IsoDateFilter(
        field_name="incurred_on", lookup_expr="lte", label=_("incurred on or before")
    )

    class Meta:
        model = Expense
        fields: list[str] = []


class EffortFilterSet(PartnerRowFilterSet):
    period = filters.ModelChoiceFilter(
        queryset=visible(ReportingPeriod), label=_("reporting period")
    )

    class Meta:
        model = Effort
        fields: list[str] = []
