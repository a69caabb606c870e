"""Writers of every spreadsheet the app writes: CSV and XLSX that open safely in Excel.

The downloads of the partner pages and the admin use `write_csv` and `xlsx_file` (one sheet, in
a temporary file the response streams; `write_xlsx` is its bytes); the reports' workbooks
(`reporting.spreadsheets`) use `write_workbook` (several sheets). The writers take the header
labels and an iterable of rows (tuples of Python values: `str`, `Decimal`, `datetime.date`,
`None`) and consume the rows one at a time, so that a view can feed them a database cursor
(`values_list(...).iterator()`) without loading the table into memory.

CSV dialect: UTF-8 with a byte-order mark, `;` between fields, decimal comma, ISO dates, CRLF.
    Our readers are Belgian finance officers who double-click the file: Excel then splits the
    fields on the list separator of the computer's region, which is `;` for fr-BE and nl-BE
    (the comma is the decimal separator there), and reads numbers written with a decimal comma.
    Without the BOM Excel reads UTF-8 as Windows-1252 and garbles accents ("DÃ©penses"). We
    don't add a `sep=;` first line: Excel then ignores the BOM. Dates are written as ISO
    YYYY-MM-DD, which Excel recognises as dates in every region and scripts read unambiguously.
    A script reads the file with e.g. `pandas.read_csv(f, sep=";", decimal=",",
    encoding="utf-8-sig")`. For people who need exact types, the XLSX export is the better file.

XLSX: amounts are numbers (`Decimal`, format `#,##0.00`), dates are dates in Excel's built-in short
    date format (number format 14), which Excel and LibreOffice show in the reader's regional
    format (31/01/2026 in Belgium). A column may carry a number format of its own (a percentage,
    person-months). A fractional number holds the decimals its format shows, rounded half away
    from zero (a sum read from SQLite as 629.599999999999 is stored as 629.60). Text keeps its line breaks, carriage returns included; control characters
    the file's XML can't hold (a bell, an escape) are left out.

Formula neutralisation (OWASP "CSV injection"): a spreadsheet treats a cell that begins with `=`,
    `+`, `-` or `@` (and, after some import paths trim it, a tab or carriage return) as a formula;
    a partner's free text such as `=HYPERLINK("http://evil","click")` would then run in the
    coordinator's Excel. In CSV such text is prefixed with a single quote `'`, which makes Excel
    show it as text. In XLSX every text cell is written as a string (never as a formula, even if
    it starts with `=`) and such a cell also gets Excel's "quote prefix" style, so that editing it
    in Excel doesn't turn it into a formula; its text stays exactly what the partner typed.
    Numbers are never prefixed: a negative amount is a number, not text.

This module is the only one that builds a workbook or writes CSV rows, so that every file gets
    the same neutralisation: `tests/workpackages/test_exports.py` fails the suite when another
    module does.
"""

from __future__ import annotations

import copy
import csv
import datetime
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# Characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

CSV_DELIMITER = ";"
CSV_DECIMAL = ","
MONEY_FORMAT = "#,##0.00"
# openpyxl maps this code to built-in format 14, the reader's regional short date.
DATE_FORMAT = "mm-dd-yy"
# Characters Excel forbids in a sheet's title.
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def is_formula_like(value: Any) -> bool:
    """Whether a text value would be read as a formula by a spreadsheet."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def neutralise(value: Any) -> Any:
    """`value` with a leading quote if it is text a spreadsheet would read as a formula; other
    values (numbers, dates, None, harmless text) unchanged."""
    if is_formula_like(value):
        return "'" + value
    return value


class _Echo:
    """A file-like object that hands back what `csv.writer` writes, one line at a time."""

    def write(self, value: str) -> str:
        return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal | int | float):
        return format(value, "f").replace(".", CSV_DECIMAL)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(rows: Iterable[Sequence[Any]], headers: Sequence[Any]) -> Iterator[bytes]:
    """The CSV file, as UTF-8 chunks (one per line, the first starting with the BOM), for a
    `StreamingHttpResponse`."""
    writer = csv.writer(_Echo(), delimiter=CSV_DELIMITER, lineterminator="\r\n")
    yield ("\ufeff" + writer.writerow([_csv_text(h) for h in headers])).encode()
    for row in rows:
        yield writer.writerow([_csv_text(value) for value in row]).encode()


def _shown(value: Decimal | float, number_format: str) -> Decimal | float:
    """A fractional number to the decimals its format shows, rounded half away from zero: the
    cell holds the figure the reader sees (629.60, not a sum's 629.599999999999)."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not exact.is_finite():
        return value
    decimals = len(number_format.rpartition(".")[2]) if "." in number_format else 0
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _xlsx_cell(
    sheet: Any, value: Any, *, bold: bool = False, number_format: str | None = None
) -> WriteOnlyCell:
    """The one place a workbook's cell is made. Text is a string cell, never a formula, with the
    quote prefix when it starts like one; a number or a date gets `number_format` when given,
    else amounts get the money format and days the reader's short date. A fractional number
    holds the decimals its format shows, no more."""
    if isinstance(value, str | Decimal | int | float | datetime.date) or value is None:
        pass
    else:
        value = str(value)  # lazy translations, choices' labels
    if isinstance(value, Decimal | float):
        value = _shown(value, number_format or MONEY_FORMAT)
    if isinstance(value, str):
        # Control characters are not allowed in the file's XML; they carry no meaning here.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # openpyxl reads "=…" as a formula and "#N/A" as an error: text is text.
        cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True
    elif value is not None and number_format:
        cell.number_format = number_format
    elif isinstance(value, Decimal | float):
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        cell.number_format = DATE_FORMAT
    if bold:
        cell.font = Font(bold=True)
    return cell


def sheet_title(title: str) -> str:
    """A title Excel accepts for a sheet: at most 31 characters, none of `[]:*?/\\`."""
    return SHEET_TITLE_FORBIDDEN.sub("-", title)[:31] or "Sheet"


@dataclass(frozen=True)
class Sheet:
    """One table of a workbook: a title, the header labels, the rows (consumed one at a time),
    and optionally each column's width and number format. A column without a format shows
    amounts (`Decimal`) as money and dates as the reader's short date."""

    title: str
    headers: Sequence[Any]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] | None = None
    formats: Sequence[str | None] = ()


def _is_sheet(info: zipfile.ZipInfo) -> bool:
    return info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")


def _keep_carriage_returns(data: bytes) -> bytes:
    """`data` with each carriage return of the sheets' text written as `&#13;`.

    Browsers send a text area's line breaks as CR LF, and a partner's text may start with a
    carriage return. XML readers, Excel's and openpyxl's among them, read a carriage return
    written as is as a line feed; written as a character reference it reads back as typed.
    openpyxl writes text through the standard library's XML writer, which leaves it as is.
    """
    # Read and written a piece at a time: a sheet of forty thousand rows is tens of megabytes
    # unzipped, which a whole read would hold in memory twice.
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        sheets = [info for info in source.infolist() if _is_sheet(info)]
        if not any(b"\r" in piece for info in sheets for piece in _pieces(source, info)):
            return data
        buffer = io.BytesIO()
        _rewritten(source, buffer)
    return buffer.getvalue()


def _rewritten(source: zipfile.ZipFile, file: IO[bytes]) -> None:
    """`source` written into `file`, each carriage return of its sheets as `&#13;`."""
    with zipfile.ZipFile(file, "w") as target:
        for info in source.infolist():
            # A copy: writing sets the entry's offsets, which the source still reads by.
            with target.open(copy.copy(info), "w") as part:
                for piece in _pieces(source, info):
                    part.write(piece.replace(b"\r", b"&#13;") if _is_sheet(info) else piece)


def _pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with archive.open(info) as part:
        yield from iter(lambda: part.read(1 << 16), b"")


def write_workbook(sheets: Iterable[Sheet]) -> bytes:
    """The XLSX file's bytes: one sheet per `Sheet`, each a bold frozen header row, then the rows.

    The workbook is write-only: openpyxl streams the rows to a temporary file as they come
    instead of holding every cell in memory.
    """
    buffer = io.BytesIO()
    _workbook(sheets).save(buffer)
    return _keep_carriage_returns(buffer.getvalue())


# How much of a download's file stays in memory before it goes to a temporary file on disk.
SPOOLED_IN_MEMORY = 64 * 1024


def xlsx_file(
    rows: Iterable[Sequence[Any]],
    headers: Sequence[Any],
    *,
    title: str = "Export",
    widths: Sequence[int] | None = None,
) -> IO[bytes]:
    """`write_xlsx`'s file in a temporary file (on disk past 64 KiB), rewound: a download
    streams it a piece at a time, and an export of forty thousand rows holds no more memory
    than one of a thousand."""
    raw: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOLED_IN_MEMORY)  # noqa: SIM115  (returned open)
    try:
        _workbook([Sheet(title=title, headers=headers, rows=rows, widths=widths)]).save(raw)
    except BaseException:
        raw.close()
        raise
    raw.seek(0)
    with zipfile.ZipFile(raw) as source:
        sheets = [info for info in source.infolist() if _is_sheet(info)]
        if not any(b"\r" in piece for info in sheets for piece in _pieces(source, info)):
            raw.seek(0)
            return raw
        kept: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOLED_IN_MEMORY)  # noqa: SIM115
        _rewritten(source, kept)
    raw.close()
    kept.seek(0)
    return kept


def _workbook(sheets: Iterable[Sheet]) -> Workbook:
    workbook = Workbook(write_only=True)
    for table in sheets:
        sheet = workbook.create_sheet(sheet_title(table.title))
        for index, header in enumerate(table.headers, start=1):
            width = table.widths[index - 1] if table.widths else max(12, len(str(header)) + 2)
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, header, bold=True) for header in table.headers])
        formats = dict(enumerate(table.formats))
        for row in table.rows:
            sheet.append(
                [
                    _xlsx_cell(sheet, value, number_format=formats.get(index))
                    for index, value in enumerate(row)
                ]
            )
    return workbook


def write_xlsx(
    rows: Iterable[Sequence[Any]],
    headers: Sequence[Any],
    *,
    title: str = "Export",
    widths: Sequence[int] | None = None,
) -> bytes:
    """The XLSX file's bytes: one sheet titled `title`, a bold frozen header row, then the rows."""
    return write_workbook([Sheet(title=title, headers=headers, rows=rows, widths=widths)])
