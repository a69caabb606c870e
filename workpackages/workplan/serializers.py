"""How the work plan reads and is written in the API: workpackages, deliverables with their
versions and reviews, milestones. Status and decisions are read-only here: they change through the
actions (submit, approve, achieve…), which call the services.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from consortium.api.fields import DirectReads
from workpackages.uploads import validate_sent_name
from workpackages.validators import validate_deliverable_extension
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)


class ParticipantSerializer(DirectReads):
    class Meta:
        model = WorkpackageParticipant
        fields = ["partner", "planned_person_months"]


class WorkpackageSerializer(DirectReads):
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


class SubmissionSerializer(DirectReads):
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)

    class Meta:
        model = DeliverableSubmission
        fields = ["version", "file", "note", "submitted_by", "submitted_at"]


class ReviewSerializer(DirectReads):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    version = serializers.IntegerField(source="submission.version", read_only=True, allow_null=True)

    class Meta:
        model = DeliverableReview
        fields = ["version", "decision", "comment", "reviewer", "reviewed_at"]


class DeliverableSerializer(DirectReads):
    """A deliverable of the work plan with its versions and reviews. Every field is a stored fact
    that moves `updated_at` when it changes; lateness, which grows by the day, is read with
    `?late=true` or the consortium's summary (with its `as_of`), or worked out from `due_date`,
    `first_submitted_at` and `status`."""

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
            "first_submitted_at",
            "approved_at",
            "late_justification",
            "submissions",
            "reviews",
            "created_at",
            "updated_at",
        ]


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


class MilestoneSerializer(DirectReads):
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
