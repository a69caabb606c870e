"""What every endpoint of `/api/v1/` shares: scoping, write permissions, pagination, throttling,
strict input, errors and their documentation.

The scoping rule is the models' `restrict(user, action)`, as in the admin: lists are filtered by it,
an object outside "view" answers 404, and an object one may see but not change answers 403.

Input is read strictly: a body the parsers cannot read whole is a 400 (`parsers.py`), and so is a
query parameter or a body field the endpoint does not read, named in the answer. A misspelt
filter would otherwise list everything and a misspelt field leave the row unchanged, both with a
success. Read-only fields are the exception: ignored, so that a client may send back what it read
(`fields.unknown_fields`).
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

from django.core.validators import FileExtensionValidator
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_script_prefix, resolve
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import exceptions, filters, mixins, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from consortium.api.errors import ErrorSerializer, error_response
from consortium.api.fields import (
    KnownFieldsOnly,
    unknown_fields,
    unknown_input,
    with_unknown_fields,
)
from consortium.api.parsers import READERS
from consortium.querysets import Action, coordinated_consortia, member_partners

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
    prefetch_related: tuple[Any, ...] = ()
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

    def get_parsers(self) -> list[Any]:
        # A view or an action may name DRF's parsers to narrow the media types it reads: the body
        # is read by this API's own all the same.
        return [READERS.get(parser, parser)() for parser in self.parser_classes]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Signed in, allowed and within the rate first: a 401, 403 or 429 says more.
        super().initial(request, *args, **kwargs)
        known = self.query_parameters()
        unknown = [name for name in request.query_params if name not in known]
        if unknown:
            raise exceptions.ValidationError(unknown_input(unknown, known, "parameter"))

    def query_parameters(self) -> list[str]:
        """The query parameters this request may send, as the schema documents them: a list's
        filters, search, ordering and page (or the cursor of a synchronisation, `policies.py`);
        everywhere, DRF's `format`."""
        names: list[str] = []
        if self.action == "list":
            filterset = getattr(self, "filterset_class", None)
            if filterset is not None:
                names += filter_parameters(filterset)
            for backend in self.filter_backends:
                if issubclass(backend, filters.SearchFilter):
                    names.append(backend.search_param)
                if issubclass(backend, filters.OrderingFilter):
                    names.append(backend.ordering_param)
            paginator: Any = self.paginator
            if paginator is not None:
                reads = getattr(paginator, "query_parameters", None)
                names += (
                    reads(self)
                    if reads is not None
                    else [paginator.page_query_param, paginator.page_size_query_param]
                )
        if api_settings.URL_FORMAT_OVERRIDE:
            names.append(api_settings.URL_FORMAT_OVERRIDE)
        return [name for name in names if name]

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
        data = self.request.data
        form = serializer_class(data=data, context=self.get_serializer_context())
        valid = form.is_valid()
        # Actions' forms are plain serializers: their unknown fields are checked here.
        unknown = {} if isinstance(form, KnownFieldsOnly) else unknown_fields(form, data)
        if not valid or unknown:
            raise exceptions.ValidationError(
                with_unknown_fields({} if valid else form.errors, unknown)
            )
        service(obj, form.validated_data)
        fresh = self.get_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(fresh).data)


def file_name_pattern(extensions: list[str]) -> str:
    """A file's name as the server takes it: ending in one of its extensions after a dot, in any
    case (`Invoice.PDF` is a PDF)."""
    either = [
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in extension)
        for extension in extensions
    ]
    return f"\\.(?:{'|'.join(either)})$"


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The strings a DecimalField takes, as a regular expression without look-arounds (which
    generators handle poorly): its digits before and after the point, without leading zeros; no
    minus sign when it can't be negative; not zero when its minimum is above zero (an amount, an
    FTE); no more than its maximum when that is a power of ten (100 %, 10,000 person-months,
    1 FTE)."""
    places = field.decimal_places or 0
    digits = (field.max_digits or 30) - places
    top, bottom = field.max_value, field.min_value
    ceiling = None
    # A power-of-ten ceiling shortens the digits: said only where no value is negative.
    if top is not None and top > 0 and top == int(top) and bottom is not None and bottom >= 0:
        power = len(str(int(top))) - 1
        if int(top) == 10**power and power <= digits:
            ceiling, digits = int(top), power
    fraction = f"(?:\\.[0-9]{{1,{places}}})?" if places else ""
    numbers = []
    if digits:
        numbers.append(f"[1-9][0-9]{{0,{digits - 1}}}{fraction}")
    # Above zero by the smallest step (an amount, an FTE): "not zero". Another minimum is left
    # to `minimum`, said beside the pattern.
    if bottom is not None and bottom > 0 and bottom == Decimal(1).scaleb(-places):
        if places:
            tails = "|".join(
                "0" * zeros + f"[1-9][0-9]{{0,{places - 1 - zeros}}}" for zeros in range(places)
            )
            numbers.append(f"0\\.(?:{tails})")
    else:
        numbers.append(f"0{fraction}")
    if ceiling is not None:
        numbers.append(f"{ceiling}(?:\\.0{{1,{places}}})?" if places else str(ceiling))
    sign = "" if bottom is not None and bottom >= 0 else "-?"
    return f"^{sign}(?:{'|'.join(numbers)})$"


def filter_parameters(filterset: Any) -> list[str]:
    """The query parameters a FilterSet reads: one per filter, or one per part of a range
    filter's widget (`amount_min` and `amount_max`)."""
    names: list[str] = []
    for name, declared in filterset.base_filters.items():
        widget = declared.extra.get("widget") or declared.field_class.widget
        suffixes = getattr(widget, "suffixes", None)
        names += [f"{name}_{suffix}" if suffix else name for suffix in suffixes or [""]]
    return names


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


class DocumentedErrorsSchema(AutoSchema):
    """Adds the error answers every operation may give to the schema, and says that the request
    bodies of the strict endpoints hold their fields and no others."""

    def _map_serializer(
        self, serializer: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        # A component's description is its serializer's own docstring, written for integrators;
        # one inherited from a base class (about how rows are written) is not theirs to read.
        own = type(force_instance(serializer)).__dict__.get("__doc__")
        if own:
            schema["description"] = inspect.cleandoc(own)
        else:
            schema.pop("description", None)
        if direction == "request" and isinstance(self.view, ScopedViewSet):
            # Read-only fields, ignored when sent, are not in a request's schema (split components).
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            # Money and quantities travel as strings, whose bounds JSON Schema's `minimum` and
            # `maximum` do not constrain: they are said for people, and the pattern holds them
            # for the generators (`decimal_pattern`).
            if field.min_value is not None:
                schema["minimum"] = float(field.min_value)
            if field.max_value is not None:
                schema["maximum"] = float(field.max_value)
            schema["pattern"] = decimal_pattern(field)
        if isinstance(field, serializers.FileField):
            extensions = [
                extension
                for validator in field.validators
                if isinstance(validator, FileExtensionValidator)
                for extension in validator.allowed_extensions or []
            ]
            if extensions:
                schema["pattern"] = file_name_pattern(extensions)
        return schema

    def map_parsers(self) -> list[Any]:
        """One media type per operation, as generated clients need: multipart for the operations
        that upload a file (an expense's evidence, a deliverable's version), JSON everywhere else.
        The server still reads the other media types its parsers know (a form from a script)."""
        media_types = super().map_parsers()
        if "multipart/form-data" in media_types and self._uploads_a_file():
            return ["multipart/form-data"]
        return ["application/json"] if "application/json" in media_types else media_types[:1]

    def _uploads_a_file(self) -> bool:
        serializer = force_instance(self.get_request_serializer())
        fields = serializer.fields if isinstance(serializer, serializers.Serializer) else {}
        return any(
            isinstance(field, serializers.FileField) and not field.read_only
            for field in fields.values()
        )

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_answers().items():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = str(description)
                responses[code] = response
        return responses

    def _error_answers(self) -> dict[str, Any]:
        """The errors this operation answers, each in the one error shape (`errors.py`)."""
        writes = self.method in {"POST", "PUT", "PATCH"}
        # An unknown query parameter is a 400 on every operation of the shared base.
        strict = isinstance(self.view, ScopedViewSet)
        authenticated = not all(
            isinstance(p, permissions.AllowAny) for p in self.view.get_permissions()
        )
        errors: dict[str, Any] = {}
        if writes or self._is_list_view() or strict:
            errors["400"] = _(
                "Invalid input (each error names its field or query parameter in `attr`) or a "
                "body that could not be read: nothing was changed."
            )
        if authenticated:
            errors["401"] = _("No valid token or session.")
            errors["403"] = (
                _("You may read this, not change it (or the token is read-only).")
                if writes
                else _("The session still owes its two-step sign-in code: use a token.")
            )
        if "{" in self.path:
            errors["404"] = _("No such object, or not one you may see.")
        elif self._is_list_view():
            errors["404"] = _("No such page.")
        errors["405"] = _("This address does not take this method: see the Allow header.")
        errors["406"] = _("The Accept header asks for something other than JSON.")
        if writes and strict:
            errors["409"] = _(
                "The record's state does not allow this any more (decided, its statement "
                "submitted, sent): read it again."
            )
        if writes:
            errors["413"] = _("The request body is over the upload limit.")
            errors["415"] = _("The body is not of the media type this operation reads.")
        errors["429"] = _("Too many requests: wait as the Retry-After header says and retry.")
        return errors


@csrf_exempt  # reads no body and changes nothing: every method gets its JSON 404
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any address under `/api/` that is none of the API's: a 404 in the API's error shape (not
    the site's page), and, for an address missing its trailing slash, the one to use. Served by
    the last route of `/api/` rather than by the site's 404 handler, so that it answers in JSON
    whether or not the site runs with DEBUG."""
    detail: Any = _("No such address in the API.")
    with_slash = f"{request.path_info}/"
    if not request.path_info.endswith("/") and _resolves(with_slash):
        detail = _(
            "No such address in the API: API addresses end with a slash, as in %(path)s."
        ) % {"path": get_script_prefix().rstrip("/") + with_slash}
    return error_response(404, "not_found", detail)


def _resolves(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not not_found
