"""Forms of the team page: what the partner contact types; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .choices import MembershipRole

ROLE_HELP = _(
    "The partner contact manages the team; finance officers and contributors work on the "
    "partner's records."
)


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=MembershipRole.choices,
        initial=MembershipRole.CONTRIBUTOR,
        help_text=ROLE_HELP,
    )
    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("The name is used only if the person has no account yet."),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=MembershipRole.choices, help_text=ROLE_HELP)


class DecisionForm(forms.Form):
    """A button without fields (remove access, give it back, send again): carries the refusal."""
