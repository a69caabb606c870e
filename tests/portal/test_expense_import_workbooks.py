"""Workbooks made to hurt the server: an archive that unzips to far more than it weighs, too many
parts, cells longer than Excel allows. Each is refused, saying what to do, before it costs much
memory, and a workbook as large as a real statement still goes through."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from openpyxl import Workbook
from openpyxl.styles import Border, Side

from consortium.imports import (
    MAX_CELL_CHARS,
    MAX_PART_BYTES,
    MAX_WORKBOOK_BYTES,
    MAX_WORKBOOK_PARTS,
    RATIO_GRACE_BYTES,
)
from tests.web import client_for
from workpackages.imports import MAX_ROWS, expenses_import
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db

MEGABYTE = 1024 * 1024
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# The smallest workbook Excel and openpyxl open: one sheet whose cells may point into the
# shared strings, as Excel writes every text cell.
SKELETON = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEET}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SPREADSHEET}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SPREADSHEET}.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
        f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
        '<sheet name="Expenses" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{PACKAGE}">'
        f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    ),
}
HEADER = ("date", "workpackage", "category", "amount", "description")


Cell = str | tuple[str, str]


def _row(line: int, *cells: Cell) -> str:
    """A row of cells in columns A, B, C…: text, written inline, or a cell's type and the XML
    inside it (`("n", "<v>10</v>")`, `("s", "<v>0</v>")` for the first shared string)."""
    xml = []
    for column, cell in zip("ABCDEFGH", cells, strict=False):
        reference = f"{column}{line}"
        if isinstance(cell, str):
            xml.append(f'<c r="{reference}" t="inlineStr"><is><t>{escape(cell)}</t></is></c>')
        else:
            kind, inner = cell
            xml.append(f'<c r="{reference}" t="{kind}">{inner}</c>')
    return f'<row r="{line}">{"".join(xml)}</row>'


TEN: Cell = ("n", "<v>10</v>")
SHARED: Cell = ("s", "<v>0</v>")


def _write_workbook(
    target: Any,
    *rows: str,
    shared: Iterable[bytes] = (),
    parts: dict[str, bytes] | None = None,
    compresslevel: int | None = None,
) -> None:
    """A workbook whose first sheet holds `rows` and whose shared strings are the `<si>` items
    `shared` yields, streamed into the archive so that a huge part never sits in memory."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for name, xml in SKELETON.items():
            archive.writestr(name, xml)
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{MAIN}"><sheetData>{"".join(rows)}</sheetData></worksheet>',
        )
        with archive.open("xl/sharedStrings.xml", "w") as part:
            part.write(f'<sst xmlns="{MAIN}">'.encode())
            for chunk in shared:
                part.write(chunk)
            part.write(b"</sst>")
        for name, content in (parts or {}).items():
            archive.writestr(name, content)


def _workbook(*rows: str, **options: Any) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    _write_workbook(buffer, *rows, **options)
    return SimpleUploadedFile("expenses.xlsx", buffer.getvalue())


def _one_string(characters: int) -> Iterable[bytes]:
    """One shared string of `characters` times the same letter, written a megabyte at a time."""
    yield b"<si><t>"
    for start in range(0, characters, MEGABYTE):
        yield b"x" * min(MEGABYTE, characters - start)
    yield b"</t></si>"


def _noise(size: int, seed: int) -> bytes:
    """Text that deflates about as well as a sheet's XML does (10 to 20 times)."""
    chunks = random.Random(seed)  # noqa: S311  (test data, not a secret)
    return b"".join(chunks.randbytes(32).hex().encode() + b" " * 900 for _ in range(size // 964))


def _refused(partner: Any, user: Any, upload: SimpleUploadedFile) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        expenses_import(partner=partner, user=user, file=upload)
    assert not Expense.objects.exists()
    return refused.value


# Imports the workbook named on its command line in a process of its own, and prints how the
# import ended and the process's peak resident memory in kB. The workbook is refused before the
# partner and the user are looked at, so the child needs neither saved; if it were read, the
# partner's references would come out empty and every row would have an error.
IMPORT_IN_A_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from consortium.models import Partner
from workpackages.imports import expenses_import

with open(sys.argv[1], "rb") as handle:
    upload = SimpleUploadedFile("expenses.xlsx", handle.read())
try:
    result = expenses_import(partner=Partner(), user=get_user_model()(), file=upload)
except Exception as error:
    outcome = getattr(error, "code", None) or type(error).__name__
else:
    outcome = f"read {result.rows} rows"
print(outcome, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
# A process with the app loaded takes about 150 MB. Unzipped, the workbook below took this child
# to 750 MB, and a server worker to 2.2 GB.
CHILD_MEMORY_BOUND_KB = 150 * 1024
# The most address space (well above resident memory) the child may take, so that a regression
# fails the test rather than the machine.
CHILD_ADDRESS_SPACE = 1536 * MEGABYTE


def _import_in_a_child(path: Path) -> tuple[str, int]:
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
    }
    finished = subprocess.run(  # noqa: S603  (this interpreter and a fixed program)
        [sys.executable, "-c", IMPORT_IN_A_CHILD, str(path), str(CHILD_ADDRESS_SPACE)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    outcome, peak = finished.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    return outcome, int(peak)


def test_a_decompression_bomb_is_refused_before_it_takes_memory(tmp_path: Path) -> None:
    # 300 MB of one letter in one shared string, where a description goes, deflates to about
    # 1 MB: far under the upload limit.
    bomb = tmp_path / "bomb.xlsx"
    _write_workbook(
        bomb,
        _row(1, *HEADER),
        _row(2, "14/03/2024", "WP1", "personnel", TEN, SHARED),
        shared=_one_string(300 * MEGABYTE),
        compresslevel=1,
    )
    assert bomb.stat().st_size < 2 * MEGABYTE
    outcome, peak = _import_in_a_child(bomb)
    # The same child importing a plain workbook: what loading the app takes on this machine.
    plain = tmp_path / "plain.xlsx"
    _write_workbook(plain, _row(1, *HEADER), _row(2, "14/03/2024", "WP1", "personnel", TEN, "x"))
    _outcome, baseline = _import_in_a_child(plain)
    assert peak - baseline < CHILD_MEMORY_BOUND_KB, (
        f"the import took {peak // 1024} MB, {baseline // 1024} MB without the bomb ({outcome})"
    )
    assert outcome == "workbook_too_large"


def test_the_refusal_says_what_to_do(partner_member: Any, partner_a: Any) -> None:
    upload = _workbook(_row(1, *HEADER), shared=_one_string(MAX_PART_BYTES + 1))
    response = client_for(partner_member).post(reverse("expense-import"), {"file": upload})
    assert response.status_code == 200
    [message] = response.context["form"].errors["file"]
    assert message.startswith("This workbook is too large or too compressed to be read safely.")
    assert "“CSV UTF-8”" in message
    assert not Expense.objects.exists()


def test_a_workbook_with_too_many_parts_is_refused(partner_a: Any, partner_member: Any) -> None:
    parts = {f"customXml/item{n}.xml": b"<a/>" for n in range(MAX_WORKBOOK_PARTS)}
    upload = _workbook(_row(1, *HEADER), parts=parts)
    assert _refused(partner_a, partner_member, upload).code == "workbook_too_large"


def test_a_part_larger_than_the_limit_is_refused(partner_a: Any, partner_member: Any) -> None:
    size = MAX_PART_BYTES + MEGABYTE
    upload = _workbook(_row(1, *HEADER), parts={"xl/media/image1.bin": _noise(size, 1)})
    assert _refused(partner_a, partner_member, upload).code == "workbook_too_large"


def test_parts_larger_together_than_the_limit_are_refused(
    partner_a: Any, partner_member: Any
) -> None:
    count = MAX_WORKBOOK_BYTES // MAX_PART_BYTES + 1
    parts = {f"xl/media/image{n}.bin": _noise(MAX_PART_BYTES, n) for n in range(count)}
    assert all(len(part) <= MAX_PART_BYTES for part in parts.values())
    upload = _workbook(_row(1, *HEADER), parts=parts)
    assert _refused(partner_a, partner_member, upload).code == "workbook_too_large"


def test_a_part_compressed_far_more_than_xml_is_refused(
    partner_a: Any, partner_member: Any
) -> None:
    upload = _workbook(_row(1, *HEADER), shared=_one_string(2 * RATIO_GRACE_BYTES))
    assert _refused(partner_a, partner_member, upload).code == "workbook_too_large"


def test_a_cell_longer_than_excel_allows_is_refused_with_its_line(
    partner_a: Any, partner_member: Any
) -> None:
    upload = _workbook(
        _row(1, *HEADER),
        _row(2, "14/03/2024", "WP1", "personnel", TEN, "Fine"),
        _row(3, "15/03/2024", "WP1", "personnel", TEN, SHARED),
        shared=_one_string(MAX_CELL_CHARS + 1),
    )
    refused = _refused(partner_a, partner_member, upload)
    assert refused.code == "cell_too_long"
    assert refused.messages == [
        "Line 3 has a cell of more than 32,767 characters, which Excel itself does not allow: "
        "shorten it, then import the file again."
    ]


def test_a_formula_is_read_as_the_value_excel_saved_never_computed(
    partner_a: Any, partner_member: Any, budget_line: Any
) -> None:
    # Excel saves each formula with its last result; the import reads that result, or nothing
    # when a program saved none, and never runs the formula.
    uncomputed = _workbook(
        _row(1, *HEADER),
        _row(2, "15/03/2024", "WP1", "personnel", ("n", "<f>1+1</f>"), "Not computed"),
    )
    result = expenses_import(partner=partner_a, user=partner_member, file=uncomputed)
    assert [(error.line, error.column, error.message) for error in result.errors] == [
        (2, "amount", "This cell is empty: it is required.")
    ]
    assert not Expense.objects.exists()
    cached = _workbook(
        _row(1, *HEADER),
        _row(2, "14/03/2024", "WP1", "personnel", ("n", "<f>1+1</f><v>12.5</v>"), "Cached"),
    )
    result = expenses_import(partner=partner_a, user=partner_member, file=cached)
    assert result.ok
    assert Expense.objects.get().amount == Decimal("12.50")


def test_a_workbook_as_large_as_a_real_statement_is_read(
    partner_a: Any, partner_member: Any
) -> None:
    # 1,000 rows of 16 columns of text, formatted 5,000 rows further down, as an accounting
    # export pasted into a formatted sheet. The header leaves the amount out, so that every row
    # is read and none is saved.
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        ["date", "workpackage", "category", "description"] + [f"note {n}" for n in range(12)]
    )
    words = random.Random(7)  # noqa: S311  (test data, not a secret)
    for line in range(MAX_ROWS):
        notes = [words.randbytes(8).hex() for _ in range(12)]
        sheet.append(["14/03/2024", "WP1", "personnel", f"Line {line}", *notes])
    border = Border(top=Side(style="thin"))
    for line in range(MAX_ROWS + 2, MAX_ROWS + 5_000):
        sheet.cell(line, 1).border = border
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("expenses.xlsx", buffer.getvalue())
    result = expenses_import(partner=partner_a, user=partner_member, file=upload)
    assert result.rows == MAX_ROWS
    assert [(error.line, error.column) for error in result.errors] == [(1, "amount")]
