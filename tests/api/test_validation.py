"""Bad input is refused with a 400 naming the field at fault, and nothing is saved: no row, no
history row, no file under MEDIA_ROOT. Money is read and written as strings with two decimals,
dates as `YYYY-MM-DD`, date-times as ISO 8601 with their offset; uploads are checked for size and
for what their bytes are, not for what their name says; messages follow `Accept-Language`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests import factories
from tests.api.conftest import PDF, api_client
from tests.assertions import api_error_codes, api_errors
from tests.web import MULTIPART, multipart
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort, Expense
from workpackages.money.services import expense_accept, expense_submit
from workpackages.validators import MAX_UPLOAD_BYTES
from workpackages.workplan.models import (
    Deliverable,
    DeliverableReview,
    DeliverableSubmission,
    Milestone,
)
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 512
MONEY = re.compile(r"^-?\d+\.\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")


def _files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _snapshot() -> dict[str, Any]:
    """Rows, history rows and stored files: what a refused request must leave as it was."""
    state: dict[str, Any] = {"files": _files()}
    audited: tuple[Any, ...] = (Expense, BudgetLine, Effort, JobRecord, Deliverable, Milestone)
    for model in audited:
        state[model.__name__] = model.objects.count()
        state[f"{model.__name__} history"] = model.history.count()
    for model in (DeliverableSubmission, DeliverableReview):
        state[model.__name__] = model._default_manager.count()
    return state


def _refused(answer: Any, field: str, status: int = 400) -> list[str]:
    """The messages of a 400 (or a 409: a step the row's state forbids) for `field`, which must
    be a key of its body."""
    assert answer.status_code == status, answer.content
    body = api_errors(answer)
    assert field in body, body
    messages = body[field]
    assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
    return messages


def _unsupported(answer: Any) -> None:
    """A body the operation does not read: a 415 answered in JSON, saying why in its `detail`."""
    assert answer.status_code == 415, answer.content
    assert answer["Content-Type"] == "application/json", answer["Content-Type"]
    assert api_error_codes(answer) == {None: ["unsupported_media_type"]}, answer.content


# Expenses ------------------------------------------------------------------------------------


@pytest.fixture
def new_expense(
    partner_a: Any, workpackage: Any, personnel: Any, period: Any, budget_line: Any
) -> dict[str, Any]:
    """A valid draft of partner A: each bad case changes one field of it."""
    return {
        "partner": partner_a.pk,
        "workpackage": workpackage.pk,
        "category": personnel.pk,
        "period": period.pk,
        "incurred_on": "2024-03-15",
        "amount": "250.00",
        "description": "Cell-culture media, March",
        "invoice_reference": "INV-2024-0315",
    }


def test_the_valid_expense_is_created(new_expense: dict[str, Any], partner_member: Any) -> None:
    answer = api_client(partner_member).post("/api/v1/expenses/", new_expense, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["amount"] == "250.00"


BAD_EXPENSES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("negative amount", lambda f: {"amount": "-5.00"}, "amount"),
    ("zero amount", lambda f: {"amount": "0.00"}, "amount"),
    ("three decimals", lambda f: {"amount": "10.123"}, "amount"),
    ("not a number", lambda f: {"amount": "ten euros"}, "amount"),
    ("too many digits", lambda f: {"amount": "1234567890123456.00"}, "amount"),
    ("date outside the period", lambda f: {"incurred_on": "2024-09-15"}, "incurred_on"),
    ("day-month-year date", lambda f: {"incurred_on": "15/03/2024"}, "incurred_on"),
    ("impossible date", lambda f: {"incurred_on": "2024-02-30"}, "incurred_on"),
    (
        "another consortium's workpackage",
        lambda f: {"workpackage": f["other_workpackage"].pk},
        "workpackage",
    ),
    ("a workpackage that does not exist", lambda f: {"workpackage": 987654}, "workpackage"),
    (
        "another consortium's period",
        lambda f: {"period": f["other_consortium"].periods.get(number=1).pk},
        "period",
    ),
    ("partner B's expense", lambda f: {"partner": f["partner_b"].pk}, "partner"),
    ("a flat-rate heading", lambda f: {"category": f["overheads"].pk}, "category"),
    ("a heading without budget line", lambda f: {"category": f["operating"].pk}, "category"),
]


@pytest.mark.parametrize(
    ("change", "field"), [case[1:] for case in BAD_EXPENSES], ids=[c[0] for c in BAD_EXPENSES]
)
def test_a_bad_expense_is_refused_on_its_field_and_nothing_is_saved(
    new_expense: dict[str, Any],
    partner_member: Any,
    partner_b: Any,
    budget_line_b: Any,
    other_workpackage: Any,
    other_consortium: Any,
    overheads: Any,
    operating: Any,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    field: str,
) -> None:
    fixtures = {
        "partner_b": partner_b,
        "other_workpackage": other_workpackage,
        "other_consortium": other_consortium,
        "overheads": overheads,
        "operating": operating,
    }
    before = _snapshot()
    answer = api_client(partner_member).post(
        "/api/v1/expenses/", {**new_expense, **change(fixtures)}, format="json"
    )
    _refused(answer, field)
    assert _snapshot() == before


def test_a_missing_id_and_another_consortiums_id_read_the_same(
    new_expense: dict[str, Any], partner_member: Any, other_workpackage: Any
) -> None:
    client = api_client(partner_member)
    elsewhere = client.post(
        "/api/v1/expenses/", {**new_expense, "workpackage": other_workpackage.pk}, format="json"
    )
    missing = client.post(
        "/api/v1/expenses/", {**new_expense, "workpackage": 987654}, format="json"
    )
    assert elsewhere.status_code == missing.status_code == 400
    assert api_errors(elsewhere)["workpackage"] == [
        m.replace("987654", str(other_workpackage.pk)) for m in api_errors(missing)["workpackage"]
    ]


def _draft(client: Any, data: dict[str, Any]) -> int:
    """A new draft, written as JSON: it carries no evidence yet."""
    answer = client.post("/api/v1/expenses/", data, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["evidence"] is None, answer.json()
    return int(answer.json()["id"])


def _evidence_url(pk: int) -> str:
    return f"/api/v1/expenses/{pk}/evidence/"


def _upload(client: Any, pk: int, name: str, content: bytes, **extra: Any) -> Any:
    """The draft's evidence, sent alone as a multipart form with its one `evidence` part."""
    return client.put(
        _evidence_url(pk),
        {"evidence": SimpleUploadedFile(name, content)},
        format="multipart",
        **extra,
    )


def _without_evidence(pk: int) -> bool:
    return not Expense.objects.get(pk=pk).evidence


def test_an_executable_named_pdf_is_refused(
    new_expense: dict[str, Any], partner_member: Any
) -> None:
    client = api_client(partner_member)
    pk = _draft(client, new_expense)
    before = _snapshot()
    _refused(_upload(client, pk, "invoice.pdf", EXE), "evidence")
    assert _snapshot() == before
    assert _without_evidence(pk)


def test_an_executable_is_refused_by_its_name(
    new_expense: dict[str, Any], partner_member: Any
) -> None:
    client = api_client(partner_member)
    pk = _draft(client, new_expense)
    before = _snapshot()
    _refused(_upload(client, pk, "invoice.exe", EXE), "evidence")
    assert _snapshot() == before
    assert _without_evidence(pk)


def test_a_file_over_50_mb_is_refused(new_expense: dict[str, Any], partner_member: Any) -> None:
    assert MAX_UPLOAD_BYTES == 50 * 1024 * 1024
    big = PDF + b"\n%" + b"0" * (MAX_UPLOAD_BYTES - len(PDF))
    assert len(big) > MAX_UPLOAD_BYTES
    client = api_client(partner_member)
    pk = _draft(client, new_expense)
    before = _snapshot()
    messages = _refused(_upload(client, pk, "scan.pdf", big), "evidence")
    assert any("50" in m for m in messages), messages
    assert _snapshot() == before
    assert _without_evidence(pk)


def test_a_valid_pdf_is_stored_under_media_root(
    new_expense: dict[str, Any], partner_member: Any
) -> None:
    client = api_client(partner_member)
    pk = _draft(client, new_expense)
    answer = _upload(client, pk, "invoice.pdf", PDF)
    assert answer.status_code == 200, answer.content
    assert answer.json()["id"] == pk
    assert answer.json()["evidence"], answer.json()
    stored = Expense.objects.get(pk=pk).evidence
    assert Path(stored.path).read_bytes() == PDF
    assert Path(stored.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())


def test_evidence_sent_with_the_json_expense_is_not_stored(
    new_expense: dict[str, Any], partner_member: Any
) -> None:
    """The expense is written as JSON; its evidence is read-only there, sent on its own."""
    client = api_client(partner_member)
    pk = _draft(client, {**new_expense, "evidence": "invoice.pdf"})
    assert _without_evidence(pk)
    before = _snapshot()
    answer = client.patch(
        f"/api/v1/expenses/{pk}/", {"evidence": "../../escape.pdf"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["evidence"] is None
    assert _without_evidence(pk)
    assert _snapshot()["files"] == before["files"]


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(MULTIPART, id="multipart"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
    ],
)
def test_an_expense_sent_as_a_form_is_not_read(
    new_expense: dict[str, Any], partner_member: Any, content_type: str
) -> None:
    """The expense itself is read as JSON only: a form, with or without a file, is a 415 that
    saves nothing. A form carries the evidence alone, to its own operation."""
    client = api_client(partner_member)
    if content_type == MULTIPART:
        body = multipart(new_expense, "evidence", "invoice.pdf", PDF)
    else:
        body = urlencode(new_expense).encode()
    before = _snapshot()
    answer = client.generic("POST", "/api/v1/expenses/", body, content_type=content_type)
    _unsupported(answer)
    assert _snapshot() == before


@pytest.mark.parametrize(
    "name", ["../../escape.pdf", "..\\..\\escape.pdf", "evidence/../../../escape.pdf"]
)
def test_a_name_climbing_out_stays_inside_media_root(
    new_expense: dict[str, Any], partner_member: Any, name: str
) -> None:
    client = api_client(partner_member)
    pk = _draft(client, new_expense)
    before = _snapshot()
    answer = _upload(client, pk, name, PDF)
    root = Path(settings.MEDIA_ROOT).resolve()
    if answer.status_code == 400:
        _refused(answer, "evidence")
        assert _snapshot() == before
        assert _without_evidence(pk)
    else:
        assert answer.status_code == 200, answer.content
        stored = Expense.objects.get(pk=pk).evidence
        assert ".." not in stored.name
        assert Path(stored.path).resolve().is_relative_to(root)
    assert all(p.resolve().is_relative_to(root) for p in _files())
    assert not list(root.parent.glob("escape*")) and not list(root.parent.parent.glob("escape*"))


def test_a_submitted_expense_cannot_be_patched(submitted_expense: Any, partner_member: Any) -> None:
    before = _snapshot()
    answer = api_client(partner_member).patch(
        f"/api/v1/expenses/{submitted_expense.pk}/", {"amount": "99.00"}, format="json"
    )
    messages = _refused(answer, "non_field_errors", status=409)
    assert api_error_codes(answer) == {"non_field_errors": ["invalid_state"]}
    assert any("submitted" in m for m in messages), messages
    assert _snapshot() == before
    submitted_expense.refresh_from_db()
    assert submitted_expense.amount == Decimal("1200.00")


def test_a_submitted_expense_keeps_its_evidence(
    submitted_expense: Any, partner_member: Any
) -> None:
    before = _snapshot()
    answer = _upload(api_client(partner_member), submitted_expense.pk, "invoice.pdf", PDF)
    messages = _refused(answer, "non_field_errors", status=409)
    assert any("submitted" in m for m in messages), messages
    assert _snapshot() == before
    submitted_expense.refresh_from_db()
    assert not submitted_expense.evidence


def test_an_expense_keeps_its_partner(expense: Any, partner_b: Any, coordinator: Any) -> None:
    before = _snapshot()
    answer = api_client(coordinator).patch(
        f"/api/v1/expenses/{expense.pk}/", {"partner": partner_b.pk}, format="json"
    )
    _refused(answer, "partner")
    assert _snapshot() == before


# Decisions -----------------------------------------------------------------------------------


def test_a_late_deliverable_needs_its_justification(deliverable: Any, partner_member: Any) -> None:
    before = _snapshot()
    answer = api_client(partner_member).post(
        f"/api/v1/deliverables/{deliverable.pk}/submit/",
        {"file": SimpleUploadedFile("d1-1.pdf", PDF), "note": "v1"},
        format="multipart",
    )
    messages = _refused(answer, "late_justification")
    assert any("2024-12-31" in m for m in messages), messages
    assert _snapshot() == before
    deliverable.refresh_from_db()
    assert deliverable.status == "planned"


def test_a_deliverable_upload_is_checked_by_its_content(
    deliverable: Any, partner_member: Any
) -> None:
    before = _snapshot()
    answer = api_client(partner_member).post(
        f"/api/v1/deliverables/{deliverable.pk}/submit/",
        {
            "file": SimpleUploadedFile("d1-1.pdf", EXE),
            "late_justification": "The supplier was late.",
        },
        format="multipart",
    )
    _refused(answer, "file")
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("../d1-1.pdf", PDF, "path separator"),
        ("..\\d1-1.pdf", PDF, "path separator"),
        ("d1-1\x07.pdf", PDF, "control characters"),
        ("d1-1.png", PNG, "A deliverable is sent as a PDF, DOCX, XLSX, ODT or ZIP file."),
    ],
)
def test_a_deliverable_upload_refuses_a_folder_in_its_name_or_a_picture(
    deliverable: Any, partner_member: Any, name: str, content: bytes, says: str
) -> None:
    """The name is checked as the client sent it, not as Django would tidy it, and only the
    funder's document types are a deliverable."""
    before = _snapshot()
    answer = api_client(partner_member).post(
        f"/api/v1/deliverables/{deliverable.pk}/submit/",
        data=multipart({"late_justification": "The supplier was late."}, "file", name, content),
        content_type=MULTIPART,
    )
    messages = _refused(answer, "file")
    assert any(says in m for m in messages), messages
    assert _snapshot() == before


@pytest.mark.parametrize("name", ["../invoice.pdf", "..\\invoice.pdf", "invoice\x07.pdf"])
def test_an_evidence_name_with_a_folder_is_refused_not_tidied(
    new_expense: dict[str, Any], partner_member: Any, name: str
) -> None:
    client = api_client(partner_member)
    pk = _draft(client, new_expense)
    before = _snapshot()
    answer = client.put(
        _evidence_url(pk),
        data=multipart({}, "evidence", name, PDF),
        content_type=MULTIPART,
    )
    messages = _refused(answer, "evidence")
    assert any("rename the file" in m for m in messages), messages
    assert _snapshot() == before
    assert _without_evidence(pk)


@pytest.fixture
def submitted_deliverable(deliverable: Any, partner_member: Any, before_due: Any) -> Any:
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(PDF, name="d1-1.pdf"),
        now=before_due,
    )
    deliverable.refresh_from_db()
    return deliverable


@pytest.mark.parametrize("body", [{}, {"comment": ""}, {"comment": "   "}])
def test_changes_are_requested_with_a_comment(
    submitted_deliverable: Any, coordinator: Any, body: dict[str, Any]
) -> None:
    before = _snapshot()
    answer = api_client(coordinator).post(
        f"/api/v1/deliverables/{submitted_deliverable.pk}/request-changes/", body, format="json"
    )
    _refused(answer, "comment")
    assert _snapshot() == before
    submitted_deliverable.refresh_from_db()
    assert submitted_deliverable.status == "submitted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"accepted_amount": "1500.00"}, "accepted_amount"),
        ({"accepted_amount": "1200.01", "comment": "More than declared"}, "accepted_amount"),
        ({"accepted_amount": "-1.00", "comment": "Negative"}, "accepted_amount"),
        ({"accepted_amount": "600.001", "comment": "Three decimals"}, "accepted_amount"),
        ({"accepted_amount": "600.00"}, "comment"),
        ({"accepted_amount": "600.00", "comment": "  "}, "comment"),
    ],
)
def test_an_acceptance_stays_within_the_amount_and_explains_a_cut(
    submitted_expense: Any, coordinator: Any, body: dict[str, Any], field: str
) -> None:
    before = _snapshot()
    answer = api_client(coordinator).post(
        f"/api/v1/expenses/{submitted_expense.pk}/accept/", body, format="json"
    )
    _refused(answer, field)
    assert _snapshot() == before
    submitted_expense.refresh_from_db()
    assert submitted_expense.status == "submitted"
    assert submitted_expense.accepted_amount is None


NOT_SAID = (
    "Say what is accepted: an accepted_amount, or in_full set to true for the whole declared "
    "amount."
)
BOTH_SAID = "Send an accepted_amount or in_full, not both."


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        pytest.param(b"", None, NOT_SAID, id="no body"),
        pytest.param(b"{}", "application/json", NOT_SAID, id="empty object"),
        pytest.param(b'{"comment": "Fine."}', "application/json", NOT_SAID, id="a comment only"),
        pytest.param(b'{"in_full": false}', "application/json", NOT_SAID, id="not in full"),
        pytest.param(b'{"accepted_amount": null}', "application/json", NOT_SAID, id="null amount"),
        pytest.param(
            b'{"accepted_amount": "100.00", "comment": "Reagents only.", "in_full": true}',
            "application/json",
            BOTH_SAID,
            id="both",
        ),
    ],
)
def test_an_acceptance_says_how_much_or_is_refused(
    submitted_expense: Any,
    coordinator: Any,
    body: bytes,
    content_type: str | None,
    message: str,
) -> None:
    """An empty body, or one not read as meant, must not accept the whole declared amount."""
    before = _snapshot()
    answer = api_client(coordinator).generic(
        "POST",
        f"/api/v1/expenses/{submitted_expense.pk}/accept/",
        body,
        **({"content_type": content_type} if content_type else {}),
    )
    assert answer.status_code == 400, answer.content
    assert api_errors(answer) == {"accepted_amount": [message], "in_full": [message]}
    assert _snapshot() == before
    submitted_expense.refresh_from_db()
    assert (submitted_expense.status, submitted_expense.accepted_amount) == ("submitted", None)


def test_json_sent_as_a_form_accepts_nothing(submitted_expense: Any, coordinator: Any) -> None:
    """A JSON text sent as a form is not read at all: a 415, and the expense stays submitted."""
    before = _snapshot()
    answer = api_client(coordinator).generic(
        "POST",
        f"/api/v1/expenses/{submitted_expense.pk}/accept/",
        b'{"accepted_amount": "100.00", "comment": "Only the reagents are eligible."}',
        content_type="application/x-www-form-urlencoded",
    )
    _unsupported(answer)
    assert _snapshot() == before
    submitted_expense.refresh_from_db()
    assert (submitted_expense.status, submitted_expense.accepted_amount) == ("submitted", None)
    assert submitted_expense.review_comment == ""


@pytest.mark.parametrize(
    ("body", "accepted", "comment"),
    [
        ({"in_full": True}, "1200.00", ""),
        ({"in_full": "true", "comment": "Checked."}, "1200.00", "Checked."),
        ({"accepted_amount": "1200.00"}, "1200.00", ""),
        (
            {"accepted_amount": "100.00", "comment": "Only the reagents are eligible."},
            "100.00",
            "Only the reagents are eligible.",
        ),
        (
            {"accepted_amount": "0.00", "comment": "Nothing is eligible."},
            "0.00",
            "Nothing is eligible.",
        ),
    ],
)
def test_an_acceptance_in_full_or_for_an_amount(
    submitted_expense: Any,
    coordinator: Any,
    body: dict[str, Any],
    accepted: str,
    comment: str,
) -> None:
    answer = api_client(coordinator).post(
        f"/api/v1/expenses/{submitted_expense.pk}/accept/", body, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["accepted_amount"]) == ("accepted", accepted)
    submitted_expense.refresh_from_db()
    assert submitted_expense.accepted_amount == Decimal(accepted)
    assert submitted_expense.review_comment == comment


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"in_full=true", "application/x-www-form-urlencoded", id="in full in a form"),
        pytest.param(
            b"accepted_amount=1200.00&in_full=true",
            "application/x-www-form-urlencoded",
            id="both in a form",
        ),
        pytest.param(
            multipart(
                {"accepted_amount": "100.00", "comment": "Only the reagents are eligible."},
                "attachment",
                "note.pdf",
                PDF,
            ),
            MULTIPART,
            id="an amount in a multipart form",
        ),
    ],
)
def test_an_acceptance_sent_as_a_form_is_not_read(
    submitted_expense: Any, coordinator: Any, body: bytes, content_type: str
) -> None:
    """The decision is JSON: a form, however complete, is a 415 and accepts nothing."""
    before = _snapshot()
    answer = api_client(coordinator).generic(
        "POST",
        f"/api/v1/expenses/{submitted_expense.pk}/accept/",
        body,
        content_type=content_type,
    )
    _unsupported(answer)
    assert _snapshot() == before
    submitted_expense.refresh_from_db()
    assert (submitted_expense.status, submitted_expense.accepted_amount) == ("submitted", None)
    assert submitted_expense.review_comment == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"achieved_on": "tomorrow", "evidence": "Batch record signed."}, "achieved_on"),
        ({"achieved_on": "2099-01-15", "evidence": "Batch record signed."}, "achieved_on"),
        ({"achieved_on": "15/01/2025", "evidence": "Batch record signed."}, "achieved_on"),
        ({"achieved_on": "2025-01-15", "evidence": "   "}, "evidence"),
        ({"evidence": "Batch record signed."}, "achieved_on"),
    ],
)
def test_a_milestone_is_achieved_on_a_past_date_with_evidence(
    milestone: Any, coordinator: Any, body: dict[str, Any], field: str
) -> None:
    if body.get("achieved_on") == "tomorrow":
        body = {**body, "achieved_on": str(timezone.localdate() + datetime.timedelta(days=1))}
    before = _snapshot()
    answer = api_client(coordinator).post(
        f"/api/v1/milestones/{milestone.pk}/achieve/", body, format="json"
    )
    _refused(answer, field)
    assert _snapshot() == before
    milestone.refresh_from_db()
    assert milestone.status == "pending"


def test_a_partner_does_not_plan_its_own_effort(
    partner_a: Any, workpackage: Any, period: Any, partner_member: Any
) -> None:
    client = api_client(partner_member)
    body = {
        "partner": partner_a.pk,
        "workpackage": workpackage.pk,
        "period": period.pk,
        "planned_person_months": "3.00",
        "actual_person_months": "2.50",
    }
    before = _snapshot()
    _refused(client.post("/api/v1/effort/", body, format="json"), "planned_person_months")
    assert _snapshot() == before

    effort = factories.EffortFactory(partner=partner_a, workpackage=workpackage)
    before = _snapshot()
    answer = client.patch(
        f"/api/v1/effort/{effort.pk}/", {"planned_person_months": "9.00"}, format="json"
    )
    _refused(answer, "planned_person_months")
    assert _snapshot() == before
    # The actuals are the partner's to report.
    answer = client.patch(
        f"/api/v1/effort/{effort.pk}/", {"actual_person_months": "5.25"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["actual_person_months"] == "5.25"


def test_a_job_starting_in_the_future_is_not_realised(partner_a: Any, partner_member: Any) -> None:
    job = factories.JobRecordFactory(
        partner=partner_a, start_date=timezone.localdate() + datetime.timedelta(days=30)
    )
    before = _snapshot()
    answer = api_client(partner_member).post(f"/api/v1/jobs/{job.pk}/realise/")
    _refused(answer, "start_date")
    assert _snapshot() == before
    job.refresh_from_db()
    assert job.status == "forecast"


def test_a_job_ends_after_it_starts(partner_a: Any, partner_member: Any) -> None:
    before = _snapshot()
    answer = api_client(partner_member).post(
        "/api/v1/jobs/",
        {
            "partner": partner_a.pk,
            "position_title": "QC analyst",
            "category": "quality",
            "contract_type": "fixed_term",
            "fte": "0.80",
            "start_date": "2025-03-01",
            "end_date": "2025-02-28",
            "impact": "direct",
        },
        format="json",
    )
    _refused(answer, "end_date")
    assert _snapshot() == before


def test_a_budget_line_grants_no_more_than_planned(
    partner_a: Any, workpackage: Any, operating: Any, budget_line: Any, coordinator: Any
) -> None:
    client = api_client(coordinator)
    before = _snapshot()
    answer = client.post(
        "/api/v1/budget-lines/",
        {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": operating.pk,
            "planned_amount": "1000.00",
            "granted_amount": "2000.00",
        },
        format="json",
    )
    _refused(answer, "granted_amount")
    assert _snapshot() == before

    answer = client.patch(
        f"/api/v1/budget-lines/{budget_line.pk}/",
        {"granted_amount": "100000.01"},
        format="json",
    )
    _refused(answer, "granted_amount")
    assert _snapshot() == before


def test_a_second_line_for_the_same_heading_is_refused_as_a_whole(
    partner_a: Any, workpackage: Any, personnel: Any, budget_line: Any, coordinator: Any
) -> None:
    before = _snapshot()
    answer = api_client(coordinator).post(
        "/api/v1/budget-lines/",
        {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": personnel.pk,
            "planned_amount": "1000.00",
        },
        format="json",
    )
    # The documented key for the object as a whole; never Django's internal `__all__`.
    assert "__all__" not in api_errors(answer), answer.json()
    _refused(answer, "non_field_errors")
    assert _snapshot() == before


# Formats -------------------------------------------------------------------------------------


def _is_datetime(value: str) -> bool:
    return bool(DATETIME.match(value)) and datetime.datetime.fromisoformat(value).tzinfo is not None


def test_money_dates_and_times_read_in_their_documented_formats(
    consortium: Any, partner_a: Any, expense: Any, budget_line: Any, coordinator: Any
) -> None:
    client = api_client(coordinator)
    expense_submit(expense=expense, user=coordinator)
    expense_accept(expense=expense, user=coordinator)

    body = client.get(f"/api/v1/expenses/{expense.pk}/").json()
    assert body["amount"] == "1200.00"
    assert body["accepted_amount"] == "1200.00"
    assert body["incurred_on"] == "2024-01-15"
    for name in ("created_at", "updated_at", "submitted_at", "reviewed_at"):
        assert _is_datetime(body[name]), (name, body[name])

    line = client.get(f"/api/v1/budget-lines/{budget_line.pk}/").json()
    assert line["planned_amount"] == "100000.00"
    assert line["granted_amount"] == "100000.00"
    assert line["consumed"] == "1200.00"
    assert line["funding_rate"] == "100.00"

    summary = client.get(f"/api/v1/consortia/{consortium.pk}/summary/").json()
    for key in ("planned", "granted", "consumed"):
        assert MONEY.match(summary["budget"][key]), summary["budget"]
    assert summary["budget"]["consumed"] == "1200.00"
    assert DATE.match(summary["as_of"])

    partner = client.get(f"/api/v1/partners/{partner_a.pk}/").json()
    assert partner["default_funding_rate"] == "100.00"
    assert partner["joined_on"] == "2024-01-01"
    assert _is_datetime(partner["created_at"])

    whole = client.get(f"/api/v1/consortia/{consortium.pk}/").json()
    assert whole["total_budget"] == "81000000.00"
    assert whole["public_funding"] == "48600000.00"
    assert (whole["start_date"], whole["end_date"]) == ("2024-01-01", "2026-12-31")


def test_an_amount_with_one_decimal_is_stored_and_read_with_two(
    new_expense: dict[str, Any], partner_member: Any
) -> None:
    answer = api_client(partner_member).post(
        "/api/v1/expenses/", {**new_expense, "amount": "99.5"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["amount"] == "99.50"


# Languages -----------------------------------------------------------------------------------


def test_refusals_read_in_french(new_expense: dict[str, Any], partner_member: Any) -> None:
    client = api_client(partner_member)
    before = _snapshot()
    missing = client.post(
        "/api/v1/expenses/",
        {k: v for k, v in new_expense.items() if k != "description"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert _refused(missing, "description") == ["Ce champ est obligatoire."]
    outside = client.post(
        "/api/v1/expenses/",
        {**new_expense, "incurred_on": "2024-09-15"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    [message] = _refused(outside, "incurred_on")
    assert message.startswith("La date tombe en dehors de la période de rapport P1"), message
    assert _snapshot() == before

    english = client.post(
        "/api/v1/expenses/",
        {**new_expense, "incurred_on": "2024-09-15"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert _refused(english, "incurred_on")[0].startswith("The date falls outside")


def _both_languages(
    send: Callable[[str], Any], field: str, status: int = 400
) -> tuple[list[str], list[str]]:
    return _refused(send("en"), field, status), _refused(send("fr"), field, status)


def test_our_own_api_refusals_are_translated(
    partner_a: Any,
    workpackage: Any,
    period: Any,
    submitted_expense: Any,
    new_expense: dict[str, Any],
    partner_member: Any,
) -> None:
    client = api_client(partner_member)
    draft = _draft(client, new_expense)
    effort = {
        "partner": partner_a.pk,
        "workpackage": workpackage.pk,
        "period": period.pk,
        "planned_person_months": "3.00",
    }
    cases = {
        "planned person-months": _both_languages(
            lambda lang: client.post(
                "/api/v1/effort/", effort, format="json", HTTP_ACCEPT_LANGUAGE=lang
            ),
            "planned_person_months",
        ),
        "state": _both_languages(
            lambda lang: client.patch(
                f"/api/v1/expenses/{submitted_expense.pk}/",
                {"amount": "1.00"},
                format="json",
                HTTP_ACCEPT_LANGUAGE=lang,
            ),
            "non_field_errors",
            status=409,
        ),
        "file content": _both_languages(
            lambda lang: _upload(client, draft, "x.pdf", EXE, HTTP_ACCEPT_LANGUAGE=lang),
            "evidence",
        ),
    }
    untranslated = {name: en for name, (en, fr) in cases.items() if en == fr}
    assert not untranslated, untranslated
