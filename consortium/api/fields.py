"""Serializer plumbing shared by every writable resource, and the refusal of input an endpoint
does not read."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from django.db import models
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import ManyRelatedField, PKOnlyObject, RelatedField
from rest_framework.settings import api_settings

from consortium.querysets import Action
from consortium.records import record_create, record_update

UNKNOWN = {
    "field": (
        _("Unknown field “%(name)s”; the fields of this endpoint are: %(known)s."),
        _("Unknown field “%(name)s”: this endpoint takes no fields."),
    ),
    "parameter": (
        _("Unknown query parameter “%(name)s”; the parameters of this endpoint are: %(known)s."),
        _("Unknown query parameter “%(name)s”: this endpoint takes no query parameters."),
    ),
}
# A body of thousands of made-up keys gets a short answer: the first few, their names shortened.
REPORTED = 10
SHOWN = 40
# The `attr` of an error that means the object as a whole, not a field of that name.
RESERVED = {api_settings.NON_FIELD_ERRORS_KEY}
# The browsable API's HTML forms post Django's CSRF token along with the serializer's fields.
FORM_EXTRAS = {"csrfmiddlewaretoken"}


def unknown_input(
    unknown: Sequence[str], known: Sequence[str], what: Literal["field", "parameter"]
) -> dict[str, list[str]]:
    """The 400's body for names an endpoint does not read: each name with a message listing what
    the endpoint reads (`known`)."""
    listed, nothing = UNKNOWN[what]
    message = listed if known else nothing
    errors: dict[str, list[str]] = {}
    for name in unknown[:REPORTED]:
        shown = name if len(name) <= SHOWN else f"{name[:SHOWN]}…"
        key = api_settings.NON_FIELD_ERRORS_KEY if name in RESERVED else name
        errors.setdefault(key, []).append(message % {"name": shown, "known": ", ".join(known)})
    return errors


def unknown_fields(serializer: serializers.Serializer, data: Any) -> dict[str, list[str]]:
    """The fields of `data` that `serializer` does not have. Those it has read-only (`id`,
    `status`, `consortium`, the timestamps…) are not unknown: DRF ignores them, so that a client
    may send back what it read; they change through the actions, or never."""
    if not isinstance(data, Mapping):
        return {}  # DRF refuses a body that is not an object ("Expected a dictionary").
    fields = serializer.fields
    extras = FORM_EXTRAS if isinstance(data, QueryDict) else set()
    unknown = [name for name in data if name not in fields and name not in extras]
    writable = [name for name, field in fields.items() if not field.read_only]
    return unknown_input(unknown, writable, "field")


def with_unknown_fields(
    errors: Mapping[str, Any], unknown: Mapping[str, list[str]]
) -> dict[str, Any]:
    """A serializer's errors and its unknown fields', in one 400 (an unknown name can only share
    `non_field_errors` with them)."""
    merged = dict(errors)
    for name, messages in unknown.items():
        merged[name] = [*merged.get(name, []), *messages]
    return merged


class KnownFieldsOnly(serializers.Serializer):
    """Refuses a field it does not have with the other errors of the body (`unknown_fields`)."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = unknown_fields(self, data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError(with_unknown_fields(exc.detail, unknown)) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


# Fields whose value is the model's own, as stored: read straight from the row.
_AS_STORED = (serializers.CharField, serializers.IntegerField, serializers.BooleanField)
_STORED_AS_SHOWN = (models.CharField, models.TextField, models.IntegerField, models.BooleanField)


class DirectReads(serializers.ModelSerializer):
    """Reads a row's plain columns and its relations' ids straight from the row, as DRF would
    write them, and leaves every other field (amounts, moments, files, choices…) to DRF: a list
    of a hundred rows spent most of its time in DRF's generic path, field by field."""

    def to_representation(self, instance: Any) -> Any:
        plan = self.__dict__.get("_reads")
        if plan is None:
            plan = self._reads = [self._read_of(field) for field in self._readable_fields]
        answer: dict[str, Any] = {}
        for name, attname, field in plan:
            if attname is not None:
                answer[name] = getattr(instance, attname)
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            empty = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            answer[name] = None if empty is None else field.to_representation(attribute)
        return answer

    def _read_of(self, field: Any) -> tuple[str, str | None, Any]:
        """The field's name, and the row's attribute that holds its value as DRF shows it (None:
        DRF's own path)."""
        model: Any = self.Meta.model
        attname = None
        if len(field.source_attrs) == 1 and field.source_attrs[0] in {
            f.name for f in model._meta.concrete_fields
        }:
            column = model._meta.get_field(field.source_attrs[0])
            if type(field) is serializers.PrimaryKeyRelatedField and column.many_to_one:
                if field.pk_field is None and column.target_field.primary_key:
                    attname = column.attname
            elif (
                type(field) in _AS_STORED
                and not column.is_relation
                and not getattr(column, "choices", None)
                and isinstance(column, _STORED_AS_SHOWN)
            ):
                attname = column.attname
        return field.field_name, attname, field


class ScopedModelSerializer(KnownFieldsOnly, DirectReads):
    """A related object is accepted only if the user may see it; the fields in `Meta.owner_fields`
    (the partner a row belongs to) only if the user may do there what the action needs ("change"
    for an expense, "manage" for a budget line). Anything else is refused as if it did not exist.
    Subclasses save rows through their app's services, never by `Model.save()` here."""

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        owner_fields = getattr(self.Meta, "owner_fields", ())
        for name, field in fields.items():
            related = field.child_relation if isinstance(field, ManyRelatedField) else field
            if field.read_only or not isinstance(related, RelatedField):
                continue
            scope: Action = self._owner_scope() if name in owner_fields else "view"
            model = related.queryset.model  # type: ignore[union-attr]
            # Built when a value is checked or the choices are listed, never by a read that
            # only shows the related ids.
            related.get_queryset = functools.partial(  # type: ignore[method-assign]
                model._default_manager.restrict, request.user, scope
            )
        return fields

    def _owner_scope(self) -> Action:
        view = self.context.get("view")
        return view.scope() if view is not None and hasattr(view, "scope") else "change"


MONEY: dict[str, Any] = {"max_digits": 16, "decimal_places": 2}


class RecordSerializer(ScopedModelSerializer):
    """Budget lines, expenses, effort and jobs: created and changed by `record_create` and
    `record_update`, which validate the whole row, enforce which states and fields still change
    and record the author in the history."""

    def create(self, validated_data: dict[str, Any]) -> Any:
        user = self.context["request"].user
        return record_create(model=self.Meta.model, user=user, **validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        user = self.context["request"].user
        return record_update(instance=instance, user=user, **validated_data)


class NoInputSerializer(serializers.Serializer):
    """The body of an action that takes nothing: the object is all it needs."""


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RequiredCommentSerializer(serializers.Serializer):
    # Left out or blank, the service refuses it with the message every door gives.
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Required: what must change, or why. The partner reads it."),
    )
