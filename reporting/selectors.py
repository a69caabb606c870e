"""Reads behind the scheduled reports. Every figure is aggregated by the database, in a number of
queries that does not grow with the number of partners, jobs or expenses."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext

from consortium import dates
from consortium.models import Consortium
from workpackages.choices import ContractType, JobCategory, JobImpact, JobStatus
from workpackages.models import JobRecord

ZERO = Decimal("0.00")
COUNTED = (JobStatus.FORECAST, JobStatus.REALISED)


@dataclass
class JobsCount:
    """Positions and their full-time equivalent."""

    headcount: int = 0
    fte: Decimal = ZERO

    def add(self, headcount: int, fte: Decimal | None) -> None:
        self.headcount += headcount
        self.fte += fte or ZERO


@dataclass
class JobsRow:
    """Jobs of one partner, category, contract type or workpackage, by impact and status."""

    key: Any
    label: str
    counts: dict[tuple[str, str], JobsCount] = field(default_factory=lambda: defaultdict(JobsCount))

    def get(self, impact: str, status: str = JobStatus.REALISED) -> JobsCount:
        return self.counts.get((impact, status)) or JobsCount()


@dataclass
class TrajectoryPoint:
    """Realised jobs created up to the end of a month, cumulated, against the straight line that
    reaches each target at the jobs horizon."""

    month: datetime.date
    direct: int
    indirect: int
    direct_target: Decimal
    indirect_target: Decimal


@dataclass
class JobsReport:
    consortium: Consortium
    as_of: datetime.date
    since: datetime.datetime | None
    totals: JobsRow
    by_partner: list[JobsRow]
    by_category: list[JobsRow]
    by_contract_type: list[JobsRow]
    by_workpackage: list[JobsRow]
    trajectory: list[TrajectoryPoint]
    new_since: JobsRow


def _rows(jobs: Any, key: str, *label_fields: str, label: Any) -> list[JobsRow]:
    """One row per value of `key`, in one query, labelled by `label(values)`."""
    rows: dict[Any, JobsRow] = {}
    grouped = jobs.values(key, *label_fields, "impact", "status").annotate(
        headcount=Count("pk"), fte_total=Sum("fte")
    )
    for values in grouped.order_by(key, "impact", "status"):
        row = rows.setdefault(values[key], JobsRow(key=values[key], label=label(values)))
        row.counts[(values["impact"], values["status"])].add(
            values["headcount"], values["fte_total"]
        )
    return list(rows.values())


def _trajectory(consortium: Consortium, jobs: Any, as_of: datetime.date) -> list[TrajectoryPoint]:
    started = (
        jobs.filter(status=JobStatus.REALISED, start_date__lte=as_of)
        .annotate(month=TruncMonth("start_date"))
        .values("month", "impact")
        .annotate(headcount=Count("pk"))
        .order_by("month")
    )
    per_month: dict[tuple[datetime.date, str], int] = {
        (row["month"], row["impact"]): row["headcount"] for row in started
    }
    horizon = 12 * consortium.jobs_horizon_years
    first = consortium.start_date.replace(day=1)
    earliest = min((month for month, _impact in per_month), default=first)
    month = min(first, earliest)
    points: list[TrajectoryPoint] = []
    direct = indirect = 0
    while month <= as_of:
        direct += per_month.get((month, JobImpact.DIRECT), 0)
        indirect += per_month.get((month, JobImpact.INDIRECT), 0)
        elapsed = min(max(dates.months_between(consortium.start_date, month), 0), horizon)
        share = Decimal(elapsed) / Decimal(horizon)
        points.append(
            TrajectoryPoint(
                month=month,
                direct=direct,
                indirect=indirect,
                direct_target=(consortium.direct_jobs_target * share).quantize(Decimal("0.1")),
                indirect_target=(consortium.indirect_jobs_target * share).quantize(Decimal("0.1")),
            )
        )
        month = dates.add_months(month, 1)
    return points


def jobs_report(
    consortium: Consortium,
    *,
    as_of: datetime.date,
    since: datetime.datetime | None = None,
) -> JobsReport:
    """The jobs-created report of a consortium on `as_of`: forecast and realised, direct and
    indirect, by partner, category, contract type and workpackage, the cumulative trajectory
    against the targets, and what was recorded after `since` (the previous report)."""
    jobs = JobRecord.objects.filter(consortium_id=consortium.pk, status__in=COUNTED)
    by_partner = _rows(
        jobs,
        "partner_id",
        "partner__number",
        "partner__organisation__short_name",
        label=lambda v: f"P{v['partner__number']} {v['partner__organisation__short_name']}",
    )
    totals = JobsRow(key=None, label=gettext("All partners"))
    for row in by_partner:
        for key, count in row.counts.items():
            totals.counts[key].add(count.headcount, count.fte)
    new_since = JobsRow(key=None, label=gettext("Recorded since the previous report"))
    if since is not None:
        for row in _rows(jobs.filter(created_at__gt=since), "consortium_id", label=lambda v: ""):
            new_since.counts.update(row.counts)
    return JobsReport(
        consortium=consortium,
        as_of=as_of,
        since=since,
        totals=totals,
        by_partner=by_partner,
        by_category=_rows(jobs, "category", label=lambda v: JobCategory(v["category"]).label),
        by_contract_type=_rows(
            jobs, "contract_type", label=lambda v: ContractType(v["contract_type"]).label
        ),
        by_workpackage=_rows(
            jobs,
            "workpackage_id",
            "workpackage__number",
            label=lambda v: (
                f"WP{v['workpackage__number']}"
                if v["workpackage_id"]
                else gettext("No workpackage")
            ),
        ),
        trajectory=_trajectory(consortium, jobs, as_of),
        new_since=new_since,
    )
