"""Filters of the job records, shared by the API and the partner pages."""

from __future__ import annotations

import django_filters as filters
from django.utils.translation import gettext_lazy as _

from workpackages.jobs.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.workplan.filtersets import PartnerRowFilterSet


class JobRecordFilterSet(PartnerRowFilterSet):
    status = filters.MultipleChoiceFilter(choices=JobStatus.choices, label=_("status"))
    impact = filters.ChoiceFilter(choices=JobImpact.choices, label=_("direct or indirect"))
    category = filters.ChoiceFilter(choices=JobCategory.choices, label=_("category"))
    contract_type = filters.ChoiceFilter(choices=ContractType.choices, label=_("contract"))

    class Meta:
        model = JobRecord
        fields: list[str] = []
