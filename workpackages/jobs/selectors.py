"""Reads of the jobs: headcount and FTE by impact and status, against the targets and each
partner's commitment, in one query.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils.translation import gettext

from consortium.models import Consortium, Partner, ReportingPeriod
from workpackages.base import ZERO, percent
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord


@dataclass(frozen=True)
class Commitment:
    """A partner's jobs of one impact (direct or indirect) against what it committed to."""

    impact: str
    label: str
    committed: int
    realised: int = 0
    realised_fte: Decimal = ZERO
    forecast: int = 0
    forecast_fte: Decimal = ZERO

    @property
    def expected(self) -> int:
        return self.realised + self.forecast

    @property
    def expected_fte(self) -> Decimal:
        return self.realised_fte + self.forecast_fte

    @property
    def progress(self) -> Decimal | None:
        """Realised headcount as a percentage of the commitment."""
        return percent(self.realised, self.committed)

    @property
    def outlook(self) -> Decimal | None:
        """Realised and forecast headcount as a percentage of the commitment."""
        return percent(self.expected, self.committed)

    @property
    def bar_width(self) -> int:
        return min(int(self.progress or 0), 100)


@dataclass
class JobsFigures:
    """Jobs created in a consortium, by impact and status, against its targets."""

    direct_target: int
    indirect_target: int
    counts: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)

    def headcount(self, impact: str, status: str = JobStatus.REALISED) -> int:
        return self.counts.get((impact, status), (0, ZERO))[0]

    def fte(self, impact: str, status: str = JobStatus.REALISED) -> Decimal:
        return self.counts.get((impact, status), (0, ZERO))[1]

    @property
    def direct_realised(self) -> int:
        return self.headcount(JobImpact.DIRECT)

    @property
    def indirect_realised(self) -> int:
        return self.headcount(JobImpact.INDIRECT)

    @property
    def direct_fte(self) -> Decimal:
        return self.fte(JobImpact.DIRECT)

    @property
    def indirect_fte(self) -> Decimal:
        return self.fte(JobImpact.INDIRECT)

    @property
    def direct_forecast(self) -> int:
        return self.headcount(JobImpact.DIRECT, JobStatus.FORECAST)

    @property
    def indirect_forecast(self) -> int:
        return self.headcount(JobImpact.INDIRECT, JobStatus.FORECAST)

    @property
    def direct_progress(self) -> Decimal | None:
        return percent(self.direct_realised, self.direct_target)

    @property
    def indirect_progress(self) -> Decimal | None:
        return percent(self.indirect_realised, self.indirect_target)

    def commitments(self) -> list[Commitment]:
        """Realised and forecast jobs, direct then indirect, each against its target."""
        targets = {
            JobImpact.DIRECT: (gettext("Direct jobs"), self.direct_target),
            JobImpact.INDIRECT: (gettext("Indirect jobs"), self.indirect_target),
        }
        return [
            Commitment(
                impact=impact,
                label=label,
                committed=target,
                realised=self.headcount(impact),
                realised_fte=self.fte(impact),
                forecast=self.headcount(impact, JobStatus.FORECAST),
                forecast_fte=self.fte(impact, JobStatus.FORECAST),
            )
            for impact, (label, target) in targets.items()
        ]


def status_on(until: datetime.date) -> Case:
    """A job's status as it stood on `until`: realised if it was realised and had started by
    then, forecast otherwise (a job realised later was still a forecast)."""
    return Case(
        When(status=JobStatus.REALISED, start_date__lte=until, then=Value(JobStatus.REALISED)),
        default=Value(JobStatus.FORECAST),
        output_field=CharField(),
    )


def jobs_counts(
    ids: list[int],
    partners_only: QuerySet[Any] | None = None,
    until: datetime.date | None = None,
) -> dict[int, dict[tuple[str, str], tuple[int, Decimal]]]:
    """Headcount and FTE per consortium, impact and status; with `until`, as they stood at the
    end of that day: the records that existed then, each with its status of then."""
    jobs = JobRecord.objects.filter(consortium_id__in=ids).exclude(status=JobStatus.WITHDRAWN)
    if partners_only is not None:
        jobs = jobs.filter(partner_id__in=partners_only)
    if until is None:
        jobs = jobs.annotate(status_then=F("status"))
    else:
        recorded = Q(created_at__date__lte=until) | Q(
            status=JobStatus.REALISED, start_date__lte=until
        )
        jobs = jobs.filter(recorded).annotate(status_then=status_on(until))
    rows = (
        jobs.values("consortium_id", "impact", "status_then")
        .annotate(headcount=Count("pk"), fte=Sum("fte"))
        .order_by()
    )
    result: dict[int, dict[tuple[str, str], tuple[int, Decimal]]] = defaultdict(dict)
    for row in rows:
        result[row["consortium_id"]][(row["impact"], row["status_then"])] = (
            row["headcount"],
            row["fte"] or ZERO,
        )
    return result


def partner_jobs(partner: Partner) -> JobsFigures:
    """A partner's jobs, by impact and status, against its commitments, in one query."""
    return JobsFigures(
        direct_target=partner.jobs_commitment_direct,
        indirect_target=partner.jobs_commitment_indirect,
        counts=jobs_counts(
            [partner.consortium_id], Partner.objects.filter(pk=partner.pk).values("pk")
        ).get(partner.consortium_id, {}),
    )


# The funder's pages ---------------------------------------------------------------------------------


def _as_they_stood(jobs: QuerySet[JobRecord], until: datetime.date | None) -> QuerySet[Any]:
    """Counted job records, each with `status_then`, as `jobs_counts` counts them: today's
    status, or with `until` the records that existed at the end of that day with their status
    of then (`status_on`)."""
    jobs = jobs.exclude(status=JobStatus.WITHDRAWN)
    if until is None:
        return jobs.annotate(status_then=F("status"))
    recorded = Q(created_at__date__lte=until) | Q(status=JobStatus.REALISED, start_date__lte=until)
    return jobs.filter(recorded).annotate(status_then=status_on(until))


def _count(
    counts: dict[tuple[str, str], tuple[int, Decimal]], impact: str, label: str, committed: int
) -> Commitment:
    realised = counts.get((impact, JobStatus.REALISED), (0, ZERO))
    forecast = counts.get((impact, JobStatus.FORECAST), (0, ZERO))
    return Commitment(
        impact=impact,
        label=label,
        committed=committed,
        realised=realised[0],
        realised_fte=realised[1],
        forecast=forecast[0],
        forecast_fte=forecast[1],
    )


@dataclass(frozen=True)
class PartnerJobs:
    """One partner's direct and indirect jobs against its commitments."""

    key: int
    number: int
    label: str
    direct: Commitment
    indirect: Commitment


def jobs_by_partner(
    consortium: Consortium, *, until: datetime.date | None = None
) -> list[PartnerJobs]:
    """Each partner's jobs (every partner, by number), direct and indirect, realised and
    forecast, headcount and FTE, against its commitments (`Partner.jobs_commitment_direct` and
    `_indirect`); with `until`, as they stood at the end of that day (`jobs_counts`). Two
    queries, whatever the partners or the records."""
    rows = (
        _as_they_stood(JobRecord.objects.filter(consortium_id=consortium.pk), until)
        .values("partner_id", "impact", "status_then")
        .annotate(headcount=Count("pk"), fte=Sum("fte"))
        .order_by()
    )
    counts: dict[int, dict[tuple[str, str], tuple[int, Decimal]]] = defaultdict(dict)
    for row in rows:
        counts[row["partner_id"]][(row["impact"], row["status_then"])] = (
            row["headcount"],
            row["fte"] or ZERO,
        )
    partners = (
        Partner.objects.filter(consortium_id=consortium.pk)
        .order_by("number")
        .values_list(
            "pk",
            "number",
            "organisation__short_name",
            "jobs_commitment_direct",
            "jobs_commitment_indirect",
        )
    )
    return [
        PartnerJobs(
            key=pk,
            number=number,
            label=f"P{number} {name}",
            direct=_count(counts[pk], JobImpact.DIRECT, gettext("Direct jobs"), direct),
            indirect=_count(counts[pk], JobImpact.INDIRECT, gettext("Indirect jobs"), indirect),
        )
        for pk, number, name, direct, indirect in partners
    ]


@dataclass
class PeriodJobs:
    """The jobs whose start date falls in one reporting period (`period` None: in none of
    them, before the first or after the last), by impact and status."""

    period: ReportingPeriod | None
    counts: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)

    def headcount(self, impact: str, status: str = JobStatus.REALISED) -> int:
        return self.counts.get((impact, status), (0, ZERO))[0]

    def fte(self, impact: str, status: str = JobStatus.REALISED) -> Decimal:
        return self.counts.get((impact, status), (0, ZERO))[1]

    @property
    def direct(self) -> Commitment:
        return _count(self.counts, JobImpact.DIRECT, gettext("Direct jobs"), 0)

    @property
    def indirect(self) -> Commitment:
        return _count(self.counts, JobImpact.INDIRECT, gettext("Indirect jobs"), 0)


def jobs_by_period(
    consortium: Consortium, *, until: datetime.date | None = None
) -> list[PeriodJobs]:
    """Jobs created per reporting period of `consortium`, by the period their start date falls
    in (realised: started; forecast: expected to start), direct and indirect, headcount and FTE;
    with `until`, as they stood at the end of that day (`jobs_counts`). Every period is listed,
    in order, then a row for the jobs starting outside every period, if any. Two queries."""
    periods = list(ReportingPeriod.objects.filter(consortium_id=consortium.pk).order_by("number"))
    rows = (
        _as_they_stood(JobRecord.objects.filter(consortium_id=consortium.pk), until)
        .values("start_date", "impact", "status_then")
        .annotate(headcount=Count("pk"), fte=Sum("fte"))
        .order_by()
    )
    result = {period.pk: PeriodJobs(period=period) for period in periods}
    outside = PeriodJobs(period=None)
    period_of = _period_of(periods)
    for row in rows:
        target = result.get(period_of(row["start_date"]), outside)
        key = (row["impact"], row["status_then"])
        headcount, fte = target.counts.get(key, (0, ZERO))
        target.counts[key] = (headcount + row["headcount"], fte + (row["fte"] or ZERO))
    return [*result.values(), *([outside] if outside.counts else [])]


def _period_of(periods: list[ReportingPeriod]) -> Callable[[datetime.date], int | None]:
    """The id of the first period (by number) of `periods` a day falls in, None outside them
    all. Jobs are counted by start date (a few hundred days however many records), then by
    period here."""
    spans = [(p.start_date, p.end_date, p.pk) for p in sorted(periods, key=lambda p: p.number)]

    def period_of(day: datetime.date) -> int | None:
        return next((pk for start, end, pk in spans if start <= day <= end), None)

    return period_of


def jobs_breakdown(
    consortium_id: int, partners_only: QuerySet[Any] | None = None
) -> list[dict[str, Any]]:
    """Jobs by partner × impact × status × the reporting period their start date falls in
    (`period_id` None: in none), headcount and FTE, as they stand today; `partners_only` leaves
    out every other partner's. Two queries."""
    jobs = JobRecord.objects.filter(consortium_id=consortium_id)
    if partners_only is not None:
        jobs = jobs.filter(partner_id__in=partners_only)
    period_of = _period_of(list(ReportingPeriod.objects.filter(consortium_id=consortium_id)))
    counted: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in (
        jobs.values("partner_id", "start_date", "impact", "status")
        .annotate(headcount=Count("pk"), fte=Sum("fte"))
        .order_by()
    ):
        key = (row["partner_id"], period_of(row["start_date"]), row["impact"], row["status"])
        found = counted.setdefault(
            key,
            {
                "partner_id": key[0],
                "period_id": key[1],
                "impact": key[2],
                "status": key[3],
                "headcount": 0,
                "fte": ZERO,
            },
        )
        found["headcount"] += row["headcount"]
        found["fte"] += row["fte"] or ZERO
    # In the order the query gave: partner, period (none last), impact, status.
    return sorted(
        counted.values(),
        key=lambda row: (
            row["partner_id"],
            row["period_id"] is None,
            row["period_id"] or 0,
            row["impact"],
            row["status"],
        ),
    )
