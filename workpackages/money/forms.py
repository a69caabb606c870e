"""Forms of the partner's expense pages: the list's filters, a draft expense, and an import file."""

from __future__ import annotations

import copy
from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consortium.choices import CostCategoryKind
from consortium.models import CostCategory, Partner, ReportingPeriod
from consortium.records import implied_changes
from workpackages.money.choices import BudgetLineStatus
from workpackages.money.filtersets import ExpenseFilterSet
from workpackages.money.models import BudgetLine, Expense, Statement
from workpackages.uploads import validate_sent_name
from workpackages.validators import DOCUMENT_EXTENSIONS, MAX_UPLOAD_BYTES
from workpackages.workplan.models import Workpackage, WorkpackageParticipant

# Filters a partner page has no use for: the partner and the consortium are the page's own, and
# the "changed since" moment is for integrations synchronising through the API.
HIDDEN_FILTERS = ("partner", "consortium", "updated_since")


def _choices(model: Any, user: Any, partner: Partner) -> Any:
    return model.objects.restrict(user, "view").filter(consortium_id=partner.consortium_id)


def partner_workpackages(user: Any, partner: Partner) -> Any:
    """The workpackages the partner takes part in or has an active budget line in: the only ones
    its expenses may be declared on."""
    takes_part = WorkpackageParticipant.objects.filter(workpackage=OuterRef("pk"), partner=partner)
    has_line = BudgetLine.objects.filter(
        workpackage=OuterRef("pk"), partner=partner, status=BudgetLineStatus.ACTIVE
    )
    return _choices(Workpackage, user, partner).filter(Exists(takes_part) | Exists(has_line))


def open_periods(user: Any, partner: Partner) -> Any:
    """The periods that still take new lines from the partner: those whose statement it has not
    submitted (a statement the coordinators reopened takes lines again)."""
    submitted = Statement.objects.filter(partner=partner, period=OuterRef("pk")).submitted()
    return _choices(ReportingPeriod, user, partner).exclude(Exists(submitted))


def _offer_only(field: Any, offered: Any) -> None:
    """The field's list offers only the `offered` rows, while the field still reads any row of its
    own queryset: a choice sent anyway (an old page, a forged request) meets the service's refusal
    and its message, which says why, rather than a bare "Select a valid choice"."""
    narrowed = copy.deepcopy(field)
    narrowed.queryset = offered
    field.widget.choices = narrowed.choices


def actual_cost_headings(user: Any, partner: Partner) -> Any:
    """The headings expenses are declared on: flat-rate ones are computed, not declared."""
    return _choices(CostCategory, user, partner).filter(kind=CostCategoryKind.ACTUAL)


class PartnerExpenseFilterSet(ExpenseFilterSet):
    """The API's expense filters, narrowed to the partner's consortium."""

    def __init__(self, *args: Any, partner: Partner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in HIDDEN_FILTERS:
            self.filters.pop(name, None)
        for name in ("incurred_after", "incurred_before"):
            self.filters[name].extra["widget"] = forms.DateInput(
                attrs={"type": "date"}, format="%Y-%m-%d"
            )
        user = self.request.user
        self.filters["workpackage"].queryset = _choices(Workpackage, user, partner)
        self.filters["category"].queryset = actual_cost_headings(user, partner)
        self.filters["period"].queryset = _choices(ReportingPeriod, user, partner)


class ExpenseForm(forms.ModelForm):
    """A draft expense of the partner: the model's own checks run on it (the date lies in the
    period, the partner has a budget line for the workpackage and heading, the period's statement
    is still open), and the service checks them again when it saves."""

    class Meta:
        model = Expense
        fields = [
            "incurred_on",
            "period",
            "workpackage",
            "category",
            "amount",
            "description",
            "invoice_reference",
            "evidence",
        ]
        widgets = {
            "incurred_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "evidence": forms.ClearableFileInput(
                attrs={"accept": ",".join(f".{extension}" for extension in DOCUMENT_EXTENSIONS)}
            ),
        }
        help_texts = {
            "period": _("Leave empty to use the period the date falls in."),
            "category": _(
                "Your organisation needs a budget line for this heading in the chosen workpackage."
            ),
        }

    def __init__(self, *args: Any, user: Any, partner: Partner, **kwargs: Any) -> None:
        kwargs.setdefault("instance", Expense(partner=partner))
        super().__init__(*args, **kwargs)
        self.partner = partner
        fields = self.fields
        fields["workpackage"].queryset = _choices(Workpackage, user, partner)  # type: ignore[attr-defined]
        fields["category"].queryset = actual_cost_headings(user, partner)  # type: ignore[attr-defined]
        fields["period"].queryset = _choices(ReportingPeriod, user, partner)  # type: ignore[attr-defined]
        # Only the choices that can be right are offered; the service still judges what is sent.
        _offer_only(fields["workpackage"], partner_workpackages(user, partner))
        _offer_only(fields["period"], open_periods(user, partner))
        fields["period"].required = False
        fields["incurred_on"].label = _("Date")
        # Formatted here, in the reader's language, not once when the module is imported.
        fields["evidence"].help_text = gettext(
            "Invoice or other proof, at most %(size)s MB: PDF, Word, Excel, OpenDocument, "
            "ZIP, PNG or JPEG."
        ) % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)}

    def clean_evidence(self) -> Any:
        # Before the model's checks: a refused name never reaches storage under a tidied one.
        evidence = self.cleaned_data.get("evidence")
        validate_sent_name(evidence)
        return evidence

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # A new date without another period takes the period it falls in, as at every door.
        typed = {name: cleaned[name] for name in self.changed_data if name in cleaned}
        cleaned.update(
            (name, value)
            for name, value in implied_changes(self.instance, typed).items()
            if name in cleaned
        )
        return cleaned

    def changes(self) -> dict[str, Any]:
        """The fields to hand to `record_create` / `record_update`; the evidence only when a file
        was sent (a new file) or the box to remove it was ticked."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name != "evidence"}
        evidence = self.cleaned_data.get("evidence")
        if evidence is False:
            data["evidence"] = ""
        elif isinstance(evidence, UploadedFile):
            data["evidence"] = evidence
        return data


class ExpenseImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or Excel file"),
        help_text=_("A .csv file (UTF-8, comma or semicolon separated) or an .xlsx workbook."),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".csv,.xlsx,text/csv,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
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


class EffortForm(forms.Form):
    """A partner's actual person-months of one period: one field per workpackage it takes part
    in. Whether the period still takes them is the service's to say (`effort_actuals_report`)."""

    def __init__(
        self,
        *args: Any,
        workpackages: list[Workpackage],
        actuals: dict[int, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.workpackages = workpackages
        for workpackage in workpackages:
            self.fields[self.field_name(workpackage)] = forms.DecimalField(
                label=workpackage.code,
                required=False,
                min_value=0,
                max_value=10000,
                max_digits=7,
                decimal_places=2,
                initial=actuals.get(workpackage.pk),
                widget=forms.NumberInput(
                    attrs={
                        "step": "0.01",
                        "aria-label": gettext("Actual person-months in %(workpackage)s")
                        % {"workpackage": workpackage.code},
                    }
                ),
            )

    @staticmethod
    def field_name(workpackage: Workpackage) -> str:
        return f"wp_{workpackage.pk}"

    def actuals(self) -> list[tuple[Workpackage, Any]]:
        """The values posted, per workpackage; a field left out of the post changes nothing
        (an empty one clears the actuals)."""
        return [
            (wp, self.cleaned_data[self.field_name(wp)])
            for wp in self.workpackages
            if self.add_prefix(self.field_name(wp)) in self.data
        ]
