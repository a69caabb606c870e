"""How the work plan, the budget, the expenses, the effort and the jobs read and are written in
the API. Status, decisions and amounts decided by coordinators are read-only here: they change
through the actions (submit, accept, reject…), which call the services."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from consortium.api.fields import ScopedModelSerializer
from consortium.records import record_create, record_update
from workpackages.base import percent
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.selectors import budget_lines_with_consumption
from workpackages.overview.selectors import ConsortiumSummary
from workpackages.workplan.choices import DeliverableStatus, MilestoneStatus
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)

from ..uploads import validate_sent_name
from ..validators import validate_deliverable_extension

MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


class RecordSerializer(ScopedModelSerializer):
    """Budget lines, expenses, effort and jobs: created and changed by `record_create` and
    `record_update`, which validate the whole row, enforce which states and fields still change
    and record the author in the history."""

    def create(self, validated_data: dict[str, Any]) -> Any:
        user = self.context["request"].user
        return record_create(model=self.Meta.model, user=user, **validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        user = self.context["request"].user
        return record_update(instance=instance, user=user, **validated_data)


class ParticipantSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkpackageParticipant
        fields = ["partner", "planned_person_months"]


class WorkpackageSerializer(serializers.ModelSerializer):
    participants = ParticipantSerializer(source="participations", many=True, read_only=True)

    class Meta:
        model = Workpackage
        fields = [
            "id",
            "consortium",
            "code",
            "number",
            "title",
            "objectives",
            "lead_partner",
            "start_month",
            "end_month",
            "participants",
            "created_at",
            "updated_at",
        ]


class SubmissionSerializer(serializers.ModelSerializer):
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)

    class Meta:
        model = DeliverableSubmission
        fields = ["version", "file", "note", "submitted_by", "submitted_at"]


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    version = serializers.IntegerField(source="submission.version", read_only=True, allow_null=True)

    class Meta:
        model = DeliverableReview
        fields = ["version", "decision", "comment", "reviewer", "reviewed_at"]


class DeliverableSerializer(serializers.ModelSerializer):
    days_late = serializers.SerializerMethodField()
    submissions = SubmissionSerializer(many=True, read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Deliverable
        fields = [
            "id",
            "consortium",
            "code",
            "workpackage",
            "number",
            "title",
            "description",
            "lead_partner",
            "type",
            "dissemination",
            "due_month",
            "due_date",
            "status",
            "days_late",
            "first_submitted_at",
            "approved_at",
            "late_justification",
            "submissions",
            "reviews",
            "created_at",
            "updated_at",
        ]

    def get_days_late(self, obj: Deliverable) -> int:
        return obj.days_late()


class DeliverableSubmitSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_(
            "PDF, DOCX, XLSX, ODT or ZIP, at most 50 MB, its type checked by its content; a name "
            "with a folder or control characters in it is refused."
        ),
        validators=[validate_sent_name, validate_deliverable_extension],
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
    late_justification = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Required when the deliverable is past its due date."),
    )


class NoInputSerializer(serializers.Serializer):
    """The body of an action that takes nothing: the object is all it needs."""


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RequiredCommentSerializer(serializers.Serializer):
    # Left out or blank, the service refuses it with the message every door gives.
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Required: what must change, or why. The partner reads it."),
    )


class MilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Milestone
        fields = [
            "id",
            "consortium",
            "code",
            "number",
            "title",
            "workpackages",
            "lead_partner",
            "means_of_verification",
            "due_month",
            "due_date",
            "status",
            "achieved_on",
            "evidence",
            "created_at",
            "updated_at",
        ]


class MilestoneAchieveSerializer(serializers.Serializer):
    achieved_on = serializers.DateField()
    evidence = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Required: how the means of verification were met."),
    )


class BudgetLineSerializer(RecordSerializer):
    consumed = serializers.DecimalField(
        **MONEY,
        read_only=True,
        help_text=_("Accepted expenses; for flat-rate headings, the rate on the base heading."),
    )

    class Meta:
        model = BudgetLine
        fields = [
            "id",
            "consortium",
            "partner",
            "workpackage",
            "category",
            "planned_amount",
            "funding_rate",
            "granted_amount",
            "consumed",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["consortium", "status"]
        owner_fields = ["partner"]

    def _with_consumption(self, line: BudgetLine) -> BudgetLine:
        return budget_lines_with_consumption(BudgetLine.objects.filter(pk=line.pk)).get()

    def create(self, validated_data: dict[str, Any]) -> BudgetLine:
        return self._with_consumption(super().create(validated_data))

    def update(self, instance: BudgetLine, validated_data: dict[str, Any]) -> BudgetLine:
        return self._with_consumption(super().update(instance, validated_data))


class ExpenseSerializer(RecordSerializer):
    reviewed_by = serializers.CharField(
        source="reviewed_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = Expense
        fields = [
            "id",
            "consortium",
            "partner",
            "workpackage",
            "category",
            "period",
            "incurred_on",
            "amount",
            "accepted_amount",
            "description",
            "invoice_reference",
            "evidence",
            "status",
            "submitted_at",
            "reviewed_by",
            "reviewed_at",
            "review_comment",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "consortium",
            "accepted_amount",
            "status",
            "submitted_at",
            "reviewed_at",
            "review_comment",
        ]
        owner_fields = ["partner"]

    def validate_evidence(self, file: Any) -> Any:
        validate_sent_name(file)
        return file


class ExpenseAcceptSerializer(serializers.Serializer):
    """How much is accepted, said explicitly: `accepted_amount`, or `in_full`. A body that says
    neither (empty, or not read as meant: JSON sent as a form) must not accept the whole amount."""

    accepted_amount = serializers.DecimalField(
        **MONEY,
        required=False,
        allow_null=True,
        help_text=_(
            "The eligible amount, at most the declared amount; with a comment when it is less. "
            "Either this or `in_full`."
        ),
    )
    in_full = serializers.BooleanField(
        required=False,
        help_text=_("`true` accepts the whole declared amount. Either this or `accepted_amount`."),
    )
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Required when less than the declared amount is accepted."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        amount = attrs.get("accepted_amount")
        in_full = attrs.get("in_full", False)
        if amount is None and not in_full:
            message = _(
                "Say what is accepted: an accepted_amount, or in_full set to true for the whole "
                "declared amount."
            )
        elif amount is not None and in_full:
            message = _("Send an accepted_amount or in_full, not both.")
        else:
            # `expense_accept` takes no amount as the whole declared amount.
            return {"accepted_amount": amount, "comment": attrs["comment"]}
        raise serializers.ValidationError({"accepted_amount": [message], "in_full": [message]})


class EffortSerializer(RecordSerializer):
    """Partners report `actual_person_months`; the plan is the coordinators' (`record_update`)."""

    class Meta:
        model = Effort
        fields = [
            "id",
            "consortium",
            "partner",
            "workpackage",
            "period",
            "planned_person_months",
            "actual_person_months",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["consortium"]
        owner_fields = ["partner"]


class JobRecordSerializer(RecordSerializer):
    class Meta:
        model = JobRecord
        fields = [
            "id",
            "consortium",
            "partner",
            "workpackage",
            "position_title",
            "category",
            "contract_type",
            "fte",
            "start_date",
            "end_date",
            "impact",
            "status",
            "evidence_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["consortium", "status"]
        owner_fields = ["partner"]


class BudgetRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key")
    number = serializers.IntegerField()
    name = serializers.CharField(source="label")
    planned = serializers.DecimalField(**MONEY)
    granted = serializers.DecimalField(**MONEY)
    consumed = serializers.DecimalField(**MONEY)
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
    consumed = serializers.DecimalField(**MONEY)
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
