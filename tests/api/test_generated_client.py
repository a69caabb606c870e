"""The integrator's walkthrough with the client that openapi-python-client generates from the
published schema, against a live server: every generated module imports; the partner's ERP gets a
token, sends a draft expense as JSON and its invoice as the multipart upload, and submits it; the
coordinator accepts less than was declared, with the reason; the observer's summary moves by
exactly the accepted amount plus the flat-rate overheads it carries. A schema a generated client
cannot use (several bodies for one operation, a wrong content type, an undeclared answer) fails
here before an integrator finds it."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests import factories
from tests.api.conftest import PDF
from tests.api.openapi import published_schema
from tests.factories import PASSWORD
from workpackages.money.models import Expense

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "consortium_manager_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated from the schema the API publishes, importable for this module."""
    folder = tmp_path_factory.mktemp("generated-client")
    schema = folder / "openapi.json"
    schema.write_text(json.dumps(published_schema()))
    config = folder / "config.yaml"
    config.write_text(
        f"project_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\npost_hooks: []\n"
    )
    command = [str(GENERATOR), "generate", "--path", str(schema), "--config", str(config)]
    done = subprocess.run(  # noqa: S603  (the generator installed with the development tools)
        [*command, "--meta", "none"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(generated: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{generated.__name__}.{name}")


def test_every_generated_module_imports(generated: ModuleType) -> None:
    broken = {}
    modules = list(pkgutil.walk_packages(generated.__path__, f"{generated.__name__}."))
    for module in modules:
        try:
            importlib.import_module(module.name)
        except Exception as error:  # every failure is listed
            broken[module.name] = repr(error)
    assert len(modules) > 100
    assert broken == {}


def _signed_in(generated: ModuleType, base_url: str, username: str) -> Any:
    """A client holding the token the person's credentials get."""
    token_create = _module(generated, "api.auth.auth_token_create")
    models = _module(generated, "models")
    anonymous = generated.Client(base_url=base_url)
    answer = token_create.sync_detailed(
        client=anonymous, body=models.TokenRequestRequest(username=username, password=PASSWORD)
    )
    assert answer.status_code == 200, answer.content
    return generated.AuthenticatedClient(
        base_url=base_url, token=answer.parsed.token, prefix="Token"
    )


def _consumed(generated: ModuleType, client: Any, consortium: Any) -> Decimal:
    summary = _module(generated, "api.consortia.consortia_summary_retrieve")
    answer = summary.sync_detailed(consortium.pk, client=client)
    assert answer.status_code == 200, answer.content
    return Decimal(answer.parsed.budget.consumed)


def test_the_walkthrough_with_the_generated_client(
    generated: ModuleType,
    live_server: Any,
    consortium: Any,
    partner_a: Any,
    workpackage: Any,
    personnel: Any,
    period: Any,
    budget_line: Any,
    overheads: Any,
    partner_member: Any,
    coordinator: Any,
    observer: Any,
) -> None:
    factories.BudgetLineFactory(partner=partner_a, workpackage=workpackage, heading="overheads")
    models = _module(generated, "models")
    expenses = "api.expenses.expenses_"

    erp = _signed_in(generated, live_server.url, partner_member.username)
    coordination = _signed_in(generated, live_server.url, coordinator.username)
    region = _signed_in(generated, live_server.url, observer.username)
    before = _consumed(generated, region, consortium)

    # The partner's ERP: a draft as JSON, its invoice as multipart, then the submission.
    created = _module(generated, f"{expenses}create").sync_detailed(
        client=erp,
        body=models.ExpenseRequest(
            partner=partner_a.pk,
            workpackage=workpackage.pk,
            category=personnel.pk,
            period=period.pk,
            incurred_on=period.start_date,
            amount="4321.09",
            description="Senior scientist, January 2024",
            invoice_reference="PAY-2024-01",
        ),
    )
    assert created.status_code == 201, created.content
    draft = created.parsed
    assert (draft.status, draft.amount, draft.evidence) == ("draft", "4321.09", None)

    invoice = generated.types.File(
        payload=io.BytesIO(PDF), file_name="payslip-2024-01.pdf", mime_type="application/pdf"
    )
    attached = _module(generated, f"{expenses}evidence_update").sync_detailed(
        draft.id, client=erp, body=models.ExpenseEvidenceRequest(evidence=invoice)
    )
    assert attached.status_code == 200, attached.content
    assert attached.parsed.evidence.endswith("payslip-2024-01.pdf")
    assert Expense.objects.get(pk=draft.id).evidence.read() == PDF

    submitted = _module(generated, f"{expenses}submit_create").sync_detailed(draft.id, client=erp)
    assert submitted.status_code == 200, submitted.content
    assert submitted.parsed.status == "submitted"

    # A refusal comes back as the documented error, parsed.
    refused = _module(generated, f"{expenses}accept_create").sync_detailed(
        draft.id, client=erp, body=models.ExpenseAcceptRequest(in_full=True)
    )
    assert refused.status_code == 403
    assert isinstance(refused.parsed, models.Error)
    assert refused.parsed.type_ == models.ErrorTypeEnum.CLIENT_ERROR
    [error] = refused.parsed.errors
    assert (error.code, error.attr) == ("permission_denied", None) and error.detail

    # The coordinator accepts less than declared, with the reason.
    accepted = _module(generated, f"{expenses}accept_create").sync_detailed(
        draft.id,
        client=coordination,
        body=models.ExpenseAcceptRequest(
            accepted_amount="4000.00", comment="The bonus is not an eligible cost."
        ),
    )
    assert accepted.status_code == 200, accepted.content
    assert (accepted.parsed.status, accepted.parsed.accepted_amount) == ("accepted", "4000.00")

    # The region's summary: the accepted amount and the overheads it carries, to the cent.
    rate = overheads.flat_rate / 100
    carried = (Decimal("4000.00") * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert carried > 0
    assert _consumed(generated, region, consortium) - before == Decimal("4000.00") + carried
