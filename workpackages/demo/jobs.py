"""The demo's jobs: each partner's direct and indirect job records, realised up to its share of
its commitment, the rest forecast.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from simple_history.utils import bulk_create_with_history

from consortium import dates
from consortium.models import Partner
from workpackages.demo.context import Context, random_day, validate_new
from workpackages.demo.data import (
    COMPANY_JOBS,
    CONTRACT_MONTHS,
    DIRECT_JOBS,
    INDIRECT_JOBS,
    PARTNERS,
    REALISED_SHARE,
    WORKPACKAGES,
    JobProfile,
)
from workpackages.jobs.choices import JobImpact, JobStatus
from workpackages.jobs.models import JobRecord
from workpackages.workplan.models import Workpackage


def build_jobs(ctx: Context) -> None:
    """One record per position, on the way to the partners' commitments (470 and 1,200).

    Part of each commitment is already hired (realised, with a start date in the past); the rest
    is forecast to start before the jobs horizon.
    """
    horizon = ctx.consortium.jobs_horizon_date - datetime.timedelta(days=1)
    hired_from = dates.add_months(ctx.consortium.start_date, 2)
    workpackages: dict[str, list[Workpackage]] = {}
    for wp_spec in WORKPACKAGES:
        for key, _weight in wp_spec.participants:
            workpackages.setdefault(key, []).append(ctx.workpackages[wp_spec.number])
    rows = []
    for spec in PARTNERS:
        partner = ctx.partners[spec.key]
        direct_profiles = DIRECT_JOBS.get(spec.kind, COMPANY_JOBS)
        for impact, count, profiles in (
            (JobImpact.DIRECT, spec.jobs_direct, direct_profiles),
            (JobImpact.INDIRECT, spec.jobs_indirect, INDIRECT_JOBS),
        ):
            realised = round(count * ctx.rng.randint(*REALISED_SHARE) / 100)
            for index in range(count):
                is_realised = index < realised and hired_from < ctx.today
                if is_realised:
                    start = random_day(ctx.rng, hired_from, ctx.today - datetime.timedelta(days=7))
                else:
                    start = random_day(ctx.rng, ctx.today + datetime.timedelta(days=14), horizon)
                rows.append(
                    job_record(
                        ctx,
                        partner,
                        impact,
                        profiles,
                        start,
                        realised=is_realised,
                        workpackages=workpackages.get(spec.key, []),
                    )
                )
    for row in rows:
        validate_new(row)
    bulk_create_with_history(rows, JobRecord, default_user=ctx.coordinator)


def job_record(
    ctx: Context,
    partner: Partner,
    impact: str,
    profiles: Sequence[JobProfile],
    start: datetime.date,
    *,
    realised: bool,
    workpackages: Sequence[Workpackage],
) -> JobRecord:
    """One position, its contract and FTE; direct jobs are attached to one of the partner's WPs."""
    rng = ctx.rng
    profile = rng.choice(profiles)
    contract = rng.choice(profile.contracts)
    term = CONTRACT_MONTHS[contract]
    fte = Decimal(1) if rng.random() < 0.72 else Decimal(rng.choice((2, 4, 5, 6, 8, 9))) / 10
    workpackage = None
    if impact == JobImpact.DIRECT and workpackages:
        workpackage = rng.choice(workpackages)
    if realised:
        evidence = (
            "Employment declared (Dimona) and payroll record on file."
            if impact == JobImpact.DIRECT
            else "Supplier's attestation of the jobs created for the partnership."
        )
    else:
        evidence = f"Hiring plan {start:%Y}."
    return JobRecord(
        consortium=ctx.consortium,
        partner=partner,
        workpackage=workpackage,
        position_title=profile.title,
        category=profile.category,
        contract_type=contract,
        fte=fte,
        start_date=start,
        end_date=dates.add_months(start, term) if term else None,
        impact=impact,
        status=JobStatus.REALISED if realised else JobStatus.FORECAST,
        evidence_note=evidence,
    )
