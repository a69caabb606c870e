"""Uploads keep the file name the browser sent, so that a bad one is refused rather than tidied.

Django tidies an uploaded file's name silently: it decodes HTML entities, drops any folder
("../evil.pdf" arrives as "evil.pdf") and any character that doesn't print, so the file would be
stored under another name than the one the partner sees on their computer. `SentNamesMiddleware`
has every upload (partner pages and API alike) parsed by `SentNameParser`, which keeps each file's
name as sent in `file.sent_name`; `validate_sent_name` refuses a name Django would tidy, with a
message saying how to put it right. Nothing is stored: the forms and serializers check the name
before any service saves the file.

The same parsing stops keeping a file's bytes past the upload limit (`CapFileSize`), and a request
whose declared length is past what any form may send is refused before its body is read at all
(`RequestSizeMiddleware`).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParser
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.datastructures import MultiValueDict
from django.utils.encoding import force_str
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from consortium.api.errors import error_response
from workpackages.validators import MAX_UPLOAD_BYTES

# The largest body any form or API call may send: one file at the limit, and room for the other
# fields and the multipart framing around it. The proxy's own limit (deploy/Caddyfile) is the same.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024

logger = logging.getLogger(__name__)

# A placeholder for a name Django would drop altogether (".." or a bare folder), so that the file
# still reaches the form, which refuses it by the name it was sent with.
UNNAMED = "unnamed"


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
    """Parse the request's upload with `SentNameParser` and `CapFileSize`. `SentNamesMiddleware`
    installs it first in `request.upload_handlers`, before anything reads the body."""

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


def check_sent_name(name: str) -> None:
    """Refuse a name that Django would tidy (`MultiPartParser.sanitize_file_name`: HTML entities
    decoded, folders dropped, characters that don't print removed), rather than storing the file
    under another name than the one the partner sees on their computer."""
    # Decoded first, as Django does: "..&#47;report.pdf" is "../report.pdf".
    name = html.unescape(name)
    if "/" in name or "\\" in name:
        raise ValidationError(
            _(
                "The file name contains a folder or a path separator (a slash or a backslash): "
                "rename the file, for example report.pdf, and send it again."
            ),
            code="file_name_path",
        )
    if not all(character.isprintable() for character in name):
        raise ValidationError(
            _(
                "The file name contains invisible or control characters: rename the file and "
                "send it again."
            ),
            code="file_name_control",
        )
    if name.strip().strip(".") == "":
        raise ValidationError(
            _("This is not a file name: rename the file and send it again."),
            code="file_name_empty",
        )


def validate_sent_name(file: Any) -> None:
    """Check an uploaded file's name as it was sent (or its name, for a file that didn't come
    through `SentNameParser`, as in a test or a shell). As a model field's validator it checks a
    file about to be stored, through every door, and leaves stored ones alone."""
    if isinstance(file, FieldFile):
        if file._committed:  # type: ignore[attr-defined]  # FieldFile's own flag, not in the stubs
            return
        file = file.file
    if isinstance(file, UploadedFile):
        check_sent_name(getattr(file, "sent_name", None) or file.name or "")


class SentNamesMiddleware:
    """Install `KeepSentNames` on every request, before any middleware or view reads its body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.upload_handlers = [KeepSentNames(request), *request.upload_handlers]
        return self.get_response(request)


class RequestSizeMiddleware:
    """Refuse a request whose body is declared larger than `MAX_REQUEST_BYTES` with a 413, before
    anything reads it: the web process neither receives nor stores the rest. (A WSGI request has a
    declared length: a body sent without one reads as empty.) A body within the limit goes on to
    the forms, whose size check names the file at fault."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= MAX_REQUEST_BYTES:
            return self.get_response(request)
        logger.warning("Refused a request body of %s bytes on %s", length, request.path)
        with translation.override(translation.get_language_from_request(request)):
            message = gettext(
                "This upload is larger than %(size)s MB: send a smaller file, or split it."
            ) % {"size": MAX_UPLOAD_BYTES // (1024 * 1024)}
            if request.path.startswith("/api/"):
                response: HttpResponse = error_response(413, "request_too_large", message)
            else:
                page = render_to_string("413.html", {"message": message})
                response = HttpResponse(page, status=413)
        return response
