"""Writes of the report archive. A report exists once per kind, consortium and period; generating
it again refreshes its documents (one per shipped language, see `rendering.py`), and its emails
go out through the outbox (`outbox.py`).
"""

from __future__ import annotations

import datetime
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from consortium import dates
from consortium.models import Consortium, ReportingPeriod
from consortium.querysets import authorize
from consortium.records import WriteRule, keeps, save_with_history, write_rule_register
from reporting.choices import DeliveryStatus, ReportKind, ReportStatus
from reporting.models import (
    Report,
    ReportDelivery,
    ReportDocument,
    ReportRecipient,
    ReportSchedule,
)
from reporting.outbox import report_deliveries_plan, report_resend
from reporting.rendering import report_file_name, report_render


def report_period(kind: str, day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last complete period before `day`: the previous Monday-to-Sunday week for the
    progress report, the previous calendar month for the jobs-created report."""
    if kind == ReportKind.PROGRESS:
        start = day - datetime.timedelta(days=day.weekday() + 7)
        return start, start + datetime.timedelta(days=6)
    first = dates.add_months(day.replace(day=1), -1)
    return first, day.replace(day=1) - datetime.timedelta(days=1)


def last_ended_period(consortium: Any, day: datetime.date) -> ReportingPeriod | None:
    """The consortium's latest reporting period ended before `day`."""
    return (
        ReportingPeriod.objects.filter(consortium_id=consortium.pk, end_date__lt=day)
        .order_by("-end_date")
        .first()
    )


def semester_period_due(schedule: ReportSchedule, day: datetime.date) -> ReportingPeriod | None:
    """The latest reporting period whose semester report is due by `day`: ended at least the
    schedule's number of days before it."""
    latest_end = day - datetime.timedelta(days=schedule.days_after_period_end)
    # Ended before `day` in any case, even made the day after (0 days).
    before = min(latest_end + datetime.timedelta(days=1), day)
    return last_ended_period(schedule.consortium, before)


def scheduled_period(
    schedule: ReportSchedule, day: datetime.date
) -> tuple[datetime.date, datetime.date] | None:
    """The period of the report a schedule creates on `day`, if any."""
    if schedule.kind != ReportKind.SEMESTER:
        return report_period(schedule.kind, day)
    period = semester_period_due(schedule, day)
    return None if period is None else (period.start_date, period.end_date)


def reports_due(
    kind: str, day: datetime.date, *, only_missing: bool = False, consortia: Any = None
) -> list[tuple[ReportSchedule, datetime.date, datetime.date]]:
    """(schedule, start, end) of each `kind` report the consortia's schedules create on `day`:
    enabled schedules of consortia reported that day. With `only_missing`, reports already in
    the archive are left out. A query per consortium at most: a handful of them."""
    schedules = ReportSchedule.objects.filter(
        kind=kind, enabled=True, consortium__in=consortia_reported(day)
    ).select_related("consortium")
    if consortia is not None:
        schedules = schedules.filter(consortium__in=consortia)
    due = []
    for schedule in schedules.order_by("consortium_id"):
        period = scheduled_period(schedule, day)
        if period is None:
            continue
        start, end = period
        if (
            only_missing
            and Report.objects.filter(
                kind=kind, consortium_id=schedule.consortium_id, period_start=start, period_end=end
            ).exists()
        ):
            continue
        due.append((schedule, start, end))
    return due


@transaction.atomic
def report_schedules_ensure(consortia: Any = None) -> int:
    """Give each consortium (or those given) a schedule of each report kind it lacks: enabled,
    and reviewed by a coordinator before it goes. Returns how many were created."""
    consortia = Consortium.objects.all() if consortia is None else consortia
    existing = set(ReportSchedule.objects.values_list("consortium_id", "kind"))
    missing = [
        ReportSchedule(consortium_id=consortium_id, kind=kind)
        for consortium_id in consortia.values_list("pk", flat=True)
        for kind in ReportKind.values
        if (consortium_id, kind) not in existing
    ]
    if not missing:
        return 0
    ReportSchedule.objects.bulk_create(missing, ignore_conflicts=True)
    # Rows created with ignore_conflicts come back without their ids: read those that have no
    # history yet (another process may have made some of them), and record their creation as a
    # save() would.
    made = Q()
    for schedule in missing:
        made |= Q(consortium_id=schedule.consortium_id, kind=schedule.kind)
    created = (
        ReportSchedule.objects.filter(made)
        .exclude(pk__in=ReportSchedule.history.values("id"))
        .order_by("pk")
    )
    ReportSchedule.history.bulk_history_create(list(created))
    return len(missing)


def _replace(field: Any, name: str, content: bytes) -> None:
    """Save the new file under a name of its own; delete the old one once the new document is
    committed, so that a rollback never leaves a document pointing at a deleted file."""
    old_name, storage = field.name, field.storage
    field.save(name, ContentFile(content), save=False)
    if old_name:
        transaction.on_commit(partial(storage.delete, old_name))


def _consortium_locked(consortium: Consortium) -> None:
    """Lock a consortium's row against other writers of its reports. (Without the key: rows that
    merely point at the consortium are still written meanwhile.)"""
    Consortium.objects.select_for_update(no_key=True).filter(pk=consortium.pk).order_by().first()


def _report_locked(*, user: Any, **key: Any) -> Report:
    """The report of `key` (kind, consortium, period), locked; created pending if new.

    One lock order everywhere: the consortium's row, then the report's. A report is created
    under its consortium's lock, so that two callers never both insert it; a worker rendering an
    existing report locks the report's row alone (the default ordering would join and lock the
    consortium too), so no two transactions wait for each other in opposite orders."""
    reports = Report.objects.select_for_update(of=("self",)).filter(**key).order_by("pk")
    report = reports.first()
    if report is None:
        _consortium_locked(key["consortium"])
        report = reports.first()
    if report is None:
        report = Report(**key)
        report.full_clean()
        save_with_history(report, user=user)
    return report


@transaction.atomic
def report_generate(
    *,
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    since: datetime.datetime | None = None,
    user: Any = None,
    only_if_missing: bool = False,
) -> Report:
    """Compute and render one report into the archive, in every shipped language (HTML, text,
    XLSX, PDF and chart). Idempotent per kind, consortium and period: running it again refreshes
    the same report's documents, until it has gone to someone (what was sent is kept).
    `since` defaults to the end of the previous report's period."""
    authorize(user, Report(consortium=consortium), "manage")
    report = _report_locked(
        user=user,
        kind=kind,
        consortium=consortium,
        period_start=period_start,
        period_end=period_end,
    )
    if only_if_missing and report.generated_at is not None:
        return report  # Another worker generated it while this one waited for the lock.
    if ReportDelivery.objects.filter(report=report, status=DeliveryStatus.SENT).exists():
        raise ValidationError(
            gettext(
                "This report has gone to some of its recipients already: its documents are "
                "kept as they were sent."
            ),
            code="report_sent",
        )
    existing = {
        document.language: document for document in ReportDocument.objects.filter(report=report)
    }
    rendered_reports = report_render(
        kind=kind,
        consortium=consortium,
        period_start=period_start,
        period_end=period_end,
        since=since,
    )
    for rendered in rendered_reports:
        document = existing.get(rendered.language) or ReportDocument(
            report=report, language=rendered.language
        )
        document.html, document.text = rendered.html, rendered.text
        name = report_file_name(report, rendered.language)
        _replace(document.xlsx, f"{name}.xlsx", rendered.xlsx)
        _replace(document.pdf, f"{name}.pdf", rendered.pdf)
        _replace(document.chart, f"{name}.png", rendered.chart)
        document.save()
    if report.status in (ReportStatus.PENDING, ReportStatus.FAILED):
        report.status = ReportStatus.GENERATED
    report.generated_at = timezone.now()
    report.error = ""
    save_with_history(report, user=user)
    return report


@transaction.atomic
def report_schedule(
    *,
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    user: Any = None,
    release: bool = False,
) -> Report:
    """The report of a period, created pending if new: a draft for the coordinators to read and
    send, or, with `release` (a schedule set to send without review, a coordinator who asked
    for it), sent for delivery at once, with one delivery per recipient (added when missing,
    never twice). Generating and sending are the tasks' work."""
    authorize(user, Report(consortium=consortium), "manage")
    # Two beats firing at once wait for each other here rather than racing for the same report.
    _consortium_locked(consortium)
    report = _report_locked(
        user=user,
        kind=kind,
        consortium=consortium,
        period_start=period_start,
        period_end=period_end,
    )
    if release and report.released_at is None:
        report.released_at, report.released_by = timezone.now(), user
        save_with_history(report, user=user)
    report_deliveries_plan(report=report, user=user)
    return report


@transaction.atomic
def report_release(*, report: Report, user: Any) -> list[ReportDelivery]:
    """A coordinator sends a report they have read to its recipients; sent again, it goes to
    those who have not had it yet (failed deliveries get another round of attempts), never twice
    to anyone. The history keeps who sent it and when. Returns the deliveries still to send."""
    report = Report.objects.select_for_update(of=("self",)).get(pk=report.pk)
    authorize(user, report, "manage")
    if report.released_at is None:
        if report.generated_at is None:
            raise ValidationError(
                gettext(
                    "This report is still being generated: read it before sending it, in a "
                    "minute or two."
                ),
                code="report_not_generated",
            )
        report.released_at, report.released_by = timezone.now(), user
        save_with_history(report, user=user)
    return report_resend(report=report, user=user)


def report_failure_record(*, report: Report, error: str) -> None:
    """A report that could not be generated: its error is shown in the admin."""
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        report.status, report.error = ReportStatus.FAILED, error[:2000]
        save_with_history(report, user=None)


def consortia_reported(today: datetime.date | None = None) -> QuerySet[Consortium]:
    """Consortia that receive scheduled reports on `today`: those running or ended within a
    year."""
    today = today or timezone.localdate()
    return Consortium.objects.filter(
        start_date__lte=today, end_date__gte=today - datetime.timedelta(days=365)
    ).order_by("pk")


def _report_new(report: Report, *, user: Any, related: dict[str, Any]) -> Report:
    return report_schedule(
        kind=report.kind,
        consortium=report.consortium,
        period_start=report.period_start,
        period_end=report.period_end,
        user=user,
    )


def _report_kept(report: Report, *, user: Any, changes: dict[str, Any]) -> Report:
    if changes:
        raise ValidationError(
            gettext("A report is regenerated or sent again, never edited."), code="report_kept"
        )
    return report


write_rule_register(Report, WriteRule(create=_report_new, update=_report_kept))


write_rule_register(
    ReportSchedule,
    WriteRule(
        fixed=keeps(
            ("consortium", "kind"), gettext_noop("A schedule stays with its consortium and report.")
        )
    ),
)


write_rule_register(
    ReportRecipient,
    WriteRule(
        fixed=keeps(("consortium",), gettext_noop("An address stays in its consortium.")),
        # An address, not a financial row: its history keeps who removed it.
        deletable=lambda recipient: None,
    ),
)
