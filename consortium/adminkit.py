"""What every page of the coordinators' admin shares: badges, money cells and decisions taken as
admin actions.

A decision is a service run on each selected row, one at a time: `service_action` builds the
action from the service, and the page reports what was done and, row by row, why a row was
refused. Actions that need a few fields first (a comment, a date) show `form_class` before they
apply.

The same decisions are taken on a row's own change page, where the evidence is (`Decision`,
`DecisionsMixin`): a button per decision that applies to the row, posting to the admin's
`<id>/decide/<name>/` URL, which runs the list action's service on that row and reports as the
list does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from csp.constants import SELF
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from consortium.querysets import may

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

    # What a row's change page needs to take the same decision (`Decision.of`).
    action.decision = {  # type: ignore[attr-defined]
        "service": service,
        "row": row,
        "done": done,
        "form_class": form_class,
    }
    return admin.action(description=description)(action)


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("The partner reads this comment."),
    )


# Decisions on a row's change page ------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """A decision a row's change page offers: a button (with the fields it asks for) calling
    `service(<row>=obj, user=…, **the form's fields)`, the service of the list action of the
    same name. `applies` says from the row's state whether the button is shown, `needs` the
    right (`may(user, row, needs)`) it takes; the service still judges every post."""

    name: str
    label: str | Promise
    service: Callable[..., Any]
    row: str
    done: str | Promise
    applies: Callable[[Any], bool]
    needs: str = "manage"
    form_class: type[forms.Form] | None = None
    # Builds the form from the posted data and the row, where `form_class(data, prefix=name)`
    # is not enough (a form that reads the row).
    form_factory: Callable[[Any, Any], forms.Form] | None = None
    tone: str = "default"

    @classmethod
    def of(
        cls,
        name: str,
        action: Callable[..., Any],
        *,
        label: str | Promise,
        applies: Callable[[Any], bool],
        needs: str = "manage",
        tone: str = "default",
    ) -> Decision:
        """The decision that the list action `name` (`action`, made by `service_action`) takes,
        on one row."""
        spec = action.decision  # type: ignore[attr-defined]
        return cls(
            name=name,
            label=label,
            applies=applies,
            needs=needs,
            tone=tone,
            **spec,
        )

    def form(self, data: Any, obj: Any) -> forms.Form | None:
        if self.form_factory is not None:
            return self.form_factory(data, obj)
        if self.form_class is not None:
            return self.form_class(data, prefix=self.name)
        return None


@dataclass(frozen=True)
class OfferedDecision:
    """A decision as the change page shows it: its button, its form and where it posts."""

    decision: Decision
    form: forms.Form | None
    url: str


# Files a browser shows within the page, by their extension.
PREVIEW_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


def preview_kind(field_file: Any) -> str | None:
    """The file's preview: "pdf", "image", or None for a file the page only links to."""
    if not field_file:
        return None
    content_type = PREVIEW_TYPES.get(PurePosixPath(field_file.name).suffix.lower())
    if content_type is None:
        return None
    return "pdf" if content_type == "application/pdf" else "image"


class DecisionsMixin:
    """The decisions of an admin's list, on each row's change page, with what the coordinator
    reviews next to them: mixed into a `ScopedModelAdmin` that lists its `decisions`.

    A decision posts to `<id>/decide/<name>/`: the row is looked up among the user's own (404
    otherwise), the decision's fields are read, then `run_service` calls the service on the row
    and reports as the list action does, back on the change page. `review_context` adds what a
    subject shows above the buttons (its template: `review_template`); `preview_file` names the
    row's file served inline at `<id>/preview/` for the page's frame."""

    change_form_template = "admin/decisions_change_form.html"
    decisions: Sequence[Decision] = ()
    review_template: str | None = None

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name  # type: ignore[attr-defined]
        site = self.admin_site  # type: ignore[attr-defined]
        return [
            path(
                "<path:object_id>/decide/<slug:decision>/",
                site.admin_view(self.decision_view),
                name="{}_{}_decide".format(*info),
            ),
            path(
                "<path:object_id>/preview/",
                site.admin_view(self.preview_view),
                name="{}_{}_preview".format(*info),
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def offered_decisions(
        self, request: HttpRequest, obj: Any, data: Any = None
    ) -> list[OfferedDecision]:
        """The decisions that apply to `obj` in its state and that the user may take."""
        rights: dict[str, bool] = {}
        offered = []
        for decision in self.decisions:
            if not decision.applies(obj):
                continue
            if decision.needs not in rights:
                rights[decision.needs] = may(request.user, obj, decision.needs)  # type: ignore[arg-type]
            if rights[decision.needs]:
                offered.append(
                    OfferedDecision(
                        decision=decision,
                        form=decision.form(data, obj),
                        url=self._change_url(obj, "decide", decision.name),
                    )
                )
        return offered

    def review_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        """What the change page shows next to the decisions (evidence, balances…)."""
        return {}

    def preview_file(self, obj: Any) -> FieldFile | None:
        """The row's file the page shows within itself (PDF, PNG or JPEG), if any."""
        return None

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            file = self.preview_file(obj)
            context.update(
                decisions=self.offered_decisions(request, obj),
                review_template=self.review_template,
                preview_kind=preview_kind(file),
                preview_url=self._change_url(obj, "preview") if file else "",
                **self.review_context(request, obj),
            )
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def decision_view(self, request: HttpRequest, object_id: str, decision: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            raise Http404
        chosen = next((d for d in self.decisions if d.name == decision), None)
        if chosen is None:
            raise Http404
        if not self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            raise PermissionDenied
        form = chosen.form(request.POST, obj)
        back = HttpResponseRedirect(self._change_url(obj, "change"))
        if form is not None and not form.is_valid():
            # A field the form itself refuses (no date, not a number): nothing is decided.
            for name, errors in form.errors.items():
                field = form.fields.get(name)
                label = f"{field.label}: " if field is not None else ""
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    f"{obj}: {label}{' '.join(str(error) for error in errors)}",
                    messages.ERROR,
                )
            return back
        data = form.cleaned_data if form is not None else {}
        run_service(
            self,  # type: ignore[arg-type]
            request,
            self.get_queryset(request).filter(pk=obj.pk),  # type: ignore[attr-defined]
            lambda row: chosen.service(**{chosen.row: row}, user=request.user, **data),
            lambda count: chosen.done % {"count": count},
        )
        return back

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """The row's PDF or image, within the change page's frame: only to those who see the
        row here, and only as the type its name says (checked by its content on upload)."""
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        file = self.preview_file(obj) if obj is not None else None
        kind = preview_kind(file)
        if file is None or kind is None:
            raise Http404
        try:
            handle = file.open("rb")
        except FileNotFoundError as missing:
            raise Http404 from missing
        name = PurePosixPath(str(file.name)).name
        response = FileResponse(
            handle,
            filename=name,
            content_type=PREVIEW_TYPES[PurePosixPath(name).suffix.lower()],
        )
        response["X-Content-Type-Options"] = "nosniff"
        # Framed by the admin's own page, no one else's.
        response["X-Frame-Options"] = "SAMEORIGIN"
        response._csp_replace = {"frame-ancestors": [SELF]}  # type: ignore[attr-defined]
        return response

    def _change_url(self, obj: Any, view: str, *args: Any) -> str:
        opts = self.opts  # type: ignore[attr-defined]
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{view}",
            args=[obj.pk, *args],
            current_app=self.admin_site.name,  # type: ignore[attr-defined]
        )
