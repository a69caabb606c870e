"""A report's documents: the HTML email, the PDF and the XLSX workbook of one report in one
language, with its chart. Rendering reads nothing but the report's figures and its own images: it
never reaches the network or the disk.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from consortium.models import Consortium, ReportingPeriod
from reporting import charts, spreadsheets
from reporting.choices import ReportKind
from reporting.models import Report
from reporting.selectors import (
    JobsReport,
    ProgressReport,
    SemesterReport,
    _moment,
    jobs_report,
    progress_report,
    semester_report,
)
from workpackages.jobs.choices import JobImpact

CHART_CID = "chart"


def _previous_end(
    kind: str, consortium: Consortium, start: datetime.date
) -> datetime.datetime | None:
    """The end of the previous report's period: "since the previous report" starts there."""
    previous = (
        # A draft nobody sent is no previous report: its recipients never read it.
        Report.objects.filter(
            kind=kind, consortium=consortium, period_end__lt=start, released_at__isnull=False
        )
        .order_by("-period_end")
        .values_list("period_end", flat=True)
        .first()
    )
    return None if previous is None else _moment(previous, end=True)


def _progress_context(data: ProgressReport) -> dict[str, Any]:
    late = list(data.late)
    for deliverable in late:
        deliverable.late_days = deliverable.days_late(data.period_end)  # type: ignore[attr-defined]
    return {
        "report": data,
        "late": late,
        "total": data.budget_total,
        "effort_tables": [
            (gettext("Partner"), data.effort_by_partner),
            (gettext("Workpackage"), data.effort_by_workpackage),
        ],
    }


def _jobs_context(data: JobsReport) -> dict[str, Any]:
    consortium = data.consortium
    lines = [
        {
            "label": label,
            "realised": data.totals.get(impact),
            "forecast": data.totals.get(impact, "forecast"),
            "target": target,
            "new": data.new_since.get(impact).headcount,
        }
        for label, impact, target in (
            (gettext("Direct jobs"), JobImpact.DIRECT, consortium.direct_jobs_target),
            (gettext("Indirect jobs"), JobImpact.INDIRECT, consortium.indirect_jobs_target),
        )
    ]
    breakdowns = [
        (
            heading,
            [
                (
                    row.label,
                    row.get(JobImpact.DIRECT),
                    row.get(JobImpact.INDIRECT),
                    row.get(JobImpact.DIRECT, "forecast"),
                    row.get(JobImpact.INDIRECT, "forecast"),
                )
                for row in rows
            ],
        )
        for heading, rows in (
            (gettext("By partner"), data.by_partner),
            (gettext("By category"), data.by_category),
            (gettext("By contract type"), data.by_contract_type),
            (gettext("By workpackage"), data.by_workpackage),
        )
    ]
    return {"report": data, "lines": lines, "breakdowns": breakdowns}


def _semester_context(data: SemesterReport) -> dict[str, Any]:
    direct, indirect = data.jobs_total
    committed_direct, committed_indirect = data.committed
    consortium = data.consortium
    return {
        "report": data,
        "total": data.budget_total,
        "direct": direct,
        "indirect": indirect,
        "committed_direct": committed_direct,
        "committed_indirect": committed_indirect,
        "name_fr": consortium.name_in("fr"),
        "name_en": consortium.name_in("en"),
        "period_label": f"P{data.period.number}",
        "effort_tables": [
            (gettext("Partner"), data.effort_by_partner),
            (gettext("Workpackage"), data.effort_by_workpackage),
        ],
    }


def _semester_period(
    consortium: Consortium, period_start: datetime.date, period_end: datetime.date
) -> ReportingPeriod:
    """The reporting period a semester report covers: exactly one of the consortium's."""
    return ReportingPeriod.objects.get(
        consortium_id=consortium.pk, start_date=period_start, end_date=period_end
    )


def _render(
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    since: datetime.datetime | None,
) -> tuple[str, str, bytes, bytes]:
    """One report in the active language: its HTML, plain text, XLSX and chart (PNG)."""
    if kind == ReportKind.PROGRESS:
        progress = progress_report(
            consortium, period_start=period_start, period_end=period_end, since=since
        )
        context = _progress_context(progress)
        workbook = spreadsheets.progress_workbook(progress)
        chart = charts.budget_by_workpackage(progress.budget_by_workpackage, progress.time_elapsed)
    elif kind == ReportKind.SEMESTER:
        semester = semester_report(
            consortium, _semester_period(consortium, period_start, period_end)
        )
        context = _semester_context(semester)
        workbook = spreadsheets.semester_workbook(semester)
        chart = charts.budget_against_time(
            semester.consumed, consortium.start_date, consortium.end_date
        )
    else:
        jobs = jobs_report(consortium, as_of=period_end, since=since)
        context = _jobs_context(jobs)
        workbook = spreadsheets.jobs_workbook(jobs)
        chart = charts.jobs_trajectory(jobs.trajectory)
    context.update(
        title=ReportKind(kind).label,
        consortium=consortium,
        period_start=period_start,
        period_end=period_end,
        chart_src=f"cid:{CHART_CID}",
        generated_on=timezone.localdate(),
        LANGUAGE_CODE=translation.get_language(),
    )
    html = render_to_string(f"reporting/{kind}_report.html", context)
    text = render_to_string(f"reporting/{kind}_report.txt", context)
    return html, text, workbook, chart


@dataclass
class Rendered:
    """One report in one language, ready to archive, attach or write to disk."""

    language: str
    html: str
    text: str
    xlsx: bytes
    pdf: bytes
    chart: bytes


def report_render(
    *,
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    since: datetime.datetime | None = None,
    languages: Iterable[str] | None = None,
) -> list[Rendered]:
    """Compute and render a report in each language (all the shipped ones by default), without
    writing anything: the archive, and `send_report --dry-run`, use this."""
    if since is None:
        since = _previous_end(kind, consortium, period_start)
    rendered = []
    for language in languages or [code for code, _label in settings.LANGUAGES]:
        with translation.override(language):
            html, text, workbook, chart = _render(kind, consortium, period_start, period_end, since)
        pdf = pdf_of(html, {CHART_CID: chart})
        rendered.append(Rendered(language, html, text, workbook, pdf, chart))
    return rendered


def pdf_of(html: str, images: dict[str, bytes]) -> bytes:
    """The report's PDF (`reporting.pdf`, loaded with WeasyPrint on the first PDF written)."""
    from reporting.pdf import html_to_pdf

    return html_to_pdf(html, images)


def report_file_name(report: Any, language: str) -> str:
    return (
        f"{report.kind}-{report.consortium.acronym}-"
        f"{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}-{language}"
    )
