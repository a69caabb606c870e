"""The choices of an admin inline's rows, read once for the whole inline.

Django builds each row of an inline as a form of its own, and each form reads its relations'
choices again: a select lists its options with one query per row, an autocomplete looks up the
label of its row's value with one query per row (and a partner's label, its organisation's name,
with another). A partner's page with its budget lines ran two hundred queries that way. Here an
inline's formset reads a select's options once, and the labels of every row's autocomplete values
in one query, whatever the number of rows.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect

# What a choice's label reads besides its own row (`Partner.__str__` names its organisation).
LABEL_RELATED: dict[str, tuple[str, ...]] = {
    "consortium.partner": ("organisation",),
    "workpackages.deliverable": ("workpackage",),
}


def for_labels(queryset: Any) -> Any:
    """`queryset` with the rows its labels read, in the same query."""
    related = LABEL_RELATED.get(queryset.model._meta.label_lower)
    return queryset.select_related(*related) if related else queryset


class InlineAutocompleteSelect(AutocompleteSelect):
    """An inline's autocomplete: the labels of its selected values come from `labels`, which its
    formset fills for all its rows at once (`SharedChoicesFormSet`)."""

    labels: Any = None

    def optgroups(self, name: str, value: Any, attr: Any = None) -> list[Any]:
        if self.labels is None:
            return super().optgroups(name, value, attr)
        known = self.labels()
        options: list[Any] = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        empty = self.choices.field.empty_values
        for selected in dict.fromkeys(str(v) for v in value if str(v) not in empty):
            if selected in known:
                options.append(
                    self.create_option(name, selected, known[selected], True, len(options))
                )
        return [(None, options, 0)]


def _inner(widget: Any) -> Any:
    """The widget inside the admin's wrapper (the add / change / view links)."""
    return getattr(widget, "widget", widget)


class SharedChoicesFormSet(forms.BaseModelFormSet):
    """Mixed into an inline's formset: every row offers the same choices, read once."""

    def add_fields(self, form: forms.Form, index: Any) -> None:
        super().add_fields(form, index)
        shared = self.__dict__.setdefault("_shared_choices", {})
        for name, field in form.fields.items():
            if not isinstance(field, forms.ModelChoiceField):
                continue
            widget = _inner(field.widget)
            if isinstance(widget, InlineAutocompleteSelect):
                widget.labels = lambda name=name, field=field: self._labels(name, field)
                continue
            if isinstance(widget, forms.HiddenInput | forms.MultipleHiddenInput):
                continue
            if name not in shared:
                field.queryset = for_labels(field.queryset)
                # A model choice field's choices are its queryset's rows, read here once.
                shared[name] = list(field.iterator(field))
            field.choices = shared[name]

    def _labels(self, name: str, field: forms.ModelChoiceField) -> dict[str, str]:
        """The labels of the values the rows hold in `name`, in one query."""
        labels = self.__dict__.setdefault("_shared_labels", {})
        if name not in labels:
            values: set[str] = set()
            for form in self.forms:
                value = form[name].value()
                for item in value if isinstance(value, list | tuple) else [value]:
                    if item not in field.empty_values:
                        values.add(str(item))
            key = field.to_field_name or "pk"
            rows = for_labels(field.queryset).filter(**{f"{key}__in": values}) if values else []
            labels[name] = {str(getattr(row, key)): field.label_from_instance(row) for row in rows}
        return labels[name]


def shared_choices(formset: type[forms.BaseModelFormSet]) -> type[forms.BaseModelFormSet]:
    """`formset` whose rows read their choices once (`SharedChoicesFormSet`)."""
    return type(formset.__name__, (SharedChoicesFormSet, formset), {})
