"""Forms that collect what a decision needs (a comment, a date, evidence) before calling a service."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workpackages.money.models import Expense

# The decision's own rules (a reason to reject, evidence that a milestone is reached) are the
# services': these forms collect the fields, and the service says what is missing, as the API does.


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
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
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("How the means of verification were met (report, data set, minutes…)."),
    )


# A confirmation page asks an amount and a reason of each expense: a hundred rows can still be
# read and filled in, and post some 300 of the 1,000 fields a request may carry
# (DATA_UPLOAD_MAX_NUMBER_FIELDS).
PARTIAL_ACCEPT_MAX_ROWS = 100


class PartialAcceptForm(forms.Form):
    """What is accepted of one expense, and why not all of it.

    The confirmation page holds one form per selected expense, each under a prefix naming the
    expense, so that every expense gets its own amount and reason. The form reads a number and a
    text; whether they may be accepted is `expense_accept`'s to say, row by row.
    """

    accepted_amount = forms.DecimalField(
        label=_("Accepted amount (EUR)"), max_digits=14, decimal_places=2
    )
    comment = forms.CharField(
        label=_("Reason"),
        required=False,
        # The page says once, above its rows, that the partner reads the reason.
        widget=forms.Textarea(attrs={"rows": 2, "cols": 20}),
    )

    def __init__(self, data: Any = None, *, expense: Expense, **kwargs: Any) -> None:
        super().__init__(data, prefix=f"expense-{expense.pk}", **kwargs)
        self.expense = expense
        amount = self.fields["accepted_amount"].widget.attrs
        amount.update({"min": "0", "max": str(expense.amount), "step": "0.01"})

    @property
    def evidence_name(self) -> str:
        """The evidence file's own name, without the folders it is stored in."""
        return PurePosixPath(self.expense.evidence.name).name if self.expense.evidence else ""
