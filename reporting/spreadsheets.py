"""The reports as XLSX workbooks: one sheet per table, money as numbers in EUR.

The cells are written by `consortium.exports.write_workbook`, the writer of every spreadsheet
the app sends: titles, justifications and names typed by partners and coordinators stay text,
however they start, in a workbook the region opens in Excel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from consortium.exports import MONEY_FORMAT, Sheet, write_workbook
from reporting.selectors import JobsReport, JobsRow, ProgressReport, SemesterReport
from workpackages.jobs.choices import JobImpact, JobStatus

# Amounts keep the money format of every spreadsheet (`MONEY_FORMAT`); the other decimals show
# their precision.
PERCENT = "0.0"
PERSON_MONTHS = "0.00"
FTE = "0.00"
JOBS_TARGET = "0.0"


def _sheet(
    book: list[Sheet],
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Sequence[str | None] = (),
) -> None:
    """Add a sheet to `book`, each column as wide as its longest value (10 to 60 characters)."""
    rows = list(rows)
    columns = zip(header, *rows, strict=True)
    longest = [max(len(str(value or "")) for value in column) for column in columns]
    widths = [min(max(length + 2, 10), 60) for length in longest]
    book.append(Sheet(title=title, headers=header, rows=rows, widths=widths, formats=formats))


def progress_workbook(report: ProgressReport) -> bytes:
    book: list[Sheet] = []
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
            formats=(None, MONEY_FORMAT, MONEY_FORMAT, MONEY_FORMAT, PERCENT),
        )
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
        formats=(*[None] * 7, PERCENT),
    )
    _sheet(
        book,
        _("Effort"),
        [_("Partner"), _("Planned person-months"), _("Actual person-months"), _("Actual (%)")],
        [(e.label, e.planned, e.actual, e.consumption) for e in report.effort_by_partner],
        formats=(None, PERSON_MONTHS, PERSON_MONTHS, PERCENT),
    )
    return write_workbook(book)


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
    book: list[Sheet] = []
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
        _sheet(book, title, header, _jobs_rows(rows), formats=(None, *[None, FTE] * 4))
    _sheet(
        book,
        _("Trajectory"),
        [_("Month"), _("Direct"), _("Direct target"), _("Indirect"), _("Indirect target")],
        [
            (p.month, p.direct, p.direct_target, p.indirect, p.indirect_target)
            for p in report.trajectory
        ],
        formats=(None, None, JOBS_TARGET, None, JOBS_TARGET),
    )
    return write_workbook(book)


def semester_workbook(report: SemesterReport) -> bytes:
    """The semester report's tables, each budget, subsidy and jobs table closed by its totals."""
    book: list[Sheet] = []
    total = report.budget_total
    money = (None, MONEY_FORMAT, MONEY_FORMAT, MONEY_FORMAT, MONEY_FORMAT, PERCENT)
    _sheet(
        book,
        _("Budget by heading"),
        [
            _("Cost heading"),
            _("Planned (EUR)"),
            _("Granted (EUR)"),
            _("In the period (EUR)"),
            _("Consumed to date (EUR)"),
            _("Consumption (%)"),
        ],
        [
            *(
                (
                    row.to_date.label,
                    row.to_date.planned,
                    row.to_date.granted,
                    row.in_period,
                    row.to_date.consumed,
                    row.to_date.consumption,
                )
                for row in report.budget_by_heading
            ),
            (
                _("Total"),
                total.planned,
                total.granted,
                report.spent_in_period,
                total.consumed,
                total.consumption,
            ),
        ],
        formats=money,
    )
    budget_header = [
        _("Name"),
        _("Planned (EUR)"),
        _("Granted (EUR)"),
        _("Consumed to date (EUR)"),
        _("Consumption (%)"),
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
                *((r.label, r.planned, r.granted, r.consumed, r.consumption) for r in rows),
                (_("Total"), total.planned, total.granted, total.consumed, total.consumption),
            ],
            formats=(None, MONEY_FORMAT, MONEY_FORMAT, MONEY_FORMAT, PERCENT),
        )
    _sheet(
        book,
        _("Subsidy due"),
        [_("Partner"), _("Accepted costs (EUR)"), _("Subsidy due (EUR)")],
        [
            *((row.label, row.accepted, row.subsidy) for row in report.subsidy.rows),
            (_("Total"), report.subsidy.accepted, report.subsidy.total),
        ],
        formats=(None, MONEY_FORMAT, MONEY_FORMAT),
    )
    direct, indirect = report.jobs_total
    committed_direct, committed_indirect = report.committed

    def jobs(label: str, d: Any, i: Any, cd: int, ci: int) -> tuple[Any, ...]:
        return (
            label,
            cd,
            d.realised,
            d.realised_fte,
            d.forecast,
            d.forecast_fte,
            ci,
            i.realised,
            i.realised_fte,
            i.forecast,
            i.forecast_fte,
        )

    _sheet(
        book,
        _("Jobs by partner"),
        [
            _("Partner"),
            _("Direct committed"),
            _("Direct realised"),
            _("Direct realised (FTE)"),
            _("Direct forecast"),
            _("Direct forecast (FTE)"),
            _("Indirect committed"),
            _("Indirect realised"),
            _("Indirect realised (FTE)"),
            _("Indirect forecast"),
            _("Indirect forecast (FTE)"),
        ],
        [
            *(
                jobs(
                    row.label,
                    row.direct,
                    row.indirect,
                    row.direct.committed,
                    row.indirect.committed,
                )
                for row in report.jobs_by_partner
            ),
            jobs(_("Total"), direct, indirect, committed_direct, committed_indirect),
            (
                _("Consortium targets"),
                direct.committed,
                *[None] * 4,
                indirect.committed,
                *[None] * 4,
            ),
        ],
        formats=(None, None, None, FTE, None, FTE, None, None, FTE, None, FTE),
    )
    _sheet(
        book,
        _("Jobs by period"),
        [_("Period"), _("Direct jobs started"), _("FTE"), _("Indirect jobs started"), _("FTE")],
        [
            (
                str(row.period),
                row.direct.realised,
                row.direct.realised_fte,
                row.indirect.realised,
                row.indirect.realised_fte,
            )
            for row in report.jobs_by_period
        ],
        formats=(None, None, FTE, None, FTE),
    )
    deliverable_header = [
        _("Code"),
        _("Title"),
        _("Lead partner"),
        _("Due date"),
        _("Sent on"),
        _("Status"),
        _("Days late"),
        _("Late justification"),
    ]
    for title, lines in (
        (_("Due in the period"), report.deliverables_due),
        (_("Late deliverables"), report.deliverables_late),
    ):
        _sheet(
            book,
            title,
            deliverable_header,
            [
                (
                    line.item.code,
                    line.item.title,
                    str(line.item.lead_partner),
                    line.item.due_date,
                    line.done_on,
                    line.state,
                    line.days_late,
                    line.item.late_justification,
                )
                for line in lines
            ],
        )
    _sheet(
        book,
        _("Milestones"),
        [
            _("Code"),
            _("Title"),
            _("Means of verification"),
            _("Due date"),
            _("Status"),
            _("Achieved on"),
            _("Days late"),
            _("Evidence or reason"),
        ],
        [
            (
                line.item.code,
                line.item.title,
                line.item.means_of_verification,
                line.item.due_date,
                missed.get_status_display() if missed else line.state,
                line.done_on,
                line.days_late,
                # Achieved by the period's end, its evidence; missed, the reason; else nothing
                # of what was written after that day.
                line.item.evidence if line.done_on or missed else "",
            )
            for line in report.milestones
            for missed in [line.item if not line.done_on and line.item.status == "missed" else None]
        ],
    )
    _sheet(
        book,
        _("Effort"),
        [_("Name"), _("Planned to date"), _("Reported"), _("Reported (%)")],
        [
            (e.label, e.planned, e.actual, e.consumption)
            for e in [*report.effort_by_partner, *report.effort_by_workpackage]
        ],
        formats=(None, PERSON_MONTHS, PERSON_MONTHS, PERCENT),
    )
    return write_workbook(book)
