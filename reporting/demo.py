"""What the demo partnership gets from the reporting app: its default schedules, a funder's
address among the recipients, its people's languages, last week's and last month's reports in
the archive waiting for the coordinators' review, and the last ended period's semester report,
sent by the coordinator."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from consortium.models import Consortium, Profile
from consortium.records import save_with_history
from reporting.choices import ReportKind
from reporting.models import Report, ReportRecipient
from reporting.schedules import ensure_default_schedules
from reporting.services import (
    last_ended_period,
    report_generate,
    report_period,
    report_release,
    report_schedule,
)

FUNDER_ADDRESS = "suivi-pit@region.demo"
# partner2 is francophone; everyone else reads the default language.
LANGUAGES = {"partner2": "fr", "observer": "fr"}


@transaction.atomic
def build_reporting_demo(consortium: Consortium, coordinator: Any) -> list[Report]:
    ensure_default_schedules()
    for username, language in LANGUAGES.items():
        user = get_user_model().objects.get(username=username)
        profile = Profile(user=user, language=language)
        save_with_history(profile, user=coordinator)
    recipient = ReportRecipient(
        consortium=consortium,
        email=FUNDER_ADDRESS,
        name="Région wallonne – suivi PIT",
        language="fr",
    )
    recipient.full_clean()
    save_with_history(recipient, user=coordinator)
    today = timezone.localdate()
    reports = []
    # Last week's and last month's reports, waiting for the coordinators to read and send them.
    for kind in (ReportKind.PROGRESS, ReportKind.JOBS):
        start, end = report_period(kind, today)
        report_schedule(
            kind=kind, consortium=consortium, period_start=start, period_end=end, user=coordinator
        )
        reports.append(
            report_generate(
                kind=kind,
                consortium=consortium,
                period_start=start,
                period_end=end,
                user=coordinator,
            )
        )
    # The semester report of the last ended reporting period, read and sent by the coordinator:
    # the region finds it in its archive (its emails leave once a worker runs).
    period = last_ended_period(consortium, today)
    if period is not None:
        key: dict[str, Any] = {
            "kind": ReportKind.SEMESTER,
            "consortium": consortium,
            "period_start": period.start_date,
            "period_end": period.end_date,
        }
        report_schedule(**key, user=coordinator)
        semester = report_generate(**key, user=coordinator)
        report_release(report=semester, user=coordinator)
        semester.refresh_from_db()
        reports.append(semester)
    return reports
