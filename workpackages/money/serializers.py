"""How the money reads and is written in the API: budget lines with their consumption, expenses,
effort. Status, decisions and amounts decided by coordinators are read-only here: they change
through the actions (submit, accept, reject…), which call the services.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from consortium.api.fields import MONEY, RecordSerializer
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.selectors import budget_lines_with_consumption
from workpackages.uploads import validate_sent_name


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
        # The evidence file is sent on its own, as multipart (`ExpenseEvidenceSerializer`).
        read_only_fields = [
            "consortium",
            "evidence",
            "accepted_amount",
            "status",
            "submitted_at",
            "reviewed_at",
            "review_comment",
        ]
        owner_fields = ["partner"]
        # The model's rule (`Expense.clean`), said in the schema too, with the model's message.
        extra_kwargs = {
            "amount": {
                "min_value": Decimal("0.01"),
                "error_messages": {"min_value": _("An expense amount must be greater than zero.")},
            }
        }


class ExpenseEvidenceSerializer(RecordSerializer):
    """An expense's evidence file, sent alone as a multipart form (`PUT …/evidence/`): the
    expense itself is written as JSON, which carries no file. Like any change of the expense, it
    is refused once the expense is submitted or decided: it keeps the file it was decided on."""

    class Meta:
        model = Expense
        fields = ["evidence"]
        extra_kwargs = {"evidence": {"required": True, "allow_null": False}}

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
    """Person-months per partner, workpackage and period: partners report
    `actual_person_months`; the plan (`planned_person_months`) is the coordinators'."""

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
