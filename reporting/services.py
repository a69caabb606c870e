"""Writes of the report archive and of the emails it sends.

A report exists once per kind, consortium and period; generating it again refreshes its documents
(one per shipped language). Each recipient of a report, and each partner user's daily digest, is a
row sent at most once: the row is locked while its email goes out and marked sent in the same
transaction, so a task delivered twice, or a second beat firing, finds it sent and stops.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from consortium import dates
from consortium.choices import ConsortiumRoleKind, PartnerStatus
from consortium.models import Consortium, Membership, Profile, language_of
from consortium.querysets import authorize
from consortium.records import WriteRule, keeps, save_with_history, write_rule_register
from workpackages.jobs.choices import JobImpact
from workpackages.workplan.models import Deliverable, open_deliverable, overdue_deliverable

from . import charts, emails, spreadsheets
from .choices import DeliveryStatus, ReportKind, ReportStatus
from .models import ReminderDigest, Report, ReportDelivery, ReportDocument, ReportRecipient
from .selectors import JobsReport, ProgressReport, _moment, jobs_report, progress_report

logger = logging.getLogger(__name__)

CHART_CID = "chart"
# Days before a deliverable's due date on which its partner's people are reminded of it.
REMINDER_DAYS = (30, 7, 1)


class InlineImages(URLFetcher):
    """WeasyPrint reads the chart from memory (`cid:chart`, as in the email) and fetches nothing
    else: a report never reaches the network or the disk while it is rendered."""

    def __init__(self, images: dict[str, bytes]) -> None:
        super().__init__(allowed_protocols=["cid"])
        self.images = images

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        name = url.removeprefix("cid:")
        if not url.startswith("cid:") or name not in self.images:
            raise ValueError(f"Reports embed only their own images, not {url}")
        return URLFetcherResponse(url, self.images[name], {"Content-Type": "image/png"})


def report_period(kind: str, day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last complete period before `day`: the previous Monday-to-Sunday week for the
    progress report, the previous calendar month for the jobs-created report."""
    if kind == ReportKind.PROGRESS:
        start = day - datetime.timedelta(days=day.weekday() + 7)
        return start, start + datetime.timedelta(days=6)
    first = dates.add_months(day.replace(day=1), -1)
    return first, day.replace(day=1) - datetime.timedelta(days=1)


def _previous_end(
    kind: str, consortium: Consortium, start: datetime.date
) -> datetime.datetime | None:
    """The end of the previous report's period: "since the previous report" starts there."""
    previous = (
        Report.objects.filter(kind=kind, consortium=consortium, period_end__lt=start)
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
        pdf = HTML(string=html, url_fetcher=InlineImages({CHART_CID: chart})).write_pdf()
        rendered.append(Rendered(language, html, text, workbook, pdf, chart))
    return rendered


def report_file_name(report: Any, language: str) -> str:
    return (
        f"{report.kind}-{report.consortium.acronym}-"
        f"{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}-{language}"
    )


def _replace(field: Any, name: str, content: bytes) -> None:
    """Save the new file under a name of its own; delete the old one once the new document is
    committed, so that a rollback never leaves a document pointing at a deleted file."""
    old_name, storage = field.name, field.storage
    field.save(name, ContentFile(content), save=False)
    if old_name:
        transaction.on_commit(partial(storage.delete, old_name))


def _report_locked(*, user: Any, **key: Any) -> Report:
    """The report of `key` (kind, consortium, period), locked; created pending if new."""
    report = Report.objects.select_for_update().filter(**key).first()
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


def _valid_address(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        logger.warning("Reports skip the invalid address %r", email)
        return False
    return True


def report_recipients(report: Report) -> list[tuple[str, str]]:
    """Who receives a report, as (address, language): the consortium's active coordinators with
    an address, then the extra addresses configured for this kind of report."""
    users = (
        get_user_model()
        .objects.filter(
            is_active=True,
            consortium_roles__consortium_id=report.consortium_id,
            consortium_roles__kind=ConsortiumRoleKind.COORDINATOR,
            consortium_roles__is_active=True,
        )
        .exclude(email="")
        .select_related("profile")
        .order_by("pk")
    )
    found: dict[str, str] = {}
    for user in users:
        if _valid_address(user.email):
            found.setdefault(user.email.lower(), language_of(user))
    wanted = "progress_report" if report.kind == ReportKind.PROGRESS else "jobs_report"
    extra = ReportRecipient.objects.filter(
        consortium_id=report.consortium_id, is_active=True, **{wanted: True}
    )
    for recipient in extra.order_by("pk"):
        found.setdefault(recipient.email.lower(), recipient.language)
    return list(found.items())


@transaction.atomic
def report_schedule(
    *,
    kind: str,
    consortium: Consortium,
    period_start: datetime.date,
    period_end: datetime.date,
    user: Any = None,
) -> Report:
    """The report of a period, created pending if new, with one delivery per recipient (added
    when missing, never twice). Generating and sending are the tasks' work."""
    authorize(user, Report(consortium=consortium), "manage")
    # Two beats firing at once wait for each other here rather than racing for the same report.
    Consortium.objects.select_for_update().filter(pk=consortium.pk).first()
    report = _report_locked(
        user=user,
        kind=kind,
        consortium=consortium,
        period_start=period_start,
        period_end=period_end,
    )
    report_deliveries_plan(report=report, user=user)
    return report


@transaction.atomic
def report_deliveries_plan(*, report: Report, user: Any = None) -> list[ReportDelivery]:
    """Add a pending delivery for each recipient who has none yet; return those still to send."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    planned = set(report.deliveries.values_list("email", flat=True))
    added = 0
    for email, language in report_recipients(report):
        if email not in planned:
            delivery = ReportDelivery(report=report, email=email, language=language)
            save_with_history(delivery, user=user)
            added += 1
    if added and report.status == ReportStatus.SENT:
        # A recipient added since it went out: the report is not sent to everyone any more.
        report.status = ReportStatus.GENERATED
        save_with_history(report, user=user)
    return list(report.deliveries.filter(status=DeliveryStatus.PENDING).order_by("pk"))


@transaction.atomic
def report_resend(*, report: Report, user: Any) -> list[ReportDelivery]:
    """ "Send now" from the admin: failed deliveries get another round of attempts and every
    recipient without a sent email gets one. Recipients already served are not mailed again."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    authorize(user, report, "manage")
    for delivery in report.deliveries.filter(status=DeliveryStatus.FAILED):
        delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
        save_with_history(delivery, user=user)
    if report.status == ReportStatus.FAILED:
        report.status = ReportStatus.GENERATED if report.generated_at else ReportStatus.PENDING
    report.queued_at = None  # Until the queue takes it again, the dispatcher looks after it.
    save_with_history(report, user=user)
    return report_deliveries_plan(report=report, user=user)


def _settle(report_id: int) -> None:
    """A report is sent once every recipient has their email, failed once one has given up."""
    report = Report.objects.select_for_update().get(pk=report_id)
    statuses = set(report.deliveries.values_list("status", flat=True))
    before = (report.status, report.error)
    if DeliveryStatus.FAILED in statuses:
        report.status = ReportStatus.FAILED
        failed = report.deliveries.filter(status=DeliveryStatus.FAILED).first()
        report.error = f"{failed.email}: {failed.last_error}" if failed else ""
    elif statuses == {DeliveryStatus.SENT}:
        report.status = ReportStatus.SENT
        report.sent_at = report.sent_at or timezone.now()
        report.error = ""
    if (report.status, report.error) != before:
        save_with_history(report, user=None)


def _deliver(
    model: type[ReportDelivery] | type[ReminderDigest],
    pk: int,
    build: Callable[[Any], Any],
    *,
    final: bool,
    wanted: Callable[[Any], bool] = lambda row: True,
) -> bool:
    """Send one row's email unless it went already, failed for good or is no longer `wanted`.
    The row stays locked from the check to the mark, so two workers holding the same task send
    it once. An SMTP or connection error is recorded on the row and raised again for the task to
    retry, or, on the `final` attempt, marks the row failed; any other error (a document gone
    missing) fails the row at once. Returns whether an email left now."""
    failure: Exception | None = None
    retry = False
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        if row.status != DeliveryStatus.PENDING:
            return False
        if not wanted(row):
            row.status = DeliveryStatus.CANCELLED
            row.save(update_fields=["status", "updated_at"])
            return False
        row.attempts += 1
        try:
            build(row).send()
        except emails.SEND_ERRORS as error:
            failure, retry = error, not final
        except Exception as error:  # Recorded on the row, and raised again below.
            failure = error
        if failure is None:
            row.status, row.sent_at, row.last_error = DeliveryStatus.SENT, timezone.now(), ""
        else:
            row.last_error = f"{type(failure).__name__}: {failure}"[:2000]
            row.status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        row.save(update_fields=["attempts", "last_error", "status", "sent_at", "updated_at"])
    # Raised after the commit, so that the attempt and its error stay recorded.
    if failure is not None and (retry or not isinstance(failure, emails.SEND_ERRORS)):
        raise failure
    return failure is None


def delivery_send(*, delivery_id: int, final: bool = True) -> bool:
    """Email a report to one recipient, at most once."""
    try:
        sent = _deliver(ReportDelivery, delivery_id, emails.report_message, final=final)
    finally:
        with transaction.atomic():
            report_id = ReportDelivery.objects.values_list("report_id", flat=True).get(
                pk=delivery_id
            )
            _settle(report_id)
    return sent


def report_failure_record(*, report: Report, error: str) -> None:
    """A report that could not be generated: its error is shown in the admin."""
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        report.status, report.error = ReportStatus.FAILED, error[:2000]
        save_with_history(report, user=None)


def consortia_reported() -> Iterable[Consortium]:
    """Consortia that receive scheduled reports: those still running or ended within a year."""
    today = timezone.localdate()
    return Consortium.objects.filter(
        start_date__lte=today, end_date__gte=today - datetime.timedelta(days=365)
    ).order_by("pk")


# Deadline reminders ------------------------------------------------------------------------


def reminders_plan(*, day: datetime.date | None = None) -> list[ReminderDigest]:
    """Plan today's digests: one per partner user who has deliverables of their partner due in
    30, 7 or 1 days or overdue, has an address and hasn't opted out. Planning again the same day
    adds nobody twice. Five queries whatever the number of partners, people or deliverables."""
    day = day or timezone.localdate()
    reminded = [day + datetime.timedelta(days=n) for n in REMINDER_DAYS]
    deliverables = (
        Deliverable.objects.filter(
            (open_deliverable() & Q(due_date__in=reminded)) | overdue_deliverable(day),
            consortium__end_date__gte=day - datetime.timedelta(days=365),
        )
        .select_related("consortium", "workpackage")
        .order_by("due_date", "pk")
    )
    by_partner: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for deliverable in deliverables:
        by_partner[deliverable.lead_partner_id].append(
            {
                "id": deliverable.pk,
                "code": deliverable.code,
                "title": deliverable.title,
                "consortium": deliverable.consortium.acronym,
                "due_date": deliverable.due_date.isoformat(),
                "days": (deliverable.due_date - day).days,
            }
        )
    memberships = (
        Membership.objects.filter(
            is_active=True,
            partner_id__in=list(by_partner),
            partner__status=PartnerStatus.ACTIVE,
            user__is_active=True,
        )
        .exclude(user__email="")
        .exclude(user__profile__deadline_reminders=False)
        .select_related("user__profile")
        .order_by("user_id", "partner_id")
    )
    items: dict[int, list[dict[str, Any]]] = defaultdict(list)
    people: dict[int, Any] = {}
    for membership in memberships:
        people[membership.user_id] = membership.user
        items[membership.user_id].extend(by_partner[membership.partner_id])
    planned = set(
        ReminderDigest.objects.filter(day=day, user_id__in=list(people)).values_list(
            "user_id", flat=True
        )
    )
    digests = [
        ReminderDigest(
            user_id=user_id,
            day=day,
            email=people[user_id].email,
            language=language_of(people[user_id]),
            items=items[user_id],
        )
        for user_id in people
        if user_id not in planned
    ]
    ReminderDigest.objects.bulk_create(digests, ignore_conflicts=True)
    # Rows created with ignore_conflicts come back without their ids: read them again, and
    # record their creation in the history as a save() would.
    created = list(
        ReminderDigest.objects.filter(
            day=day, user_id__in=[digest.user_id for digest in digests]
        ).order_by("pk")
    )
    if created:
        ReminderDigest.history.bulk_history_create(created)
    return created


def _still_reminded(digest: ReminderDigest) -> bool:
    """Whether the person still wants the digest: they may have opted out or left since 08:00."""
    user = get_user_model().objects.select_related("profile").get(pk=digest.user_id)
    profile = getattr(user, "profile", None)
    return user.is_active and (profile is None or profile.deadline_reminders)


def reminder_send(*, digest_id: int, final: bool = True) -> bool:
    """Email one planned digest, at most once, unless its reader opted out in the meantime."""
    return _deliver(
        ReminderDigest, digest_id, emails.reminder_message, final=final, wanted=_still_reminded
    )


@transaction.atomic
def reminders_opt_out(*, user: Any) -> None:
    """Stop the daily digest for `user` (from the link in every digest)."""
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    if profile.deadline_reminders:
        profile.deadline_reminders = False
        save_with_history(profile, user=user)


# How the admin writes the archive and its recipients (`consortium/records.py`).


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
    ReportRecipient,
    WriteRule(
        fixed=keeps(("consortium",), gettext_noop("An address stays in its consortium.")),
        # An address, not a financial row: its history keeps who removed it.
        deletable=lambda recipient: None,
    ),
)
