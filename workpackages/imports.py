"""Expenses from a spreadsheet: a partner's finance officer uploads the CSV or Excel export of
their accounting, and every line becomes a draft expense, or nothing does.

The file is read as a table by `consortium.imports`. Column names are recognised in English and
French, amounts with a decimal comma or point, dates in ISO or Belgian order. Every row is
validated as the model validates it, and every error is reported with the file's own line number
(the header is line 1) so that the partner can fix the file and try again.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consortium.imports import cell_text, normalised_name, read_table
from consortium.memo import repeated_reads
from consortium.models import CostCategory, Partner, ReportingPeriod
from consortium.records import RowsRefused, record_create_all
from workpackages.money.models import Expense
from workpackages.validators import MAX_UPLOAD_BYTES
from workpackages.workplan.models import Workpackage

# Each row is validated and saved with its history in the request (about 20 ms a row): 1,000 rows
# stay well within a proxy's timeout. Larger statements are split, or go through the API.
MAX_ROWS = 1000


# The columns, in the order of the template; `period` and `invoice` may be left out.
COLUMNS = ("date", "workpackage", "category", "period", "amount", "description", "invoice")


REQUIRED = ("date", "workpackage", "category", "amount", "description")


COLUMN_LABELS = {
    "date": gettext_lazy("date"),
    "workpackage": gettext_lazy("workpackage"),
    "category": gettext_lazy("cost category"),
    "period": gettext_lazy("period"),
    "amount": gettext_lazy("amount"),
    "description": gettext_lazy("description"),
    "invoice": gettext_lazy("invoice reference"),
}


# The header of the downloadable template in each language; every name is also recognised below.
TEMPLATE_HEADERS = {
    "en": ["date", "workpackage", "category", "period", "amount", "description", "invoice"],
    "fr": ["date", "lot de travail", "catégorie", "période", "montant", "libellé", "facture"],
}


# Header names as they come out of `normalised_name` (lower case, no accents, words spaced).
HEADER_NAMES = {
    "date": "date",
    "incurred on": "date",
    "expense date": "date",
    "date de depense": "date",
    "date de la depense": "date",
    "workpackage": "workpackage",
    "work package": "workpackage",
    "wp": "workpackage",
    "lot de travail": "workpackage",
    "lot": "workpackage",
    "category": "category",
    "cost category": "category",
    "heading": "category",
    "cost heading": "category",
    "categorie": "category",
    "categorie de cout": "category",
    "categorie de couts": "category",
    "poste": "category",
    "rubrique": "category",
    "period": "period",
    "reporting period": "period",
    "periode": "period",
    "periode de rapport": "period",
    "amount": "amount",
    "montant": "amount",
    "description": "description",
    "libelle": "description",
    "label": "description",
    "objet": "description",
    "invoice": "invoice",
    "invoice reference": "invoice",
    "invoice ref": "invoice",
    "invoice number": "invoice",
    "invoice no": "invoice",
    "facture": "invoice",
    "reference facture": "invoice",
    "reference de facture": "invoice",
    "ref facture": "invoice",
    "numero de facture": "invoice",
    "n de facture": "invoice",
}


# The model's fields, by the column a partner knows them as.
COLUMN_OF_FIELD = {
    "incurred_on": "date",
    "workpackage": "workpackage",
    "category": "category",
    "period": "period",
    "amount": "amount",
    "description": "description",
    "invoice_reference": "invoice",
}


DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][\d:.]+)?$")


WORKPACKAGE = re.compile(r"^(?:wp|lot)?\s*0*(\d{1,4})\b", re.IGNORECASE)


PERIOD = re.compile(r"^p?\s*0*(\d{1,3})$", re.IGNORECASE)


PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class RowError:
    """What is wrong on one line: `column` is one of `COLUMNS`, or empty for the whole line."""

    line: int
    column: str
    message: str

    @property
    def label(self) -> str:
        return str(COLUMN_LABELS.get(self.column, ""))


@dataclass
class ImportResult:
    """The rows read, the expenses created (none when any row has an error) and the errors."""

    rows: int = 0
    created: list[Expense] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Bad(Exception):
    """A cell that cannot be read; its message says what was expected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _header(line: int, cells: list[Any], result: ImportResult) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, cell in enumerate(cells):
        name = cell_text(cell)
        if not name:
            continue
        column = HEADER_NAMES.get(normalised_name(name))
        if column is None:
            result.ignored_columns.append(name)
        elif column in positions:
            result.errors.append(
                RowError(
                    line,
                    column,
                    _("Two columns of the header mean the same thing: keep only one."),
                )
            )
        else:
            positions[column] = position
    for column in REQUIRED:
        if column not in positions:
            result.errors.append(
                RowError(
                    line,
                    column,
                    _(
                        "This column is missing from the header line. Download the template to "
                        "see the expected columns."
                    ),
                )
            )
    return positions


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = cell_text(value)
    iso = ISO_DAY.match(text)
    day_first = DAY_FIRST.match(text)
    try:
        if iso:
            return datetime.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if day_first:
            return datetime.date(int(day_first[3]), int(day_first[2]), int(day_first[1]))
    except ValueError:
        raise _Bad(_("This date does not exist.")) from None
    raise _Bad(_("Enter a date like 2026-03-14 or 14/03/2026."))


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Bad(_("Enter an amount like 1234.56 or 1 234,56."))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(_("Enter an amount like 1234.56 or 1 234,56."))
        # A cell computed by a formula carries binary noise (0.1 + 0.2); cents are what was meant.
        rounded = round(value, 2)
        return Decimal(str(rounded)) if abs(value - rounded) < 1e-6 else Decimal(repr(value))
    text = cell_text(value)
    for ignored in (" ", "\u202f", "'", "€"):
        text = text.replace(ignored, "")
    text = re.sub(r"(?i)^eur|eur$", "", text)
    if "," in text and "." in text:
        # The last separator is the decimal one: 1.234,56 (Belgian) or 1,234.56 (English).
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif text.count(",") == 1:
        text = text.replace(",", ".")
    elif text.count(",") > 1:
        text = text.replace(",", "")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    if not PLAIN_NUMBER.match(text):
        raise _Bad(_("Enter an amount like 1234.56 or 1 234,56."))
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _Bad(_("Enter an amount like 1234.56 or 1 234,56.")) from None


class _References:
    """The consortium's workpackages, headings and periods, read once for the whole file."""

    def __init__(self, *, user: Any, partner: Partner) -> None:
        consortium = partner.consortium_id
        self.workpackages = {
            wp.number: wp
            for wp in Workpackage.objects.restrict(user, "view").filter(consortium_id=consortium)
        }
        self.periods = list(
            ReportingPeriod.objects.restrict(user, "view").filter(consortium_id=consortium)
        )
        headings = list(
            CostCategory.objects.restrict(user, "view").filter(consortium_id=consortium)
        )
        self.headings: dict[str, CostCategory] = {}
        for heading in headings:
            names = [heading.code, heading.name]
            for language, _name in settings.LANGUAGES:
                with translation.override(language):
                    names.append(str(heading))
            for name in names:
                self.headings.setdefault(normalised_name(name), heading)
        self.codes = ", ".join(h.code for h in headings if not h.is_flat_rate)

    def workpackage(self, value: Any) -> Workpackage:
        if isinstance(value, int | float) and not isinstance(value, bool):
            found = re.match(r"^(\d+)(?:\.0+)?$", str(value))
        else:
            found = WORKPACKAGE.match(cell_text(value))
        if not found:
            raise _Bad(_("Enter a workpackage like WP3 or 3."))
        number = int(found[1])
        if number not in self.workpackages:
            raise _Bad(_("This consortium has no workpackage WP%(number)s.") % {"number": number})
        return self.workpackages[number]

    def category(self, value: Any) -> CostCategory:
        heading = self.headings.get(normalised_name(cell_text(value)))
        if heading is None:
            raise _Bad(
                _("Unknown cost category “%(value)s”: use one of %(codes)s.")
                % {"value": cell_text(value), "codes": self.codes}
            )
        return heading

    def period(self, value: Any) -> ReportingPeriod | None:
        text = cell_text(value)
        if not text:
            return None  # The period the date falls in (`Expense.clean`), as at every door.
        found = PERIOD.match(text.removesuffix(".0"))
        number = int(found[1]) if found else None
        for period in self.periods:
            if period.number == number:
                return period
        raise _Bad(
            _("This consortium has no reporting period “%(value)s”: enter its number, like 3.")
            % {"value": text}
        )


def _row_errors(line: int, error: ValidationError) -> list[RowError]:
    if not hasattr(error, "error_dict"):
        return [RowError(line, "", message) for message in error.messages]
    return [
        RowError(line, COLUMN_OF_FIELD.get(name, ""), message)
        for name, messages in error.message_dict.items()
        for message in messages
    ]


def _read_row(
    line: int, cells: list[Any], positions: dict[str, int], references: _References
) -> tuple[dict[str, Any], list[RowError]]:
    """The model's fields read from one line, and what could not be read."""

    def cell(column: str) -> Any:
        position = positions.get(column)
        if position is None or position >= len(cells):
            return None
        value = cells[position]
        return value.strip() if isinstance(value, str) else value

    errors: list[RowError] = []
    values: dict[str, Any] = {}

    def read(column: str, name: str, parse: Any, *args: Any) -> None:
        value = cell(column)
        if column in REQUIRED and cell_text(value) == "":
            errors.append(RowError(line, column, _("This cell is empty: it is required.")))
            return
        try:
            values[name] = parse(value, *args)
        except _Bad as bad:
            errors.append(RowError(line, column, bad.message))

    read("date", "incurred_on", _date)
    read("workpackage", "workpackage", references.workpackage)
    read("category", "category", references.category)
    read("period", "period", references.period)
    read("amount", "amount", _amount)
    read("description", "description", cell_text)
    values["invoice_reference"] = cell_text(cell("invoice"))
    return values, errors


def _rows(file: Any) -> list[tuple[int, list[Any]]]:
    """The header and the expense lines of the file, refused when it has none or too many."""
    rows = read_table(file, max_bytes=MAX_UPLOAD_BYTES, max_rows=MAX_ROWS + 1)
    if len(rows) == 1:
        raise ValidationError(_("The file has a header but no expense rows."), code="no_rows")
    if len(rows) > MAX_ROWS + 1:
        raise ValidationError(
            _("The file has more than %(limit)s rows: split it into several files.")
            % {"limit": number_format(MAX_ROWS, force_grouping=True)},
            code="too_many_rows",
        )
    return rows


@transaction.atomic
def expenses_import(*, partner: Partner, user: Any, file: Any) -> ImportResult:
    """Create one draft expense per line of `file` (CSV or XLSX), all or none.

    A file that cannot be read as a table is refused with a `ValidationError`. Otherwise every line
    is read and validated as the model validates an expense; when every line was read, they are
    created together by `record_create_all` (the checks of `record_create` on each line, the
    reads they repeat made once, one insert for the lines and one for their history, with `user`
    as their author). The partner gets every error of the file at once, and the database the
    whole file or nothing.
    """
    header, *rows = _rows(file)
    result = ImportResult(rows=len(rows))
    positions = _header(*header, result)
    if result.errors:
        return result
    references = _References(user=user, partner=partner)
    read = [(line, *_read_row(line, cells, positions, references)) for line, cells in rows]
    if any(errors for _line, _values, errors in read):
        with repeated_reads():
            for line, values, errors in read:
                # The lines read whole are validated too: every error of the file at once.
                unread = {name for name in COLUMN_OF_FIELD if values.get(name) is None}
                fields = {name: value for name, value in values.items() if value is not None}
                try:
                    Expense(partner=partner, **fields).full_clean(exclude=unread)
                except ValidationError as error:
                    errors.extend(_row_errors(line, error))
                result.errors.extend(errors)
        return result
    try:
        result.created = record_create_all(
            model=Expense,
            user=user,
            rows=[{"partner": partner, **values} for _line, values, _errors in read],
        )
    except RowsRefused as refused:
        for position, refusal in sorted(refused.refusals.items()):
            result.errors.extend(_row_errors(read[position][0], refusal))
        transaction.set_rollback(True)
    return result


def template_csv(language: str) -> str:
    """The header of an import file, in the reader's language, as Belgian Excel writes it."""
    names = TEMPLATE_HEADERS.get(language[:2], TEMPLATE_HEADERS["en"])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerow(names)
    return "\ufeff" + buffer.getvalue()
