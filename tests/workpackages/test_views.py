"""Uploaded files: served only to whoever may read the row they belong to, and refused at upload
when their type or size is not one partners may send."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from tests import factories
from tests.assertions import refused_update
from workpackages import validators
from workpackages.money.models import Expense
from workpackages.money.services import expense_submit
from workpackages.workplan.choices import DeliverableStatus
from workpackages.workplan.models import DeliverableSubmission
from workpackages.workplan.services import deliverable_submit

pytestmark = pytest.mark.django_db

INVOICE = b"%PDF-1.4 invoice 2024-017, culture media"
REPORT = b"%PDF-1.4 exosome QC protocol, version 1"
NOT_A_DOCUMENT = (
    "File extension \u201cexe\u201d is not allowed. "
    "Allowed extensions are: pdf, docx, xlsx, odt, ods, zip, png, jpg, jpeg."
)


def _client(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _get(user: Any, name: str) -> Any:
    return _client(user).get(reverse("media", args=[name]))


def _assert_served(response: Any, content: bytes, filename: str) -> None:
    assert response.status_code == 200
    try:
        assert b"".join(response.streaming_content) == content
        assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    finally:
        response.close()


@pytest.fixture
def evidence(budget_line: Any) -> Any:
    return factories.ExpenseFactory(
        line=budget_line, evidence=ContentFile(INVOICE, name="invoice.pdf")
    )


@pytest.fixture
def submission(deliverable: Any, partner_member: Any, before_due: Any) -> DeliverableSubmission:
    return deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=ContentFile(REPORT, name="qc-protocol.pdf"),
        now=before_due,
    )


@pytest.mark.parametrize("reader", ["partner_member", "coordinator"])
def test_evidence_is_served_to_its_partner_and_the_consortium_coordinators(
    request: pytest.FixtureRequest, reader: str, evidence: Expense
) -> None:
    assert evidence.evidence.name.startswith("evidence/")
    response = _get(request.getfixturevalue(reader), evidence.evidence.name)
    _assert_served(response, INVOICE, "invoice.pdf")


def test_evidence_is_served_to_the_funder_once_submitted(
    observer: Any, partner_member: Any, evidence: Expense
) -> None:
    assert evidence.status == "draft"
    assert _get(observer, evidence.evidence.name).status_code == 404
    expense_submit(expense=evidence, user=partner_member)
    _assert_served(_get(observer, evidence.evidence.name), INVOICE, "invoice.pdf")


@pytest.mark.parametrize("reader", ["other_partner_member", "other_coordinator", None])
def test_evidence_is_absent_for_everyone_else(
    request: pytest.FixtureRequest, reader: str | None, evidence: Expense
) -> None:
    user = request.getfixturevalue(reader) if reader else None
    assert _get(user, evidence.evidence.name).status_code == 404


@pytest.mark.parametrize(
    "reader", ["partner_member", "other_partner_member", "coordinator", "observer"]
)
def test_deliverable_versions_are_served_to_the_whole_consortium(
    request: pytest.FixtureRequest, reader: str, submission: DeliverableSubmission
) -> None:
    assert submission.file.name.startswith("deliverables/")
    response = _get(request.getfixturevalue(reader), submission.file.name)
    _assert_served(response, REPORT, "qc-protocol.pdf")


@pytest.mark.parametrize("reader", ["other_coordinator", None])
def test_deliverable_versions_are_absent_outside_the_consortium(
    request: pytest.FixtureRequest, reader: str | None, submission: DeliverableSubmission
) -> None:
    user = request.getfixturevalue(reader) if reader else None
    assert _get(user, submission.file.name).status_code == 404


def test_a_file_that_belongs_to_no_row_is_absent(
    coordinator: Any, superuser: Any, evidence: Expense
) -> None:
    stray = Path(settings.MEDIA_ROOT) / "evidence" / "stray.pdf"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(INVOICE)

    assert _get(coordinator, "evidence/stray.pdf").status_code == 404
    # Not even a superuser reads a file by its name alone.
    assert _get(superuser, "evidence/stray.pdf").status_code == 404


def test_an_executable_is_refused_as_evidence(expense: Expense) -> None:
    errors = refused_update(expense, evidence=ContentFile(b"MZ\x90\x00", name="setup.exe"))
    assert errors == {"evidence": [NOT_A_DOCUMENT]}
    assert not expense.evidence
    assert expense.history.count() == 1


def test_an_executable_is_refused_as_a_deliverable(
    deliverable: Any, partner_member: Any, before_due: Any
) -> None:
    with pytest.raises(ValidationError) as refusal:
        deliverable_submit(
            deliverable=deliverable,
            user=partner_member,
            file=ContentFile(b"MZ\x90\x00", name="report.exe"),
            now=before_due,
        )
    assert refusal.value.message_dict == {
        "file": ["A deliverable is sent as a PDF, DOCX, XLSX, ODT or ZIP file."]
    }
    deliverable.refresh_from_db()
    assert (deliverable.status, deliverable.first_submitted_at) == (
        DeliverableStatus.PLANNED,
        None,
    )
    assert not deliverable.submissions.exists()
    assert deliverable.history.count() == 1


def _pdf_of(size: int) -> bytes:
    header = b"%PDF-1.4\n"
    return header + b"x" * (size - len(header))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00"),  # a Windows executable
        ("invoice.pdf", b"<html><script>alert(1)</script></html>"),
        ("photo.png", b"%PDF-1.4\n"),
        ("report.docx", b"#!/bin/sh\nrm -rf /\n"),
    ],
)
def test_a_file_whose_content_is_not_what_its_name_says_is_refused(
    expense: Expense, name: str, content: bytes
) -> None:
    errors = refused_update(expense, evidence=ContentFile(content, name=name))
    extension = name.rsplit(".", 1)[1].upper()
    assert errors == {"evidence": [f"This file's content is not a {extension} document."]}
    assert not expense.evidence
    assert expense.history.count() == 1


def test_files_over_the_size_limit_are_refused(
    monkeypatch: pytest.MonkeyPatch, expense: Expense, budget_line: Any
) -> None:
    # The limit is read when a file is checked: a 1 MB limit spares writing 50 MB.
    limit = 1024 * 1024
    monkeypatch.setattr(validators, "MAX_UPLOAD_BYTES", limit)

    errors = refused_update(expense, evidence=ContentFile(_pdf_of(limit + 1), name="scan.pdf"))
    assert errors == {"evidence": ["This file is larger than 1 MB."]}
    assert not expense.evidence

    at_limit = factories.ExpenseFactory(
        line=budget_line,
        amount=Decimal("10.00"),
        evidence=ContentFile(_pdf_of(limit), name="scan.pdf"),
    )
    assert at_limit.evidence.size == limit
