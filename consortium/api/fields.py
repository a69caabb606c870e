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
            model = related.get_queryset().model  # type: ignore[union-attr]
            related.queryset = model._default_manager.restrict(request.user, scope)
        return fields

    def _owner_scope(self) -> Action:
        view = self.context.get("view")
        return view.scope() if view is not None and hasattr(view, "scope") else "change"
