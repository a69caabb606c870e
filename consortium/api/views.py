"""Endpoints of the consortium's set-up (read-only: coordinators set it up in the admin), of the
person's API token and of their integration tokens."""

from __future__ import annotations

from typing import Any

import django_filters
from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from consortium import accounts, filtersets, services
from consortium.api import serializers
from consortium.api.base import ReadOnlyViewSet, ScopedViewSet
from consortium.api.errors import error_body, validation_body
from consortium.api.fields import NoInputSerializer, unknown_input
from consortium.api.parsers import FormParser, JSONParser, MultiPartParser
from consortium.api.policies import TokenThrottle, UserThrottle
from consortium.backends import address_paused, attempted_username, client_address
from consortium.models import (
    Consortium,
    CostCategory,
    IntegrationToken,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)


class ConsortiumViewSet(ReadOnlyViewSet):
    queryset = Consortium.objects.all()
    serializer_class = serializers.ConsortiumSerializer
    filterset_class = filtersets.ConsortiumFilterSet
    search_fields = ["acronym", "name"]
    ordering_fields = ["acronym", "start_date", "updated_at"]


class OrganisationViewSet(ReadOnlyViewSet):
    queryset = Organisation.objects.all()
    serializer_class = serializers.OrganisationSerializer
    filterset_class = filtersets.OrganisationFilterSet
    search_fields = ["short_name", "legal_name", "enterprise_number", "city"]
    ordering_fields = ["short_name", "legal_name", "updated_at"]


class PartnerViewSet(ReadOnlyViewSet):
    queryset = Partner.objects.all()
    serializer_class = serializers.PartnerSerializer
    filterset_class = filtersets.PartnerFilterSet
    select_related = ("organisation",)
    search_fields = ["organisation__short_name", "organisation__legal_name"]
    ordering_fields = ["number", "joined_on", "updated_at"]


class MembershipViewSet(ReadOnlyViewSet):
    queryset = Membership.objects.all()
    serializer_class = serializers.MembershipSerializer
    filterset_class = filtersets.MembershipFilterSet
    select_related = ("user",)
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    ordering_fields = ["partner", "role", "updated_at"]


class ReportingPeriodViewSet(ReadOnlyViewSet):
    queryset = ReportingPeriod.objects.all()
    serializer_class = serializers.ReportingPeriodSerializer
    filterset_class = filtersets.ReportingPeriodFilterSet
    ordering_fields = ["number", "start_date", "statement_due_date"]


class CostCategoryViewSet(ReadOnlyViewSet):
    queryset = CostCategory.objects.all()
    serializer_class = serializers.CostCategorySerializer
    filterset_class = filtersets.CostCategoryFilterSet
    search_fields = ["code", "name"]
    ordering_fields = ["position", "code"]


def locked_out_answer(request: Request, credentials: dict[str, Any]) -> Response:
    """Too many wrong passwords for this account, or from this address whatever the accounts:
    wait, as the sign-in page says."""
    wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if address_paused(request, credentials):
        detail = _(
            "Too many wrong passwords from your address: signing in from it is paused. Try "
            "again in %(minutes)s minutes."
        )
    else:
        detail = _(
            "Too many wrong passwords for this account from your address: try again in "
            "%(minutes)s minutes."
        )
    return Response(
        error_body("throttled", detail % {"minutes": wait // 60}),
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(wait)},
    )


class PersonalCredentials(permissions.BasePermission):
    """Tokens are managed by the person, signed in or with their personal API token: an
    integration's token neither creates, lists nor revokes tokens, so a leaked one cannot outlive
    its own date by minting others."""

    message = gettext_lazy(
        "An integration token does not manage tokens: sign in on the site, or use your personal "
        "API token."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        return not isinstance(request.auth, IntegrationToken)


class TokenView(APIView):
    """Exchange a username and password for the user's API token, or revoke it."""

    # Scripts send their credentials as a form (`curl -d`) as well as JSON; the schema documents
    # JSON, the one body every other operation without a file takes.
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_permissions(self) -> list[Any]:
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated(), PersonalCredentials()]

    def get_throttles(self) -> list[Any]:
        if self.request.method == "POST":
            return [TokenThrottle()]
        return [UserThrottle()]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # As every endpoint of the shared base: a query parameter it doesn't read is a 400.
        super().initial(request, *args, **kwargs)
        known = [name for name in [api_settings.URL_FORMAT_OVERRIDE] if name]
        unknown = [name for name in request.query_params if name not in known]
        if unknown:
            raise exceptions.ValidationError(unknown_input(unknown, known, "parameter"))

    @extend_schema(
        operation_id="auth_token_create",
        request=serializers.TokenRequestSerializer,
        responses={200: serializers.TokenSerializer},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Your API token: the same one until you revoke it, your password changes or it
        expires (`expires`, API_TOKEN_DAYS after it was issued); then a new one."""
        form = serializers.TokenRequestSerializer(data=request.data, context={"request": request})
        if not form.is_valid():
            # Answered, not raised: raising would roll the request's transaction back, and with it
            # django-axes' count of this failed sign-in.
            if getattr(request, "axes_locked_out", False):
                return locked_out_answer(request, {"username": request.data.get("username")})
            return Response(validation_body(form.errors), status=status.HTTP_400_BAD_REQUEST)
        # The right password clears this name's failures from this address, as a sign-in on the
        # pages does (AXES_RESET_ON_SUCCESS): the token endpoint signs nobody in.
        reset_login_failures(
            ip=client_address(request),
            username=attempted_username(None, {"username": form.validated_data["username"]}),
        )
        token = accounts.api_token_issue(user=form.validated_data["user"])
        return Response(serializers.TokenSerializer(token).data)

    @extend_schema(operation_id="auth_token_destroy", responses={204: None})
    def delete(self, request: Request) -> Response:
        """Revoke your API token: requests sending it are refused from now on."""
        accounts.api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IntegrationTokenFilterSet(django_filters.FilterSet):
    read_only = filtersets.StrictBooleanFilter(label=gettext_lazy("read-only"))

    class Meta:
        model = IntegrationToken
        fields = ["read_only"]


class IntegrationTokenViewSet(mixins.ListModelMixin, ScopedViewSet):
    """The named tokens of your integrations: yours only (another person's is a 404)."""

    queryset = IntegrationToken.objects.all()
    serializer_class = serializers.IntegrationTokenSerializer
    filterset_class = IntegrationTokenFilterSet
    permission_classes = [permissions.IsAuthenticated, PersonalCredentials]
    # The state reads the owner's password.
    select_related = ("user",)
    ordering_fields = ["name", "created_at", "expires_at", "last_used_at"]

    @extend_schema(
        operation_id="auth_tokens_create",
        request=serializers.IntegrationTokenRequestSerializer,
        responses={201: serializers.IntegrationTokenCreatedSerializer},
    )
    def create(self, request: Request) -> Response:
        """Create a token for one of your integrations; its secret (`token`) is in this answer
        only. It ends on its date, when revoked, or when your password changes."""
        form = serializers.IntegrationTokenRequestSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        token, secret = services.integration_token_issue(user=request.user, **form.validated_data)
        token.secret = secret  # type: ignore[attr-defined]
        answer = serializers.IntegrationTokenCreatedSerializer(token)
        return Response(answer.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], needs="change")
    def revoke(self, request: Request, pk: Any = None) -> Response:
        """Revoke this token: requests sending it are refused from now on; your other tokens go
        on working."""
        return self.decision(
            NoInputSerializer,
            lambda obj, data: services.integration_token_revoke(token=obj, by=request.user),
        )
