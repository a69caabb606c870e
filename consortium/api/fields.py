"""Serializer plumbing shared by every writable resource."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, RelatedField

from ..querysets import Action


class ScopedModelSerializer(serializers.ModelSerializer):
    """A related object is accepted only if the user may see it; the fields in `Meta.owner_fields`
    (the partner a row belongs to) only if the user may do there what the action needs ("change"
    for an expense, "manage" for a budget line). Anything else is refused as if it did not exist.

    Rows are saved by the services named in `Meta.create_service` and `Meta.update_service`, which
    validate the whole row and record the author in its history."""

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
            model = related.get_queryset().model  # type: ignore[union-attr]
            related.queryset = model._default_manager.restrict(request.user, scope)
        return fields

    def _owner_scope(self) -> Action:
        view = self.context.get("view")
        return view.scope() if view is not None and hasattr(view, "scope") else "change"

    def create(self, validated_data: dict[str, Any]) -> Any:
        return self.Meta.create_service(
            model=self.Meta.model, user=self.context["request"].user, **validated_data
        )

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        return self.Meta.update_service(
            instance=instance, user=self.context["request"].user, **validated_data
        )
