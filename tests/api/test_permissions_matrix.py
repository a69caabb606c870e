"""Who may do what through `/api/v1/`: every operation of the published schema, called by each of
six callers (nobody, a member of partner A, a member of partner B, the coordinator, the coordinator
of another consortium, an observer) on rows of consortium PIT-TEST that belong to partner A.

The table EXPECTED states the answer each caller gets, and the schema must list exactly the
operations of that table: an operation added to (or removed from) the API fails the suite until
someone decides who may call it. Each call sends a valid request, so that a refusal is about who
is asking and never about the body; a refused write leaves the row, its history and the row
counts untouched, a permitted one is recorded in the row's history under the caller's name, and a
list shows a row to exactly the callers the scoping rule lets see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from consortium.choices import ConsortiumRoleKind
from consortium.models import Consortium, IntegrationToken, Membership, Organisation
from consortium.services import consortium_role_grant
from reporting.models import Report
from tests import factories
from tests.api.conftest import PDF, api_client
from tests.api.openapi import published_schema
from tests.api.world import base_fixtures
from tests.assertions import api_errors
from tests.factories import PASSWORD
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.workplan.models import DeliverableReview, DeliverableSubmission
from workpackages.workplan.services import deliverable_submit

Operation = tuple[str, str]

# Consortia, partners, the workpackage, people and budget lines of tests/conftest.py, built once for
# the module; each test builds the rest it needs on top of them.
globals().update(base_fixtures())

ROLES = ("anonymous", "partner_a", "partner_b", "coordinator", "other_coordinator", "observer")

# The fixture (tests/conftest.py) that gives each caller's user.
ROLE_FIXTURES = {
    "partner_a": "partner_member",
    "partner_b": "other_partner_member",
    "coordinator": "coordinator",
    "other_coordinator": "other_coordinator",
    "observer": "observer",
}

# Who sees partner A's rows: every row of the work plan is read by every partner of the consortium,
# a partner's private rows (money, effort, jobs, memberships) by that partner and the overseers.
SEE_WORK_PLAN = {"partner_a", "partner_b", "coordinator", "observer"}
SEE_PARTNER_A = {"partner_a", "coordinator", "observer"}
SEE_PARTNER_B = {"partner_b", "coordinator", "observer"}

# The answer of each operation to each caller, in the order of ROLES:
#   anonymous, partner A, partner B, coordinator, other consortium's coordinator, observer.
# The expense the detail, edit, submit and withdraw cases act on is a draft: the funder never
# reads one (404), as it reads the submitted expense accept and reject act on.
# fmt: off
EXPECTED: dict[Operation, tuple[int, int, int, int, int, int]] = {
    #                                                       anon  A    B   coord other observer
    ("POST",   "/api/v1/auth/token/"):                         (400, 200, 200, 200, 200, 200),
    ("DELETE", "/api/v1/auth/token/"):                         (401, 204, 204, 204, 204, 204),
    # Each person's own integration tokens; the one revoked is the coordinator's.
    ("GET",    "/api/v1/auth/tokens/"):                        (401, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/auth/tokens/"):                        (401, 201, 201, 201, 201, 201),
    ("POST",   "/api/v1/auth/tokens/{id}/revoke/"):            (401, 404, 404, 200, 404, 404),
    ("GET",    "/api/v1/consortia/"):                          (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/consortia/{id}/"):                     (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/consortia/{id}/summary/"):             (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/consortia/{id}/budget-breakdown/"):    (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/consortia/{id}/jobs-breakdown/"):      (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/organisations/"):                      (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/organisations/{id}/"):                 (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/partners/"):                           (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/partners/{id}/"):                      (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/memberships/"):                        (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/memberships/{id}/"):                   (401, 200, 404, 200, 404, 200),
    ("GET",    "/api/v1/reporting-periods/"):                  (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/reporting-periods/{id}/"):             (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/cost-categories/"):                    (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/cost-categories/{id}/"):               (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/workpackages/"):                       (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/workpackages/{id}/"):                  (401, 200, 200, 200, 404, 200),
    ("GET",    "/api/v1/deliverables/"):                       (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/deliverables/{id}/"):                  (401, 200, 200, 200, 404, 200),
    ("POST",   "/api/v1/deliverables/{id}/submit/"):           (401, 200, 403, 200, 404, 403),
    ("POST",   "/api/v1/deliverables/{id}/approve/"):          (401, 403, 403, 200, 404, 403),
    ("POST",   "/api/v1/deliverables/{id}/request-changes/"):  (401, 403, 403, 200, 404, 403),
    ("GET",    "/api/v1/milestones/"):                         (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/milestones/{id}/"):                    (401, 200, 200, 200, 404, 200),
    ("POST",   "/api/v1/milestones/{id}/achieve/"):            (401, 403, 403, 200, 404, 403),
    ("GET",    "/api/v1/budget-lines/"):                       (401, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/budget-lines/"):                       (401, 403, 403, 201, 400, 403),
    ("GET",    "/api/v1/budget-lines/{id}/"):                  (401, 200, 404, 200, 404, 200),
    ("PUT",    "/api/v1/budget-lines/{id}/"):                  (401, 403, 404, 200, 404, 403),
    ("PATCH",  "/api/v1/budget-lines/{id}/"):                  (401, 403, 404, 200, 404, 403),
    ("POST",   "/api/v1/budget-lines/{id}/cancel/"):           (401, 403, 404, 200, 404, 403),
    ("GET",    "/api/v1/expenses/"):                           (401, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/expenses/"):                           (401, 201, 400, 201, 400, 403),
    ("GET",    "/api/v1/expenses/{id}/"):                      (401, 200, 404, 200, 404, 404),
    ("PUT",    "/api/v1/expenses/{id}/"):                      (401, 200, 404, 200, 404, 404),
    ("PATCH",  "/api/v1/expenses/{id}/"):                      (401, 200, 404, 200, 404, 404),
    ("PUT",    "/api/v1/expenses/{id}/evidence/"):             (401, 200, 404, 200, 404, 404),
    ("POST",   "/api/v1/expenses/{id}/submit/"):               (401, 200, 404, 200, 404, 404),
    ("POST",   "/api/v1/expenses/{id}/accept/"):               (401, 403, 404, 200, 404, 403),
    ("POST",   "/api/v1/expenses/{id}/reject/"):               (401, 403, 404, 200, 404, 403),
    ("POST",   "/api/v1/expenses/{id}/withdraw/"):             (401, 200, 404, 200, 404, 404),
    ("GET",    "/api/v1/effort/"):                             (401, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/effort/"):                             (401, 201, 400, 201, 400, 403),
    ("GET",    "/api/v1/effort/{id}/"):                        (401, 200, 404, 200, 404, 200),
    ("PUT",    "/api/v1/effort/{id}/"):                        (401, 200, 404, 200, 404, 403),
    ("PATCH",  "/api/v1/effort/{id}/"):                        (401, 200, 404, 200, 404, 403),
    ("GET",    "/api/v1/jobs/"):                               (401, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/jobs/"):                               (401, 201, 400, 201, 400, 403),
    ("GET",    "/api/v1/jobs/{id}/"):                          (401, 200, 404, 200, 404, 200),
    ("PUT",    "/api/v1/jobs/{id}/"):                          (401, 200, 404, 200, 404, 403),
    ("PATCH",  "/api/v1/jobs/{id}/"):                          (401, 200, 404, 200, 404, 403),
    ("POST",   "/api/v1/jobs/{id}/realise/"):                  (401, 200, 404, 200, 404, 403),
    ("POST",   "/api/v1/jobs/{id}/withdraw/"):                 (401, 200, 404, 200, 404, 403),
    # The report archive: those who oversee the consortium, observers the reports sent.
    ("GET",    "/api/v1/reports/"):                            (401, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/reports/{id}/"):                       (401, 404, 404, 200, 404, 200),
    # Rows deleted since a moment, as their rows were read: a deliverable, by the consortium.
    ("GET",    "/api/v1/changes/"):                            (401, 200, 200, 200, 200, 200),
}
# fmt: on


class World:
    """PIT-TEST as one case needs it: each fixture of tests/conftest.py is built on first use."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        return self._request.getfixturevalue(name)

    def user(self, role: str) -> Any:
        return None if role == "anonymous" else getattr(self, ROLE_FIXTURES[role])


Build = Callable[[World], Any]


@dataclass(frozen=True)
class Spec:
    """How to call one operation: the row it acts on (or a list must show), the body, the answer."""

    target: Build | None = None
    # A row of partner B that a list of private rows shows to partner B, never to partner A.
    sibling: Build | None = None
    body: Build | None = None
    multipart: bool = False
    # The fields of a successful answer.
    done: dict[str, Any] = field(default_factory=dict)
    # Creates: the model a new row is added to.
    creates: type | None = None


# The rows the operations act on, all of partner A in PIT-TEST, each in a state allowing the action.


def _membership(w: World) -> Any:
    return Membership.objects.get(user=w.partner_member)


def _membership_b(w: World) -> Any:
    return Membership.objects.get(user=w.other_partner_member)


def _submitted_deliverable(w: World) -> Any:
    deliverable = w.deliverable
    deliverable_submit(
        deliverable=deliverable,
        user=w.partner_member,
        file=ContentFile(PDF, name="d1-1.pdf"),
        late_justification="The supplier delivered the reagents late.",
    )
    deliverable.refresh_from_db()
    return deliverable


def _expense_b(w: World) -> Any:
    return factories.ExpenseFactory(line=w.budget_line_b)


def _effort(w: World) -> Any:
    return factories.EffortFactory(partner=w.partner_a, workpackage=w.workpackage)


def _effort_b(w: World) -> Any:
    return factories.EffortFactory(partner=w.partner_b, workpackage=w.workpackage)


def _job_b(w: World) -> Any:
    return factories.JobRecordFactory(partner=w.partner_b, workpackage=w.workpackage)


# Valid bodies naming partner A's rows.


def _budget_line_body(w: World) -> dict[str, Any]:
    return {
        "partner": w.partner_a.pk,
        "workpackage": w.workpackage.pk,
        "category": w.operating.pk,
        "planned_amount": "5000.00",
    }


def _budget_line_put(w: World) -> dict[str, Any]:
    line = w.budget_line
    return {
        "partner": line.partner_id,
        "workpackage": line.workpackage_id,
        "category": line.category_id,
        "planned_amount": "90000.00",
        "funding_rate": "80.00",
    }


def _expense_body(w: World) -> dict[str, Any]:
    w.budget_line  # noqa: B018  (an expense needs partner A's personnel line in WP1)
    return {
        "partner": w.partner_a.pk,
        "workpackage": w.workpackage.pk,
        "category": w.personnel.pk,
        "period": w.period.pk,
        "incurred_on": "2024-03-15",
        "amount": "321.00",
        "description": "Cell culture flasks",
        "invoice_reference": "INV-2024-0315",
    }


def _expense_put(w: World) -> dict[str, Any]:
    body = _expense_body(w)
    body.update(incurred_on="2024-02-20", amount="1500.00", description="Culture media, corrected")
    return body


def _effort_body(w: World) -> dict[str, Any]:
    return {
        "partner": w.partner_a.pk,
        "workpackage": w.workpackage.pk,
        "period": w.consortium.periods.get(number=2).pk,
        "actual_person_months": "1.50",
    }


def _effort_put(w: World) -> dict[str, Any]:
    return {
        "partner": w.partner_a.pk,
        "workpackage": w.workpackage.pk,
        "period": w.period.pk,
        "planned_person_months": "6.00",
        "actual_person_months": "5.50",
    }


def _job_body(w: World) -> dict[str, Any]:
    return {
        "partner": w.partner_a.pk,
        "workpackage": w.workpackage.pk,
        "position_title": "Bioprocess engineer",
        "category": "production",
        "contract_type": "fixed_term",
        "fte": "1.00",
        "start_date": "2025-09-01",
        "impact": "direct",
    }


def _job_put(w: World) -> dict[str, Any]:
    return {
        "partner": w.partner_a.pk,
        "workpackage": w.workpackage.pk,
        "position_title": "Senior QC analyst",
        "category": "quality",
        "contract_type": "permanent",
        "fte": "0.80",
        "start_date": w.job.start_date.isoformat(),
        "impact": "direct",
    }


def _evidence_body(w: World) -> dict[str, Any]:
    return {"evidence": SimpleUploadedFile("invoice-7.pdf", PDF, content_type="application/pdf")}


def _deliverable_submit_body(w: World) -> dict[str, Any]:
    return {
        "file": SimpleUploadedFile("d1-1.pdf", PDF, content_type="application/pdf"),
        "note": "First version.",
        # D1.1 was due on 31 December 2024: a submission needs a reason for the delay.
        "late_justification": "The supplier delivered the reagents late.",
    }


def _coordinator_token(w: World) -> Any:
    return factories.IntegrationTokenFactory(user=w.coordinator, name="Power BI")


def _const(body: dict[str, Any]) -> Build:
    return lambda w: body


def _get(name: str) -> Build:
    return lambda w: getattr(w, name)


SPECS: dict[Operation, Spec] = {
    ("POST", "/api/v1/auth/token/"): Spec(),
    ("DELETE", "/api/v1/auth/token/"): Spec(),
    ("GET", "/api/v1/auth/tokens/"): Spec(target=_coordinator_token),
    ("POST", "/api/v1/auth/tokens/"): Spec(
        body=_const({"name": "ERP sync", "expires_in_days": 90, "read_only": False}),
        creates=IntegrationToken,
        done={"name": "ERP sync", "read_only": False, "state": "active"},
    ),
    ("POST", "/api/v1/auth/tokens/{id}/revoke/"): Spec(
        target=_coordinator_token, body=_const({}), done={"state": "revoked"}
    ),
    ("GET", "/api/v1/consortia/"): Spec(target=_get("consortium")),
    ("GET", "/api/v1/consortia/{id}/"): Spec(target=_get("consortium")),
    ("GET", "/api/v1/consortia/{id}/summary/"): Spec(target=_get("consortium")),
    ("GET", "/api/v1/consortia/{id}/budget-breakdown/"): Spec(target=_get("consortium")),
    ("GET", "/api/v1/consortia/{id}/jobs-breakdown/"): Spec(target=_get("consortium")),
    ("GET", "/api/v1/organisations/"): Spec(target=lambda w: w.partner_a.organisation),
    ("GET", "/api/v1/organisations/{id}/"): Spec(target=lambda w: w.partner_a.organisation),
    ("GET", "/api/v1/partners/"): Spec(target=_get("partner_a")),
    ("GET", "/api/v1/partners/{id}/"): Spec(target=_get("partner_a")),
    ("GET", "/api/v1/memberships/"): Spec(target=_membership, sibling=_membership_b),
    ("GET", "/api/v1/memberships/{id}/"): Spec(target=_membership),
    ("GET", "/api/v1/reporting-periods/"): Spec(target=_get("period")),
    ("GET", "/api/v1/reporting-periods/{id}/"): Spec(target=_get("period")),
    ("GET", "/api/v1/cost-categories/"): Spec(target=_get("personnel")),
    ("GET", "/api/v1/cost-categories/{id}/"): Spec(target=_get("personnel")),
    ("GET", "/api/v1/workpackages/"): Spec(target=_get("workpackage")),
    ("GET", "/api/v1/workpackages/{id}/"): Spec(target=_get("workpackage")),
    ("GET", "/api/v1/deliverables/"): Spec(target=_get("deliverable")),
    ("GET", "/api/v1/deliverables/{id}/"): Spec(target=_get("deliverable")),
    ("POST", "/api/v1/deliverables/{id}/submit/"): Spec(
        target=_get("deliverable"),
        body=_deliverable_submit_body,
        multipart=True,
        done={"status": "submitted"},
    ),
    ("POST", "/api/v1/deliverables/{id}/approve/"): Spec(
        target=_submitted_deliverable,
        body=_const({"comment": "Clear and complete."}),
        done={"status": "approved"},
    ),
    ("POST", "/api/v1/deliverables/{id}/request-changes/"): Spec(
        target=_submitted_deliverable,
        body=_const({"comment": "Add the potency assay results."}),
        done={"status": "changes_requested"},
    ),
    ("GET", "/api/v1/milestones/"): Spec(target=_get("milestone")),
    ("GET", "/api/v1/milestones/{id}/"): Spec(target=_get("milestone")),
    ("POST", "/api/v1/milestones/{id}/achieve/"): Spec(
        target=_get("milestone"),
        body=_const({"achieved_on": "2025-06-30", "evidence": "Batch record signed by the QP."}),
        done={"status": "achieved", "achieved_on": "2025-06-30"},
    ),
    ("GET", "/api/v1/budget-lines/"): Spec(
        target=_get("budget_line"), sibling=_get("budget_line_b")
    ),
    ("POST", "/api/v1/budget-lines/"): Spec(
        body=_budget_line_body, creates=BudgetLine, done={"planned_amount": "5000.00"}
    ),
    ("GET", "/api/v1/budget-lines/{id}/"): Spec(target=_get("budget_line")),
    ("PUT", "/api/v1/budget-lines/{id}/"): Spec(
        target=_get("budget_line"),
        body=_budget_line_put,
        done={"planned_amount": "90000.00", "granted_amount": "72000.00"},
    ),
    ("PATCH", "/api/v1/budget-lines/{id}/"): Spec(
        target=_get("budget_line"),
        body=_const({"planned_amount": "80000.00"}),
        done={"planned_amount": "80000.00", "granted_amount": "80000.00"},
    ),
    ("POST", "/api/v1/budget-lines/{id}/cancel/"): Spec(
        target=_get("budget_line"), body=_const({}), done={"status": "cancelled"}
    ),
    ("GET", "/api/v1/expenses/"): Spec(target=_get("expense"), sibling=_expense_b),
    ("POST", "/api/v1/expenses/"): Spec(
        body=_expense_body, creates=Expense, done={"status": "draft", "amount": "321.00"}
    ),
    ("GET", "/api/v1/expenses/{id}/"): Spec(target=_get("expense")),
    ("PUT", "/api/v1/expenses/{id}/"): Spec(
        target=_get("expense"), body=_expense_put, done={"amount": "1500.00"}
    ),
    ("PATCH", "/api/v1/expenses/{id}/"): Spec(
        target=_get("expense"), body=_const({"amount": "999.99"}), done={"amount": "999.99"}
    ),
    ("PUT", "/api/v1/expenses/{id}/evidence/"): Spec(
        target=_get("expense"), body=_evidence_body, multipart=True, done={"status": "draft"}
    ),
    ("POST", "/api/v1/expenses/{id}/submit/"): Spec(
        target=_get("expense"), body=_const({}), done={"status": "submitted"}
    ),
    ("POST", "/api/v1/expenses/{id}/accept/"): Spec(
        target=_get("submitted_expense"),
        body=_const({"in_full": True}),
        done={"status": "accepted", "accepted_amount": "1200.00"},
    ),
    ("POST", "/api/v1/expenses/{id}/reject/"): Spec(
        target=_get("submitted_expense"),
        body=_const({"comment": "Not an eligible cost."}),
        done={"status": "rejected"},
    ),
    ("POST", "/api/v1/expenses/{id}/withdraw/"): Spec(
        target=_get("expense"), body=_const({}), done={"status": "withdrawn"}
    ),
    ("GET", "/api/v1/effort/"): Spec(target=_effort, sibling=_effort_b),
    ("POST", "/api/v1/effort/"): Spec(
        body=_effort_body, creates=Effort, done={"actual_person_months": "1.50"}
    ),
    ("GET", "/api/v1/effort/{id}/"): Spec(target=_effort),
    ("PUT", "/api/v1/effort/{id}/"): Spec(
        target=_effort, body=_effort_put, done={"actual_person_months": "5.50"}
    ),
    ("PATCH", "/api/v1/effort/{id}/"): Spec(
        target=_effort,
        body=_const({"actual_person_months": "4.25"}),
        done={"actual_person_months": "4.25", "planned_person_months": "6.00"},
    ),
    ("GET", "/api/v1/jobs/"): Spec(target=_get("job"), sibling=_job_b),
    ("POST", "/api/v1/jobs/"): Spec(body=_job_body, creates=JobRecord, done={"status": "forecast"}),
    ("GET", "/api/v1/jobs/{id}/"): Spec(target=_get("job")),
    ("PUT", "/api/v1/jobs/{id}/"): Spec(
        target=_get("job"), body=_job_put, done={"position_title": "Senior QC analyst"}
    ),
    ("PATCH", "/api/v1/jobs/{id}/"): Spec(
        target=_get("job"), body=_const({"fte": "0.50"}), done={"fte": "0.50"}
    ),
    ("POST", "/api/v1/jobs/{id}/realise/"): Spec(
        target=_get("job"), body=_const({}), done={"status": "realised"}
    ),
    ("POST", "/api/v1/jobs/{id}/withdraw/"): Spec(
        target=_get("job"), body=_const({}), done={"status": "withdrawn"}
    ),
    ("GET", "/api/v1/reports/"): Spec(
        target=lambda w: factories.ReportFactory(consortium=w.consortium)
    ),
    ("GET", "/api/v1/reports/{id}/"): Spec(
        target=lambda w: factories.ReportFactory(consortium=w.consortium)
    ),
    ("GET", "/api/v1/changes/"): Spec(),
}

CASES = [
    pytest.param(operation, role, id=f"{operation[0]} {operation[1]} as {role}")
    for operation in EXPECTED
    for role in ROLES
]


def schema_operations() -> set[Operation]:
    schema = published_schema()
    methods = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in methods
    }


def test_the_matrix_covers_every_operation_of_the_schema() -> None:
    operations = schema_operations()
    uncovered = sorted(operations - EXPECTED.keys())
    gone = sorted(EXPECTED.keys() - operations)
    assert not uncovered, f"operations with no row in EXPECTED (who may call them?): {uncovered}"
    assert not gone, f"rows of EXPECTED for operations the schema no longer has: {gone}"
    assert SPECS.keys() == EXPECTED.keys()


def _snapshot(target: Any, creates: type | None) -> tuple[Any, ...]:
    """What a refused write must leave as it was: the row, its history, the rows around it."""
    row = None
    history = None
    if target is not None:
        row = type(target)._default_manager.filter(pk=target.pk).values().get()
        history = target.history.count()
    return (
        row,
        history,
        creates._default_manager.count() if creates else None,
        DeliverableSubmission.objects.count(),
        DeliverableReview.objects.count(),
        Token.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "role"), CASES)
def test_each_caller_gets_the_answer_of_the_matrix(
    operation: Operation, role: str, request: pytest.FixtureRequest
) -> None:
    method, template = operation
    expected = EXPECTED[operation][ROLES.index(role)]
    spec = SPECS[operation]
    world = World(request)
    user = world.user(role)
    client = api_client(user)
    pit_test = world.consortium

    if template == "/api/v1/auth/token/":
        _check_token(client, method, user, world, expected)
        return
    if template.startswith("/api/v1/auth/tokens/"):
        _check_integration_tokens(client, method, template, user, world, expected)
        return
    if template == "/api/v1/changes/":
        _check_changes(client, role, world, expected)
        return

    target: Any = spec.target(world) if spec.target else None
    sibling = spec.sibling(world) if spec.sibling else None
    path = template.replace("{id}", str(target.pk)) if target is not None else template
    body = spec.body(world) if spec.body else None
    before = _snapshot(target, spec.creates)

    if method == "GET":
        answer = client.get(path, {"page_size": 200} if "{id}" not in template else None)
    else:
        fmt = "multipart" if spec.multipart else "json"
        answer = getattr(client, method.lower())(path, body, format=fmt)
    assert answer.status_code == expected, (
        f"{method} {path} as {role}: {answer.status_code} {answer.content[:500]!r}"
    )

    if expected >= 400:
        if expected == 400:
            # Refused for the partner it names, not for the rest of the body.
            assert "partner" in api_errors(answer), answer.content
        else:
            assert "detail" in api_errors(answer), answer.content
        assert _snapshot(target, spec.creates) == before, f"{method} {path} as {role} wrote"
        return

    data = answer.json()
    if method == "GET" and "{id}" not in template:
        _check_list(data["results"], role, target, sibling, pit_test)
    elif method == "GET" and template.endswith(("/summary/", "-breakdown/")):
        assert data["consortium"]["id"] == target.pk
        assert data["scope"] == ("partner" if role.startswith("partner") else "consortium")
        # A partner's people read their own partner's rows, never another's.
        partners = {row["partner"] for row in data.get("rows", [])}
        if role.startswith("partner"):
            own = world.partner_a if role == "partner_a" else world.partner_b
            assert partners <= {own.pk}, (template, role, partners)
    elif method == "GET":
        assert data["id"] == target.pk
    elif spec.creates is not None:
        assert spec.creates._default_manager.count() == before[2] + 1
        created = spec.creates._default_manager.get(pk=data["id"])
        assert created.partner == world.partner_a
        assert created.consortium == pit_test
        assert created.history.earliest("history_id").history_user == user
    else:
        assert data["id"] == target.pk
        assert target.history.count() == before[1] + 1
        assert target.history.latest("history_id").history_user == user
    for name, value in spec.done.items():
        assert data[name] == value, (name, data)


def _check_list(
    rows: list[dict[str, Any]], role: str, target: Any, sibling: Any, pit_test: Any
) -> None:
    ids = {row["id"] for row in rows}
    private = sibling is not None
    sees_target = role in (SEE_PARTNER_A if private else SEE_WORK_PLAN) and _reads(role, target)
    assert (target.pk in ids) is sees_target, (role, target, ids)
    if private:
        sees_sibling = role in SEE_PARTNER_B and _reads(role, sibling)
        assert (sibling.pk in ids) is sees_sibling, (role, sibling, ids)
    if role == "partner_a" and private:
        # Partner A's lists of private rows hold its own rows only.
        assert {row.get("partner") for row in rows} == {target.partner_id}, rows
    if role == "other_coordinator":
        assert not ids & _rows_of(pit_test, type(target)), rows


def _reads(role: str, row: Any) -> bool:
    """Whether a role that sees the row's partner reads this row: never a draft for the funder,
    never a report for a partner's people (it holds every partner's money)."""
    if isinstance(row, Report):
        return role in {"coordinator", "observer"}
    return not (role == "observer" and isinstance(row, Expense) and row.status == "draft")


def _check_changes(client: Any, role: str, world: World, expected: int) -> None:
    """A deliverable of PIT-TEST deleted: its tombstone is told to those who read the work plan."""
    gone = factories.TombstoneFactory(deliverable=world.deliverable)
    answer = client.get("/api/v1/changes/", {"since": "2000-01-01T00:00:00Z", "page_size": 200})
    assert answer.status_code == expected, answer.content
    if expected == 200:
        told = {(row["type"], row["id"]) for row in answer.json()["results"]}
        assert (("deliverable", gone.object_id) in told) is (role in SEE_WORK_PLAN), (role, told)


def _rows_of(pit_test: Any, model: type) -> set[int]:
    """The ids of all the rows of `model` that belong to PIT-TEST."""
    if model is Consortium:
        return {pit_test.pk}
    rows: Any
    if model is Organisation:
        rows = Organisation.objects.filter(partnerships__consortium=pit_test)
    elif model is Membership:
        rows = Membership.objects.filter(partner__consortium=pit_test)
    else:
        rows = model._default_manager.filter(consortium=pit_test)
    return set(rows.values_list("pk", flat=True))


def _check_token(client: Any, method: str, user: Any, world: World, expected: int) -> None:
    if method == "POST":
        if user is None:
            someone = world.partner_member
            answer = client.post(
                "/api/v1/auth/token/",
                {"username": someone.username, "password": "not-the-password"},
                format="json",
            )
            assert answer.status_code == expected, answer.content
            assert not Token.objects.filter(user=someone).exists()
            return
        answer = client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
        )
        assert answer.status_code == expected, answer.content
        assert answer.json()["token"] == Token.objects.get(user=user).key
        return
    tokens = Token.objects.count()
    answer = client.delete("/api/v1/auth/token/")
    assert answer.status_code == expected, answer.content
    if user is None:
        assert Token.objects.count() == tokens
        return
    assert not Token.objects.filter(user=user).exists()
    assert client.get("/api/v1/consortia/").status_code == 401


def _check_integration_tokens(
    client: Any, method: str, template: str, user: Any, world: World, expected: int
) -> None:
    """A person lists, creates and revokes their own integration tokens, and no one else's."""
    spec = SPECS[(method, template)]
    target: Any = spec.target(world) if spec.target else None
    path = template.replace("{id}", str(target.pk)) if target is not None else template
    before = _snapshot(target, IntegrationToken)
    if method == "GET":
        answer = client.get(path)
    else:
        answer = client.post(path, spec.body(world) if spec.body else None, format="json")
    assert answer.status_code == expected, answer.content
    if expected >= 400:
        assert _snapshot(target, IntegrationToken) == before
        return
    data = answer.json()
    if method == "GET":
        ids = {row["id"] for row in data["results"]}
        assert (target.pk in ids) is (user == world.coordinator), ids
        assert ids <= set(IntegrationToken.objects.filter(user=user).values_list("pk", flat=True))
        return
    created = IntegrationToken.objects.get(pk=data["id"])
    assert created.user == user
    assert created.history.latest("history_id").history_user == user
    for name, value in spec.done.items():
        assert data[name] == value, (name, data)


@pytest.mark.django_db
def test_coordinating_another_consortium_gives_no_budget_rights_here(
    observer: Any, other_consortium: Any, partner_a: Any, workpackage: Any, operating: Any
) -> None:
    # The observer of PIT-TEST also coordinates PIT-OTHER: in PIT-TEST it still only reads.
    consortium_role_grant(
        consortium=other_consortium,
        user=observer,
        kind=ConsortiumRoleKind.COORDINATOR,
        granted_by=None,
    )
    lines = BudgetLine.objects.count()
    answer = api_client(observer).post(
        "/api/v1/budget-lines/",
        {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": operating.pk,
            "planned_amount": "5000.00",
        },
        format="json",
    )
    assert answer.status_code == 400, answer.content
    assert "partner" in api_errors(answer)
    assert BudgetLine.objects.count() == lines
