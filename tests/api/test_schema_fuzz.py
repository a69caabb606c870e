"""Every operation of the published OpenAPI schema, fuzzed with Schemathesis as a coordinator and as
a partner's member: no answer is a server error, and every answer (status code, content type,
headers, body) is one the schema documents.

The schema is the one the application serves at `/api/schema/`; requests go in-process to the
Django WSGI application, inside the test database. Path ids, filters and related-object ids are
drawn mostly from the rows of the API tests' world (`tests/api/world.py`: a consortium with rows in
every state, and another consortium whose ids exist but must stay invisible), so that retrieve,
update and the workflow actions run their real code and not only the 404 branch. Each generated request runs against the seeded state and is rolled
back afterwards: a token revoked by `DELETE /api/v1/auth/token/` is back for the next request.
The world is built once for the module and rolled back after it; each test starts from it as
built.

`make test` replays a small fixed set of examples per operation (the same ones every run, drawn
from a fixed seed); `make fuzz` draws at least 100 new ones per operation each run and keeps the
failing ones in Hypothesis' example database under `var/hypothesis/`, replayed first next time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import Binary

from consortium.accounts import api_token_issue
from consortium.models import (
    Consortium,
    CostCategory,
    Membership,
    Organisation,
    Partner,
    ReportingPeriod,
)
from tests import factories
from tests.api.conftest import PDF
from tests.api.openapi import published_schema
from tests.api.world import World
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.models import Deliverable, Milestone, Workpackage

pytestmark = pytest.mark.django_db

APP = WSGIHandler()
ROOT = Path(__file__).resolve().parents[2]
# `FUZZ=deep` (make fuzz): random examples, at least 100 per operation, failures remembered.
DEEP = os.environ.get("FUZZ") == "deep"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100" if DEEP else "8"))
EXAMPLE_DATABASE = (
    DirectoryBasedExampleDatabase(ROOT / "var" / "hypothesis" / "examples") if DEEP else None
)
# Without shrinking a failure is reported as found, which keeps a red run as short as a green
# one; the deep run shrinks it to its simplest form and stores it.
PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
    if DEEP
    else [Phase.explicit, Phase.generate]
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}

# DRF's codes for a value of the wrong form: type, size, bounds, choices, format. A request the
# schema calls valid that comes back with one of them shows a rule the server applies and the
# schema does not state. A business rule (a period already submitted, a comment the decision
# needs, a partner outside the workpackage) is refused with a code and message of its own.
FORM_CODES = {
    "required",
    "null",
    "blank",
    "max_length",
    "min_length",
    "max_value",
    "min_value",
    "max_digits",
    "max_decimal_places",
    "max_whole_digits",
    "invalid_choice",
    "incorrect_type",
    "not_a_list",
    "empty",
    "naive",
    "date",
    "datetime",
}


FILE_FIELDS = {"file", "evidence"}


@schemathesis.check
def valid_input_is_refused_only_by_a_rule(ctx: Any, response: Any, case: Any) -> bool | None:
    """No valid input refused without a documented reason: a request generated from the schema
    (positive data) is never a 400 for the form of a value."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 400:
        return None
    errors = response.json().get("errors", [])
    # An id of a row one may not see is refused like a missing one (`invalid_choice` on a
    # filter, `does_not_exist` in a body): no schema can list the rows a caller sees.
    form = sorted(
        {
            error["code"]
            for error in errors
            if not (error["code"] == "invalid_choice" and error["attr"] in RELATED)
            # An empty file part reads as no file: OpenAPI 3.0 bounds no file's content.
            and not (error["code"] in {"required", "empty"} and error["attr"] in FILE_FIELDS)
        }
        & FORM_CODES
    )
    if form:
        raise AssertionError(
            f"a value the schema allows is refused as malformed ({', '.join(form)}): "
            f"{response.text[:400]}"
        )
    return None


CHECKS.append(valid_input_is_refused_only_by_a_rule)


def _labels(schema: dict[str, Any]) -> list[str]:
    return sorted(
        f"{method.upper()} {path}"
        for path, methods in schema["paths"].items()
        for method in methods
        if method in HTTP_METHODS
    )


# Known at collection, before there is a database; the tests fuzz the schema the application
# serves and check that it declares exactly these operations.
LABELS = _labels(published_schema())

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
    """The schema as `GET /api/schema/` serves it to a signed-in integration, loaded once (the
    reader and its token rolled back afterwards)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            token = api_token_issue(user=factories.UserFactory())
            headers = {"Authorization": f"Token {token.key}"}
            schema = schemathesis.openapi.from_wsgi("/api/schema/", APP, headers=headers)
            transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return schema


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
        derandomize=not DEEP,
        database=EXAMPLE_DATABASE,
        phases=PHASES,
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
    assert len(LABELS) == 61
