"""The coordinators' admin for the jobs: job records and their decisions (realise, withdraw), which
call the services and report per record what was done or why it was refused.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from consortium.adminkit import service_action, status_badge
from consortium.permissions import (
    ScopedModelAdmin,
)
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_realise, job_withdraw

STATUS_TONES = {JobStatus.FORECAST: "blue", JobStatus.REALISED: "green"}


@admin.register(JobRecord)
class JobRecordAdmin(ScopedModelAdmin):
    list_display = [
        "position_title",
        "partner",
        "workpackage",
        "category",
        "contract_type",
        "fte",
        "impact",
        "status_badge",
        "start_date",
        "end_date",
    ]
    list_filter = ["status", "impact", "category", "contract_type", "partner", "consortium"]
    search_fields = ["position_title", "partner__organisation__short_name"]
    autocomplete_fields = ["partner", "workpackage"]
    list_select_related = ["partner__organisation", "workpackage"]
    readonly_fields = ["status"]
    actions = ["realise", "withdraw"]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: JobRecord) -> str:
        return status_badge(obj, STATUS_TONES)

    realise = service_action(
        job_realise,
        row="job",
        description=_("Mark the selected job records as realised"),
        done=ngettext_lazy(
            "%(count)s job record marked as realised.",
            "%(count)s job records marked as realised.",
            "count",
        ),
    )

    withdraw = service_action(
        job_withdraw,
        row="job",
        description=_("Withdraw the selected job records"),
        done=ngettext_lazy(
            "%(count)s job record withdrawn.",
            "%(count)s job records withdrawn.",
            "count",
        ),
    )
