"""Forms of the work plan pages: the lists' filters and the upload of a deliverable's new version
(whose file name is checked as it was sent: see `workpackages.uploads`)."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from consortium.models import Partner
from workpackages.uploads import validate_sent_name
from workpackages.validators import (
    DELIVERABLE_EXTENSIONS,
    MAX_UPLOAD_BYTES,
    validate_deliverable_extension,
    validate_document_content,
    validate_upload_size,
)
from workpackages.workplan.filtersets import (
    DeliverableFilterSet,
    MilestoneFilterSet,
    WorkpackageFilterSet,
)
from workpackages.workplan.models import Deliverable, Workpackage

# Filters a partner page has no use for: the consortium is the page's own, and the "changed
# since" moment is for integrations synchronising through the API.
HIDDEN_FILTERS = ("consortium", "updated_since")

# Filters ----------------------------------------------------------------------------------------


FILTER_ORDER = (
    "workpackage",
    "lead_partner",
    "partner",
    "status",
    "type",
    "dissemination",
    "overdue",
    "due_after",
    "due_before",
)


def _position(name: str) -> int:
    return FILTER_ORDER.index(name) if name in FILTER_ORDER else len(FILTER_ORDER)


class PortalFilters:
    """The API's work plan filters on a partner page: the consortium filter goes (the page shows
    the person's consortium), partners and workpackages offered are that consortium's, and the
    overdue and date filters get widgets a person can use."""

    filters: dict[str, Any]
    request: Any

    def narrow_to_consortium(self) -> None:
        for name in HIDDEN_FILTERS:
            self.filters.pop(name, None)
        user, consortium = self.request.user, self.request.scope.consortium
        partners = (
            Partner.objects.restrict(user, "view")
            .filter(consortium=consortium)
            .select_related("organisation")
        )
        workpackages = Workpackage.objects.restrict(user, "view").filter(consortium=consortium)
        # What partners look for first; the API's labels start with a capital here.
        self.filters = dict(sorted(self.filters.items(), key=lambda pair: _position(pair[0])))
        for name, item in self.filters.items():
            item.label = capfirst(item.label)
            if name in ("partner", "lead_partner"):
                item.queryset = partners
            elif name == "workpackage":
                item.queryset = workpackages
            elif name == "overdue":
                item.extra["widget"] = forms.Select(
                    choices=[
                        ("", _("All")),
                        ("true", _("Overdue only")),
                        ("false", _("Not overdue")),
                    ]
                )
            elif name in ("due_after", "due_before"):
                item.extra["widget"] = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PartnerWorkpackageFilterSet(PortalFilters, WorkpackageFilterSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.narrow_to_consortium()
        # The API calls it "lead_partner" ("partner"); the page says which partner it filters on.
        self.filters["lead_partner"].label = _("Lead partner")


class PartnerDeliverableFilterSet(PortalFilters, DeliverableFilterSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.narrow_to_consortium()
        # The API calls it "partner"; on the page it is the partner that leads the deliverable.
        self.filters["partner"].label = _("Lead partner")


class PartnerMilestoneFilterSet(PortalFilters, MilestoneFilterSet):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.narrow_to_consortium()
        self.filters["partner"].label = _("Lead partner")


# Upload -----------------------------------------------------------------------------------------


class DeliverableSubmitForm(forms.Form):
    """A new version of a deliverable. Past its due date, the delay must be explained (once: a
    justification given with an earlier version stands unless it is rewritten)."""

    file = forms.FileField(
        label=_("File"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ",".join(f".{extension}" for extension in DELIVERABLE_EXTENSIONS)}
        ),
    )
    note = forms.CharField(
        label=_("Note for the coordinators"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Optional: what this version contains or changes."),
    )
    # Whether a justification is needed is `deliverable_submit`'s rule: it says so on this field.
    late_justification = forms.CharField(
        label=_("Why is it late?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )

    def __init__(
        self, *args: Any, deliverable: Deliverable, today: datetime.date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("PDF, DOCX, XLSX, ODT or ZIP, at most %(size)s MB.") % {
            "size": MAX_UPLOAD_BYTES // (1024 * 1024)
        }
        self.late = today > deliverable.due_date
        justification = self.fields["late_justification"]
        if not self.late:
            del self.fields["late_justification"]
        elif deliverable.late_justification:
            justification.initial = deliverable.late_justification
            justification.help_text = _(
                "The justification given earlier stands; rewrite it here if it has changed."
            )
        else:
            justification.help_text = _(
                "The deliverable was due on %(date)s. The funder reads this explanation."
            ) % {"date": deliverable.due_date.strftime("%d/%m/%Y")}

    def clean_file(self) -> UploadedFile:
        file = self.cleaned_data["file"]
        # Checked first: a refused name never reaches storage under a tidied one.
        validate_sent_name(file)
        validate_deliverable_extension(file)
        validate_upload_size(file)
        validate_document_content(file)
        return file

    def service_arguments(self) -> dict[str, Any]:
        """What `deliverable_submit` takes, besides the deliverable and the user."""
        return {
            "file": self.cleaned_data["file"],
            "note": self.cleaned_data.get("note", ""),
            "late_justification": self.cleaned_data.get("late_justification", ""),
        }


class MilestoneMissForm(forms.Form):
    reason = forms.CharField(
        label=_("Why was it missed?"),
        required=False,  # `milestone_miss` says why an empty reason is refused
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("The funder reads it in the semester report."),
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


class DelayNoteForm(forms.Form):
    """When an overdue deliverable or milestone is now expected, and why; whether the note may be
    set is `delay_note_set`'s to say."""

    expected_on = forms.DateField(
        label=_("Now expected on"),
        required=False,  # `delay_note_set` says why a missing date is refused
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.CharField(
        label=_("Reason for the delay"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The coordinators and the funder read it in the reports."),
    )
