"""The coordinators' downloads of the expense and job lists (issue 16): every partner's rows of
their own consortia, under the list's filters, through the formula-safe writer; another
consortium's rows never; typed text that starts like a formula stays text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from tests import factories
from tests.web import client_for
from workpackages.jobs.models import JobRecord
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example","click")'


def _export(model: str, fmt: str) -> str:
    return reverse(f"admin:workpackages_{model}_export", args=[fmt])


def _read(response: Any, fmt: str) -> list[list[Any]]:
    data = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    sheet = load_workbook(io.BytesIO(data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


@pytest.fixture
def rows(
    budget_line: Any,
    budget_line_b: Any,
    other_workpackage: Any,
    other_partner: Any,
    partner_a: Any,
    partner_b: Any,
) -> dict[str, Any]:
    """Both partners' expenses and jobs, a formula-like description and title, and another
    consortium's rows."""
    mine = factories.ExpenseFactory(line=budget_line, description=FORMULA, amount=Decimal("10.50"))
    theirs = factories.ExpenseFactory(line=budget_line_b, description="CellForge reagents")
    foreign_line = factories.BudgetLineFactory(
        partner=other_partner, workpackage=other_workpackage, heading="personnel"
    )
    factories.ExpenseFactory(line=foreign_line, description="Another consortium's secret")
    job_a = factories.JobRecordFactory(partner=partner_a, position_title=FORMULA)
    job_b = factories.JobRecordFactory(partner=partner_b, position_title="QC lead")
    factories.JobRecordFactory(partner=other_partner, position_title="Another consortium's job")
    return {"expenses": {mine, theirs}, "jobs": {job_a, job_b}}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_expense_file_holds_the_rows_the_coordinator_sees(
    rows: dict[str, Any], coordinator: Any, fmt: str
) -> None:
    response = client_for(coordinator).get(_export("expense", fmt))
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    header, *lines = _read(response, fmt)
    assert header[:2] == ["Consortium", "Partner"]
    descriptions = {line[6] for line in lines}
    # CSV marks the formula-like text with a leading quote; XLSX keeps it exactly as typed.
    typed = f"'{FORMULA}" if fmt == "csv" else FORMULA
    assert descriptions == {typed, "CellForge reagents"}
    assert {line[1] for line in lines} == {"P1 BioWin", "P2 CellForge"}
    assert len(lines) == len(rows["expenses"])


def test_a_formula_like_text_stays_text_in_the_workbook(rows: Any, coordinator: Any) -> None:
    response = client_for(coordinator).get(_export("jobrecord", "xlsx"))
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value == FORMULA]
    assert len(cells) == 1
    assert cells[0].data_type == "s"
    assert cells[0].quotePrefix


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_job_file_follows_the_lists_filters(
    rows: dict[str, Any], coordinator: Any, partner_b: Any, fmt: str
) -> None:
    client = client_for(coordinator)
    everything = _read(client.get(_export("jobrecord", fmt)), fmt)[1:]
    assert {line[2] for line in everything} == {
        f"'{FORMULA}" if fmt == "csv" else FORMULA,
        "QC lead",
    }
    filtered = _read(
        client.get(_export("jobrecord", fmt) + f"?partner__id__exact={partner_b.pk}"), fmt
    )
    assert [line[2] for line in filtered[1:]] == ["QC lead"]
    searched = _read(client.get(_export("jobrecord", fmt) + "?q=QC+lead"), fmt)
    assert [line[2] for line in searched[1:]] == ["QC lead"]


def test_the_list_links_to_its_downloads_with_its_filters(
    rows: dict[str, Any], coordinator: Any, partner_b: Any
) -> None:
    client = client_for(coordinator)
    for model in ("expense", "jobrecord"):
        query = f"?partner__id__exact={partner_b.pk}"
        page = client.get(reverse(f"admin:workpackages_{model}_changelist") + query)
        body = page.content.decode()
        for fmt in ("xlsx", "csv"):
            assert f'href="{_export(model, fmt)}{query}"' in body


def test_another_consortiums_coordinator_gets_only_their_rows(
    rows: dict[str, Any], other_coordinator: Any
) -> None:
    client = client_for(other_coordinator)
    expenses = _read(client.get(_export("expense", "csv")), "csv")[1:]
    assert [line[6] for line in expenses] == ["Another consortium's secret"]
    jobs = _read(client.get(_export("jobrecord", "csv")), "csv")[1:]
    assert [line[2] for line in jobs] == ["Another consortium's job"]


def test_a_partner_and_an_unknown_format_get_no_file(
    rows: dict[str, Any], coordinator: Any, partner_member: Any
) -> None:
    partner = client_for(partner_member).get(_export("expense", "xlsx"))
    assert partner.status_code == 302 and "/login/" in partner["Location"]
    assert client_for(coordinator).get(_export("expense", "pdf")).status_code == 404


def test_unknown_filters_go_back_to_the_list(rows: Any, coordinator: Any) -> None:
    response = client_for(coordinator).get(_export("expense", "csv") + "?no_such_field=1")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_download_reads_a_constant_number_of_queries(
    rows: dict[str, Any], coordinator: Any, budget_line: Any, partner_a: Any
) -> None:
    client = client_for(coordinator)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            for model in ("expense", "jobrecord"):
                response = client.get(_export(model, "csv"))
                b"".join(response.streaming_content)
        return len(queries)

    before = count()
    for _n in range(5):
        factories.ExpenseFactory(line=budget_line)
        factories.JobRecordFactory(partner=partner_a)
    assert count() == before
    assert Expense.objects.count() == 8 and JobRecord.objects.count() == 8
