"""Forms that collect what a decision needs (a comment, a date, evidence) before calling a service."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("The partner reads this comment."),
    )


class MilestoneAchieveForm(forms.Form):
    achieved_on = forms.DateField(
        label=_("Achieved on"),
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    evidence = forms.CharField(
        label=_("Evidence"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("How the means of verification were met (report, data set, minutes…)."),
    )


class PartialAcceptForm(forms.Form):
    accepted_amount = forms.DecimalField(
        label=_("Accepted amount (EUR)"), min_value=Decimal(0), max_digits=14, decimal_places=2
    )
    comment = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why only part of the expense is eligible; the partner reads it."),
    )
