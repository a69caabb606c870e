"""Validators for identifiers that partners type in by hand."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_NON_DIGITS = re.compile(r"[\s.\-/]")


def normalise_enterprise_number(value: str) -> str:
    """Return the 10 digits of a Belgian enterprise number typed as `BE 0403.170.701` or similar."""
    cleaned = _NON_DIGITS.sub("", value or "").upper()
    if cleaned.startswith("BE"):
        cleaned = cleaned[2:]
    if len(cleaned) == 9 and cleaned.isdigit():
        # Numbers issued before 2005 are often written without their leading zero.
        cleaned = "0" + cleaned
    return cleaned


def validate_enterprise_number(value: str) -> None:
    """A Belgian enterprise number: 10 digits starting with 0 or 1, the last two a modulo-97 check."""
    if not re.fullmatch(r"[01]\d{9}", value or ""):
        raise ValidationError(
            _(
                "A Belgian enterprise number has 10 digits and starts with 0 or 1 (e.g. 0403.170.701)."
            ),
            code="enterprise_number_format",
        )
    if 97 - int(value[:8]) % 97 != int(value[8:]):
        raise ValidationError(
            _("This enterprise number fails its check digits: please check it for typing errors."),
            code="enterprise_number_checksum",
        )


def validate_vat_id(value: str) -> None:
    """A foreign VAT id: a two-letter country prefix and 2 to 13 letters or digits."""
    if not re.fullmatch(r"[A-Z]{2}[0-9A-Z+*]{2,13}", value or ""):
        raise ValidationError(
            _("A VAT id starts with the two-letter country code, e.g. FR40303265045."),
            code="vat_id_format",
        )
