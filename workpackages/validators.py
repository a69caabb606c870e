"""Checks on uploaded deliverables and evidence files."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DOCUMENT_EXTENSIONS = ["pdf", "docx", "xlsx", "odt", "ods", "zip", "png", "jpg", "jpeg"]

validate_document_extension = FileExtensionValidator(allowed_extensions=DOCUMENT_EXTENSIONS)


def validate_upload_size(file: Any) -> None:
    """Refuse files over 50 MB, the limit partners are told about."""
    if file.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("This file is larger than %(limit)s MB.")
            % {"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
            code="file_too_large",
        )
