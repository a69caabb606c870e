"""Tables from an uploaded spreadsheet: the CSV or Excel file a person exports from their own
software, read by what its bytes are, not by its name.

An XLSX workbook is a zip archive, and anything else must be text as Excel saves it (UTF-8,
Windows-1252 or UTF-16) with `,`, `;` (Belgian Excel) or tab separators. A workbook is opened only
once its archive is known to unzip to what a statement can weigh, and its cells are read as their
values (formulas are never evaluated). Each line keeps the file's own line number, so that errors
name the line a person sees in their software.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from openpyxl import load_workbook

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


def normalised_name(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\(.*?\)", " ", text)
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    while len(words) > 1 and words[-1] in {"eur", "euro", "euros"}:
        words.pop()
    return " ".join(words)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # An invoice number typed in a number cell.
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value).replace("\u00a0", " ").strip()


def _content(file: Any, max_bytes: int) -> bytes:
    if file.size is not None and file.size > max_bytes:
        raise ValidationError(
            _("This file is larger than %(limit)s MB.") % {"limit": max_bytes // (1024 * 1024)},
            code="file_too_large",
        )
    file.seek(0)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            _("This file is larger than %(limit)s MB.") % {"limit": max_bytes // (1024 * 1024)},
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
        if all(cell_text(cell) == "" for cell in cells):
            blanks += 1
            if blank_run is not None and blanks > blank_run:
                return
            continue
        blanks = 0
        yield line, cells


def read_table(file: Any, *, max_bytes: int, max_rows: int) -> list[tuple[int, list[Any]]]:
    """The non-blank lines of an uploaded CSV file or XLSX workbook, with their line numbers, up
    to one more than `max_rows` (so that the caller can tell the file is too long); a file that is
    larger than `max_bytes`, empty, or not a table is refused with a `ValidationError`."""
    data = _content(file, max_bytes)
    workbook = data.startswith(ZIP_SIGNATURE)
    lines = _xlsx_lines(data) if workbook else _csv_lines(data)
    try:
        table = _table(lines, blank_run=MAX_BLANK_RUN if workbook else None)
        rows = list(itertools.islice(table, max_rows + 1))
    finally:
        lines.close()
    if not rows:
        raise ValidationError(_("The file is empty."), code="empty_file")
    return rows
