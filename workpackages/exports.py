"""Writers of the spreadsheets partners download: CSV and XLSX that open safely in Excel.

Both writers take the header labels and an iterable of rows (tuples of Python values: `str`,
`Decimal`, `datetime.date`, `None`) and consume the rows one at a time, so that a view can feed
them a database cursor (`values_list(...).iterator()`) without loading the table into memory.

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
    format (31/01/2026 in Belgium).

Formula neutralisation (OWASP "CSV injection"): a spreadsheet treats a cell that begins with `=`,
    `+`, `-` or `@` (and, after some import paths trim it, a tab or carriage return) as a formula;
    a partner's free text such as `=HYPERLINK("http://evil","click")` would then run in the
    coordinator's Excel. In CSV such text is prefixed with a single quote `'`, which makes Excel
    show it as text. In XLSX every text cell is written as a string (never as a formula, even if
    it starts with `=`) and such a cell also gets Excel's "quote prefix" style, so that editing it
    in Excel doesn't turn it into a formula; its text stays exactly what the partner typed.
    Numbers are never prefixed: a negative amount is a number, not text.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

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


def _xlsx_cell(sheet: Any, value: Any, *, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, str | Decimal | int | float | datetime.date) or value is None:
        pass
    else:
        value = str(value)  # lazy translations, choices' labels
    if isinstance(value, str):
        # Control characters are not allowed in the file's XML; they carry no meaning here.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # openpyxl reads "=…" as a formula and "#N/A" as an error: text is text.
        cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True
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


def write_xlsx(
    rows: Iterable[Sequence[Any]],
    headers: Sequence[Any],
    *,
    title: str = "Export",
    widths: Sequence[int] | None = None,
) -> bytes:
    """The XLSX file's bytes: one sheet, a bold frozen header row, then the rows.

    The workbook is write-only: openpyxl streams the rows to a temporary file as they come
    instead of holding every cell in memory.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(title))
    for index, header in enumerate(headers, start=1):
        width = widths[index - 1] if widths else max(12, len(str(header)) + 2)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_xlsx_cell(sheet, header, bold=True) for header in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
