"""The reports as XLSX workbooks (openpyxl): one sheet per table, money as numbers in EUR."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from workpackages.choices import JobImpact, JobStatus

from .selectors import JobsReport, JobsRow, ProgressReport

MONEY = "#,##0.00"
PERSON_MONTHS = "0.00"


def _sheet(
    book: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    sheet = book.create_sheet(title=title[:31])
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for column in sheet.columns:
        width = max(len(str(cell.value or "")) for cell in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 60)


def _money_columns(book: Workbook, title: str, columns: str) -> None:
    sheet = book[title[:31]]
    for letter in columns:
        for cell in sheet[letter][1:]:
            cell.number_format = MONEY


def _bytes(book: Workbook) -> bytes:
    del book[book.sheetnames[0]]  # The empty sheet every new workbook starts with.
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def progress_workbook(report: ProgressReport) -> bytes:
    book = Workbook()
    budget_header = [
        _("Name"),
        _("Planned (EUR)"),
        _("Granted (EUR)"),
        _("Consumed (EUR)"),
        _("Consumption (%)"),
        _("Overspent lines"),
    ]
    for title, rows in (
        (_("Budget by partner"), report.budget_by_partner),
        (_("Budget by workpackage"), report.budget_by_workpackage),
    ):
        _sheet(
            book,
            title,
            budget_header,
            [
                (r.label, r.planned, r.granted, r.consumed, r.consumption, r.overspent_lines)
                for r in rows
            ],
        )
        _money_columns(book, title, "BCD")
    deliverable_header = [
        _("Code"),
        _("Title"),
        _("Lead partner"),
        _("Due date"),
        _("Status"),
        _("Days late"),
        _("Late justification"),
    ]
    for title, deliverables in (
        (_("Due in the period"), report.due_in_period),
        (_("Late deliverables"), report.late),
        (_("Due next"), report.due_next),
    ):
        _sheet(
            book,
            title,
            deliverable_header,
            [
                (
                    d.code,
                    d.title,
                    str(d.lead_partner),
                    d.due_date,
                    d.get_status_display(),
                    d.days_late(report.period_end),
                    d.late_justification,
                )
                for d in deliverables
            ],
        )
    _sheet(
        book,
        _("Workpackages"),
        [
            _("Workpackage"),
            _("Lead partner"),
            _("Deliverables"),
            _("Approved"),
            _("Late"),
            _("Milestones"),
            _("Achieved"),
            _("Consumption (%)"),
        ],
        [
            (
                str(s.workpackage),
                str(s.workpackage.lead_partner),
                s.deliverables,
                s.deliverables_approved,
                s.deliverables_late,
                s.milestones,
                s.milestones_achieved,
                s.budget.consumption if s.budget else None,
            )
            for s in report.workpackages
        ],
    )
    _sheet(
        book,
        _("Effort"),
        [_("Partner"), _("Planned person-months"), _("Actual person-months"), _("Actual (%)")],
        [(e.label, e.planned, e.actual, e.consumption) for e in report.effort_by_partner],
    )
    return _bytes(book)


def _jobs_rows(rows: Iterable[JobsRow]) -> list[tuple[Any, ...]]:
    def figures(row: JobsRow) -> tuple[Any, ...]:
        return tuple(
            value
            for impact in (JobImpact.DIRECT, JobImpact.INDIRECT)
            for status in (JobStatus.REALISED, JobStatus.FORECAST)
            for value in (row.get(impact, status).headcount, row.get(impact, status).fte)
        )

    return [(row.label, *figures(row)) for row in rows]


def jobs_workbook(report: JobsReport) -> bytes:
    book = Workbook()
    header = [
        _("Name"),
        _("Direct realised"),
        _("Direct realised (FTE)"),
        _("Direct forecast"),
        _("Direct forecast (FTE)"),
        _("Indirect realised"),
        _("Indirect realised (FTE)"),
        _("Indirect forecast"),
        _("Indirect forecast (FTE)"),
    ]
    for title, rows in (
        (_("Totals"), [report.totals, report.new_since]),
        (_("By partner"), report.by_partner),
        (_("By category"), report.by_category),
        (_("By contract"), report.by_contract_type),
        (_("By workpackage"), report.by_workpackage),
    ):
        _sheet(book, title, header, _jobs_rows(rows))
    _sheet(
        book,
        _("Trajectory"),
        [_("Month"), _("Direct"), _("Direct target"), _("Indirect"), _("Indirect target")],
        [
            (p.month, p.direct, p.direct_target, p.indirect, p.indirect_target)
            for p in report.trajectory
        ],
    )
    return _bytes(book)
