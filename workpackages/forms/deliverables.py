"""Forms of the work plan pages: the lists' filters and the upload of a deliverable's new version.

Django tidies an uploaded file's name silently: it drops any folder ("../evil.pdf" arrives as
"evil.pdf") and any control character. A partner who sends such a name is told instead, and
nothing is stored: the deliverable page parses its upload with `KeepSentNames`, which keeps each
file's name as the browser sent it for `DeliverableSubmitForm` to check.
"""

from __future__ import annotations

import datetime
import unicodedata
from typing import IO, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict
from django.utils.encoding import force_str
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from consortium.models import Partner

from ..filtersets import DeliverableFilterSet, MilestoneFilterSet, WorkpackageFilterSet
from ..models import Deliverable, Workpackage
from ..validators import MAX_UPLOAD_BYTES, validate_document_content, validate_upload_size

# The funder takes deliverables as documents, spreadsheets or archives; images, accepted as
# expense evidence, are not a deliverable.
SUBMIT_EXTENSIONS = ("pdf", "docx", "xlsx", "odt", "zip")

# Filters a partner page has no use for: the consortium is the page's own, and the "changed
# since" moment is for integrations synchronising through the API.
HIDDEN_FILTERS = ("consortium", "updated_since")

# A placeholder for a name Django would drop altogether (".." or a bare folder), so that the file
# still reaches the form, which refuses it by the name it was sent with.
UNNAMED = "unnamed"


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


class SentNameParser(MultiPartParser):
    """Django's multipart parser, which also sets `sent_name` on each uploaded file: its name
    exactly as the browser sent it, before Django tidied it."""

    _sent_name = ""

    def sanitize_file_name(self, file_name: str) -> str | None:
        self._sent_name = file_name
        return super().sanitize_file_name(file_name) or UNNAMED

    def handle_file_complete(self, old_field_name: str, counters: list[int]) -> None:
        super().handle_file_complete(old_field_name, counters)
        # The parser has just added the completed file to its (private) result: tag it.
        field = force_str(old_field_name, self._encoding, errors="replace")  # type: ignore[attr-defined]
        files = self._files.getlist(field)  # type: ignore[attr-defined]
        if files:
            files[-1].sent_name = self._sent_name


class CapFileSize(FileUploadHandler):
    """Stop keeping a file's bytes once it is past the upload limit: the form refuses it by its
    size all the same, and the server's temporary folder never holds more than the limit and one
    chunk of it."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        return None if start > MAX_UPLOAD_BYTES else raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        return None


class KeepSentNames(FileUploadHandler):
    """Parse the request's upload with `SentNameParser` and `CapFileSize`. Install it first in
    `request.upload_handlers` before anything reads the body (the CSRF check does: see the
    deliverable page's view)."""

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, str],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> tuple[QueryDict, MultiValueDict[str, UploadedFile]] | None:
        request = self.request
        if request is None:
            return None  # Installed without its request: Django parses as usual.
        others = [handler for handler in request.upload_handlers if handler is not self]
        handlers = [CapFileSize(request), *others]
        return SentNameParser(META, input_data, handlers, encoding).parse()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        return raw_data  # Not reached: `handle_raw_input` has parsed the whole body.

    def file_complete(self, file_size: int) -> UploadedFile | None:
        return None


def keep_sent_names(request: HttpRequest) -> None:
    """Have the request's upload parsed with the names as sent (before its body is read)."""
    request.upload_handlers = [KeepSentNames(request), *request.upload_handlers]


def check_sent_name(name: str) -> None:
    """Refuse a file name with a folder in it or with control characters, rather than storing
    the file under another name than the one the partner sees on their computer."""
    if "/" in name or "\\" in name:
        raise ValidationError(
            _(
                "The file name contains a folder or a path separator (a slash or a backslash): "
                "rename the file, for example report.pdf, and send it again."
            ),
            code="file_name_path",
        )
    if any(unicodedata.category(character) in ("Cc", "Cf") for character in name):
        raise ValidationError(
            _("The file name contains control characters: rename the file and send it again."),
            code="file_name_control",
        )
    if name.strip().strip(".") == "":
        raise ValidationError(
            _("This is not a file name: rename the file and send it again."),
            code="file_name_empty",
        )


def check_extension(name: str) -> None:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in SUBMIT_EXTENSIONS:
        raise ValidationError(
            _("A deliverable is sent as a PDF, DOCX, XLSX, ODT or ZIP file."),
            code="file_extension",
        )


class DeliverableSubmitForm(forms.Form):
    """A new version of a deliverable. Past its due date, the delay must be explained (once: a
    justification given with an earlier version stands unless it is rewritten)."""

    file = forms.FileField(
        label=_("File"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ",".join(f".{extension}" for extension in SUBMIT_EXTENSIONS)}
        ),
    )
    note = forms.CharField(
        label=_("Note for the coordinators"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Optional: what this version contains or changes."),
    )
    late_justification = forms.CharField(
        label=_("Why is it late?"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        error_messages={"required": _("This deliverable is past its due date: explain the delay.")},
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
            justification.required = False
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
        check_sent_name(getattr(file, "sent_name", None) or file.name)
        check_extension(file.name)
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


def show_refusal(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's refusal on the form: on the field it names when the form shows that
    field, above the form otherwise (the deliverable's status)."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)
