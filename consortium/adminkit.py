"""What every page of the coordinators' admin shares: badges, money cells and decisions taken as
admin actions.

A decision is a service run on each selected row, one at a time: `service_action` builds the
action from the service, and the page reports what was done and, row by row, why a row was
refused. Actions that need a few fields first (a comment, a date) show `form_class` before they
apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

# The badge colours the admin's stylesheet knows (`cm-grey`, `cm-blue`…).
TONES = ("grey", "blue", "amber", "red", "green")


def badge(label: str, tone: str | None = None) -> str:
    """A coloured label (one of `TONES`, grey unless told)."""
    return format_html('<span class="cm-badge cm-{}">{}</span>', tone or "grey", label)


def money(value: Any) -> str:
    """An amount in EUR as the coordinator's language writes it, to the cent, with grouping."""
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


def status_badge(obj: Any, tones: Mapping[Any, str], tone: str | None = None) -> str:
    """The row's status as a badge, coloured by `tones` (status → tone) unless `tone` says."""
    return badge(obj.get_status_display(), tone or tones.get(obj.status))


def run_service(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    service: Callable[[Any], Any],
    done: Callable[[int], str],
) -> None:
    """Apply `service` to each selected object; report successes and each refusal with its reason."""
    succeeded = 0
    for obj in queryset:
        try:
            service(obj)
        except ValidationError as error:
            modeladmin.message_user(request, f"{obj}: {' '.join(error.messages)}", messages.ERROR)
        except PermissionDenied as error:
            modeladmin.message_user(request, f"{obj}: {error}", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, done(succeeded), messages.SUCCESS)


def action_with_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    form_class: type[forms.Form],
    title: str,
    apply: Callable[[Any, dict[str, Any]], Any],
    done: Callable[[int], str],
) -> HttpResponse | None:
    """An admin action that first asks for the fields of `form_class`, then applies the service."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        run_service(modeladmin, request, queryset, lambda obj: apply(obj, form.cleaned_data), done)
        return None
    return TemplateResponse(
        request,
        "admin/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "objects": queryset,
            "form": form,
            "action": request.POST.get("action"),
            "opts": modeladmin.model._meta,
            "select_across": request.POST.get("select_across", "0"),
        },
    )


def service_action(
    service: Callable[..., Any],
    *,
    row: str,
    description: Any,
    done: str | Promise,
    form_class: type[forms.Form] | None = None,
    title: str | Promise = "",
) -> Callable[..., HttpResponse | None]:
    """An admin action calling `service(<row>=obj, user=…, **the form's fields)` on each selected
    row. `done` is an `ngettext_lazy(…, "count")` message; with `form_class`, the action first
    asks for its fields under `title`."""

    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        def report(count: int) -> str:
            return done % {"count": count}

        if form_class is None:
            run_service(
                modeladmin,
                request,
                queryset,
                lambda obj: service(**{row: obj}, user=request.user),
                report,
            )
            return None
        return action_with_form(
            modeladmin,
            request,
            queryset,
            form_class=form_class,
            title=str(title),
            apply=lambda obj, data: service(**{row: obj}, user=request.user, **data),
            done=report,
        )

    return admin.action(description=description)(action)


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("The partner reads this comment."),
    )
