"""Filters of the work plan, shared by the API and the partner pages, and the partner and
workpackage filters every subject's rows use.
"""

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
from consortium.models import Partner
from workpackages.workplan.choices import (
    DeliverableStatus,
    DeliverableType,
    Dissemination,
    MilestoneStatus,
)
from workpackages.workplan.models import (
    Deliverable,
    Milestone,
    Workpackage,
    late_deliverable,
    overdue_deliverable,
)


def partner_filter(field_name: str = "partner") -> filters.ModelChoiceFilter:
    """The partner a row belongs to, or, on the work plan's lists, the row's lead partner (and
    the filter's label says so)."""
    label = _("lead partner") if field_name == "lead_partner" else _("partner")
    return filters.ModelChoiceFilter(queryset=visible(Partner), field_name=field_name, label=label)


def workpackage_filter(field_name: str = "workpackage") -> filters.ModelChoiceFilter:
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
    lead_partner = partner_filter("lead_partner")
    partner = filters.ModelChoiceFilter(
        queryset=visible(Partner),
        field_name="participants",
        label=_("participating partner"),
    )

    class Meta:
        model = Workpackage
        fields: list[str] = []


class DeliverableFilterSet(DueFilterSet):
    workpackage = workpackage_filter()
    partner = partner_filter("lead_partner")
    status = filters.MultipleChoiceFilter(choices=DeliverableStatus.choices, label=_("status"))
    type = filters.ChoiceFilter(choices=DeliverableType.choices, label=_("type"))
    dissemination = filters.ChoiceFilter(
        choices=Dissemination.choices, label=_("dissemination level")
    )
    late = StrictBooleanFilter(
        method="filter_late",
        label=_("late (open past the due date, or first sent after it)"),
    )

    class Meta:
        model = Deliverable
        fields: list[str] = []

    def overdue_condition(self, today: Any) -> Any:
        return overdue_deliverable(today)

    def filter_late(self, queryset: Any, name: str, value: bool | None) -> Any:
        """Late as the summary, the dashboard and the reports count it (`late_deliverable`)."""
        if value is None:
            return queryset
        condition = late_deliverable(timezone.localdate())
        return queryset.filter(condition) if value else queryset.exclude(condition)


class MilestoneFilterSet(DueFilterSet):
    workpackage = workpackage_filter("workpackages")
    partner = partner_filter("lead_partner")
    status = filters.MultipleChoiceFilter(choices=MilestoneStatus.choices, label=_("status"))

    class Meta:
        model = Milestone
        fields: list[str] = []

    def overdue_condition(self, today: Any) -> Any:
        return Q(status=MilestoneStatus.PENDING, due_date__lt=today)


class PartnerRowFilterSet(IncrementalFilterSet):
    """Rows a partner keeps in a workpackage: budget lines, expenses, effort, jobs."""

    partner = partner_filter()
    workpackage = workpackage_filter()
