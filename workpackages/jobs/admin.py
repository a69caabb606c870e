"""The coordinators' admin for the jobs: job records and their decisions (realise, withdraw), which
call the services and report per record what was done or why it was refused.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from consortium.adminkit import Decision, DecisionsMixin, service_action, status_badge
from consortium.permissions import (
    ScopedModelAdmin,
)
from workpackages.admin_exports import JobRecordExport
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_realise, job_withdraw

STATUS_TONES = {JobStatus.FORECAST: "blue", JobStatus.REALISED: "green"}


@admin.register(JobRecord)
class JobRecordAdmin(JobRecordExport, DecisionsMixin, ScopedModelAdmin):
    # What a coordinator decides on, to fit 1440 px with the side navigation open (in French
    # too), after the position that names the row: the workpackage, category, contract and dates
    # are on the record's page and behind the filters.
    list_display = ["position_title", "partner", "impact", "status_badge", "fte"]
    list_filter = [
        "status",
        "impact",
        "category",
        "contract_type",
        "workpackage",
        "partner",
        "consortium",
    ]
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

    # The same decisions on the job record's own page.
    decisions = [
        Decision.of(
            "realise",
            realise,
            label=_("Mark as realised"),
            applies=lambda job: job.status == JobStatus.FORECAST,
            needs="change",
        ),
        Decision.of(
            "withdraw",
            withdraw,
            label=_("Withdraw"),
            applies=lambda job: job.status in {JobStatus.FORECAST, JobStatus.REALISED},
            needs="change",
            tone="danger",
        ),
    ]
