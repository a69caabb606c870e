"""The consortium's summary in the API: budget per partner and per workpackage, deliverables and
milestones by state, jobs against the targets; and the rows deleted since a moment (`/changes/`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from consortium.api.fields import MONEY
from workpackages.base import percent
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.overview.changes import KINDS, Tombstone
from workpackages.overview.selectors import ConsortiumSummary
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus

CONSUMED_HELP = _(
    "Accepted expenses, plus the flat-rate overheads they carry (each flat-rate heading's rate on "
    "its base heading's accepted costs), in EUR."
)


class BudgetRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key")
    number = serializers.IntegerField()
    name = serializers.CharField(source="label")
    planned = serializers.DecimalField(**MONEY)
    granted = serializers.DecimalField(**MONEY)
    consumed = serializers.DecimalField(**MONEY, help_text=CONSUMED_HELP)
    consumption_percent = serializers.DecimalField(
        source="consumption", max_digits=7, decimal_places=1, allow_null=True
    )
    overspent_lines = serializers.IntegerField(
        help_text=_("Budget lines whose consumption exceeds the planned amount.")
    )


def _counts(name: str, values: list[str]) -> type[serializers.Serializer]:
    """A serializer with one count per status, so that the schema names every status."""
    return type(name, (serializers.Serializer,), {v: serializers.IntegerField() for v in values})


DeliverableStatusCounts = _counts("DeliverableStatusCounts", DeliverableStatus.values)


MilestoneStatusCounts = _counts("MilestoneStatusCounts", MilestoneStatus.values)


class BudgetSummarySerializer(serializers.Serializer):
    planned = serializers.DecimalField(**MONEY)
    granted = serializers.DecimalField(**MONEY)
    consumed = serializers.DecimalField(**MONEY, help_text=CONSUMED_HELP)
    consumption_percent = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    overspent_lines = serializers.IntegerField()
    by_partner = BudgetRowSerializer(many=True)
    by_workpackage = BudgetRowSerializer(many=True)


class DeliverableSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    on_time = serializers.IntegerField()
    late = serializers.IntegerField()
    due_within_30_days = serializers.IntegerField()
    by_status = DeliverableStatusCounts()


class MilestoneSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    overdue = serializers.IntegerField()
    by_status = MilestoneStatusCounts()


class JobCountSerializer(serializers.Serializer):
    headcount = serializers.IntegerField()
    fte = serializers.DecimalField(max_digits=9, decimal_places=2)


class JobImpactSerializer(serializers.Serializer):
    target = serializers.IntegerField()
    realised = JobCountSerializer()
    forecast = JobCountSerializer()
    progress_percent = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)


class JobsSummarySerializer(serializers.Serializer):
    direct = JobImpactSerializer()
    indirect = JobImpactSerializer()


class ConsortiumReferenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    acronym = serializers.CharField()
    name = serializers.CharField()


class SummarySerializer(serializers.Serializer):
    """Budget, deliverables, milestones and jobs of one consortium, as the user may see them: a
    partner's people get their own partner's money and jobs, against its own commitments."""

    consortium = ConsortiumReferenceSerializer()
    as_of = serializers.DateField()
    scope = serializers.ChoiceField(choices=["consortium", "partner"])
    partners = serializers.IntegerField(help_text=_("Partners of the consortium."))
    workpackages = serializers.IntegerField(help_text=_("Workpackages of the consortium."))
    time_elapsed_percent = serializers.DecimalField(max_digits=5, decimal_places=1)
    budget = BudgetSummarySerializer()
    deliverables = DeliverableSummarySerializer()
    milestones = MilestoneSummarySerializer()
    jobs = JobsSummarySerializer()


def summary_data(summary: ConsortiumSummary) -> dict[str, Any]:
    """The summary as the plain structure `SummarySerializer` reads."""
    d = summary.dashboard
    jobs = d.jobs
    assert jobs is not None  # noqa: S101  (the selector always sets it)

    def impact(name: str, target: int) -> dict[str, Any]:
        def count(status: str) -> dict[str, Any]:
            return {"headcount": jobs.headcount(name, status), "fte": jobs.fte(name, status)}

        return {
            "target": target,
            "realised": count(JobStatus.REALISED),
            "forecast": count(JobStatus.FORECAST),
            "progress_percent": percent(jobs.headcount(name), target),
        }

    consortium = d.consortium
    return {
        "consortium": {"id": consortium.pk, "acronym": consortium.acronym, "name": consortium.name},
        "as_of": summary.today,
        "scope": "partner" if summary.partner_scope else "consortium",
        "partners": d.partners,
        "workpackages": d.workpackages,
        "time_elapsed_percent": d.time_elapsed,
        "budget": {
            "planned": d.planned,
            "granted": d.granted,
            "consumed": d.consumed,
            "consumption_percent": d.consumption,
            "overspent_lines": d.overspent_lines,
            "by_partner": d.by_partner,
            "by_workpackage": d.by_workpackage,
        },
        "deliverables": {
            "total": d.deliverables_total,
            "on_time": d.deliverables_on_time,
            "late": d.deliverables_late,
            "due_within_30_days": d.deliverables_due_soon,
            # The dashboard counts by label for the admin; the API by value.
            "by_status": {
                value: d.deliverables_by_status[label] for value, label in DeliverableStatus.choices
            },
        },
        "milestones": {
            "total": summary.milestones_total,
            "overdue": summary.milestones_overdue,
            "by_status": summary.milestones_by_status,
        },
        "jobs": {
            "direct": impact(JobImpact.DIRECT, jobs.direct_target),
            "indirect": impact(JobImpact.INDIRECT, jobs.indirect_target),
        },
    }


class BudgetBreakdownRowSerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner_id")
    workpackage = serializers.IntegerField(source="workpackage_id")
    category = serializers.IntegerField(source="category_id", help_text=_("The cost heading."))
    planned = serializers.DecimalField(source="planned_amount", **MONEY)
    granted = serializers.DecimalField(source="granted_amount", **MONEY)
    consumed = serializers.DecimalField(
        **MONEY,
        help_text=_(
            "Accepted expenses of the line; on a flat-rate heading, its rate on the base "
            "heading's accepted costs, rounded to the cent per line."
        ),
    )


class BudgetBreakdownSerializer(serializers.Serializer):
    """The budget by partner × workpackage × cost heading (one row per active budget line), as
    the user may see it: a partner's people get their own partner's lines."""

    consortium = ConsortiumReferenceSerializer()
    as_of = serializers.DateTimeField(help_text=_("When the figures were read."))
    scope = serializers.ChoiceField(choices=["consortium", "partner"])
    rows = BudgetBreakdownRowSerializer(many=True)


class JobsBreakdownRowSerializer(serializers.Serializer):
    partner = serializers.IntegerField(source="partner_id")
    period = serializers.IntegerField(
        source="period_id",
        allow_null=True,
        help_text=_("The reporting period the jobs' start date falls in; null: in none."),
    )
    impact = serializers.ChoiceField(choices=JobImpact.choices)
    status = serializers.ChoiceField(choices=JobStatus.choices)
    headcount = serializers.IntegerField()
    fte = serializers.DecimalField(max_digits=9, decimal_places=2)


class JobsBreakdownSerializer(serializers.Serializer):
    """Jobs by partner × direct/indirect × status × reporting period, headcount and FTE, as the
    user may see them: a partner's people get their own partner's jobs."""

    consortium = ConsortiumReferenceSerializer()
    as_of = serializers.DateTimeField(help_text=_("When the figures were read."))
    scope = serializers.ChoiceField(choices=["consortium", "partner"])
    rows = JobsBreakdownRowSerializer(many=True)


@extend_schema_field({"type": "string", "enum": sorted(KINDS.values())})
class KindField(serializers.CharField):
    """The API's name of the list a deleted row was in, one of `KINDS`."""


@extend_schema_field({"type": "string", "enum": ["deleted"]})
class ChangeKindField(serializers.CharField):
    """What happened to the row: `deleted`, the one change `/changes/` reports."""


class ChangeSerializer(serializers.ModelSerializer):
    """A row deleted from one of the API's lists: drop it from the copy."""

    type = KindField(
        source="kind",
        read_only=True,
        help_text=_("The list the row was in, by its name in the API (`deliverable`…)."),
    )
    id = serializers.IntegerField(
        source="object_id", read_only=True, help_text=_("The id the row had in that list.")
    )
    change = ChangeKindField(read_only=True)
    at = serializers.DateTimeField(
        source="deleted_at", read_only=True, help_text=_("When the row was deleted.")
    )

    class Meta:
        model = Tombstone
        fields = ["type", "id", "change", "at"]
