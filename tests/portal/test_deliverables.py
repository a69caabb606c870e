"""A deliverable's page: its facts, versions and reviews, and the lead partner's upload of a new
version, which refuses bad files with a message and stores nothing then."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.api.conftest import PDF
from tests.web import MULTIPART, client_for, multipart
from workpackages.uploads import CapFileSize
from workpackages.validators import MAX_UPLOAD_BYTES
from workpackages.workplan.choices import DeliverableStatus
from workpackages.workplan.forms import DeliverableSubmitForm
from workpackages.workplan.models import Deliverable, DeliverableSubmission
from workpackages.workplan.services import deliverable_request_changes, deliverable_submit

pytestmark = pytest.mark.django_db

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def send(client: Client, deliverable: Any, file_name: str, content: bytes, **fields: str) -> Any:
    return client.post(
        reverse("deliverable-detail", args=[deliverable.pk]),
        data=multipart(fields, "file", file_name, content),
        content_type=MULTIPART,
    )


def stored_files() -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return [os.path.join(folder, name) for folder, _dirs, names in os.walk(root) for name in names]


def upload(name: str, content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def upcoming(workpackage: Any) -> Any:
    """D1.2, led by partner A, due at the end of month 36 (31 December 2026): not late yet."""
    return factories.DeliverableFactory(
        workpackage=workpackage, number=2, title="Exosome release criteria", due_month=36
    )


def page(client: Client, deliverable: Any) -> Any:
    return client.get(reverse("deliverable-detail", args=[deliverable.pk]))


def test_page_shows_facts_versions_and_reviews(
    partner_member: Any, coordinator: Any, deliverable: Any
) -> None:
    deliverable_submit(
        deliverable=deliverable,
        user=partner_member,
        file=upload("qc-protocol.pdf"),
        note="First draft with the assay list.",
        late_justification="The reference batch failed in November.",
    )
    deliverable_request_changes(
        deliverable=deliverable, user=coordinator, comment="Add the potency assay results."
    )
    response = page(client_for(partner_member), deliverable)
    assert response.status_code == 200
    content = response.content.decode()
    for fact in (
        "D1.1 Exosome QC protocol",
        "WP1 Exosome manufacturing",
        "P1 BioWin",
        "R – Document, report",
        "PU – Public",
        "end of month 12",
        "Changes requested",
        "The reference batch failed in November.",
        "Version 1 sent",
        "First draft with the assay list.",
        "version 1",
        "days late",
    ):
        assert fact in content, fact
    # The coordinator's request comes first on the page, before the facts.
    assert content.index("Add the potency assay results.") < content.index('id="facts"')
    assert 'id="changes-requested"' in content
    submission = deliverable.submissions.get()
    assert f'href="{submission.file.url}"' in content
    assert "Download qc-protocol" in content
    # The lead partner may send a corrected version: the form is there, late justification kept.
    assert response.context["form"] is not None
    assert "Send a corrected version" in content


def test_lead_partner_submits_a_pdf(partner_member: Any, upcoming: Any) -> None:
    client = client_for(partner_member)
    form_page = page(client, upcoming)
    content = form_page.content.decode()
    assert 'accept=".pdf,.docx,.xlsx,.odt,.zip"' in content
    assert 'enctype="multipart/form-data"' in content
    # Not late: no justification asked.
    assert "late_justification" not in content

    response = send(client, upcoming, "release-criteria.pdf", PDF, note="Ready for review.")
    assert response.status_code == 302
    assert response["Location"] == reverse("deliverable-detail", args=[upcoming.pk])

    submission = DeliverableSubmission.objects.get(deliverable=upcoming)
    assert submission.version == 1
    assert submission.note == "Ready for review."
    assert submission.submitted_by == partner_member
    assert Path(submission.file.path).read_bytes() == PDF
    assert Path(submission.file.path).is_relative_to(Path(settings.MEDIA_ROOT))
    assert os.path.basename(submission.file.name) == "release-criteria.pdf"
    upcoming.refresh_from_db()
    assert upcoming.status == DeliverableStatus.SUBMITTED
    assert upcoming.first_submitted_at is not None
    assert upcoming.history.latest().history_user == partner_member

    shown = client.get(response["Location"])
    content = shown.content.decode()
    assert "Version 1 of D1.2 was sent to the coordinators for review." in content
    assert "Version 1 sent" in content
    # Submitted: no more form until the coordinators ask for changes.
    assert shown.context["form"] is None


def test_late_submission_needs_a_justification(partner_member: Any, deliverable: Any) -> None:
    client = client_for(partner_member)
    content = page(client, deliverable).content.decode()
    assert 'name="late_justification"' in content
    assert "This deliverable was due on" in content

    refused = send(client, deliverable, "qc.pdf", PDF, late_justification="  ")
    assert refused.status_code == 200
    assert (
        "This deliverable was due on 2024-12-31: explain the delay before submitting."
        in refused.content.decode()
    )
    assert not DeliverableSubmission.objects.exists()
    assert stored_files() == []
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.PLANNED

    accepted = send(
        client, deliverable, "qc.pdf", PDF, late_justification="The cell bank arrived late."
    )
    assert accepted.status_code == 302
    deliverable.refresh_from_db()
    assert deliverable.status == DeliverableStatus.SUBMITTED
    assert deliverable.late_justification == "The cell bank arrived late."
    assert deliverable.submissions.get().version == 1


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        ("report.pdf", EXE, "This file's content is not a PDF document."),
        ("setup.exe", EXE, "A deliverable is sent as a PDF, DOCX, XLSX, ODT or ZIP file."),
        # The model accepts images as expense evidence; a deliverable is not an image.
        ("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "sent as a PDF, DOCX, XLSX, ODT or ZIP"),
        ("../evil.pdf", PDF, "contains a folder or a path separator"),
        ("..\\evil.pdf", PDF, "contains a folder or a path separator"),
        ("reports/../../evil.pdf", PDF, "contains a folder or a path separator"),
        ("C:\\Users\\me\\evil.pdf", PDF, "contains a folder or a path separator"),
        ("..", PDF, "This is not a file name"),
        ("evil\x07.pdf", PDF, "invisible or control characters"),
        ("invoice\u202efdp.exe", PDF, "invisible or control characters"),
        ("..&#47;evil.pdf", PDF, "contains a folder or a path separator"),
        ("evil&#92;report.pdf", PDF, "contains a folder or a path separator"),
        ("report\u2028final.pdf", PDF, "invisible or control characters"),
        ("report\u00a0final.pdf", PDF, "invisible or control characters"),
        ("empty.pdf", b"", "The submitted file is empty."),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    partner_member: Any, upcoming: Any, file_name: str, content: bytes, message: str
) -> None:
    response = send(client_for(partner_member), upcoming, file_name, content, note="x")
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert response.context["form"].errors["file"]
    assert not DeliverableSubmission.objects.exists()
    assert stored_files() == []
    upcoming.refresh_from_db()
    assert upcoming.status == DeliverableStatus.PLANNED
    assert upcoming.first_submitted_at is None


def test_file_over_50_mb_is_refused(partner_member: Any, upcoming: Any) -> None:
    # A real PDF header, then padding to one byte over the limit: only the size is wrong.
    content = PDF + b"\x00" * (MAX_UPLOAD_BYTES + 1 - len(PDF))
    response = send(client_for(partner_member), upcoming, "big.pdf", content)
    assert response.status_code == 200
    assert "This file is larger than 50 MB." in response.content.decode()
    assert not DeliverableSubmission.objects.exists()
    assert stored_files() == []
    upcoming.refresh_from_db()
    assert upcoming.status == DeliverableStatus.PLANNED


def test_file_of_exactly_50_mb_is_accepted(partner_member: Any, upcoming: Any) -> None:
    content = PDF + b"\x00" * (MAX_UPLOAD_BYTES - len(PDF))
    response = send(client_for(partner_member), upcoming, "limit.pdf", content)
    assert response.status_code == 302
    assert Path(upcoming.submissions.get().file.path).stat().st_size == MAX_UPLOAD_BYTES


def test_names_are_checked_behind_the_csrf_check(partner_member: Any, upcoming: Any) -> None:
    """With the CSRF check on, as in production, the token is still required and the name the
    browser sent still reaches the form (the check reads the body before the view)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(partner_member)
    page(client, upcoming)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    assert send(client, upcoming, "report.pdf", PDF).status_code == 403
    refused = send(client, upcoming, "..\\evil.pdf", PDF, csrfmiddlewaretoken=token)
    assert refused.status_code == 200
    assert "contains a folder or a path separator" in refused.content.decode()
    assert not DeliverableSubmission.objects.exists()
    assert stored_files() == []

    accepted = send(client, upcoming, "report.pdf", PDF, csrfmiddlewaretoken=token)
    assert accepted.status_code == 302
    assert upcoming.submissions.get().version == 1


def test_partner_not_leading_gets_no_form_and_cannot_post(
    other_partner_member: Any, upcoming: Any
) -> None:
    client = client_for(other_partner_member)
    response = page(client, upcoming)
    assert response.status_code == 200
    content = response.content.decode()
    assert "D1.2 Exosome release criteria" in content
    assert response.context["form"] is None
    assert 'type="file"' not in content
    assert "Your organisation" not in content
    # They read the deliverable (the page answers them): sending a version is what is forbidden.
    refused = send(client, upcoming, "report.pdf", PDF)
    assert refused.status_code == 403
    assert not DeliverableSubmission.objects.exists()
    assert stored_files() == []
    upcoming.refresh_from_db()
    assert upcoming.status == DeliverableStatus.PLANNED


def test_deliverable_of_another_consortium_is_absent(
    partner_member: Any, other_workpackage: Any
) -> None:
    foreign = factories.DeliverableFactory(workpackage=other_workpackage, due_month=36)
    client = client_for(partner_member)
    assert page(client, foreign).status_code == 404
    assert send(client, foreign, "report.pdf", PDF).status_code == 404
    assert not DeliverableSubmission.objects.exists()
    assert stored_files() == []


def test_submitted_deliverable_takes_no_new_version(partner_member: Any, upcoming: Any) -> None:
    deliverable_submit(deliverable=upcoming, user=partner_member, file=upload("v1.pdf"))
    before = stored_files()
    client = client_for(partner_member)
    assert page(client, upcoming).context["form"] is None
    # Posted from a page opened before the first version was sent.
    response = send(client, upcoming, "v2.pdf", PDF)
    assert response.status_code == 302
    shown = client.get(response["Location"])
    assert "Cannot submit D1.2 Exosome release criteria: it is submitted." in shown.content.decode()
    assert shown.context["form"] is None
    assert upcoming.submissions.count() == 1
    assert stored_files() == before


def test_changes_requested_then_second_version(
    partner_member: Any, coordinator: Any, upcoming: Any
) -> None:
    deliverable_submit(deliverable=upcoming, user=partner_member, file=upload("v1.pdf"))
    deliverable_request_changes(deliverable=upcoming, user=coordinator, comment="Cite the SOPs.")
    client = client_for(partner_member)
    response = send(client, upcoming, "v2.pdf", PDF, note="SOPs cited.")
    assert response.status_code == 302
    versions = list(upcoming.submissions.order_by("version").values_list("version", "note"))
    assert versions == [(1, ""), (2, "SOPs cited.")]
    upcoming.refresh_from_db()
    assert upcoming.status == DeliverableStatus.SUBMITTED
    content = client.get(response["Location"]).content.decode()
    # The request for changes is history now, no longer shown as the thing to do.
    assert 'id="changes-requested"' not in content
    assert (
        content.index("Version 2 sent")
        < content.index("Changes requested")
        < content.index("Version 1 sent")
    )


def test_page_queries_do_not_grow_with_versions(
    partner_member: Any, coordinator: Any, upcoming: Any
) -> None:
    client = client_for(partner_member)

    def add_round() -> None:
        deliverable_submit(deliverable=upcoming, user=partner_member, file=upload("v.pdf"))
        deliverable_request_changes(deliverable=upcoming, user=coordinator, comment="Again.")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert page(client, upcoming).status_code == 200
        return len(captured)

    add_round()
    few = count()
    for _round in range(4):
        add_round()
    assert count() == few
    assert Deliverable.objects.get(pk=upcoming.pk).submissions.count() == 5


def test_form_refuses_names_without_the_parser() -> None:
    """The form checks the name it is given when the upload didn't go through the page's parser
    (as in another view or a shell)."""
    deliverable = Deliverable(due_date=datetime.date(2026, 12, 31))
    form = DeliverableSubmitForm(
        {},
        {"file": upload("..\\evil.pdf")},
        deliverable=deliverable,
        today=datetime.date(2026, 11, 27),
    )
    assert not form.is_valid()
    assert "path separator" in str(form.errors["file"])


def test_upload_past_the_limit_is_not_kept_whole() -> None:
    """Past 50 MB the server stops writing the upload to its temporary folder; what it kept is
    still over the limit, so the form refuses it by its size."""
    cap = CapFileSize()
    assert cap.receive_data_chunk(b"chunk", MAX_UPLOAD_BYTES) == b"chunk"
    assert cap.receive_data_chunk(b"chunk", MAX_UPLOAD_BYTES + 1) is None


def test_detail_answers_only_get_and_post(partner_member: Any, upcoming: Any) -> None:
    url = reverse("deliverable-detail", args=[upcoming.pk])
    assert client_for(partner_member).put(url).status_code == 405
    assert not DeliverableSubmission.objects.exists()
