"""The form of the notifications page: which of the kinds offered to the person they receive."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consortium.models import NotificationKind


class NotificationSettingsForm(forms.Form):
    receive = forms.MultipleChoiceField(
        label=_("Tell me, in the daily digest, when"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Unticked kinds are left out of your digest; with none ticked, you get none."),
    )

    def __init__(self, *args: Any, offered: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(NotificationKind.choices)
        field: Any = self.fields["receive"]
        field.choices = [(kind, labels[kind]) for kind in offered]
