"""`manage.py send_report progress|jobs|semester [--consortium ACRONYM] [--period START:END]
[--dry-run]`: a report made and sent now, without waiting for its schedule or needing a Celery worker."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consortium.models import Consortium
from reporting.choices import ReportKind
from reporting.emails import SEND_ERRORS
from reporting.management.translated import TranslatedHelpCommand
from reporting.models import Report, ReportSchedule
from reporting.outbox import delivery_send, report_resend
from reporting.rendering import report_file_name, report_render
from reporting.services import (
    consortia_reported,
    last_ended_period,
    report_generate,
    report_period,
    report_schedule,
)


def parse_period(value: str) -> tuple[datetime.date, datetime.date]:
    try:
        start, end = (datetime.date.fromisoformat(part) for part in value.split(":"))
    except ValueError as error:
        raise CommandError(
            _("--period must be START:END with ISO dates, e.g. 2026-10-01:2026-10-31.")
        ) from error
    if end < start:
        raise CommandError(_("The period ends before it starts."))
    return start, end


class Command(TranslatedHelpCommand):
    help = cast(
        str,
        gettext_lazy(
            "Generate a progress, jobs-created or semester report now and email it to its "
            "recipients, or leave it for the coordinators to read and send where the "
            "consortium's schedule asks for review (unless --without-review). With --dry-run, "
            "write its HTML, XLSX and PDF to a folder and send nothing."
        ),
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ReportKind.values)
        parser.add_argument(
            "--consortium",
            metavar="ACRONYM",
            help=_("Only this consortium (default: every running consortium)."),
        )
        parser.add_argument(
            "--period",
            metavar="START:END",
            help=_(
                "The period, e.g. 2026-10-01:2026-10-31 (default: the last complete week or month)."
            ),
        )
        parser.add_argument(
            "--without-review",
            action="store_true",
            help=_(
                "Send it even where the consortium's coordinators review its reports before "
                "they go."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Write the files and print where; archive nothing and send nothing."),
        )
        parser.add_argument(
            "--output",
            metavar="FOLDER",
            help=_("Where the dry run writes (default: var/reports-dry-run/)."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"]
        period = parse_period(options["period"]) if options["period"] else None
        if options["consortium"]:
            consortia = list(Consortium.objects.filter(acronym=options["consortium"]))
            if not consortia:
                raise CommandError(
                    _("No consortium has the acronym %(acronym)s.")
                    % {"acronym": options["consortium"]}
                )
        else:
            consortia = list(consortia_reported())
        for consortium in consortia:
            if period is not None:
                start, end = period
            elif kind == ReportKind.SEMESTER:
                latest = last_ended_period(consortium, timezone.localdate())
                if latest is None:
                    continue  # No reporting period has ended yet.
                start, end = latest.start_date, latest.end_date
            else:
                start, end = report_period(kind, timezone.localdate())
            schedule = ReportSchedule.objects.filter(consortium=consortium, kind=kind).first()
            if not options["consortium"] and schedule is not None and not schedule.enabled:
                continue  # This consortium doesn't receive this report.
            try:
                Report(kind=kind, consortium=consortium, period_start=start, period_end=end).clean()
            except ValidationError as refused:
                raise CommandError(" ".join(refused.messages)) from refused
            if options["dry_run"]:
                self.dry_run(kind, consortium, start, end, options["output"])
                continue
            reviewed = schedule is None or schedule.review_first
            try:
                self.send(
                    kind, consortium, start, end, release=options["without_review"] or not reviewed
                )
            except ValidationError as refused:
                raise CommandError(" ".join(refused.messages)) from refused

    def dry_run(
        self,
        kind: str,
        consortium: Consortium,
        start: datetime.date,
        end: datetime.date,
        output: str | None,
    ) -> None:
        folder = Path(output) if output else settings.VAR_DIR / "reports-dry-run"
        folder.mkdir(parents=True, exist_ok=True)
        stub = Report(kind=kind, consortium=consortium, period_start=start, period_end=end)
        for rendered in report_render(
            kind=kind, consortium=consortium, period_start=start, period_end=end
        ):
            name = report_file_name(stub, rendered.language)
            for extension, content in (
                ("html", rendered.html.encode()),
                ("xlsx", rendered.xlsx),
                ("pdf", rendered.pdf),
                ("png", rendered.chart),
            ):
                path = folder / f"{name}.{extension}"
                path.write_bytes(content)
                self.stdout.write(str(path.resolve()))
        self.stdout.write(
            self.style.SUCCESS(
                _("Dry run: %(report)s written, nothing archived or sent.") % {"report": stub}
            )
        )

    def send(
        self,
        kind: str,
        consortium: Consortium,
        start: datetime.date,
        end: datetime.date,
        *,
        release: bool,
    ) -> None:
        report = report_schedule(
            kind=kind, consortium=consortium, period_start=start, period_end=end, release=release
        )
        try:
            report = report_generate(
                kind=kind, consortium=consortium, period_start=start, period_end=end
            )
        except ValidationError as kept:
            # Gone to some recipients already: the others get the documents as they were sent.
            self.stdout.write(" ".join(kept.messages))
        if report.released_at is None:
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "%(report)s: generated, waiting for a coordinator to read and send it "
                        "(--without-review sends it now)."
                    )
                    % {"report": report}
                )
            )
            return
        for delivery in report_resend(report=report, user=None):
            try:
                sent = delivery_send(delivery_id=delivery.pk, final=False)
            except SEND_ERRORS as error:
                self.stderr.write(
                    _("%(email)s: not sent (%(error)s); the task queue tries again later.")
                    % {"email": delivery.email, "error": error}
                )
            else:
                if sent:
                    self.stdout.write(_("%(email)s: sent.") % {"email": delivery.email})
        report.refresh_from_db()
        self.stdout.write(
            self.style.SUCCESS(
                _("%(report)s: %(status)s.")
                % {"report": report, "status": report.get_status_display()}
            )
        )
