"""How the consortium's own records read in the API. They are set up in the admin: read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from consortium.api.fields import KnownFieldsOnly
from consortium.models import (
    Consortium,
    CostCategory,
    IntegrationToken,
    IntegrationTokenState,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
    heading_name,
)
from consortium.second_factor import token_second_factor_check


class ConsortiumSerializer(serializers.ModelSerializer):
    duration_months = serializers.IntegerField(read_only=True)
    public_funding = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = Consortium
        fields = [
            "id",
            "acronym",
            "name",
            "funder",
            "start_date",
            "end_date",
            "duration_months",
            "total_budget",
            "public_funding_share",
            "public_funding",
            "direct_jobs_target",
            "indirect_jobs_target",
            "jobs_horizon_years",
            "reporting_period_months",
            "statement_due_days",
            "created_at",
            "updated_at",
        ]


class OptionalUrlField(serializers.URLField):
    """A web address that may be missing: `null` then, rather than an empty string."""

    def to_representation(self, value: Any) -> Any:
        return value or None


class OrganisationSerializer(serializers.ModelSerializer):
    """An organisation taking part in a consortium (one record whatever the consortia)."""

    website = OptionalUrlField(read_only=True, allow_null=True)

    class Meta:
        model = Organisation
        fields = [
            "id",
            "legal_name",
            "short_name",
            "kind",
            "enterprise_number",
            "vat_id",
            "city",
            "country",
            "website",
            "created_at",
            "updated_at",
        ]


class PartnerSerializer(serializers.ModelSerializer):
    code = serializers.SerializerMethodField()
    short_name = serializers.CharField(source="organisation.short_name", read_only=True)

    class Meta:
        model = Partner
        fields = [
            "id",
            "consortium",
            "code",
            "number",
            "organisation",
            "short_name",
            "role",
            "default_funding_rate",
            "jobs_commitment_direct",
            "jobs_commitment_indirect",
            "joined_on",
            "left_on",
            "status",
            "created_at",
            "updated_at",
        ]

    def get_code(self, obj: Partner) -> str:
        return f"P{obj.number}"


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "partner", "username", "full_name", "role", "is_active", "updated_at"]


class ReportingPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReportingPeriod
        fields = [
            "id",
            "consortium",
            "number",
            "start_date",
            "end_date",
            "statement_due_date",
            "updated_at",
        ]


class CostCategorySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = CostCategory
        fields = [
            "id",
            "consortium",
            "code",
            "name",
            "kind",
            "flat_rate",
            "flat_rate_base",
            "evidence_required",
            "updated_at",
        ]

    def get_name(self, obj: CostCategory) -> str:
        # Seeded headings are stored in English and read in the request's language.
        return heading_name(obj.name)


class TokenRequestSerializer(KnownFieldsOnly, serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text=_(
            "For an account that signs in in two steps (staff, and anyone who turned it on): the "
            "6-digit code the authenticator app shows now, or a recovery code."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                _("Unable to log in with these credentials."), code="authorization"
            )
        token_second_factor_check(user=user, code=attrs.get("code", ""))
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        source="key", read_only=True, help_text=_("Send it as `Authorization: Token <token>`.")
    )
    expires = serializers.DateTimeField(
        source="expires_at",
        read_only=True,
        help_text=_(
            "When the token stops working (API_TOKEN_DAYS after it was issued); a new password "
            "ends it at once. Ask for a new one with the same request."
        ),
    )


class IntegrationTokenSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(
        choices=IntegrationTokenState.choices,
        read_only=True,
        help_text=_("Whether the token works, and if not, why."),
    )

    class Meta:
        model = IntegrationToken
        fields = [
            "id",
            "name",
            "prefix",
            "read_only",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "state",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "prefix": {"help_text": _("The secret's first characters, to tell tokens apart.")},
            "last_used_at": {"help_text": _("Updated at most once a minute.")},
        }


class IntegrationTokenCreatedSerializer(IntegrationTokenSerializer):
    token = serializers.CharField(
        source="secret",
        read_only=True,
        help_text=_(
            "The secret, shown this once: only its digest is kept. Send it as "
            "`Authorization: Token <token>`."
        ),
    )

    class Meta(IntegrationTokenSerializer.Meta):
        fields = [*IntegrationTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class IntegrationTokenRequestSerializer(KnownFieldsOnly, serializers.Serializer):
    name = serializers.CharField(
        max_length=100,
        help_text=_("What the token is for, unique among your tokens: “ERP sync”, “Power BI”."),
    )
    expires_in_days = serializers.IntegerField(
        help_text=_(
            "How long the token lasts, in days: 30, 90, 180 or 365 (at most "
            "INTEGRATION_TOKEN_MAX_DAYS)."
        ),
    )
    # DRF takes declared fields off the class: this one doesn't shadow `Field.read_only`.
    read_only = serializers.BooleanField(  # type: ignore[assignment]
        default=False,
        help_text=_("A read-only token is refused (403) for any request that changes something."),
    )
