"""The funder's pages: the region's observers (and the consortium's coordinators) read each
consortium they oversee, server-rendered like the partner pages and without a script.

`/funder/` lists the consortia a person oversees (one: straight to it); `/funder/<id>/` is a
consortium's overview as of today, or as of the end of an ended reporting period the reader picks
(`?period=<id>`: the costs of the periods ended by then, jobs and deliverables by their dates,
time elapsed at that day):

- budget planned, granted and consumed against time elapsed per partner, per workpackage and per
  cost heading; the subsidy due to each partner (`subsidy_due_by_partner`);
- jobs per partner against its commitments and the consortium's targets, and per reporting
  period; the jobs trajectory and the budget consumed against time elapsed, as PNG images drawn
  by the reports' chart code (`reporting/charts.py`), served by the two chart views below;
- each deliverable and milestone with its state, due date and lateness on that day;
- a link to each ended period's expense statements, and the consortium's report archive, each
  report read in the page's language (`funder_report`, the admin's document view for readers
  who are not in the admin) or downloaded as PDF and XLSX through the protected media view.

The figures are computed by the database in a constant number of queries, accepted costs only:
a partner's draft counts nowhere. A consortium the person does not oversee, a period or a report
that is not this consortium's, is a 404. The pages speak French to a reader who chose no
language (the region's language); the language switch changes it like anywhere else.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from consortium.memo import repeated_reads
from consortium.middleware import SESSION_LANGUAGE
from consortium.models import Consortium, Profile, ReportingPeriod
from reporting import charts
from reporting.models import Report, ReportDocument
from reporting.rendering import CHART_CID
from reporting.selectors import jobs_report
from workpackages.jobs.selectors import jobs_by_partner, jobs_by_period
from workpackages.money.selectors import budget_by_heading, subsidy_due_by_partner
from workpackages.overview.selectors import (
    ConsortiumSummary,
    consortium_summary,
    consumed_by_period_end,
    deliverable_lines,
    milestone_lines,
)
from workpackages.workplan.choices import MilestoneStatus
from workpackages.workplan.models import Deliverable, Milestone

# The region's language: what the funder's pages speak to a reader who chose none.
FUNDER_LANGUAGE = "fr"
REPORTS_PER_PAGE = 10
# The report as its recipients read it: its own inline styles, its chart from the archive.
DOCUMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def chosen_language(request: HttpRequest) -> str | None:
    """The language the reader chose, if they chose one: with the language switch (kept in the
    session, and in a cookie before signing in) or in their profile. The browser's
    `Accept-Language` is no choice."""
    languages = {code for code, _name in settings.LANGUAGES}
    session = getattr(request, "session", None)
    chosen = session.get(SESSION_LANGUAGE) if session is not None else None
    if chosen in languages:
        return str(chosen)
    if request.user.pk is not None:
        profile = Profile.objects.filter(user_id=request.user.pk).values_list("language", flat=True)
        if (mine := profile.first()) in languages:
            return str(mine)
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return cookie if cookie in languages else None


def funder_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page of the funder's space: read-only (GET and HEAD), for a signed-in person, in the
    language they chose, else in French."""

    @require_safe
    @login_required
    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A chart embedded in another page (the coordinators' dashboard) speaks that page's
        # language, which the page names in the chart's address.
        embedded = request.GET.get("language")
        if embedded not in {code for code, _name in settings.LANGUAGES}:
            if chosen_language(request) is not None:
                return view(request, *args, **kwargs)
            embedded = FUNDER_LANGUAGE
        with translation.override(embedded):
            request.LANGUAGE_CODE = embedded
            response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Language", embedded)
        return response

    return page


def overseen(user: Any) -> QuerySet[Consortium]:
    """The consortia whose funder pages the person reads, by acronym."""
    return Consortium.objects.overseen_by(user).order_by("acronym")


@funder_page
def funder_index(request: HttpRequest) -> HttpResponse:
    consortia = list(overseen(request.user))
    if len(consortia) == 1:
        return redirect("funder-overview", pk=consortia[0].pk)
    return render(
        request,
        "portal/funder/index.html",
        {"consortia": consortia},
        status=200 if consortia else 404,
    )


def ended_periods(consortium: Consortium) -> list[ReportingPeriod]:
    """The consortium's reporting periods ended by today, the latest first: those whose end a
    reader may pick."""
    return list(
        ReportingPeriod.objects.filter(
            consortium_id=consortium.pk, end_date__lt=timezone.localdate()
        ).order_by("-end_date")
    )


def _picked(
    request: HttpRequest, pk: int
) -> tuple[Consortium, list[ReportingPeriod], ReportingPeriod | None]:
    """The consortium the person oversees, its ended periods, and the one `?period=` picks."""
    consortium = get_object_or_404(overseen(request.user), pk=pk)
    periods = ended_periods(consortium)
    chosen = request.GET.get("period", "")
    period = None
    if chosen:
        # A period that is not one of this consortium's ended ones is as absent as any other row.
        period = next((p for p in periods if str(p.pk) == chosen), None)
        if period is None:
            raise Http404
    return consortium, periods, period


def _reports(request: HttpRequest, consortium: Consortium) -> Any:
    """The page of the consortium's report archive the reader asked for (`?reports=`), newest
    first, each report with its documents (without their bodies) and the one in the page's
    language, or else its first, as `shown`."""
    reports = (
        # What the funder reads: the reports sent, also when a coordinator looks at the page.
        Report.objects.restrict(request.user, "view")
        .filter(consortium_id=consortium.pk, released_at__isnull=False)
        .order_by("-period_end", "-period_start", "kind", "-pk")
        .prefetch_related(
            Prefetch(
                "documents",
                queryset=ReportDocument.objects.only(
                    "pk", "report_id", "language", "pdf", "xlsx"
                ).order_by("language"),
            )
        )
    )
    page = Paginator(reports, REPORTS_PER_PAGE).get_page(request.GET.get("reports"))
    language = translation.get_language()
    for report in page:
        documents = list(report.documents.all())
        report.shown = next(
            (document for document in documents if document.language == language),
            documents[0] if documents else None,
        )
    return page


def _jobs_alt(summary: ConsortiumSummary, day: datetime.date) -> str:
    jobs = summary.dashboard.jobs
    if jobs is None:
        return ""
    return gettext(
        "Jobs created, cumulated, against the targets, as of %(day)s: %(direct)s direct jobs "
        "realised of a target of %(direct_target)s, %(indirect)s indirect jobs realised of a "
        "target of %(indirect_target)s."
    ) % {
        "day": date_format(day, "DATE_FORMAT"),
        "direct": number_format(jobs.direct_realised, force_grouping=True),
        "direct_target": number_format(jobs.direct_target, force_grouping=True),
        "indirect": number_format(jobs.indirect_realised, force_grouping=True),
        "indirect_target": number_format(jobs.indirect_target, force_grouping=True),
    }


def _budget_alt(summary: ConsortiumSummary, day: datetime.date) -> str:
    board = summary.dashboard
    return gettext(
        "Budget consumed against time elapsed, as of %(day)s: EUR %(consumed)s consumed of "
        "EUR %(planned)s planned (%(consumption)s %%), %(elapsed)s %% of the time elapsed."
    ) % {
        "day": date_format(day, "DATE_FORMAT"),
        "consumed": number_format(board.consumed, 2, force_grouping=True),
        "planned": number_format(board.planned, 2, force_grouping=True),
        "consumption": number_format(board.consumption or 0, 1),
        "elapsed": number_format(board.time_elapsed or 0, 1),
    }


@funder_page
def funder_overview(request: HttpRequest, pk: int) -> HttpResponse:
    # The budget by partner, by heading and the subsidy add up the same lines: read once.
    with repeated_reads():
        return _overview(request, pk)


def _overview(request: HttpRequest, pk: int) -> HttpResponse:
    consortium, periods, period = _picked(request, pk)
    until = period.end_date if period else None
    summary = consortium_summary(consortium, until=until)
    day = summary.today or timezone.localdate()
    board = summary.dashboard
    milestones = [
        (label, summary.milestones_by_status.get(value, 0))
        for value, label in MilestoneStatus.choices
    ]
    partner_jobs = jobs_by_partner(consortium, until=until)
    query = f"?period={period.pk}" if period else ""
    return render(
        request,
        "portal/funder/overview.html",
        {
            "consortium": consortium,
            "summary": summary,
            "board": board,
            "milestones": milestones,
            "several": overseen(request.user).count() > 1,
            "periods": periods,
            "period": period,
            "day": day,
            "query": query,
            "by_heading": budget_by_heading(consortium, until=until),
            "subsidy": subsidy_due_by_partner(consortium, until=until),
            "partner_jobs": partner_jobs,
            "committed_direct": sum(row.direct.committed for row in partner_jobs),
            "committed_indirect": sum(row.indirect.committed for row in partner_jobs),
            "period_jobs": jobs_by_period(consortium, until=until),
            "deliverables": deliverable_lines(
                Deliverable.objects.restrict(request.user, "view").filter(
                    consortium_id=consortium.pk
                ),
                day,
                as_of=period is not None,
            ),
            "milestone_rows": milestone_lines(
                Milestone.objects.restrict(request.user, "view").filter(
                    consortium_id=consortium.pk
                ),
                day,
                as_of=period is not None,
            ),
            "reports": _reports(request, consortium),
            "jobs_alt": _jobs_alt(summary, day),
            "budget_alt": _budget_alt(summary, day),
        },
    )


@funder_page
def funder_report(request: HttpRequest, pk: int, report_pk: int, language: str) -> HttpResponse:
    """A report of the archive as its recipients read it, the chart served from the archive
    (as the admin's `ReportAdmin.document_view` shows it)."""
    consortium = get_object_or_404(overseen(request.user), pk=pk)
    document = (
        ReportDocument.objects.filter(
            report__in=Report.objects.restrict(request.user, "view").filter(
                consortium_id=consortium.pk
            ),
            report_id=report_pk,
            language=language,
        )
        .select_related("report")
        .first()
    )
    if document is None:
        raise Http404
    html = document.html
    if document.chart:
        html = html.replace(f'src="cid:{CHART_CID}"', f'src="{document.chart.url}"')
    response = HttpResponse(html)
    response["Content-Security-Policy"] = DOCUMENT_CSP
    response["Content-Language"] = document.language
    patch_cache_control(response, private=True)
    return response


def _png(image: bytes) -> HttpResponse:
    response = HttpResponse(image, content_type="image/png")
    patch_cache_control(response, private=True)
    return response


@funder_page
def funder_jobs_chart(request: HttpRequest, pk: int) -> HttpResponse:
    """Realised jobs cumulated month by month against the targets' trajectories, up to today or
    to the end of the period picked."""
    consortium, _periods, period = _picked(request, pk)
    day = period.end_date if period else timezone.localdate()
    return _png(charts.jobs_trajectory(jobs_report(consortium, as_of=day).trajectory))


@funder_page
def funder_budget_chart(request: HttpRequest, pk: int) -> HttpResponse:
    """The budget consumed at each ended period's end (and today) against the time elapsed."""
    consortium, _periods, period = _picked(request, pk)
    points = consumed_by_period_end(consortium, until=period.end_date if period else None)
    return _png(charts.budget_against_time(points, consortium.start_date, consortium.end_date))


urlpatterns = [
    path("funder/", funder_index, name="funder"),
    path("funder/<int:pk>/", funder_overview, name="funder-overview"),
    path("funder/<int:pk>/charts/jobs.png", funder_jobs_chart, name="funder-jobs-chart"),
    path("funder/<int:pk>/charts/budget.png", funder_budget_chart, name="funder-budget-chart"),
    path(
        "funder/<int:pk>/reports/<int:report_pk>/<str:language>/",
        funder_report,
        name="funder-report",
    ),
]
