"""The one writer of the app's spreadsheets: workbooks of several sheets with typed cells, text that
reads back exactly as typed, and no other module that builds a workbook or writes CSV rows."""

from __future__ import annotations

import ast
import datetime
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from consortium.exports import Sheet, write_workbook, write_xlsx

ROOT = Path(__file__).resolve().parents[2]
WRITER = "consortium/exports.py"
# Folders that hold no code of the app: tests build their own fixture workbooks.
NOT_THE_APP = {"tests", "var", "node_modules", "static", "templates", "locale", "docs"}
# Reading is allowed anywhere: a workbook openpyxl opens read-only can't be written or saved.
OPENPYXL_READERS = {"load_workbook"}
# Libraries that write spreadsheets; only the writer module may use one.
SPREADSHEET_WRITERS = {"openpyxl", "xlsxwriter", "xlwt", "pyexcel", "odf", "tablib", "pandas"}
CSV_WRITERS = {"writer", "DictWriter"}
# CSV written outside the writer module, by (module, function): each names only fixed labels.
CSV_ALLOWED = {
    # The import template's header line: the column names in the reader's language.
    ("workpackages/imports.py", "template_csv"),
}


class _Bypasses(ast.NodeVisitor):
    """The lines of a module that build a workbook, write a cell or write CSV rows without the
    writer module."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.functions: list[str] = []
        self.found: list[str] = []

    def _flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.path}:{getattr(node, 'lineno', 0)}: {what}")

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _csv_allowed(self) -> bool:
        return any((self.path, name) in CSV_ALLOWED for name in self.functions)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in SPREADSHEET_WRITERS:
                self._flag(node, f"import {alias.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        library = (node.module or "").split(".")[0]
        for alias in node.names:
            if library == "openpyxl" and alias.name in OPENPYXL_READERS:
                continue
            if library in SPREADSHEET_WRITERS:
                self._flag(node, f"from {node.module} import {alias.name}")
            elif library == "csv" and alias.name in CSV_WRITERS and not self._csv_allowed():
                self._flag(node, f"from csv import {alias.name}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == "csv"
            and node.attr in CSV_WRITERS
            and not self._csv_allowed()
        ):
            self._flag(node, f"csv.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in OPENPYXL_READERS and not any(
            keyword.arg == "read_only"
            and isinstance(keyword.value, ast.Constant)
            and keyword.value.value is True
            for keyword in node.keywords
        ):
            self._flag(node, f"{name}() without read_only=True")
        if (
            name in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).split(".")[0] in SPREADSHEET_WRITERS
        ):
            self._flag(node, f"{name}({node.args[0].value!r})")
        self.generic_visit(node)


def bypasses(source: str, path: str = "module.py") -> list[str]:
    visitor = _Bypasses(path)
    visitor.visit(ast.parse(source))
    return visitor.found


def app_modules() -> Iterator[Path]:
    for entry in sorted(ROOT.iterdir()):
        if entry.suffix == ".py":
            yield entry
        elif entry.is_dir() and not entry.name.startswith(".") and entry.name not in NOT_THE_APP:
            yield from sorted(entry.rglob("*.py"))


# The guard ----------------------------------------------------------------------------------------


def test_no_module_but_the_writer_builds_a_workbook_or_writes_csv() -> None:
    """A new spreadsheet goes through `consortium.exports` (`write_workbook`, `write_xlsx`,
    `write_csv`), so that typed text can't become a formula in it."""
    paths = {path.relative_to(ROOT).as_posix(): path for path in app_modules()}
    assert {WRITER, "reporting/spreadsheets.py", "workpackages/imports.py"} <= set(paths)

    found = [
        line
        for name, path in paths.items()
        if name != WRITER
        for line in bypasses(path.read_text(encoding="utf-8"), name)
    ]

    assert found == []
    # The guard recognises the writer module's own workbook for what it is.
    assert bypasses(paths[WRITER].read_text(encoding="utf-8"), WRITER)


@pytest.mark.parametrize(
    "source",
    [
        "from openpyxl import Workbook\nWorkbook()",
        "import openpyxl\nopenpyxl.Workbook()",
        "import openpyxl.workbook",
        "from openpyxl.workbook.workbook import Workbook",
        "from openpyxl.cell import WriteOnlyCell",
        "from openpyxl import load_workbook\nbook = load_workbook(path)\nbook.active.append(row)",
        "from openpyxl import load_workbook\nload_workbook(path, read_only=False)",
        "import xlsxwriter",
        "import pandas as pd",
        "import csv\ncsv.writer(out).writerow(row)",
        "import csv\nwriter = csv.DictWriter(out, fields)",
        "from csv import writer",
        "import importlib\nimportlib.import_module('openpyxl')",
        "def template_csv():\n    import csv\n    csv.writer(out)",
    ],
)
def test_the_guard_sees_every_way_around_the_writer(source: str) -> None:
    assert bypasses(source)


@pytest.mark.parametrize(
    "source",
    [
        "from openpyxl import load_workbook\nload_workbook(data, read_only=True, data_only=True)",
        "import csv\nrows = list(csv.reader(lines, delimiter=';'))",
        "from consortium.exports import Sheet, write_workbook\nwrite_workbook([Sheet('a', [], [])])",
        "rows.append(row)",
    ],
)
def test_the_guard_lets_reading_and_the_writer_through(source: str) -> None:
    assert bypasses(source) == []


def test_the_import_templates_header_line_is_the_one_csv_written_elsewhere() -> None:
    source = "import csv\ndef template_csv():\n    csv.writer(out).writerow(names)"

    assert bypasses(source, "workpackages/imports.py") == []
    assert bypasses(source, "workpackages/money/views.py")


# The writer ---------------------------------------------------------------------------------------


def test_a_workbook_has_its_sheets_with_typed_cells() -> None:
    data = write_workbook(
        [
            Sheet(
                title="Budget: by partner",
                headers=["Name", "Planned (EUR)", "Consumption (%)", "Due"],
                rows=iter(
                    [("P1 BioWin", Decimal("1200.50"), Decimal("45.5"), datetime.date(2025, 6, 30))]
                ),
                widths=[30, 14, 12, 12],
                formats=(None, None, "0.0"),
            ),
            Sheet(title="Effort", headers=["Partner"], rows=[("=1+1",), ("-2",)]),
        ]
    )

    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Budget- by partner", "Effort"]
    budget, effort = book.worksheets
    assert all(cell.font.bold for cell in budget[1])
    assert budget.freeze_panes == "A2"
    assert budget.column_dimensions["A"].width == 30
    name, planned, consumption, due = budget[2]
    assert (name.data_type, name.value) == ("s", "P1 BioWin")
    assert (planned.value, planned.number_format) == (1200.5, "#,##0.00")
    assert (consumption.value, consumption.number_format) == (45.5, "0.0")
    assert due.is_date and due.value.date() == datetime.date(2025, 6, 30)
    assert [(c.value, c.data_type, c.quotePrefix) for c in effort["A"][1:]] == [
        ("=1+1", "s", True),
        ("-2", "s", True),
    ]


def test_a_number_holds_the_decimals_it_shows() -> None:
    """A sum carried with a dozen decimals (as SQLite's are) is stored as the reader sees it: the
    cell holds 629.6, not 629.599999999999; halves round away from zero."""
    data = write_workbook(
        [
            Sheet(
                title="Jobs",
                headers=["FTE", "Amount", "Share", "Count", "Ratio"],
                rows=[
                    (
                        Decimal("629.599999999999"),
                        Decimal("140476.360000000"),
                        Decimal("12.25"),
                        7,
                        0.1 + 0.2,
                    )
                ],
                formats=("0.00", None, "0.0", None, "0.00"),
            )
        ]
    )
    fte, amount, share, count, ratio = load_workbook(io.BytesIO(data)).worksheets[0][2]
    assert (fte.value, amount.value, share.value, count.value, ratio.value) == (
        629.6,
        140476.36,
        12.3,
        7,
        0.3,
    )
    # The file itself holds the short figures, not their float spelling.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>629.6</v>" in xml and "629.59" not in xml and "<v>0.3</v>" in xml


def test_text_reads_back_exactly_as_typed_carriage_returns_included() -> None:
    typed = ["\r=1+1", "Line one\r\nline two", "\tTab-led", " spaced "]

    data = write_xlsx([typed], ["a", "b", "c", "d"])

    row = next(load_workbook(io.BytesIO(data)).active.iter_rows(min_row=2))
    assert [cell.value for cell in row] == typed
    assert [cell.quotePrefix for cell in row] == [True, False, True, False]
    # A workbook without carriage returns is written once, as openpyxl wrote it.
    assert b"&#13;" not in write_xlsx([("a\nb",)], ["a"])


def test_control_characters_are_left_out() -> None:
    data = write_xlsx([("Bell\x07 and escape\x1b", "=\x01HYPERLINK()")], ["a", "b"])

    text, formula_like = next(load_workbook(io.BytesIO(data)).active.iter_rows(min_row=2))
    assert text.value == "Bell and escape"
    assert (formula_like.value, formula_like.data_type) == ("=HYPERLINK()", "s")
