"""Writes of the report archive: a report is generated once per kind, consortium and period, and
generating it again replaces its files, never adds a second report."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext
from weasyprint import HTML

from consortium.models import Consortium
from consortium.services import save_with_history
from workpackages.choices import JobImpact

from . import spreadsheets
from .choices import ReportKind, ReportStatus
from .models import Report
from .selectors import JobsReport, ProgressReport, jobs_report, progress_report


def _progress_html(data: ProgressReport) -> str:
    late = list(data.late)
    for deliverable in late:
        deliverable.late_days = deliverable.days_late(data.period_end)  # type: ignore[attr-defined]
    return render_to_string(
        "reporting/progress_report.html",
        {"report": data, "late": late, "title": gettext("Progress report")},
    )


def _jobs_html(data: JobsReport) -> str:
    consortium = data.consortium
    lines = [
        {
            "label": label,
            "realised": data.totals.get(impact),
            "forecast": data.totals.get(impact, "forecast"),
            "target": target,
        }
        for label, impact, target in (
            (gettext("Direct jobs"), JobImpact.DIRECT, consortium.direct_jobs_target),
            (gettext("Indirect jobs"), JobImpact.INDIRECT, consortium.indirect_jobs_target),
        )
    ]
    partners = [
        {
            "label": row.label,
            "direct": row.get(JobImpact.DIRECT).headcount,
            "indirect": row.get(JobImpact.INDIRECT).headcount,
        }
        for row in data.by_partner
    ]
    return render_to_string(
        "reporting/jobs_report.html",
        {
            "report": data,
            "lines": lines,
            "partners": partners,
            "title": gettext("Jobs-created report"),
        },
    )


def _render(
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    since: datetime.datetime | None,
) -> tuple[str, bytes]:
    if kind == ReportKind.PROGRESS:
        progress = progress_report(
            consortium, period_start=period_start, period_end=period_end, since=since
        )
        return _progress_html(progress), spreadsheets.progress_workbook(progress)
    jobs = jobs_report(consortium, as_of=period_end, since=since)
    return _jobs_html(jobs), spreadsheets.jobs_workbook(jobs)


@transaction.atomic
def report_generate(
    *,
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    since: datetime.datetime | None = None,
    language: str | None = None,
    user: Any = None,
) -> Report:
    """Compute and render one report (HTML, XLSX and PDF) into the archive; idempotent per kind,
    consortium and period: running it again refreshes the same report."""
    key = {
        "kind": kind,
        "consortium": consortium,
        "period_start": period_start,
        "period_end": period_end,
    }
    report = Report.objects.select_for_update().filter(**key).first() or Report(**key)
    with translation.override(language or settings.LANGUAGE_CODE):
        html, workbook = _render(kind, consortium, period_start, period_end, since)
    pdf = HTML(string=html).write_pdf()
    name = f"{kind}-{consortium.acronym}-{period_start:%Y%m%d}-{period_end:%Y%m%d}"
    for field, content in ((report.xlsx, workbook), (report.pdf, pdf)):
        if field:
            field.delete(save=False)
        field.save(f"{name}.{field.field.name}", ContentFile(content), save=False)
    report.html = html
    if report.status != ReportStatus.SENT:
        report.status = ReportStatus.GENERATED
    report.generated_at = timezone.now()
    report.error = ""
    save_with_history(report, user=user)
    return report
