"""Forms of the partner's jobs pages: the list's filters and the declaration of a position."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from workpackages.jobs.choices import JobStatus
from workpackages.jobs.filtersets import JobRecordFilterSet
from workpackages.jobs.models import JobRecord
from workpackages.workplan.models import Workpackage

# The page's own partner and consortium; "changed since" is for integrations using the API.
HIDDEN_FILTERS = ("partner", "consortium", "updated_since")
FTE_RANGE = _("FTE must be more than 0 and at most 1.")


def consortium_workpackages(request: Any) -> QuerySet[Workpackage]:
    """The workpackages of the consortium the signed-in person works in, as choices."""
    return Workpackage.objects.restrict(request.user, "view").filter(
        consortium=request.scope.consortium
    )


class PartnerJobFilterSet(JobRecordFilterSet):
    """The jobs page's filters, shared by the list and its exports.

    The page shows the signed-in person's partner only: the partner and consortium filters and
    the integrations' `updated_since` are left out, and the workpackages offered are those of the
    partner's consortium.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in HIDDEN_FILTERS:
            self.filters.pop(name, None)
        for filter_ in self.filters.values():
            # The API's labels are lower case; on a page they head a field.
            filter_.label = capfirst(filter_.label)
        self.filters["workpackage"].queryset = consortium_workpackages(self.request)


class JobForm(forms.ModelForm):
    """Change a declared job: what the position is, when it runs, and its share of a full time."""

    class Meta:
        model = JobRecord
        fields = [
            "position_title",
            "workpackage",
            "category",
            "contract_type",
            "impact",
            "fte",
            "start_date",
            "end_date",
            "evidence_note",
        ]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "evidence_note": forms.Textarea(attrs={"rows": 3, "cols": 60}),
        }
        help_texts = {
            "workpackage": _("Optional: the workpackage the position works for."),
            "end_date": _("Leave empty for a permanent position."),
            "evidence_note": _(
                "Optional: how the coordinators can check the job (vacancy notice, internal "
                "reference…). No personal data."
            ),
        }

    def __init__(self, *args: Any, workpackages: QuerySet[Workpackage], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workpackage"].queryset = workpackages  # type: ignore[attr-defined]
        fte = self.fields["fte"]
        # One message for both bounds, the one the database constraint gives.
        fte.validators = [
            *fte.validators,
            MinValueValidator(Decimal("0.01"), message=FTE_RANGE),
            MaxValueValidator(Decimal(1), message=FTE_RANGE),
        ]
        fte.widget.attrs.update({"step": "0.01", "min": "0.01", "max": "1"})
        self.fields["position_title"].widget.attrs["autocomplete"] = "off"


class JobDeclareForm(JobForm):
    """Declare a new job: a forecast (a position planned) or a realised one (already filled)."""

    class Meta(JobForm.Meta):
        fields = [*JobForm.Meta.fields, "status"]
        help_texts = {
            **JobForm.Meta.help_texts,
            "status": _(
                "Forecast: a position you plan to create. Realised: the position is filled "
                "and the job has started."
            ),
        }

    field_order = ["position_title", "status"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A job is withdrawn later, never declared withdrawn.
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (JobStatus.FORECAST, JobStatus.FORECAST.label),
            (JobStatus.REALISED, JobStatus.REALISED.label),
        ]
