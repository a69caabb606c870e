"""The form of the integration tokens page: a name, how long the token lasts, read-only or not."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consortium.services import integration_token_lifetimes


class IntegrationTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, for example “ERP sync” or “Power BI”."),
    )
    expires_in_days = forms.TypedChoiceField(label=_("Lasts"), coerce=int)
    read_only = forms.BooleanField(
        label=_("Read-only"),
        required=False,
        help_text=_(
            "Tick it for a dashboard or a spreadsheet: the token reads and changes nothing."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lifetimes = integration_token_lifetimes()
        field: Any = self.fields["expires_in_days"]
        field.choices = [
            (days, ngettext("%(days)s day", "%(days)s days", days) % {"days": days})
            for days in lifetimes
        ]
        field.initial = 90 if 90 in lifetimes else lifetimes[-1]
