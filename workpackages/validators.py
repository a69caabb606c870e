"""Checks on uploaded deliverables and evidence files: extension, size, and what the bytes are."""

from __future__ import annotations

import os
from typing import Any

import filetype
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DOCUMENT_EXTENSIONS = ["pdf", "docx", "xlsx", "odt", "ods", "zip", "png", "jpg", "jpeg"]
# What the content must turn out to be for each extension. Office and OpenDocument files are zip
# archives whose inner layout decides the finer type, so a plain zip is accepted for them.
CONTENT_TYPES = {
    "pdf": {"pdf"},
    "docx": {"docx", "zip"},
    "xlsx": {"xlsx", "zip"},
    "odt": {"odt", "zip"},
    "ods": {"ods", "zip"},
    "zip": {"zip", "docx", "xlsx", "odt", "ods"},
    "png": {"png"},
    "jpg": {"jpg"},
    "jpeg": {"jpg"},
}
MAX_NAME_BYTES = 150
# Enough of the start of a file for every signature above.
HEADER_BYTES = 8192

validate_document_extension = FileExtensionValidator(allowed_extensions=DOCUMENT_EXTENSIONS)
# The funder takes deliverables as documents, spreadsheets or archives; images and OpenDocument
# spreadsheets, accepted as expense evidence, are not a deliverable.
DELIVERABLE_EXTENSIONS = ["pdf", "docx", "xlsx", "odt", "zip"]
validate_deliverable_extension = FileExtensionValidator(
    allowed_extensions=DELIVERABLE_EXTENSIONS,
    message=_("A deliverable is sent as a PDF, DOCX, XLSX, ODT or ZIP file."),
    code="file_extension",
)


def validate_upload_size(file: Any) -> None:
    """Refuse files over 50 MB, the limit partners are told about."""
    if getattr(file, "_committed", False):
        return  # Stored already, and checked when it arrived.
    if file.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("This file is larger than %(limit)s MB.")
            % {"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
            code="file_too_large",
        )


def validate_document_content(file: Any) -> None:
    """Refuse a file whose bytes are not what its name says (an executable renamed `.pdf`)."""
    if getattr(file, "_committed", False):
        return  # Stored already, and checked when it arrived.
    # The file system counts a name's bytes, not its characters; room is kept for the folder
    # and the suffix storage adds to a name already taken.
    if len(os.path.basename(file.name).encode()) > MAX_NAME_BYTES:
        raise ValidationError(
            _("This file name is too long: rename the file and try again."),
            code="file_name_too_long",
        )
    extension = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""
    expected = CONTENT_TYPES.get(extension)
    if expected is None:
        return  # The extension validator has already said which names are accepted.
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    header = file.read(HEADER_BYTES)
    file.seek(position)
    kind = filetype.guess(header)
    if kind is None or kind.extension not in expected:
        raise ValidationError(
            _("This file's content is not a %(extension)s document."),
            params={"extension": extension.upper()},
            code="file_content_mismatch",
        )
