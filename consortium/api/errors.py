"""Every error of `/api/v1/` in one shape, whichever part of the application answers it:

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "required", "detail": "This field is required.", "attr": "amount"}]}

`type` says whose move it is: `validation_error`, the request's values (each error names its
field or query parameter in `attr`, `non_field_errors` for the row as a whole); `client_error`,
the request itself (its address, method, body, rights or rate: `attr` is null), or the row's
state (a 409, whose `attr` names the field or `non_field_errors`); `server_error`, the
server's. `code` is stable and meant for programs, `detail` for people, in the request's
language. drf-standardized-errors formats DRF's exceptions; the few answers written outside DRF
(an unknown address, a body over the size limit, a session owing its second factor) use
`error_body`.

A service's refusal (Django's ValidationError) is a 400, or a 409 when it only says that the
row's state does not allow the step any more (already decided, its statement submitted, the
report sent): the client should read the row again rather than correct its input.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from drf_standardized_errors.formatter import flatten_errors
from drf_standardized_errors.handler import ExceptionHandler as StandardizedExceptionHandler
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings

VALIDATION_ERROR = "validation_error"
CLIENT_ERROR = "client_error"
SERVER_ERROR = "server_error"

# The codes of a service's refusal that say the row's state forbids the step, not the input.
STATE_CONFLICTS = frozenset(
    {
        "invalid_state",
        "statement_submitted",
        "statement_reopened",
        "submitted_to_coordinators",
        "report_sent",
    }
)


def error_body(code: str, detail: Any, *, kind: str = CLIENT_ERROR) -> dict[str, Any]:
    """The body of one error answered outside DRF, in the shape DRF's answers have."""
    return {"type": kind, "errors": [{"code": code, "detail": str(detail), "attr": None}]}


def validation_body(errors: Any) -> dict[str, Any]:
    """The body of a 400 a view answers rather than raises, from a serializer's `errors`."""
    return {
        "type": VALIDATION_ERROR,
        "errors": [asdict(error) for error in flatten_errors(errors)],
    }


def error_response(status: int, code: str, detail: Any, **headers: str) -> JsonResponse:
    response = JsonResponse(error_body(code, detail), status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = _("The record's current state does not allow this: read it again.")
    default_code = "conflict"


def body_over_limit(exc: Exception) -> exceptions.APIException | None:
    """A body past Django's limits, as a 400 in the API's shape (Django would answer it with an
    HTML page), logged where Django logs it."""
    if isinstance(exc, RequestDataTooBig):
        size = filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        message = _("The request body is over %(size)s, uploaded files apart.") % {"size": size}
    elif isinstance(exc, TooManyFieldsSent):
        count = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        message = _("The request body has more than %(count)s fields.") % {"count": count}
    elif isinstance(exc, TooManyFilesSent):
        count = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        message = _("The request sends more than %(count)s files.") % {"count": count}
    else:
        return None
    logging.getLogger(f"django.security.{type(exc).__name__}").error("%s", exc)
    return exceptions.ParseError(message)


def service_refusal(exc: DjangoValidationError) -> exceptions.APIException:
    """A service's refusal with its field errors: a rule on the row as a whole reads as DRF's
    own `non_field_errors`; a refusal made only of state conflicts is a 409."""
    errors = as_serializer_error(exc)
    if NON_FIELD_ERRORS in errors:
        errors.setdefault(api_settings.NON_FIELD_ERRORS_KEY, []).extend(
            errors.pop(NON_FIELD_ERRORS)
        )
    codes = {getattr(detail, "code", None) for details in errors.values() for detail in details}
    if codes and codes <= STATE_CONFLICTS:
        return Conflict(errors)
    return exceptions.ValidationError(errors)


class ExceptionHandler(StandardizedExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        exc = body_over_limit(exc) or exc
        if isinstance(exc, DjangoValidationError):
            return service_refusal(exc)
        if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
            # A bare list (a NUL character in `?search=`…): it concerns the request as a whole.
            return exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.detail})
        return super().convert_known_exceptions(exc)

    def convert_unhandled_exceptions(self, exc: Exception) -> exceptions.APIException:
        # The exception's own text is for the logs (and Sentry), never for the client.
        if not isinstance(exc, exceptions.APIException):
            return exceptions.APIException()
        return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    return ExceptionHandler(exc, context).run()  # type: ignore[arg-type]


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text=_("What went wrong, for programs: `required`, `invalid_state`, `not_found`…")
    )
    detail = serializers.CharField(help_text=_("What went wrong, in the request's language."))
    attr = serializers.CharField(
        allow_null=True,
        help_text=_(
            "The field or query parameter at fault (`non_field_errors` for the object as a "
            "whole); null when the request as a whole is."
        ),
    )


class ErrorSerializer(serializers.Serializer):
    """An error answer, whatever its status."""

    type = serializers.ChoiceField(
        choices=[VALIDATION_ERROR, CLIENT_ERROR, SERVER_ERROR],
        help_text=_(
            "`validation_error`: the request's values (see each error's `attr`); "
            "`client_error`: the request itself; `server_error`: the server's."
        ),
    )
    errors = ErrorItemSerializer(many=True)  # type: ignore[assignment]  # a field named errors
