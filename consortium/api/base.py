"""What every endpoint of `/api/v1/` shares: scoping, write permissions, pagination, throttling,
errors and their documentation.

The scoping rule is the models' `restrict(user, action)`, as in the admin: lists are filtered by it,
an object outside "view" answers 404, and an object one may see but not change answers 403.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, filters, mixins, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from ..querysets import Action, coordinated_consortia, member_partners

DEFAULT_FILTER_BACKENDS: list[Any] = list(api_settings.DEFAULT_FILTER_BACKENDS)

# What each standard action needs; extra actions declare theirs with `@action(..., needs=...)`.
DEFAULT_SCOPES: dict[str, Action] = {
    "list": "view",
    "retrieve": "view",
    "create": "change",
    "update": "change",
    "partial_update": "change",
}


def may_write(user: Any, model: Any, scope: Action) -> bool:
    """Whether `user` may write rows of `model` somewhere: coordinators in their consortia, partner
    people for their own partner's rows of the models that have an owner."""
    if not user.is_authenticated:
        return False
    if scope == "view" or user.is_superuser or coordinated_consortia(user).exists():
        return True
    owned = model._default_manager.get_queryset().owner_path is not None
    return scope == "change" and owned and member_partners(user).exists()


class ScopedPermission(permissions.IsAuthenticated):
    """Authenticated; writes need the action's scope, on the object once there is one."""

    message = _("You may read this, not change it.")

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if view.action == "create":
            return may_write(request.user, view.queryset.model, view.scope())
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        scope = view.scope()
        if scope == "view":
            return True
        model = type(obj)
        return model._default_manager.restrict(request.user, scope).filter(pk=obj.pk).exists()


class ScopedViewSet(viewsets.GenericViewSet):
    """Lists and objects come from `queryset.restrict(user, "view")`; nothing else is reachable."""

    permission_classes = [ScopedPermission]
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    # Set by `@action(needs=...)` on the view that serves that action.
    needs: Action | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # `?search=` is offered (and documented) only where there is something to search.
        searchable = bool(getattr(cls, "search_fields", None))
        cls.filter_backends = [
            backend
            for backend in DEFAULT_FILTER_BACKENDS
            if searchable or not issubclass(backend, filters.SearchFilter)
        ]

    def scope(self) -> Action:
        return self.needs or DEFAULT_SCOPES.get(self.action or "", "manage")

    def get_queryset(self) -> Any:
        queryset = self.queryset.restrict(self.request.user, "view")  # type: ignore[union-attr]
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        return queryset

    def decision(self, serializer_class: Any, service: Any) -> Response:
        """Run an action's `service(obj, data)` on the (checked) object and answer with the object."""
        obj = self.get_object()
        form = serializer_class(data=self.request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        service(obj, form.validated_data)
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(fresh).data)


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Set-up data (partners, periods, headings…) read through the API and entered in the admin."""


class WritableViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ScopedViewSet,
):
    """Rows partners or coordinators create and edit; nothing is ever deleted (withdraw instead)."""


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Services refuse with Django's ValidationError: answer it as a 400 with field errors."""
    if isinstance(exc, DjangoValidationError):
        errors = as_serializer_error(exc)
        # A rule on the row as a whole reads as DRF's own `non_field_errors`, as documented.
        if NON_FIELD_ERRORS in errors:
            errors.setdefault(api_settings.NON_FIELD_ERRORS_KEY, []).extend(
                errors.pop(NON_FIELD_ERRORS)
            )
        exc = exceptions.ValidationError(errors)
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
        # A bare list (a NUL character in `?search=`…): the documented 400 body is an object.
        exc = exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.detail})
    return drf_exception_handler(exc, context)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text=_("What went wrong, in the request's language."))


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": _(
        "Field names with their messages; `non_field_errors` for the object as a whole, "
        "`detail` for a body that could not be read."
    ),
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {},
}


class DocumentedErrorsSchema(AutoSchema):
    """Adds the error answers every operation may give to the schema."""

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors: dict[str, tuple[Any, Any]] = {}
        authenticated = not all(
            isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()
        )
        if self.method in {"POST", "PUT", "PATCH"} or self._is_list_view():
            errors["400"] = (VALIDATION_ERROR_SCHEMA, _("Invalid input: nothing was changed."))
        if authenticated:
            errors["401"] = (ErrorSerializer, _("No valid token or session."))
            if self.method != "GET":
                errors["403"] = (ErrorSerializer, _("You may read this, not change it."))
        if "{" in self.path:
            errors["404"] = (ErrorSerializer, _("No such object, or not one you may see."))
        elif self._is_list_view():
            errors["404"] = (ErrorSerializer, _("No such page."))
        errors["429"] = (ErrorSerializer, _("Too many requests: wait and retry."))
        for code, (body, description) in errors.items():
            if code not in responses:
                response = self._get_response_for_code(body, code, direction=direction)
                response["description"] = str(description)
                responses[code] = response
        return responses
