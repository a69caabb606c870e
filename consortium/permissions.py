"""Who gets into the coordinators' admin, and the admin base classes that apply the scoping rule.

The rule itself lives in `querysets.ScopedQuerySet.restrict`; these classes only plug it into every
admin list, form choice, autocomplete and inline, so that a coordinator of one consortium sees no
row of another anywhere.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from .models import ConsortiumRole, Membership
from .querysets import coordinated_consortia


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


def manageable_people(user: Any) -> models.QuerySet[Any]:
    """People a coordinator manages: those with a role or a membership in a consortium they
    coordinate. Superusers manage everyone and are managed by no coordinator."""
    people = get_user_model().objects.all()
    if user.is_superuser:
        return people
    consortia = coordinated_consortia(user)
    members = people.filter(
        Q(consortium_roles__consortium_id__in=consortia)
        | Q(memberships__partner__consortium_id__in=consortia)
    )
    return people.filter(is_superuser=False, pk__in=members.values("pk"))


def works_elsewhere(person: Any, user: Any) -> bool:
    """Whether `person` also has a role or membership outside the consortia `user` coordinates."""
    if user.is_superuser:
        return False
    consortia = coordinated_consortia(user)
    return (
        ConsortiumRole.objects.filter(user_id=person.pk)
        .exclude(consortium_id__in=consortia)
        .exists()
        or Membership.objects.filter(user_id=person.pk)
        .exclude(partner__consortium_id__in=consortia)
        .exists()
    )


def organisation_shared_elsewhere(organisation: Any, user: Any) -> bool:
    """Whether an organisation is also a partner of a consortium `user` doesn't coordinate."""
    if user.is_superuser:
        return False
    return organisation.partnerships.exclude(consortium_id__in=coordinated_consortia(user)).exists()


def scope_choices(db_field: models.Field, request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """Limit a foreign key's or many-to-many's choices to what the user manages."""
    related = db_field.related_model
    queryset: Any = related._default_manager.get_queryset()  # type: ignore[union-attr]
    if related is get_user_model():
        kwargs.setdefault("queryset", manageable_people(request.user))
    elif hasattr(queryset, "restrict"):
        kwargs.setdefault("queryset", queryset.restrict(request.user, "manage"))


def scoped_filter(model: Any, entry: Any) -> Any:
    if isinstance(entry, str) and get_fields_from_path(model, entry)[-1].is_relation:
        return (entry, admin.RelatedOnlyFieldListFilter)
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


class ScopedModelAdmin(CoordinatorPermissions, SimpleHistoryAdmin):
    """Base of every admin of a consortium-owned model; keeps each change in the history."""

    list_per_page = 50

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
    """Inlines choose only among the coordinator's rows, like their parent admin."""

    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if hasattr(queryset, "restrict"):
            queryset = queryset.restrict(request.user, "manage")
        return queryset

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


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
