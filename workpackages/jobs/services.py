"""Writes on the jobs: realise and withdraw a job record, and the programme's window its records
keep. Every door calls these functions.

Whole-row creates and edits go through `record_create` / `record_update` (`consortium/records.py`)
with the write rules registered at the end of this module.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from consortium.models import Consortium, WebhookEventType
from consortium.querysets import authorize
from consortium.records import (
    WriteRule,
    check_state,
    locked,
    save_with_history,
    with_changes,
    write_rule_extend,
    write_rule_register,
)
from consortium.webhooks import emit
from workpackages.jobs.choices import JobStatus
from workpackages.jobs.models import JobRecord


def _job_fixed(job: JobRecord) -> tuple[tuple[str, ...], str]:
    if job.status == JobStatus.REALISED:
        return (
            ("partner", "impact", "start_date"),
            _("A realised job keeps its partner, its impact and its start date."),
        )
    return ("partner",), _("A record stays with its partner: withdraw it and add a new one.")


def _jobs_follow(consortium: Consortium, *, user: Any, changes: Any, creating: bool) -> None:
    """A job counts within the programme's window (`JobRecord.clean`): a new start date or jobs
    horizon that would leave live jobs outside it is refused, or they could never change again."""
    if creating or not {"start_date", "jobs_horizon_years"} & changes.keys():
        return
    candidate = with_changes(consortium, changes)
    outside = (
        JobRecord.objects.filter(consortium_id=consortium.pk)
        .exclude(status=JobStatus.WITHDRAWN)
        .filter(
            Q(start_date__lt=candidate.start_date) | Q(start_date__gte=candidate.jobs_horizon_date)
        )
        .count()
    )
    if outside:
        raise ValidationError(
            ngettext(
                "%(count)s job record would start outside the programme's new window: move or "
                "withdraw it first.",
                "%(count)s job records would start outside the programme's new window: move or "
                "withdraw them first.",
                outside,
            )
            % {"count": outside},
            code="jobs_outside_window",
        )


@transaction.atomic
def job_realise(*, job: JobRecord, user: Any) -> JobRecord:
    """A forecast position is filled: it counts as realised from now on."""
    job = locked(JobRecord, job.pk)
    authorize(user, job, "change")
    check_state(
        job, {JobStatus.FORECAST}, _("Cannot mark %(object)s as realised: it is %(status)s.")
    )
    if job.start_date > timezone.localdate():
        raise ValidationError(
            {"start_date": _("A job that starts in the future is still a forecast.")},
            code="realised_in_future",
        )
    job.status = JobStatus.REALISED
    save_with_history(job, user=user, update_fields=["status"])
    emit(WebhookEventType.JOB_REALISED, job)
    return job


@transaction.atomic
def job_withdraw(*, job: JobRecord, user: Any) -> JobRecord:
    """Withdraw a job record declared by mistake or abandoned; it stays in the history."""
    job = locked(JobRecord, job.pk)
    authorize(user, job, "change")
    check_state(
        job,
        {JobStatus.FORECAST, JobStatus.REALISED},
        _("Cannot withdraw %(object)s: it is %(status)s."),
    )
    job.status = JobStatus.WITHDRAWN
    save_with_history(job, user=user, update_fields=["status"])
    return job


# How every door writes whole job records (`record_create`, `record_update`, `record_delete` in
# consortium/records.py). Decided rows are the audit record: `editable_states` are the only states
# in which a row still changes.

write_rule_register(
    JobRecord,
    WriteRule(
        action="change",
        editable_states=frozenset({JobStatus.FORECAST, JobStatus.REALISED}),
        fixed=_job_fixed,
    ),
)
write_rule_extend(Consortium, checks=(_jobs_follow,))


def _job_declared_realised(job: JobRecord, *, user: Any, creating: bool) -> None:
    """A job declared already filled is realised as it is recorded."""
    if creating and job.status == JobStatus.REALISED:
        emit(WebhookEventType.JOB_REALISED, job)


write_rule_extend(JobRecord, after=(_job_declared_realised,))
