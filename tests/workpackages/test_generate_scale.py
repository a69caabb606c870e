"""`generate_scale` adds consortia like the demo, grows the demo, and loads large consortia no demo
login sees: valid rows, in the numbers asked for, the same on every run.

The demo is seeded once for the module (committed, flushed after it); each test generates in its
own transaction, rolled back after it. The million stage runs scaled down (`--million-rows`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.test import override_settings

from consortium.models import Consortium, ConsortiumRole, Membership, Organisation, Partner
from workpackages.demo.data import ACRONYM
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense, Statement
from workpackages.workplan.models import Deliverable, Milestone, Workpackage, WorkpackageParticipant

pytestmark = pytest.mark.django_db

COPIED = (
    Partner,
    Workpackage,
    WorkpackageParticipant,
    Deliverable,
    Milestone,
    BudgetLine,
    Statement,
    Effort,
    Expense,
    JobRecord,
)

COPY = f"{ACRONYM}-02"

MILLION = (f"{ACRONYM}-M01", f"{ACRONYM}-M02")


@pytest.fixture(scope="module")
def seeded_media(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The demo, seeded once for the module; where its files are."""
    media = tmp_path_factory.mktemp("scale-media")
    with django_db_blocker.unblock():
        with override_settings(MEDIA_ROOT=media):
            call_command("seed_demo", "--force", stdout=io.StringIO())
        yield media
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(seeded_media: Path, settings: Any) -> Consortium:
    # The copies' evidence and deliverable files are the demo's: validation reads them there.
    settings.MEDIA_ROOT = seeded_media
    return Consortium.objects.get(acronym=ACRONYM)


def generate(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_scale", "--force", *args, stdout=out)
    return out.getvalue()


def counts(consortium: Consortium) -> dict[str, int]:
    return {model.__name__: model.objects.filter(consortium=consortium).count() for model in COPIED}


def statuses(model: Any, consortium: Consortium) -> dict[str, int]:
    rows = model.objects.filter(consortium=consortium).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows.order_by("status")}


def test_without_the_demo_it_refuses(demo: Consortium) -> None:
    Consortium.objects.filter(pk=demo.pk).update(acronym="NOT-THE-DEMO")

    with pytest.raises(CommandError, match="seed_demo"):
        generate("--scale", "2")

    assert Consortium.objects.count() == 1


def test_without_debug_it_refuses(demo: Consortium, settings: Any) -> None:
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("generate_scale", "--scale", "2", stdout=io.StringIO())

    assert Consortium.objects.count() == 1


def test_scale_big_and_million_write_valid_rows_in_the_numbers_asked(demo: Consortium) -> None:
    seeded = counts(demo)
    seeded_statuses = statuses(Expense, demo)
    seeded_deliverables = statuses(Deliverable, demo)
    slots = WorkpackageParticipant.objects.filter(consortium=demo).count() * demo.periods.count()

    printed = generate(
        "--scale", "2", "--big", "--coordinator-of-all",
        "--million", "--million-rows", "2000", "--million-consortia", "2",
    )  # fmt: skip

    assert set(Consortium.objects.values_list("acronym", flat=True)) == {
        ACRONYM,
        COPY,
        *MILLION,
    }
    copy = Consortium.objects.get(acronym=COPY)
    # The copy is the demo as seeded, row for row, in the same statuses.
    assert counts(copy) == seeded
    assert statuses(Expense, copy) == seeded_statuses
    assert set(seeded_statuses) >= {"draft", "submitted", "accepted", "rejected"}
    assert statuses(Deliverable, copy) == seeded_deliverables
    assert Organisation.objects.filter(partnerships__consortium=copy).count() == 26
    # The demo, twice as large, on its own budget lines.
    grown = counts(demo)
    for model in ("Expense", "JobRecord"):
        assert grown[model] == 2 * seeded[model], model
    # Its plan stays the grant's.
    for model in ("Deliverable", "Milestone"):
        assert grown[model] == seeded[model], model
    assert grown["BudgetLine"] == seeded["BudgetLine"]
    assert grown["Statement"] == seeded["Statement"]
    assert grown["Effort"] == min(2 * seeded["Effort"], slots)
    assert statuses(Expense, demo) == {status: 2 * n for status, n in seeded_statuses.items()}
    # The million stage, scaled down: its expense lines and job records between its consortia.
    million = Consortium.objects.filter(acronym__in=MILLION)
    assert Expense.objects.filter(consortium__in=million).count() == 2000
    assert JobRecord.objects.filter(consortium__in=million).count() == 2000
    assert "workpackages_expense" in printed

    check_logins(copy)
    check_rows_validate()
    check_statements_declare_their_lines()
    check_isolation(demo)


def check_logins(copy: Consortium) -> None:
    users = get_user_model().objects
    coordinator = users.get(username=f"coordinator-{COPY.lower()}")
    assert coordinator.is_staff
    assert coordinator.check_password("demo")
    assert ConsortiumRole.objects.filter(
        consortium=copy, user=coordinator, kind="coordinator", is_active=True
    ).exists()
    members = Membership.objects.filter(partner__consortium=copy, is_active=True)
    assert members.count() == 26
    assert members.filter(user__username__endswith=f"-{COPY.lower()}").count() == 26
    # The demo's coordinator coordinates the copy (--coordinator-of-all), not the million stage's.
    demo_coordinator = users.get(username="coordinator")
    roles = ConsortiumRole.objects.filter(user=demo_coordinator, kind="coordinator")
    assert set(roles.values_list("consortium__acronym", flat=True)) == {ACRONYM, COPY}


def check_rows_validate() -> None:
    """A sample of each kind of row (most of them generated) passes the models' own validation;
    an expense has an accepted amount once accepted, and only then."""
    for model in (Expense, JobRecord, Effort, Deliverable, Milestone, Statement, BudgetLine):
        rows = model.objects.order_by("pk")
        for row in rows[:: max(1, rows.count() // 80)]:
            row.full_clean()
    accepted = Expense.objects.filter(status="accepted")
    assert not accepted.filter(accepted_amount__isnull=True).exists()
    assert not accepted.filter(accepted_amount__gt=F("amount")).exists()
    assert accepted.filter(accepted_amount__lt=F("amount")).exists()
    assert not Expense.objects.exclude(status="accepted").exclude(accepted_amount=None).exists()
    for organisation in Organisation.objects.exclude(partnerships__consortium__acronym=ACRONYM):
        organisation.full_clean()


def check_statements_declare_their_lines() -> None:
    """Every submitted statement declares its partner's lines of its period (withdrawn aside),
    and no draft sits in a period whose statement is submitted."""
    declared = {
        (row["partner_id"], row["period_id"]): (row["lines"], row["total"])
        for row in Expense.objects.declared()
        .order_by()
        .values("partner_id", "period_id")
        .annotate(lines=Count("pk"), total=Sum("amount"))
    }
    for statement in Statement.objects.order_by("pk"):
        lines, total = declared.get((statement.partner_id, statement.period_id), (0, Decimal(0)))
        assert (statement.lines, statement.total) == (lines, total), statement.pk
    submitted = Statement.objects.values_list("partner_id", "period_id")
    drafts = set(Expense.objects.filter(status="draft").values_list("partner_id", "period_id"))
    assert not drafts & set(submitted)


def check_isolation(demo: Consortium) -> None:
    """No demo login sees a row of the million stage."""
    users = get_user_model().objects
    million = Q(consortium__acronym__in=MILLION)
    for username in ("partner1", "partner2", "observer", "coordinator"):
        user = users.get(username=username)
        assert not Expense.objects.restrict(user, "view").filter(million).exists()
        assert not JobRecord.objects.restrict(user, "view").filter(million).exists()
    partner1 = users.get(username="partner1")
    seen = Expense.objects.restrict(partner1, "view")
    own = Membership.objects.get(user=partner1).partner
    assert seen.count() == Expense.objects.filter(partner=own).count() > 0
    assert set(seen.values_list("consortium_id", flat=True)) == {demo.pk}


def fingerprint() -> dict[str, Any]:
    """What the generated rows hold, without their ids and timestamps."""
    expenses = (
        Expense.objects.values("consortium__acronym", "status")
        .annotate(
            n=Count("pk"),
            amount=Sum("amount"),
            accepted=Sum("accepted_amount"),
            first=Min("incurred_on"),
            last=Max("incurred_on"),
        )
        .order_by("consortium__acronym", "status")
    )
    jobs = (
        JobRecord.objects.values("consortium__acronym", "status", "impact")
        .annotate(n=Count("pk"), fte=Sum("fte"), first=Min("start_date"), last=Max("start_date"))
        .order_by("consortium__acronym", "status", "impact")
    )
    statements = (
        Statement.objects.values("consortium__acronym")
        .annotate(lines=Sum("lines"), total=Sum("total"))
        .order_by("consortium__acronym")
    )
    return {
        "consortia": list(
            Consortium.objects.order_by("acronym").values_list("acronym", "total_budget")
        ),
        "expenses": list(expenses),
        "jobs": list(jobs),
        "statements": list(statements),
        "effort": Effort.objects.aggregate(n=Count("pk"), actual=Sum("actual_person_months")),
        "lines": list(
            BudgetLine.objects.values("consortium__acronym")
            .annotate(planned=Sum("planned_amount"), granted=Sum("granted_amount"))
            .order_by("consortium__acronym")
        ),
        "organisations": sorted(
            Organisation.objects.values_list("enterprise_number", "short_name")
        ),
        "users": sorted(get_user_model().objects.values_list("username", "is_staff")),
    }


def test_the_same_options_on_the_same_database_give_the_same_rows(demo: Consortium) -> None:
    runs = []
    for _run in range(2):
        with transaction.atomic():
            generate(
                "--scale", "2", "--big",
                "--million", "--million-rows", "1000", "--million-consortia", "1",
            )  # fmt: skip
            runs.append(fingerprint())
            transaction.set_rollback(True)

    assert runs[0] == runs[1]
    assert len(runs[0]["consortia"]) == 3
    # Another seed, other choices.
    with transaction.atomic():
        generate("--scale", "2", "--seed", "7")
        other = fingerprint()
        transaction.set_rollback(True)
    assert copy_of(other["expenses"]) != copy_of(runs[0]["expenses"])


def copy_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["consortium__acronym"] == COPY]


def test_a_second_run_adds_what_is_missing_only(demo: Consortium) -> None:
    generate("--scale", "2")
    before = counts(Consortium.objects.get(acronym=COPY))

    printed = generate("--scale", "3", "--big")

    assert "PIT-ATMP-02" in printed
    assert counts(Consortium.objects.get(acronym=COPY)) == before
    assert counts(Consortium.objects.get(acronym=f"{ACRONYM}-03")) == before
    with pytest.raises(CommandError, match="grown already"):
        generate("--scale", "3", "--big")
