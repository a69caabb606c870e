"""Every operation of the published OpenAPI schema, fuzzed with Schemathesis as a coordinator and as
a partner's member: no answer is a server error, and every answer (status code, content type,
headers, body) is one the schema documents.

The schema is the one the application serves at `/api/schema/`; requests go in-process to the
Django WSGI application, inside the test database. Path ids, filters and related-object ids are
drawn mostly from the rows of a small seeded consortium (and of another consortium, whose ids exist
but must stay invisible), so that retrieve, update and the workflow actions run their real code
and not only the 404 branch. Each generated request runs against the seeded state and is rolled
back afterwards: a token revoked by `DELETE /api/v1/auth/token/` is back for the next request.
The seeded consortium is built once for the module and rolled back after it; each test starts from
it as built.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import Binary

from consortium.choices import ConsortiumRoleKind, PartnerRole
from consortium.models import (
    Consortium,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)
from consortium.services import api_token_issue
from tests import factories
from tests.api.conftest import PDF
from tests.conftest import _grant, _member
from workpackages.jobs.choices import JobImpact
from workpackages.jobs.models import JobRecord
from workpackages.jobs.services import job_realise
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.services import budget_line_cancel, expense_accept, expense_submit
from workpackages.workplan.models import Deliverable, Milestone, Workpackage
from workpackages.workplan.services import (
    deliverable_approve,
    deliverable_submit,
    milestone_achieve,
)

pytestmark = pytest.mark.django_db

APP = WSGIHandler()
EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


def _labels(schema: dict[str, Any]) -> list[str]:
    return sorted(
        f"{method.upper()} {path}"
        for path, methods in schema["paths"].items()
        for method in methods
        if method in HTTP_METHODS
    )


# Known at collection, before there is a database; the tests fuzz the schema the application
# serves and check that it declares exactly these operations.
LABELS = _labels(SchemaGenerator().get_schema(request=None, public=True))

# The model behind each resource, by the path segment after /api/v1/.
RESOURCES: dict[str, Any] = {
    "consortia": Consortium,
    "organisations": Organisation,
    "partners": Partner,
    "memberships": Membership,
    "reporting-periods": ReportingPeriod,
    "cost-categories": CostCategory,
    "workpackages": Workpackage,
    "deliverables": Deliverable,
    "milestones": Milestone,
    "budget-lines": BudgetLine,
    "expenses": Expense,
    "effort": Effort,
    "jobs": JobRecord,
}
# Filters and body fields that hold the id of a row of these models.
RELATED: dict[str, Any] = {
    "consortium": Consortium,
    "partner": Partner,
    "lead_partner": Partner,
    "workpackage": Workpackage,
    "category": CostCategory,
    "period": ReportingPeriod,
}
# Plausible values for body fields whose generated values are almost always refused.
PLAUSIBLE: dict[str, list[str]] = {
    "incurred_on": ["2024-01-20", "2024-05-31", "2024-08-14", "2025-03-03"],
    "start_date": ["2024-04-01", "2025-01-15"],
    "end_date": ["2026-12-31"],
    "achieved_on": ["2025-06-30", "2026-11-02"],
    "amount": ["1200.00", "87.35"],
    "accepted_amount": ["600.00", "1200.00"],
    "planned_amount": ["25000.00"],
    "fte": ["0.50", "1.00"],
}


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_home_outside_the_repository(tmp_path_factory: Any) -> Any:
    # Hypothesis caches constants and Unicode tables in `.hypothesis/` of the working directory.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Any:
    # Django closes the database connection when a request ends, which would end the test's
    # transaction; its own test client switches that off in the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="session")
def served_schema(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """The schema as `GET /api/schema/` serves it, loaded once."""
    with django_db_blocker.unblock():
        return schemathesis.openapi.from_wsgi("/api/schema/", APP)


@dataclass(frozen=True)
class World:
    """The fuzzed consortium's two users, and per writable resource the fields that together make
    a valid new row for partner A (or B, for a coordinator's budget line)."""

    coordinator: Any
    partner_member: Any
    bodies: dict[str, dict[str, Any]]


def _build_world() -> World:
    """A consortium with rows in the states the actions move between, and rows of another
    consortium (ids that exist, and must answer 404).

    Its first rows are those of the fixtures of `tests/conftest.py` (consortium, other_consortium,
    partner_a, partner_b, other_partner, workpackage, coordinator, partner_member,
    other_partner_member, personnel, operating), made the same way."""
    consortium = factories.ConsortiumFactory(acronym="PIT-TEST", name="A test partnership")
    other_consortium = factories.ConsortiumFactory(acronym="PIT-OTHER", name="Another partnership")
    partner_a = factories.PartnerFactory(
        consortium=consortium,
        number=1,
        role=PartnerRole.COORDINATOR,
        organisation__short_name="BioWin",
        organisation__kind="non_profit",
        default_funding_rate=Decimal("100.00"),
    )
    partner_b = factories.PartnerFactory(
        consortium=consortium, number=2, organisation__short_name="CellForge"
    )
    other_partner = factories.PartnerFactory(consortium=other_consortium, number=1)
    workpackage = factories.WorkpackageFactory(
        consortium=consortium, number=1, title="Exosome manufacturing", lead_partner=partner_a
    )
    factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner_a)
    factories.WorkpackageParticipantFactory(workpackage=workpackage, partner=partner_b)
    coordinator = _grant(consortium, ConsortiumRoleKind.COORDINATOR, "coordinator")
    partner_member = _member(partner_a, "member-a")
    other_partner_member = _member(partner_b, "member-b")
    personnel = CostCategory.objects.get(consortium=consortium, code="personnel")
    operating = CostCategory.objects.get(consortium=consortium, code="operating")

    wp2 = factories.WorkpackageFactory(consortium=consortium, number=2, lead_partner=partner_b)
    factories.WorkpackageParticipantFactory(workpackage=wp2, partner=partner_b)
    line_a = factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage)
    line_a_op = factories.BudgetLineFactory(
        partner=partner_a, workpackage=workpackage, heading="operating"
    )
    line_b = factories.BudgetLineFactory(partner=partner_b, workpackage=wp2)
    cancelled = factories.BudgetLineFactory(partner=partner_a, workpackage=wp2, heading="equipment")
    budget_line_cancel(line=cancelled, user=coordinator)

    # Partner A: two drafts, one submitted, one accepted; partner B: a draft and a submitted one.
    factories.ExpenseFactory(line=line_a)
    factories.ExpenseFactory(line=line_a_op, amount=Decimal("310.50"))
    submitted = factories.ExpenseFactory(line=line_a)
    expense_submit(expense=submitted, user=partner_member)
    accepted = factories.ExpenseFactory(line=line_a_op, period_number=2)
    expense_submit(expense=accepted, user=partner_member)
    expense_accept(expense=accepted, user=coordinator)
    factories.ExpenseFactory(line=line_b)
    submitted_b = factories.ExpenseFactory(line=line_b)
    expense_submit(expense=submitted_b, user=other_partner_member)

    factories.EffortFactory(partner=partner_a, workpackage=workpackage)
    factories.EffortFactory(partner=partner_b, workpackage=wp2, period_number=2)

    factories.JobRecordFactory(partner=partner_a, workpackage=workpackage)
    realised = factories.JobRecordFactory(partner=partner_a, impact=JobImpact.INDIRECT)
    job_realise(job=realised, user=partner_member)
    factories.JobRecordFactory(partner=partner_b)

    # D1.1 is overdue and planned, D1.2 submitted late, D1.3 approved, D2.1 not due yet.
    factories.DeliverableFactory(workpackage=workpackage, number=1, due_month=12)
    for number, approve in ((2, False), (3, True)):
        deliverable = factories.DeliverableFactory(
            workpackage=workpackage, number=number, due_month=30
        )
        deliverable_submit(
            deliverable=deliverable,
            user=partner_member,
            file=ContentFile(PDF, name=f"d1-{number}.pdf"),
            late_justification="The GMP suite opened late.",
        )
        if approve:
            deliverable_approve(deliverable=deliverable, user=coordinator)
    factories.DeliverableFactory(workpackage=wp2, number=1, due_month=36)

    factories.MilestoneFactory(lead_partner=partner_a, number=1, workpackages=[workpackage])
    achieved = factories.MilestoneFactory(lead_partner=partner_b, number=2, workpackages=[wp2])
    milestone_achieve(
        milestone=achieved,
        user=coordinator,
        achieved_on=datetime.date(2025, 5, 1),
        evidence="Batch record signed by the qualified person.",
    )

    other_wp = factories.WorkpackageFactory(
        consortium=other_consortium, number=1, lead_partner=other_partner
    )
    other_line = factories.BudgetLineFactory(partner=other_partner, workpackage=other_wp)
    factories.ExpenseFactory(line=other_line)
    factories.EffortFactory(partner=other_partner, workpackage=other_wp)
    factories.JobRecordFactory(partner=other_partner)
    factories.DeliverableFactory(workpackage=other_wp, number=1)
    factories.MilestoneFactory(lead_partner=other_partner, number=1)
    factories.MembershipFactory(partner=other_partner)

    third_period = consortium.periods.get(number=3)
    bodies = {
        "expenses": {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": personnel.pk,
            "period": consortium.periods.get(number=1).pk,
            "incurred_on": "2024-02-20",
            "amount": "450.00",
        },
        "budget-lines": {
            "partner": partner_b.pk,
            "workpackage": workpackage.pk,
            "category": operating.pk,
            "planned_amount": "20000.00",
        },
        "effort": {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "period": third_period.pk,
            "actual_person_months": "2.50",
        },
        "jobs": {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "fte": "0.80",
            "start_date": "2025-02-01",
        },
    }
    return World(coordinator=coordinator, partner_member=partner_member, bodies=bodies)


@pytest.fixture(scope="module")
def _world_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the world's files (the submitted deliverables) are written."""
    return tmp_path_factory.mktemp("world-media")


@pytest.fixture(scope="module")
def _world(served_schema: Any, django_db_blocker: Any, _world_media: Path) -> Iterator[World]:
    """The world, built once for the module in a transaction rolled back after it.

    Each test runs in a savepoint of that transaction (pytest-django's `django_db`), each of its
    examples in a savepoint of the test's: every test starts from the world as built, as if it had
    built it itself. (`served_schema` comes first: loading it ends a request, which would close the
    connection and with it the world's transaction.)"""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(MEDIA_ROOT=_world_media):
            built = _build_world()
        yield built
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path, _world_media: Path) -> None:
    # Replaces the fixture of tests/conftest.py for this module: a throw-away folder for each test,
    # holding the world's files as when each test built its own world.
    settings.MEDIA_ROOT = tmp_path / "media"
    shutil.copytree(_world_media, settings.MEDIA_ROOT)


@pytest.fixture
def world(_world: World) -> World:
    return _world


def _ids(model: Any) -> list[int]:
    return list(model.objects.order_by("pk").values_list("pk", flat=True))


def _mostly(data: Any, choices: list[Any], generated: Any, name: str) -> Any:
    """One of `choices` four times in five, the generated value otherwise."""
    if choices and data.draw(st.integers(0, 4), label=f"replace {name}?") < 4:
        return data.draw(st.sampled_from(choices), label=name)
    return generated


def _sometimes(data: Any, choices: list[Any], generated: Any, name: str) -> Any:
    """One of `choices` half of the time, the generated value otherwise."""
    if data.draw(st.booleans(), label=f"replace {name}?"):
        return data.draw(st.sampled_from(choices), label=name)
    return generated


@pytest.mark.parametrize("role", ["coordinator", "partner"])
@pytest.mark.parametrize("label", LABELS)
def test_operation_conforms_to_schema(
    label: str,
    role: str,
    served_schema: Any,
    world: World,
) -> None:
    user = world.coordinator if role == "coordinator" else world.partner_member
    token = api_token_issue(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    operation = served_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served schema"
    resource = operation.path.removeprefix("/api/v1/").split("/")[0]
    path_ids = _ids(RESOURCES[resource]) if resource in RESOURCES else []
    related = {name: _ids(model) for name, model in RELATED.items()}
    plausible: dict[str, list[Any]] = {
        **PLAUSIBLE,
        "username": [user.username],
        "password": [factories.PASSWORD],
    }
    examples: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: a failure is reported as found, which keeps a red run as short as a green one.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=operation.as_strategy(), data=st.data())
    def fuzz(case: Any, data: Any) -> None:
        if "id" in case.path_parameters:
            case.path_parameters["id"] = _mostly(data, path_ids, case.path_parameters["id"], "id")
        for name, value in list((case.query or {}).items()):
            if name in related and isinstance(value, int):
                case.query[name] = _mostly(data, related[name], value, name)
        if isinstance(case.body, dict):
            for name, value in list(case.body.items()):
                if name in related and isinstance(value, int):
                    case.body[name] = _mostly(data, related[name], value, name)
                elif isinstance(value, bytes | Binary) and "multipart" in (case.media_type or ""):
                    case.body[name] = _sometimes(data, [PDF], value, name)
                elif name in plausible:
                    case.body[name] = _sometimes(data, plausible[name], value, name)
            # A third of the bodies of creates and edits get a consistent set of related rows,
            # dates and amounts (an action's body has fields of its own).
            record = operation.path in {f"/api/v1/{resource}/", f"/api/v1/{resource}/{{id}}/"}
            if (
                record
                and resource in world.bodies
                and data.draw(st.integers(0, 2), label="consistent?") == 0
            ):
                case.body.update(world.bodies[resource])
        cache.clear()  # throttle counters: each example starts with none
        with transaction.atomic():
            case.call_and_validate(headers=headers, checks=CHECKS)
            transaction.set_rollback(True)
        examples.append(case.formatted_path)

    fuzz()
    assert len(examples) >= EXAMPLES


def test_every_operation_of_the_schema_is_fuzzed(served_schema: Any) -> None:
    loaded = sorted(result.ok().label for result in served_schema.get_all_operations())
    assert loaded == _labels(served_schema.raw_schema) == LABELS
    assert len(LABELS) == 52
