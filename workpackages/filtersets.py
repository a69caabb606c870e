"""Filters of the work plan, the budget and the jobs, shared by the API and the partner pages."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consortium.filtersets import (
    IncrementalFilterSet,
    IsoDateFilter,
    StrictBooleanFilter,
    visible,
)
from consortium.models import CostCategory, Partner, ReportingPeriod
from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import BudgetLineStatus, ExpenseStatus
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.choices import (
    DeliverableStatus,
    DeliverableType,
    Dissemination,
    MilestoneStatus,
)
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, overdue_deliverable


def _partner(field_name: str = "partner") -> filters.ModelChoiceFilter:
    return filters.ModelChoiceFilter(
        queryset=visible(Partner), field_name=field_name, label=_("partner")
    )


def _workpackage(field_name: str = "workpackage") -> filters.ModelChoiceFilter:
    return filters.ModelChoiceFilter(
        queryset=visible(Workpackage), field_name=field_name, label=_("workpackage")
    )


class DueFilterSet(IncrementalFilterSet):
    due_after = IsoDateFilter(field_name="due_date", lookup_expr="gte", label=_("due on or after"))
    due_before = IsoDateFilter(
        field_name="due_date", lookup_expr="lte", label=_("due on or before")
    )
    overdue = StrictBooleanFilter(method="filter_overdue", label=_("overdue"))

    def overdue_condition(self, today: Any) -> Any:
        raise NotImplementedError

    def filter_overdue(self, queryset: Any, name: str, value: bool | None) -> Any:
        if value is None:
            return queryset
        condition = self.overdue_condition(timezone.localdate())
        return queryset.filter(condition) if value else queryset.exclude(condition)


class WorkpackageFilterSet(IncrementalFilterSet):
    lead_partner = _partner("lead_partner")
    partner = filters.ModelChoiceFilter(
        queryset=visible(Partner),
        field_name="participants",
        label=_("participating partner"),
    )

    class Meta:
        model = Workpackage
        fields: list[str] = []


class DeliverableFilterSet(DueFilterSet):
    workpackage = _workpackage()
    partner = _partner("lead_partner")
    status = filters.MultipleChoiceFilter(choices=DeliverableStatus.choices, label=_("status"))
    type = filters.ChoiceFilter(choices=DeliverableType.choices, label=_("type"))
    dissemination = filters.ChoiceFilter(
        choices=Dissemination.choices, label=_("dissemination level")
    )

    class Meta:
        model = Deliverable
        fields: list[str] = []

    def overdue_condition(self, today: Any) -> Any:
        return overdue_deliverable(today)


class MilestoneFilterSet(DueFilterSet):
    workpackage = _workpackage("workpackages")
    partner = _partner("lead_partner")
    status = filters.MultipleChoiceFilter(choices=MilestoneStatus.choices, label=_("status"))

    class Meta:
        model = Milestone
        fields: list[str] = []

    def overdue_condition(self, today: Any) -> Any:
        return Q(status=MilestoneStatus.PENDING, due_date__lt=today)


class MoneyFilterSet(IncrementalFilterSet):
    partner = _partner()
    workpackage = _workpackage()


class BudgetLineFilterSet(MoneyFilterSet):
    category = filters.ModelChoiceFilter(queryset=visible(CostCategory), label=_("cost category"))
    status = filters.ChoiceFilter(choices=BudgetLineStatus.choices, label=_("status"))

    class Meta:
        model = BudgetLine
        fields: list[str] = []


class ExpenseFilterSet(MoneyFilterSet):
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


class EffortFilterSet(MoneyFilterSet):
    period = filters.ModelChoiceFilter(
        queryset=visible(ReportingPeriod), label=_("reporting period")
    )

    class Meta:
        model = Effort
        fields: list[str] = []


class JobRecordFilterSet(MoneyFilterSet):
    status = filters.MultipleChoiceFilter(choices=JobStatus.choices, label=_("status"))
    impact = filters.ChoiceFilter(choices=JobImpact.choices, label=_("direct or indirect"))
    category = filters.ChoiceFilter(choices=JobCategory.choices, label=_("category"))
    contract_type = filters.ChoiceFilter(choices=ContractType.choices, label=_("contract"))

    class Meta:
        model = JobRecord
        fields: list[str] = []
