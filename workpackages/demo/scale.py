"""Synthetic data at scale, modelled on the seeded PIT-ATMP demo, for benchmarks.

Three stages, each optional, in this order:

- `scale`: more consortia like the demo (`PIT-ATMP-02`, `PIT-ATMP-03`…), each with its own
  organisations, partners, work plan, budget, expenses, statements, effort, jobs and logins. Each
  is a copy of the demo as read from the database, its money scaled by a factor of its own, its
  dates and amounts varied within what the demo's rows allow.
- `big`: the demo itself grown N× in what a programme accumulates: expense lines, job records and
  effort over its own partners, workpackages and periods, so that its logins see N× those rows.
  Its plan (deliverables, milestones, budget lines) stays the grant's.
- `million`: a few large consortia (`PIT-ATMP-M01`…) that no demo login sees, holding a million
  expense lines and a million job records between them.

Rows are written the way the services would have left them (a submitted or decided expense in
its partner's submitted statement, whose lines and total count it; an accepted expense with its
accepted amount; every relation within the row's consortium), but in bulk: `COPY` on PostgreSQL,
batched inserts elsewhere, and without history rows. The same options on the same database give
the same rows: every choice comes from a generator seeded by `--seed` and the consortium's
acronym, and every date follows from the demo's own (the day it was seeded, its periods); only
the rows' bookkeeping timestamps (`created_at`, `updated_at`) and the salt of the logins'
password hash are those of the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, Model, Sum
from django.utils import timezone

from consortium import dates
from consortium.choices import ConsortiumRoleKind, MembershipRole
from consortium.models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)
from consortium.querysets import access_changed
from consortium.services import consortium_create, consortium_role_grant
from workpackages.base import CENT, ZERO, cents
from workpackages.demo.context import enterprise_number, random_day
from workpackages.demo.data import (
    ACRONYM,
    COORDINATOR,
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    DEMO_SEED,
)
from workpackages.jobs.models import JobRecord
from workpackages.money.choices import BudgetLineStatus
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
    Workpackage,
    WorkpackageParticipant,
)

# The million stage's default size: expense lines and job records, each, over its consortia.
MILLION_ROWS = 1_000_000

MILLION_CONSORTIA = 10

# Rows per insert where `COPY` is not available.
BATCH = 2000

# The demo grown N× declares this much more money in all: its budget lines stay as planned, so
# the lines it adds are small ones, and no line but the demo's overspent one goes past its plan
# (the demo's lines have declared at most 92 % of theirs).
BIG_EXTRA_SHARE = Decimal("0.05")

# Each copied amount varies by up to 3 % either way.
JITTER = tuple(Decimal(n) / 100 for n in range(97, 104))

MilestoneLink = Milestone.workpackages.through


class ScaleRefused(Exception):
    """The database is not one the generator can add to (no demo, a demo to grow twice)."""


@dataclasses.dataclass
class Source:
    """The demo consortium as read from the database, row by row, in primary-key order: what
    every stage copies."""

    consortium: dict[str, Any]
    seeded_on: datetime.date
    seeded_at: datetime.datetime
    periods: list[dict[str, Any]]
    category_codes: dict[int, str]
    categories: list[dict[str, Any]]
    organisations: dict[int, dict[str, Any]]
    partners: list[dict[str, Any]]
    coordinators: set[int]
    members: list[dict[str, Any]]
    workpackages: list[dict[str, Any]]
    participants: list[dict[str, Any]]
    deliverables: list[dict[str, Any]]
    submissions: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    milestones: list[dict[str, Any]]
    milestone_links: list[dict[str, Any]]
    budget_lines: list[dict[str, Any]]
    statements: list[dict[str, Any]]
    efforts: list[dict[str, Any]]
    expenses: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    # Per expense (by id), the days its date may move within; per job status, its start dates.
    expense_days: dict[int, tuple[datetime.date, datetime.date]] = dataclasses.field(
        default_factory=dict
    )
    job_days: dict[str, tuple[datetime.date, datetime.date]] = dataclasses.field(
        default_factory=dict
    )


@dataclasses.dataclass
class Run:
    """What every stage shares: the demo, the options' seed, the moment of the run, the logins'
    password hash, and the rows written so far per table."""

    source: Source
    seed: int
    now: datetime.datetime
    password: str
    created: Counter[str] = dataclasses.field(default_factory=Counter)
    stages: list[tuple[str, float]] = dataclasses.field(default_factory=list)

    def rng(self, *names: object) -> random.Random:
        """A generator of its own for one consortium or stage, the same on every run."""
        # A reproducible generator for synthetic data, not for anything secret.
        return random.Random(":".join(str(n) for n in (self.seed, *names)))  # noqa: S311


@dataclasses.dataclass
class Summary:
    """What a run wrote: rows per table, and seconds per stage."""

    created: dict[str, int]
    stages: list[tuple[str, float]]
    seconds: float
    skipped: list[str]


# Which map translates each foreign key of a copied row (users: `Keys.users`).
KEY_KINDS = {
    "consortium_id": "consortium",
    "organisation_id": "organisations",
    "partner_id": "partners",
    "lead_partner_id": "partners",
    "workpackage_id": "workpackages",
    "category_id": "categories",
    "period_id": "periods",
    "deliverable_id": "deliverables",
    "submission_id": "submissions",
    "milestone_id": "milestones",
}

USER_KEYS = ("created_by_id", "reviewed_by_id", "submitted_by_id", "reopened_by_id", "reviewer_id")


@dataclasses.dataclass
class Keys:
    """The ids of the copies, by the ids of the rows they copy, per kind of row. A kind without
    a map keeps its ids: the demo's own rows, when the demo is grown."""

    consortium: int
    maps: dict[str, dict[int, int]] = dataclasses.field(default_factory=dict)
    users: dict[int, int] | None = None
    # Who stands in for a user the copy has no counterpart of.
    default_user: int | None = None

    def copy(self, row: dict[str, Any], now: datetime.datetime, **values: Any) -> dict[str, Any]:
        """`row` with its foreign keys translated, its timestamps `now`, then `values`."""
        new: dict[str, Any] = {}
        for name, value in row.items():
            if name == "id":
                continue
            if value is not None and name in USER_KEYS and self.users is not None:
                value = self.users.get(value, self.default_user)
            elif name == "consortium_id":
                value = self.consortium
            elif value is not None and (kind := KEY_KINDS.get(name)) in self.maps:
                value = self.maps[kind][value]
            new[name] = value
        if "created_at" in new:
            new["created_at"] = new["updated_at"] = now
        new.update(values)
        return new


def generate_scale(
    *,
    scale: int = 1,
    big: bool = False,
    million: bool = False,
    coordinator_of_all: bool = False,
    seed: int = DEMO_SEED,
    million_rows: int = MILLION_ROWS,
    million_consortia: int = MILLION_CONSORTIA,
) -> Summary:
    """Run the stages asked for on a database where the demo is seeded, and say what was written.

    Each consortium of the scale stage is written in a transaction of its own, the demo's
    growth in another, the million stage in a third, so a failure leaves whole consortia or
    none; a consortium already there is left as it is, so a run that stopped half-way is
    completed by running it again.
    """
    started = time.perf_counter()
    demo = Consortium.objects.filter(acronym=ACRONYM).first()
    if demo is None:
        raise ScaleRefused(
            f"The demo partnership {ACRONYM} is not in this database: run `manage.py seed_demo` "
            "first."
        )
    if big and scale > 1 and demo_grown(demo):
        raise ScaleRefused(
            f"The demo {ACRONYM} has been grown already: seed a fresh demo to grow it again."
        )
    scale_acronyms = [f"{ACRONYM}-{number:02d}" for number in range(2, scale + 1)]
    existing = set(
        Consortium.objects.filter(acronym__in=scale_acronyms).values_list("acronym", flat=True)
    )
    missing = [acronym for acronym in scale_acronyms if acronym not in existing]
    run = Run(
        source=read_source(demo),
        seed=seed,
        now=timezone.now(),
        # One hash for every login the run creates: they share the demo's public password.
        password=make_password(DEMO_PASSWORD),
    )
    skipped = [acronym for acronym in scale_acronyms if acronym in existing]
    for acronym in missing:
        with stage(run, f"scale {acronym}"):
            copy_consortium(run, acronym)
    if coordinator_of_all and scale_acronyms:
        with stage(run, "coordinator of all"):
            coordinator_everywhere(run, scale_acronyms)
    if big and scale > 1:
        with stage(run, f"big ×{scale}"):
            grow_demo(run, demo, scale)
    if million:
        skipped += million_stage(run, million_rows, million_consortia)
    if connection.vendor == "postgresql" and run.created:
        with stage(run, "analyze"):
            analyze(run)
    return Summary(
        created=dict(sorted(run.created.items())),
        stages=run.stages,
        seconds=time.perf_counter() - started,
        skipped=skipped,
    )


@contextlib.contextmanager
def stage(run: Run, name: str, *, atomic: bool = True) -> Iterator[None]:
    """A stage of the run, in a transaction of its own unless told, and how long it took."""
    started = time.perf_counter()
    with transaction.atomic() if atomic else contextlib.nullcontext():
        yield
    run.stages.append((name, time.perf_counter() - started))


def demo_grown(demo: Consortium) -> bool:
    """Whether `--big` has grown the demo already: it has job records no one recorded."""
    return JobRecord.objects.filter(consortium=demo).exclude(pk__in=recorded(JobRecord)).exists()


def recorded(model: type[Model]) -> Any:
    """The ids of the rows of `model` the application wrote: each has its history, where the
    generator's own rows have none. What a stage copies, however large `--big` made the demo."""
    history = getattr(model, "history").model  # noqa: B009  (added by simple_history, unknown to the stubs)
    return history._default_manager.values("id")


def values_of(model: type[Model], **filters: Any) -> list[dict[str, Any]]:
    """The rows of `model` matching `filters`, as {column attribute: value}, by primary key."""
    names = [field.attname for field in model._meta.concrete_fields]
    return list(model._default_manager.filter(**filters).order_by("pk").values(*names))


def recorded_of(model: type[Model], demo: Consortium) -> list[dict[str, Any]]:
    """The demo's rows of `model` that the application wrote (`recorded`)."""
    return values_of(model, consortium=demo, pk__in=recorded(model))


def read_source(demo: Consortium) -> Source:
    """The demo's rows, and the days within which each expense and job may be moved. Of the
    kinds of rows `--big` adds to, those the application wrote: the demo as seeded and used,
    however large it was made since."""
    consortium = values_of(Consortium, pk=demo.pk)[0]
    partners = values_of(Partner, consortium=demo)
    categories = values_of(CostCategory, consortium=demo)
    deliverables = recorded_of(Deliverable, demo)
    milestones = recorded_of(Milestone, demo)
    deliverable_ids = [row["id"] for row in deliverables]
    source = Source(
        consortium=consortium,
        # The demo places everything relative to the day it was built.
        seeded_on=timezone.localdate(demo.created_at),
        seeded_at=demo.created_at,
        periods=values_of(ReportingPeriod, consortium=demo),
        category_codes={row["id"]: row["code"] for row in categories},
        categories=categories,
        organisations={
            row["id"]: row
            for row in values_of(
                Organisation, pk__in=[partner["organisation_id"] for partner in partners]
            )
        },
        partners=partners,
        coordinators=set(
            ConsortiumRole.objects.filter(
                consortium=demo, kind=ConsortiumRoleKind.COORDINATOR, is_active=True
            ).values_list("user_id", flat=True)
        ),
        members=values_of(Membership, partner__consortium=demo, is_active=True),
        workpackages=values_of(Workpackage, consortium=demo),
        participants=values_of(WorkpackageParticipant, consortium=demo),
        deliverables=deliverables,
        submissions=values_of(DeliverableSubmission, deliverable__in=deliverable_ids),
        reviews=values_of(DeliverableReview, deliverable__in=deliverable_ids),
        milestones=milestones,
        milestone_links=values_of(MilestoneLink, milestone__in=[row["id"] for row in milestones]),
        budget_lines=values_of(BudgetLine, consortium=demo),
        statements=values_of(Statement, consortium=demo),
        efforts=recorded_of(Effort, demo),
        expenses=recorded_of(Expense, demo),
        jobs=recorded_of(JobRecord, demo),
    )
    source.expense_days = expense_days(source)
    source.job_days = job_days(source)
    return source


def expense_days(source: Source) -> dict[int, tuple[datetime.date, datetime.date]]:
    """The days each expense's copies may be dated: within its period and its workpackage's
    months, and not after the day before the demo was seeded (a cost is declared once incurred).
    Personnel costs stay on their period's last day, as the demo books them."""
    start = source.consortium["start_date"]
    periods = {row["id"]: row for row in source.periods}
    workpackages = {row["id"]: row for row in source.workpackages}
    yesterday = source.seeded_on - datetime.timedelta(days=1)
    days = {}
    for expense in source.expenses:
        period = periods[expense["period_id"]]
        workpackage = workpackages[expense["workpackage_id"]]
        first = max(period["start_date"], dates.add_months(start, workpackage["start_month"] - 1))
        last = min(
            period["end_date"],
            dates.month_end(start, workpackage["end_month"]),
            max(period["start_date"], yesterday),
        )
        day = expense["incurred_on"]
        personnel = source.category_codes[expense["category_id"]] == "personnel"
        days[expense["id"]] = (
            (first, last) if first <= day <= last and not personnel else (day, day)
        )
    return days


def job_days(source: Source) -> dict[str, tuple[datetime.date, datetime.date]]:
    """For each job status, the first and last start date the demo gives it: realised jobs
    started before the demo was seeded, forecast ones start after and before the jobs horizon."""
    days: dict[str, tuple[datetime.date, datetime.date]] = {}
    for job in source.jobs:
        first, last = days.get(job["status"], (job["start_date"], job["start_date"]))
        days[job["status"]] = (min(first, job["start_date"]), max(last, job["start_date"]))
    return days


# Writing rows.


def insert(run: Run, model: type[Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows that others point at, in batches, and return their new ids in order."""
    manager = model._default_manager
    saved = manager.bulk_create([model(**row) for row in rows], batch_size=BATCH)
    run.created[model._meta.db_table] += len(saved)
    return [row.pk for row in saved]


def write(run: Run, model: type[Model], rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows nothing points at yet, streamed: with `COPY` on PostgreSQL, in batches of
    `bulk_create` elsewhere."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    names = [field.attname for field in fields]
    count = 0
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        sql = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])
                count += 1
    else:
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, BATCH)):
            model._default_manager.bulk_create([model(**row) for row in batch], batch_size=BATCH)
            count += len(batch)
    run.created[model._meta.db_table] += count
    return count


def analyze(run: Run) -> None:
    """Fresh planner statistics for the tables written, as after any bulk load."""
    with connection.cursor() as cursor:
        for table in sorted(run.created):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


# The stages.


def copy_consortium(
    run: Run, acronym: str, *, expenses: int | None = None, jobs: int | None = None
) -> Consortium:
    """A consortium like the demo: by default one copy of each of its expenses and jobs; asked
    for more, it is as many times larger (budget, commitments and targets too), each expense and
    job copied in turn."""
    source = run.source
    rng = run.rng(acronym)
    expenses = len(source.expenses) if expenses is None else expenses
    jobs = len(source.jobs) if jobs is None else jobs
    expense_copies = max(1, math.ceil(expenses / max(len(source.expenses), 1)))
    job_copies = max(1, math.ceil(jobs / max(len(source.jobs), 1)))
    # Each copy has a budget of its own size; its amounts follow.
    factor = Decimal(rng.randint(70, 130)) / 100
    planned = [
        (line["planned_amount"] * factor * expense_copies).quantize(CENT)
        for line in source.budget_lines
    ]
    consortium = new_consortium(run, acronym, planned, job_copies)
    keys = Keys(consortium=consortium.pk)
    periods = dict(consortium.periods.values_list("number", "pk"))
    keys.maps["periods"] = {period["id"]: periods[period["number"]] for period in source.periods}
    keys.maps["categories"] = copy_categories(run, consortium)
    copy_logins(run, consortium, keys)
    copy_partners(run, rng, consortium, keys, job_copies)
    copy_team(run, consortium, keys)
    copy_workpackages(run, keys)
    copy_deliverables(run, keys, source.deliverables)
    copy_milestones(run, keys, source.milestones)
    copy_budget_lines(run, keys, planned)
    write(run, Effort, (keys.copy(row, run.now) for row in source.efforts))
    write(
        run,
        Expense,
        expense_rows(run, rng, keys, count=expenses, first_copy=0, factor=factor),
    )
    write(run, Statement, (keys.copy(row, run.now) for row in source.statements))
    statements_recount(run, consortium.pk)
    write(run, JobRecord, job_rows(run, rng, keys, count=jobs))
    return consortium


def new_consortium(run: Run, acronym: str, planned: list[Decimal], job_copies: int) -> Consortium:
    """The consortium itself, through the service that gives it its periods, headings and
    report schedules; its budget is the sum of its lines."""
    source = run.source.consortium
    fields = {
        name: source[name]
        for name in (
            "name_fr",
            "funder",
            "start_date",
            "end_date",
            "public_funding_share",
            "jobs_horizon_years",
            "reporting_period_months",
            "statement_due_days",
        )
    }
    consortium = consortium_create(
        user=None,
        acronym=acronym,
        name=f"{source['name']} ({acronym})",
        agreement_number=f"{acronym}-{source['start_date']:%Y}",
        total_budget=sum(
            (
                amount
                for line, amount in zip(run.source.budget_lines, planned, strict=True)
                if line["status"] == BudgetLineStatus.ACTIVE
            ),
            ZERO,
        ),
        direct_jobs_target=source["direct_jobs_target"] * job_copies,
        indirect_jobs_target=source["indirect_jobs_target"] * job_copies,
        **fields,
    )
    run.created[Consortium._meta.db_table] += 1
    run.created[ReportingPeriod._meta.db_table] += consortium.periods.count()
    return consortium


def copy_categories(run: Run, consortium: Consortium) -> dict[int, int]:
    """The new consortium's headings (seeded with it) set as the demo's are (evidence required
    for some), by code: the demo's heading ids → the copy's."""
    stored = {category.code: category for category in consortium.cost_categories.all()}
    missing = sorted(set(run.source.category_codes.values()) - set(stored))
    if missing:
        raise ScaleRefused(
            f"The demo has cost headings a new consortium is not given ({', '.join(missing)}): "
            "the generator copies the seeded headings only."
        )
    changed = []
    for row in run.source.categories:
        category = stored[row["code"]]
        if category.evidence_required != row["evidence_required"]:
            category.evidence_required = row["evidence_required"]
            category.updated_at = run.now
            changed.append(category)
    CostCategory.objects.bulk_update(changed, ["evidence_required", "updated_at"])
    run.created[CostCategory._meta.db_table] += len(stored)
    return {row["id"]: stored[row["code"]].pk for row in run.source.categories}


def copy_logins(run: Run, consortium: Consortium, keys: Keys) -> None:
    """A coordinator (`coordinator-<acronym>`) and one login per partner
    (`partnerNN-<acronym>`), with the demo's password; the demo's people map to them."""
    slug = consortium.acronym.lower()
    user_model = get_user_model()
    names = [f"coordinator-{slug}"] + [
        f"partner{partner['number']:02d}-{slug}" for partner in run.source.partners
    ]
    existing: dict[str, int] = dict(
        user_model._default_manager.filter(username__in=names).values_list("username", "pk")
    )
    rows: list[dict[str, Any]] = [
        {
            "username": name,
            "first_name": "Scale",
            "last_name": name.split("-", 1)[0].capitalize(),
            "email": f"{name}@{DEMO_EMAIL_DOMAIN}",
            "password": run.password,
            "is_staff": index == 0,
            "is_active": True,
            "is_superuser": False,
            "date_joined": run.source.seeded_at,
        }
        for index, name in enumerate(names)
        if name not in existing
    ]
    created = insert(run, user_model, rows)
    ids: dict[str, int] = {**existing}
    for row, pk in zip(rows, created, strict=True):
        ids[row["username"]] = pk
    coordinator = ids[names[0]]
    keys.default_user = coordinator
    keys.users = dict.fromkeys(run.source.coordinators, coordinator)
    # Partner logins, by the demo partner they stand for: its people's rows become theirs.
    keys.maps["logins"] = {
        partner["id"]: ids[name]
        for partner, name in zip(run.source.partners, names[1:], strict=True)
    }
    for member in run.source.members:
        keys.users[member["user_id"]] = keys.maps["logins"][member["partner_id"]]


def copy_partners(
    run: Run, rng: random.Random, consortium: Consortium, keys: Keys, job_copies: int
) -> None:
    """An organisation of its own for each demo partner (a fresh enterprise number, the
    consortium's suffix on its names), and the partner, its job commitments scaled."""
    source = run.source
    suffix = consortium.acronym.removeprefix(f"{ACRONYM}-")
    taken = set(
        Organisation.objects.exclude(enterprise_number=None).values_list(
            "enterprise_number", flat=True
        )
    )
    organisations = []
    for partner in source.partners:
        organisation = source.organisations[partner["organisation_id"]]
        organisations.append(
            keys.copy(
                organisation,
                run.now,
                legal_name=f"{organisation['legal_name']} ({suffix})"[:200],
                short_name=f"{organisation['short_name']} {suffix}"[:60],
                enterprise_number=enterprise_number(rng, taken),
            )
        )
    organisation_ids = insert(run, Organisation, organisations)
    keys.maps["organisations"] = {
        partner["organisation_id"]: pk
        for partner, pk in zip(source.partners, organisation_ids, strict=True)
    }
    partners = [
        keys.copy(
            partner,
            run.now,
            jobs_commitment_direct=partner["jobs_commitment_direct"] * job_copies,
            jobs_commitment_indirect=partner["jobs_commitment_indirect"] * job_copies,
        )
        for partner in source.partners
    ]
    keys.maps["partners"] = dict(
        zip([p["id"] for p in source.partners], insert(run, Partner, partners), strict=True)
    )


def copy_team(run: Run, consortium: Consortium, keys: Keys) -> None:
    """The coordinator's role, and each partner's login in its team: with the role the demo's
    login at that partner has (partner1 keeps a university's books), a partner contact
    elsewhere."""
    roles = {member["partner_id"]: member["role"] for member in run.source.members}
    write(
        run,
        ConsortiumRole,
        [
            {
                "created_at": run.now,
                "updated_at": run.now,
                "user_id": keys.default_user,
                "consortium_id": consortium.pk,
                "kind": ConsortiumRoleKind.COORDINATOR,
                "is_active": True,
            }
        ],
    )
    write(
        run,
        Membership,
        (
            {
                "created_at": run.now,
                "updated_at": run.now,
                "user_id": keys.maps["logins"][partner["id"]],
                "partner_id": keys.maps["partners"][partner["id"]],
                "role": roles.get(partner["id"], MembershipRole.CONTACT),
                "is_active": True,
            }
            for partner in run.source.partners
        ),
    )
    # Who sees what is read once per request: these roles were written without signals.
    access_changed()


def copy_workpackages(run: Run, keys: Keys) -> None:
    """The 12 workpackages and their participants."""
    source = run.source
    ids = insert(run, Workpackage, [keys.copy(row, run.now) for row in source.workpackages])
    keys.maps["workpackages"] = dict(
        zip([row["id"] for row in source.workpackages], ids, strict=True)
    )
    write(run, WorkpackageParticipant, (keys.copy(row, run.now) for row in source.participants))


def copy_deliverables(
    run: Run, keys: Keys, deliverables: list[dict[str, Any]], **values: Any
) -> None:
    """Deliverables in the statuses of those they copy, with their submitted versions and
    reviews (the versions' files are the demo's). `values` change each copy (its number)."""
    source = run.source
    rows = [
        keys.copy(row, run.now, **{name: value(row) for name, value in values.items()})
        for row in deliverables
    ]
    keys.maps["deliverables"] = dict(
        zip([row["id"] for row in deliverables], insert(run, Deliverable, rows), strict=True)
    )
    submissions = [
        row for row in source.submissions if row["deliverable_id"] in keys.maps["deliverables"]
    ]
    ids = insert(run, DeliverableSubmission, [keys.copy(row, run.now) for row in submissions])
    keys.maps["submissions"] = dict(zip([row["id"] for row in submissions], ids, strict=True))
    write(
        run,
        DeliverableReview,
        (
            keys.copy(row, run.now)
            for row in source.reviews
            if row["deliverable_id"] in keys.maps["deliverables"]
        ),
    )


def copy_milestones(run: Run, keys: Keys, milestones: list[dict[str, Any]], **values: Any) -> None:
    """Milestones in the statuses of those they copy, with their related workpackages."""
    rows = [
        keys.copy(row, run.now, **{name: value(row) for name, value in values.items()})
        for row in milestones
    ]
    keys.maps["milestones"] = dict(
        zip([row["id"] for row in milestones], insert(run, Milestone, rows), strict=True)
    )
    write(
        run,
        MilestoneLink,
        (
            keys.copy(row, run.now)
            for row in run.source.milestone_links
            if row["milestone_id"] in keys.maps["milestones"]
        ),
    )


def copy_budget_lines(run: Run, keys: Keys, planned: list[Decimal]) -> None:
    """The demo's lines at the copy's amounts, granted at each line's funding rate."""
    write(
        run,
        BudgetLine,
        (
            keys.copy(
                row,
                run.now,
                planned_amount=amount,
                granted_amount=(amount * row["funding_rate"] / 100).quantize(CENT)
                if row["funding_rate"] is not None
                else row["granted_amount"],
            )
            for row, amount in zip(run.source.budget_lines, planned, strict=True)
        ),
    )


def expense_rows(
    run: Run, rng: random.Random, keys: Keys, *, count: int, first_copy: int, factor: Decimal
) -> Iterator[dict[str, Any]]:
    """`count` expenses, copying the demo's in turn: each in the status, period, line and
    statement of the one it copies, dated within the days that one allows, its amount the
    copied one's × `factor` (± 3 %), a partial acceptance cut in the same proportion. The n-th
    round of copies (from `first_copy`) suffixes its invoice references with /n+1."""
    templates = run.source.expenses
    if not templates:
        return
    bases = [keys.copy(row, run.now) for row in templates]
    days = [run.source.expense_days[row["id"]] for row in templates]
    order = shuffled(rng, len(templates))
    for index in range(count):
        position = order[index % len(templates)]
        template, row = templates[position], dict(bases[position])
        copy_number = first_copy + index // len(templates)
        amount = max(CENT, (template["amount"] * factor * rng.choice(JITTER)).quantize(CENT))
        row["amount"] = amount
        accepted = template["accepted_amount"]
        if accepted is not None:
            row["accepted_amount"] = (
                amount
                if accepted == template["amount"]
                else min(
                    amount, (accepted * amount / template["amount"]).quantize(CENT, ROUND_DOWN)
                )
            )
        first, last = days[position]
        row["incurred_on"] = random_day(rng, first, last)
        if copy_number and template["invoice_reference"]:
            row["invoice_reference"] = f"{template['invoice_reference']}/{copy_number + 1}"
        yield row


def shuffled(rng: random.Random, count: int) -> list[int]:
    """0 … count − 1 in an order of `rng`'s: fewer copies than the demo has rows take a sample
    of every kind of row, not its first ones."""
    order = list(range(count))
    rng.shuffle(order)
    return order


def job_rows(run: Run, rng: random.Random, keys: Keys, *, count: int) -> Iterator[dict[str, Any]]:
    """`count` job records, copying the demo's in turn, each starting on a day among those the
    demo gives its status, for the same length of contract."""
    templates = run.source.jobs
    if not templates:
        return
    bases = [keys.copy(row, run.now) for row in templates]
    order = shuffled(rng, len(templates))
    for index in range(count):
        position = order[index % len(templates)]
        template, row = templates[position], dict(bases[position])
        first, last = run.source.job_days[template["status"]]
        start = random_day(rng, first, last)
        row["start_date"] = start
        if template["end_date"] is not None:
            row["end_date"] = start + (template["end_date"] - template["start_date"])
        yield row


def statements_recount(run: Run, consortium_id: int) -> None:
    """Each submitted statement's lines and total are what it declares: its partner's lines of
    its period, withdrawn ones aside (as `statement_submit` counts them). A reopened statement
    keeps what it declared until it is submitted again."""
    declared = {
        (row["partner_id"], row["period_id"]): (row["lines"], cents(row["total"]))
        for row in Expense.objects.filter(consortium_id=consortium_id)
        .declared()
        .order_by()
        .values("partner_id", "period_id")
        .annotate(lines=Count("pk"), total=Sum("amount"))
    }
    changed = []
    for statement in (
        Statement.objects.filter(consortium_id=consortium_id).submitted().order_by("pk")
    ):
        figures = declared.get((statement.partner_id, statement.period_id), (0, ZERO))
        if (statement.lines, statement.total) != figures:
            statement.lines, statement.total = figures
            statement.updated_at = run.now
            changed.append(statement)
    Statement.objects.bulk_update(changed, ["lines", "total", "updated_at"], batch_size=BATCH)


def coordinator_everywhere(run: Run, acronyms: list[str]) -> None:
    """The demo's coordinator coordinates every consortium of the scale stage too."""
    coordinator = get_user_model()._default_manager.get(username=COORDINATOR.username)
    for consortium in Consortium.objects.filter(acronym__in=acronyms).order_by("acronym"):
        consortium_role_grant(
            consortium=consortium,
            user=coordinator,
            kind=ConsortiumRoleKind.COORDINATOR,
            granted_by=None,
        )


def grow_demo(run: Run, demo: Consortium, times: int) -> None:
    """The demo `times` as large in what a programme accumulates: (times − 1) times more
    expenses (small ones, on its own lines: its budget stays), job records, and effort where a
    partner × workpackage × period has none yet (effort is one row each). Its plan stays the
    grant's: a programme's deliverables and milestones are counted in dozens whatever its size."""
    source = run.source
    rng = run.rng("big", times)
    keys = Keys(consortium=demo.pk)
    extra = (times - 1) * len(source.expenses)
    write(
        run,
        Expense,
        expense_rows(
            run,
            rng,
            keys,
            count=extra,
            first_copy=1,
            factor=BIG_EXTRA_SHARE / (times - 1),
        ),
    )
    statements_recount(run, demo.pk)
    write(run, JobRecord, job_rows(run, rng, keys, count=(times - 1) * len(source.jobs)))
    write(run, Effort, effort_rows(run, rng, demo, count=(times - 1) * len(source.efforts)))


def effort_rows(
    run: Run, rng: random.Random, demo: Consortium, *, count: int
) -> Iterator[dict[str, Any]]:
    """Up to `count` effort rows on the partner × workpackage × period slots the demo leaves
    empty (periods its workpackages don't run in): nothing planned, a few tenths of a
    person-month reported for the ended periods."""
    source = run.source
    taken = {(row["partner_id"], row["workpackage_id"], row["period_id"]) for row in source.efforts}
    slots = [
        (participant["partner_id"], participant["workpackage_id"], period)
        for participant in source.participants
        for period in source.periods
        if (participant["partner_id"], participant["workpackage_id"], period["id"]) not in taken
    ]
    for partner_id, workpackage_id, period in slots[:count]:
        ended = period["end_date"] < source.seeded_on
        yield {
            "created_at": run.now,
            "updated_at": run.now,
            "consortium_id": demo.pk,
            "partner_id": partner_id,
            "workpackage_id": workpackage_id,
            "period_id": period["id"],
            "planned_person_months": ZERO,
            "actual_person_months": Decimal(rng.randint(0, 5)) / 10 if ended else None,
        }


def million_stage(run: Run, rows: int, consortia: int) -> list[str]:
    """`consortia` large consortia (`PIT-ATMP-M01`…) sharing `rows` expense lines and `rows`
    job records, in one transaction; those already there are skipped (and returned)."""
    acronyms = [f"{ACRONYM}-M{number:02d}" for number in range(1, consortia + 1)]
    existing = set(
        Consortium.objects.filter(acronym__in=acronyms).values_list("acronym", flat=True)
    )
    share, rest = divmod(rows, consortia)
    sizes = {acronym: share + (1 if index < rest else 0) for index, acronym in enumerate(acronyms)}
    todo = [acronym for acronym in acronyms if acronym not in existing]
    if todo:
        with transaction.atomic(), foreign_keys_put_back(run, (Expense, JobRecord)):
            for acronym in todo:
                with stage(run, f"million {acronym}", atomic=False):
                    copy_consortium(run, acronym, expenses=sizes[acronym], jobs=sizes[acronym])
    return [acronym for acronym in acronyms if acronym in existing]


@contextlib.contextmanager
def foreign_keys_put_back(run: Run, models: tuple[type[Model], ...]) -> Iterator[None]:
    """On PostgreSQL, load the tables of `models` without their foreign keys, then add each key
    back, which checks every row in one query. PostgreSQL checks a key one row at a time
    otherwise (ten keys per expense, some 10 µs each): minutes for a million rows, where adding
    them back takes seconds. Within the caller's transaction, so that a failure leaves the keys
    as they were; the tables stay locked until it ends. Left as they are where this login does
    not own the tables."""
    keys = foreign_keys_of([model._meta.db_table for model in models])
    if not keys:
        yield
        return
    quote = connection.ops.quote_name
    # Rows written earlier in the transaction have their deferred checks still to run: a table
    # with checks pending cannot be altered.
    connection.check_constraints()
    with connection.cursor() as cursor:
        for table, name, _definition in keys:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
    yield
    with stage(run, "million: foreign keys added back", atomic=False):
        connection.check_constraints()
        with connection.cursor() as cursor:
            for table, name, definition in keys:
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")


def foreign_keys_of(tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, name, definition) of each foreign key of `tables`, on PostgreSQL and where this
    login owns them all (so may drop and add their keys); none otherwise."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(pg_has_role(relowner, 'USAGE')) FROM pg_class "
            "WHERE oid = ANY(%s::regclass[])",
            [tables],
        )
        row = cursor.fetchone()
        if not (row and row[0]):
            return []
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
            "ORDER BY 1, 2",
            [tables],
        )
        return [(table, name, definition) for table, name, definition in cursor.fetchall()]
