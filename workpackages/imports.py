"""Expenses from a spreadsheet: a partner's finance officer uploads the CSV or Excel export of
their accounting, and every line becomes a draft expense, or nothing does.

The file is read by what its bytes are, not by its name: an XLSX workbook is a zip archive, and
anything else must be text as Excel saves it (UTF-8, Windows-1252 or UTF-16) with `,`, `;`
(Belgian Excel) or tab separators; a workbook is opened only once its archive is known to unzip to
what a statement can weigh. Column names are recognised in English and French, amounts with a
decimal comma or point, dates in ISO or Belgian order. Every row is validated as the model validates it, and every error is reported with the
file's own line number (the header is line 1) so that the partner can fix the file and try again.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import itertools
import math
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterable, Iterator
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
from openpyxl import load_workbook

from consortium.models import CostCategory, Partner, ReportingPeriod
from consortium.records import record_create
from workpackages.money.models import Expense
from workpackages.workplan.models import Workpackage

from .validators import MAX_UPLOAD_BYTES

# Each row is validated and saved with its history in the request (about 20 ms a row): 1,000 rows
# stay well within a proxy's timeout. Larger statements are split, or go through the API.
MAX_ROWS = 1000
# Workbooks formatted far below their data hold rows with no values: past this many blank rows in
# a row, the rest of the sheet is taken as empty rather than read to its millionth row.
MAX_BLANK_RUN = 1000
MAX_COLUMNS = 64
# An expense workbook is a dozen parts (workbook, styles, shared strings, one or two per sheet)
# and unzips to a few megabytes: a sheet of 1,000 rows of 40 columns of text takes under 4 MB, a
# statement's 7 columns under 1 MB. openpyxl reads the shared strings and the styles whole before
# the first row, so the archive's own account of its parts is checked before openpyxl opens it: a
# 1 MB file that unzips to gigabytes is refused unread. zipfile stops reading a part at the size
# the archive declares, so the sizes checked are the most that can be read.
MAX_WORKBOOK_PARTS = 1000
MAX_PART_BYTES = 20 * 1024 * 1024
MAX_WORKBOOK_BYTES = 50 * 1024 * 1024
# Office XML deflates 5 to 30 times; a part that inflates more than 100 times (the ratio at which
# Apache POI refuses a part too) was made to be inflated. Parts under the grace size cost little
# to read, however well they compress (a printer's settings are mostly zeros).
MAX_COMPRESSION_RATIO = 100
RATIO_GRACE_BYTES = 1024 * 1024
# Excel's own limit on the text of a cell.
MAX_CELL_CHARS = 32767

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
# Header names as they come out of `_normalised` (lower case, no accents, words spaced).
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
Lines = Generator[tuple[int, list[Any]], None, None]
ZIP_SIGNATURE = b"PK\x03\x04"
# Every entry zipfile reads from an archive's directory starts with this signature.
ZIP_DIRECTORY_ENTRY = b"PK\x01\x02"
# What Excel's "Save as" writes on Windows: "CSV UTF-8" (with a byte-order mark), "CSV" (the
# Windows code page, 1252 in Belgium) and "Unicode text" (UTF-16 with its mark, tab-separated).
# Text without a mark is UTF-8 when it decodes as UTF-8: Windows-1252 accents almost never do.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF8, ("utf-8-sig",)),
    (codecs.BOM_UTF16_LE, ("utf-16",)),
    (codecs.BOM_UTF16_BE, ("utf-16",)),
)
UNMARKED_ENCODINGS = ("utf-8", "cp1252")
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


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\(.*?\)", " ", text)
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    while len(words) > 1 and words[-1] in {"eur", "euro", "euros"}:
        words.pop()
    return " ".join(words)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # An invoice number typed in a number cell.
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value).replace("\u00a0", " ").strip()


# Reading the file ---------------------------------------------------------------------------


def _content(file: Any) -> bytes:
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("This file is larger than %(limit)s MB.")
            % {"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
            code="file_too_large",
        )
    file.seek(0)
    data = file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("This file is larger than %(limit)s MB.")
            % {"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
            code="file_too_large",
        )
    if not data.strip():
        raise ValidationError(_("The file is empty."), code="empty_file")
    return bytes(data)


def _not_a_table() -> ValidationError:
    return ValidationError(
        _(
            "This file is neither a CSV file (text in UTF-8, Windows-1252 or UTF-16) nor an Excel "
            "workbook (.xlsx). In Excel, use “Save as” and choose “Excel Workbook (.xlsx)” or "
            "“CSV UTF-8”."
        ),
        code="not_a_table",
    )


def _decoded(data: bytes) -> str:
    """The text of a CSV file in one of the encodings Excel saves; anything else is refused."""
    encodings = next(
        (marked for mark, marked in BYTE_ORDER_MARKS if data.startswith(mark)),
        UNMARKED_ENCODINGS,
    )
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Text has no NUL character: one means binary content, or UTF-16 without its mark.
        if "\x00" in text:
            break
        return text
    raise _not_a_table()


def _csv_lines(data: bytes) -> Lines:
    text = _decoded(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((";", ",", "\t"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1  # A quoted cell may span several lines.
    except csv.Error:
        raise ValidationError(
            _("Line %(line)s of the file cannot be read as CSV: check its quotes.")
            % {"line": line},
            code="bad_csv",
        ) from None


def _too_large() -> ValidationError:
    return ValidationError(
        _(
            "This workbook is too large or too compressed to be read safely. Copy the expense "
            "lines into a new workbook, or save them as “CSV UTF-8”, and import that file."
        ),
        code="workbook_too_large",
    )


def _check_archive(data: bytes) -> None:
    """Refuse a workbook whose parts would unzip to more than a statement can hold, from the
    sizes its archive declares, before any part is inflated."""
    # The parts are counted by their signatures in the archive's directory, before zipfile reads
    # it: zipfile reads every entry before it can say how many there are (an upload of empty
    # entries takes seconds and hundreds of MB), and every entry it reads starts with one.
    if data.count(ZIP_DIRECTORY_ENTRY) > MAX_WORKBOOK_PARTS:
        raise _too_large()
    # A damaged archive fails in many ways (zip structures, offsets, sizes): each means the file
    # is not a workbook.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except Exception:
        raise _not_a_table() from None
    total = 0
    for part in parts:
        total += part.file_size
        if part.file_size > MAX_PART_BYTES or total > MAX_WORKBOOK_BYTES:
            raise _too_large()
        if (
            part.file_size > RATIO_GRACE_BYTES
            and part.file_size > MAX_COMPRESSION_RATIO * part.compress_size
        ):
            raise _too_large()


def _cell_too_long(line: int) -> ValidationError:
    return ValidationError(
        _(
            "Line %(line)s has a cell of more than %(limit)s characters, which Excel itself does "
            "not allow: shorten it, then import the file again."
        )
        % {"line": line, "limit": number_format(MAX_CELL_CHARS, force_grouping=True)},
        code="cell_too_long",
    )


def _xlsx_lines(data: bytes) -> Lines:
    _check_archive(data)
    # A zip that is not a workbook (a Word document, an archive) or a damaged one fails in many
    # ways inside openpyxl (zip, XML, missing parts): each means the file is not a workbook.
    # `data_only` reads each formula's result as Excel saved it; openpyxl never computes one.
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise _not_a_table() from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None or not hasattr(sheet, "iter_rows"):
            raise _not_a_table()  # No sheet, or a chart sheet first.
        sheet.reset_dimensions()
        rows = enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1)
        while True:
            try:
                line, cells = next(rows)
            except StopIteration:
                return
            except Exception:
                raise _not_a_table() from None
            if any(isinstance(cell, str) and len(cell) > MAX_CELL_CHARS for cell in cells):
                raise _cell_too_long(line)
            yield line, list(cells)
    finally:
        book.close()


def _table(
    lines: Iterable[tuple[int, list[Any]]], *, blank_run: int | None
) -> Iterator[tuple[int, list[Any]]]:
    """The non-blank lines, until a run of `blank_run` blank ones ends a sheet."""
    blanks = 0
    for line, cells in lines:
        if all(_text(cell) == "" for cell in cells):
            blanks += 1
            if blank_run is not None and blanks > blank_run:
                return
            continue
        blanks = 0
        yield line, cells


def _header(line: int, cells: list[Any], result: ImportResult) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, cell in enumerate(cells):
        name = _text(cell)
        if not name:
            continue
        column = HEADER_NAMES.get(_normalised(name))
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


# Reading the cells --------------------------------------------------------------------------


def _date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
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
    text = _text(value)
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
                self.headings.setdefault(_normalised(name), heading)
        self.codes = ", ".join(h.code for h in headings if not h.is_flat_rate)

    def workpackage(self, value: Any) -> Workpackage:
        if isinstance(value, int | float) and not isinstance(value, bool):
            found = re.match(r"^(\d+)(?:\.0+)?$", str(value))
        else:
            found = WORKPACKAGE.match(_text(value))
        if not found:
            raise _Bad(_("Enter a workpackage like WP3 or 3."))
        number = int(found[1])
        if number not in self.workpackages:
            raise _Bad(_("This consortium has no workpackage WP%(number)s.") % {"number": number})
        return self.workpackages[number]

    def category(self, value: Any) -> CostCategory:
        heading = self.headings.get(_normalised(_text(value)))
        if heading is None:
            raise _Bad(
                _("Unknown cost category “%(value)s”: use one of %(codes)s.")
                % {"value": _text(value), "codes": self.codes}
            )
        return heading

    def period(self, value: Any) -> ReportingPeriod | None:
        text = _text(value)
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


# The service --------------------------------------------------------------------------------


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
        if column in REQUIRED and _text(value) == "":
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
    read("description", "description", _text)
    values["invoice_reference"] = _text(cell("invoice"))
    return values, errors


def _rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """The header and the lines of the file, refused when it is not a table or is too long."""
    workbook = data.startswith(ZIP_SIGNATURE)
    lines = _xlsx_lines(data) if workbook else _csv_lines(data)
    try:
        table = _table(lines, blank_run=MAX_BLANK_RUN if workbook else None)
        rows = list(itertools.islice(table, MAX_ROWS + 2))
    finally:
        lines.close()
    if not rows:
        raise ValidationError(_("The file is empty."), code="empty_file")
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
    is read and validated as the model validates an expense; while no line has failed, each is
    created by `record_create` (which validates it, and records `user` in its history), and once
    one has failed the others are only validated and everything created is rolled back: the
    partner gets every error of the file at once, and the database the whole file or nothing.
    """
    header, *rows = _rows(_content(file))
    result = ImportResult(rows=len(rows))
    positions = _header(*header, result)
    if result.errors:
        return result
    references = _References(user=user, partner=partner)
    for line, cells in rows:
        values, errors = _read_row(line, cells, positions, references)
        try:
            if errors or result.errors:
                unread = {name for name in COLUMN_OF_FIELD if values.get(name) is None}
                fields = {name: value for name, value in values.items() if value is not None}
                Expense(partner=partner, **fields).full_clean(exclude=unread)
            else:
                expense = record_create(model=Expense, user=user, partner=partner, **values)
                result.created.append(expense)
        except ValidationError as error:
            errors.extend(_row_errors(line, error))
        result.errors.extend(errors)
    if result.errors:
        transaction.set_rollback(True)
        result.created = []
    return result


def template_csv(language: str) -> str:
    """The header of an import file, in the reader's language, as Belgian Excel writes it."""
    names = TEMPLATE_HEADERS.get(language[:2], TEMPLATE_HEADERS["en"])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerow(names)
    return "\ufeff" + buffer.getvalue()
