"""Filters of the consortium's lists, shared by the API and the partner pages.

Choices of related objects come from `restrict(user, "view")`: an id the user may not see is refused
exactly like an id that does not exist.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from consortium import choices
from consortium.models import (
    Consortium,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (also `1` / `0`); anything else is an error, not "no filter"."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: no filter
        if value in (None, ""):
            return None
        if value in (True, "true", "True", "1"):
            return True
        if value in (False, "false", "False", "0"):
            return False
        raise ValidationError(_("Enter true or false."), code="invalid")

    def validate(self, value: Any) -> None:
        pass


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment with its offset (`Z` or `+01:00`), read in UTC. A moment without one
    is an invalid input rather than a guess at the server's time zone, which would move an
    integration's synchronisation by an hour or two; so is an offset the database can't hold."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        if isinstance(value, str) and value.strip():
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                raise ValidationError(
                    _("Give the moment with its offset from UTC: end it with Z or, say, +01:00."),
                    code="naive",
                )
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class IsoDateFilter(filters.DateFilter):
    """A day as YYYY-MM-DD, whatever the reader's language: integrations send ISO dates, and the
    partner pages' date pickers send them too, so "03/04/2026" is never read two ways."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(*args, **kwargs)


def visible(model: Any) -> Callable[[Any], Any]:
    """The choices of a related-object filter: what the requesting user may see."""

    def choices(request: Any) -> Any:
        if request is None:
            return model._default_manager.none()
        return model._default_manager.restrict(request.user, "view")

    return choices


class RequestedFiltersOnly(filters.FilterSet):
    """A list read through the API builds only the filters its request names: the others'
    choices (each a scoped queryset) would be built for every page and never read. The browsable
    API's form of the filters, which shows them all, still gets all of them."""

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        renderer = getattr(self.request, "accepted_renderer", None)
        if data is None or renderer is None or renderer.format != "json":
            return
        sent = set(data)
        built: dict[str, Any] = vars(self)["filters"]
        self.filters = {
            name: found
            for name, found in built.items()
            if name in sent or any(key.startswith(f"{name}_") for key in sent)
        }


class ScopedFilterSet(RequestedFiltersOnly):
    """Every list can be narrowed to one consortium."""

    consortium = filters.ModelChoiceFilter(
        queryset=visible(Consortium), label=_("consortium"), field_name="consortium"
    )


class IncrementalFilterSet(ScopedFilterSet):
    """Rows changed since a moment, for integrations that synchronise incrementally."""

    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label=_("changed at or after (ISO 8601 date and time)"),
    )


class ConsortiumFilterSet(RequestedFiltersOnly):
    updated_since = IncrementalFilterSet.base_filters["updated_since"]

    class Meta:
        model = Consortium
        fields: list[str] = []


class OrganisationFilterSet(RequestedFiltersOnly):
    kind = filters.ChoiceFilter(choices=choices.OrganisationKind.choices, label=_("kind"))
    country = filters.CharFilter(label=_("country code"), lookup_expr="iexact")
    updated_since = IncrementalFilterSet.base_filters["updated_since"]

    class Meta:
        model = Organisation
        fields: list[str] = []


class PartnerFilterSet(IncrementalFilterSet):
    role = filters.ChoiceFilter(choices=choices.PartnerRole.choices, label=_("role"))
    status = filters.ChoiceFilter(choices=choices.PartnerStatus.choices, label=_("status"))

    class Meta:
        model = Partner
        fields: list[str] = []


class MembershipFilterSet(IncrementalFilterSet):
    consortium = filters.ModelChoiceFilter(
        queryset=visible(Consortium), label=_("consortium"), field_name="partner__consortium"
    )
    partner = filters.ModelChoiceFilter(queryset=visible(Partner), label=_("partner"))
    role = filters.ChoiceFilter(choices=choices.MembershipRole.choices, label=_("role"))
    is_active = StrictBooleanFilter(label=_("active"))

    class Meta:
        model = Membership
        fields: list[str] = []


class ReportingPeriodFilterSet(IncrementalFilterSet):
    contains = IsoDateFilter(method="filter_contains", label=_("contains the date"))

    class Meta:
        model = ReportingPeriod
        fields: list[str] = []

    def filter_contains(self, queryset: Any, name: str, value: Any) -> Any:
        return queryset.filter(start_date__lte=value, end_date__gte=value)


class CostCategoryFilterSet(IncrementalFilterSet):
    kind = filters.ChoiceFilter(choices=choices.CostCategoryKind.choices, label=_("kind"))

    class Meta:
        model = CostCategory
        fields: list[str] = []
