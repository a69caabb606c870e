"""What the forms of every front end share (the admin's, the partner pages')."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest


def add_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's refusal on the form: under the field it names when the form has that
    field, above the form otherwise (the partner, the status, a rule about the whole row)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def flash_service_error(request: HttpRequest, error: ValidationError) -> None:
    """Show a service's refusal at the top of the next page, one message per reason: for a
    decision taken without a form (withdraw, realise), or a row that changed meanwhile."""
    for message in error.messages:
        messages.error(request, message)
