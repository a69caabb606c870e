"""Who gets into the coordinators' admin, and the admin base classes that apply the scoping rule.

The rule itself lives in `querysets.ScopedQuerySet.restrict`; these classes only plug it into every
admin list, form choice, autocomplete and inline, so that a coordinator of one consortium sees no
row of another anywhere.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from consortium.adminchoices import InlineAutocompleteSelect, shared_choices
from consortium.formtools import add_service_error, flash_service_error
from consortium.querysets import coordinated_consortia, manageable_people
from consortium.records import (
    deletable_refusal,
    editable_refusal,
    fixed_fields,
    fixed_reason,
    implied_changes,
    is_editable,
    record_check,
    record_create,
    record_delete,
    record_update,
)


def is_coordinator(user: Any) -> bool:
    """Superusers and active coordinators of at least one consortium; cached on the user object."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_is_coordinator", None)
    if cached is None:
        cached = coordinated_consortia(user).exists()
        user._is_coordinator = cached
    return cached


def scope_choices(db_field: models.Field, request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """Limit a foreign key's or many-to-many's choices to what the user manages."""
    related = db_field.related_model
    queryset: Any = related._default_manager.get_queryset()  # type: ignore[union-attr]
    if related is get_user_model():
        kwargs.setdefault("queryset", manageable_people(request.user))
    elif hasattr(queryset, "restrict"):
        kwargs.setdefault("queryset", queryset.restrict(request.user, "manage"))


class RelatedLabelsFilter(admin.RelatedOnlyFieldListFilter):
    """The rows a list's relation filter offers, with their labels read in one query: a model
    whose label names related rows says which in `LABEL_RELATED` (a partner is named by its
    organisation), which Django would read one row at a time.

    A consortium's rows (partners, workpackages, headings…) are those the person manages, read
    from their own table: the list's rows are not scanned for the ones they point to, which
    would cost more as a consortium grows. Other related rows (people) are those the list's rows
    point to."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        if not isinstance(field, models.ForeignKey | models.ManyToManyField):
            return super().field_choices(field, request, model_admin)
        related = field.remote_field.model
        manager = related._default_manager
        rows: Any = manager.get_queryset()
        if hasattr(rows, "restrict"):
            rows = rows.restrict(request.user, "manage")
        else:
            pk_qs = (
                model_admin.get_queryset(request)
                .distinct()
                .values_list(f"{self.field_path}__pk", flat=True)
            )
            rows = manager.filter(pk__in=pk_qs)
        rows = rows.select_related(*getattr(related, "LABEL_RELATED", ()))
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            rows = rows.order_by(*ordering)
        return [(row.pk, str(row)) for row in rows]


def scoped_filter(model: Any, entry: Any) -> Any:
    if isinstance(entry, str) and get_fields_from_path(model, entry)[-1].is_relation:
        return (entry, RelatedLabelsFilter)
    return entry


class CoordinatorPermissions:
    """Coordinators manage rows of their consortia; deletion only where `deletable` says so.

    Financial rows (money, effort, jobs, partners, people's access) are never deleted: they are
    withdrawn or cancelled through services, and their history stays.
    """

    deletable = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_coordinator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_coordinator(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_coordinator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_coordinator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.deletable and is_coordinator(request.user)

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> Any:
        # Django's admin redirects to its index with "doesn't exist"; another consortium's rows
        # must be indistinguishable from missing ones, and everywhere else in the app that is 404.
        raise Http404


class ChangeDisplay(HistoricalRecordContextHelper):
    """Old → new values as people read them: status labels, dates in the local time zone, and a
    dash where there was nothing (rather than "Deleted user (pk=None)")."""

    def prepare_delta_change_value(self, change: Any, value: Any) -> Any:
        if value is None or (isinstance(value, DeletedObject) and value.pk is None):
            return "–"
        field = self.model._meta.get_field(change.field)
        if getattr(field, "choices", None) and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, datetime.datetime):
            return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
        return super().prepare_delta_change_value(change, value)


def form_changes(form: forms.ModelForm) -> dict[str, Any]:
    """What a model form asks to write: every field of a new row, the changed ones of a saved
    row, as the form has put them on its instance (many-to-many values from the cleaned data)."""
    instance = form.instance
    names = form.fields if instance.pk is None else form.changed_data
    model_fields = {field.name: field for field in instance._meta.get_fields()}
    changes: dict[str, Any] = {}
    for name in names:
        field = model_fields.get(name)
        if field is None or not getattr(field, "editable", False) or name not in form.cleaned_data:
            continue
        changes[name] = form.cleaned_data[name] if field.many_to_many else getattr(instance, name)
    return changes


def _parent_unsaved(instance: Any) -> bool:
    """Whether `instance` is an inline row of a parent being created: it is checked when both are
    saved, once the parent has an id."""
    return any(
        field.many_to_one
        and field.concrete
        and getattr(instance, field.attname, 0) is None
        and getattr(instance, field.name, None) is not None
        for field in instance._meta.get_fields()
        if hasattr(field, "attname")
    )


def service_checked(form_class: type[forms.ModelForm], user: Any) -> type[forms.ModelForm]:
    """`form_class` whose validation ends with the write service's own checks (`record_check`),
    so that a refusal shows next to its field before anything is saved."""

    class ServiceCheckedForm(form_class):  # type: ignore[valid-type,misc]
        def _post_clean(self) -> None:
            if self.instance.pk and not self.has_changed():
                # An inline's untouched row: nothing is written, nothing to refuse.
                super()._post_clean()
                self._hidden_errors_shown()
                return
            refusal = editable_refusal(self.instance) if self.instance.pk else None
            if refusal:
                # A row whose state no longer changes (an inline lists them all): nothing else
                # about the values typed matters.
                self.add_error(None, refusal)
                return
            if self.instance.pk:
                # What the changes imply (a granted amount recomputed, a period taken from a
                # new date) is put on the row before it is validated, as the service does.
                typed = {
                    name: self.cleaned_data[name]
                    for name in self.changed_data
                    if name in self.cleaned_data
                }
                for name, value in implied_changes(self.instance, typed).items():
                    if name in self.cleaned_data:
                        self.cleaned_data[name] = value
            super()._post_clean()
            if not self.errors and not _parent_unsaved(self.instance):
                try:
                    record_check(instance=self.instance, user=user, changes=form_changes(self))
                except ValidationError as error:
                    add_service_error(self, error)
                except PermissionDenied as denied:
                    self.add_error(None, str(denied))
            self._hidden_errors_shown()

        def _hidden_errors_shown(self) -> None:
            # An inline's link to its parent is a hidden field, which no page shows errors of:
            # a rule about it (the person already works for another partner) reads above the row.
            for name in list(self._errors or {}):
                field = self.fields.get(name)
                if field is not None and field.widget.is_hidden:
                    errors = self._errors.pop(name)
                    self._errors.setdefault(NON_FIELD_ERRORS, self.error_class()).extend(errors)

    ServiceCheckedForm.__name__ = form_class.__name__
    return ServiceCheckedForm


class ServiceSavedInlines:
    """Saves the rows of an admin page's inlines through the write services."""

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            record_delete(instance=obj, user=request.user)
        for obj, changed in formset.changed_objects:
            fields = {name: getattr(obj, name) for name in changed if name in _names(obj)}
            record_update(instance=obj, user=request.user, **fields)
        for obj in formset.new_objects:
            record_create(instance=obj, user=request.user)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if object_id is not None and request.method == "GET":
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            refusal = self.read_only_reason(request, obj) if obj is not None else None
            if refusal:
                # The page shows the row read-only, and says why as every other door does.
                messages.info(request, refusal)
        try:
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )
        except ValidationError as error:
            # A refusal the service makes only as it saves (someone changed the row meanwhile,
            # or a rule of the team's own services): nothing was saved, and the page says why.
            flash_service_error(request, error)
            return HttpResponseRedirect(request.get_full_path())

    def read_only_reason(self, request: HttpRequest, obj: Any) -> str | None:
        """Why the row's page is read-only, as the services would refuse a change."""
        return editable_refusal(obj)


class ServiceSavedAdmin(ServiceSavedInlines):
    """Saves what the admin's forms, inlines and deletions write through the write services
    (`consortium/records.py`), never with `Model.save()`: the rules of who writes what, in which
    state, and which fields a row keeps are the services', the same for every door."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = service_checked(
            super().get_form(request, obj, change=change, **kwargs),  # type: ignore[misc]
            request.user,
        )
        if obj is not None and (fixed := fixed_fields(obj)):
            # A field the row keeps shows read-only, with the reason every door gives.
            reason = fixed_reason(obj)
            form._meta.help_texts = {
                **(form._meta.help_texts or {}),
                **dict.fromkeys(fixed, reason),
            }
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if obj is not None:
            readonly += [name for name in fixed_fields(obj) if name not in readonly]
        return readonly

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        changes = form_changes(form)
        if change:
            record_update(instance=obj, user=request.user, **changes)
            return
        related = {name: value for name, value in changes.items() if name in form_m2m(form)}
        saved = record_create(instance=obj, user=request.user, **related)
        if saved is not obj:
            # A service that found the row already there (a membership given back): the admin
            # goes on with the row the service kept.
            obj.pk = saved.pk
            obj._state.adding = False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The form's many-to-many values were written with the row, by the service.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A decided row (a submitted expense, a cancelled line…) is the record: read, not edited.
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        return bool(allowed and (obj is None or is_editable(obj)))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return bool(allowed and (obj is None or deletable_refusal(obj) is None))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        refusal = deletable_refusal(obj) if obj is not None else None
        if refusal and super().has_delete_permission(request):  # type: ignore[misc]
            # The row is the record: the page it came from says why, as every door does.
            messages.error(request, refusal)
            opts = obj._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
        try:
            return super().delete_view(request, object_id, extra_context)  # type: ignore[misc]
        except ValidationError as error:
            # Its state changed since the confirmation page: nothing was deleted.
            flash_service_error(request, error)
            return HttpResponseRedirect(request.get_full_path())

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, counts, refused, protected = super().get_deleted_objects(  # type: ignore[misc]
            objs, request
        )
        # "Delete selected" lists why a row is kept, where Django would name its type.
        reasons = {refusal for obj in objs if (refusal := deletable_refusal(obj))}
        if reasons:
            own = str(objs[0]._meta.verbose_name)
            refused = {name for name in refused if name != own} | reasons
        return deleted, counts, refused, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        record_delete(instance=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            try:
                record_delete(instance=obj, user=request.user)
            except ValidationError as error:
                # Its state changed since the confirmation page: kept, and said so.
                messages.error(request, f"{obj}: {' '.join(error.messages)}")


def form_m2m(form: Any) -> set[str]:
    return {field.name for field in form.instance._meta.many_to_many}


def _names(obj: Any) -> set[str]:
    """The row's own editable fields (an inline row's many-to-many values are not written)."""
    return {field.name for field in obj._meta.concrete_fields if field.editable}


class ScopedModelAdmin(ServiceSavedAdmin, CoordinatorPermissions, SimpleHistoryAdmin):
    """Base of every admin of a consortium-owned model; keeps each change in the history."""

    list_per_page = 50
    # A filtered list counts its rows once: not again without its filters, for the "(N total)"
    # beside the count, which would count every row of the coordinator's consortia on each page.
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset: Any = super().get_queryset(request)
        return queryset.restrict(request.user, "manage")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Relation filters list only the related rows present in the user's own list.

        Django's default relation filter offers every row of the related table, which would show
        other consortia's partners and workpackages in the sidebar.
        """
        return [scoped_filter(self.model, entry) for entry in super().get_list_filter(request)]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        # A past version is for reading: reverting would write around the services and the
        # checks of the change form (an accepted expense, another consortium's row).
        self._visible_or_404(request, object_id)
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(
        self, request: HttpRequest, historical_record: Any
    ) -> HistoricalRecordContextHelper:
        return ChangeDisplay(self.model, historical_record)

    def _visible_or_404(self, request: HttpRequest, object_id: str) -> None:
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, ValidationError):
            visible = False
        if not visible:
            raise Http404


class ScopedInlineMixin(CoordinatorPermissions):
    """Inlines choose only among the coordinator's rows, like their parent admin, and check their
    rows with the write services before the parent saves them through those services."""

    extra = 0
    show_change_link = True
    # The relations each row's title (its `__str__`) reads, in the query of the rows.
    rows_select_related: tuple[str, ...] = ()

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # The rows' choices are read once for the inline, not once per row.
        formset = shared_choices(super().get_formset(request, obj, **kwargs))  # type: ignore[misc]
        formset.form = service_checked(formset.form, request.user)
        return formset

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if hasattr(queryset, "restrict"):
            queryset = queryset.restrict(request.user, "manage")
        if self.rows_select_related:
            queryset = queryset.select_related(*self.rows_select_related)
        return queryset

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope_choices(db_field, request, kwargs)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):  # type: ignore[attr-defined]
            kwargs["widget"] = InlineAutocompleteSelect(
                db_field,
                self.admin_site,  # type: ignore[attr-defined]
                using=kwargs.get("using"),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        widget = getattr(formfield, "widget", None)
        if isinstance(widget, RelatedFieldWidgetWrapper):
            # A row's relation offers no links to add, change or view the related row: repeated
            # on every row they widened the inline past the page and slowed it down; the related
            # rows have their own pages.
            widget.can_add_related = widget.can_change_related = False
            widget.can_delete_related = widget.can_view_related = False
        return formfield


class ScopedTabularInline(ScopedInlineMixin, admin.TabularInline):
    pass


class ReadOnlyTabularInline(ScopedInlineMixin, admin.TabularInline):
    """An inline that shows related rows without letting anyone edit them here."""

    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SuperuserOnlyAdmin:
    """Mixed into admins of models that belong to no consortium (groups, schedules…)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)
