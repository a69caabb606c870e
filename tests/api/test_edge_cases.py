"""The API's answers at the edges: a signed-in caller guessing someone else's password, a partner
moving the coordinators' plan, two requests racing for the same row, a record leaving its
consortium, moments and file names the database or the disk can't hold, and file links used
with a token."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from rest_framework.test import APIClient

from consortium.choices import MembershipRole
from consortium.services import membership_grant
from tests import factories
from tests.api.conftest import PDF, api_client
from tests.api.openapi import published_schema
from tests.assertions import api_error_codes, api_errors
from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Effort
from workpackages.uploads import MAX_REQUEST_BYTES

pytestmark = pytest.mark.django_db


def test_a_signed_in_caller_is_throttled_on_the_token_endpoint(
    partner_member: Any, coordinator: Any
) -> None:
    client = api_client(partner_member)
    answers = [
        client.post(
            "/api/v1/auth/token/",
            {"username": coordinator.username, "password": f"guess-{n}"},
            format="json",
        ).status_code
        for n in range(11)
    ]
    # Five wrong passwords for one account pause its sign-in (django-axes) before the endpoint's
    # limit of ten requests a minute is reached.
    assert answers == [400] * 4 + [429] * 7


def test_a_partner_reports_actual_effort_but_does_not_move_the_plan(
    partner_a: Any, workpackage: Any, partner_member: Any, consortium: Any
) -> None:
    effort = factories.EffortFactory(partner=partner_a, workpackage=workpackage)
    second_wp = factories.WorkpackageFactory(consortium=consortium, lead_partner=partner_a)
    client = api_client(partner_member)
    history = effort.history.count()

    moved = client.patch(
        f"/api/v1/effort/{effort.pk}/",
        {"workpackage": second_wp.pk, "period": consortium.periods.get(number=2).pk},
        format="json",
    )
    assert moved.status_code == 400, moved.content
    assert set(api_errors(moved)) == {"workpackage", "period"}
    effort.refresh_from_db()
    assert (effort.workpackage_id, effort.period.number) == (workpackage.pk, 1)
    assert effort.history.count() == history

    reported = client.patch(
        f"/api/v1/effort/{effort.pk}/", {"actual_person_months": "5.50"}, format="json"
    )
    assert reported.status_code == 200, reported.content
    assert reported.json()["actual_person_months"] == "5.50"
    assert reported.json()["planned_person_months"] == "6.00"


def test_a_record_stays_in_its_consortium(
    job: JobRecord, partner_member: Any, other_partner: Any
) -> None:
    # The same person also works for a partner of another consortium.
    membership_grant(
        partner=other_partner, user=partner_member, role=MembershipRole.FINANCE, granted_by=None
    )
    answer = api_client(partner_member).patch(
        f"/api/v1/jobs/{job.pk}/",
        {"partner": other_partner.pk, "workpackage": None},
        format="json",
    )
    assert answer.status_code == 400, answer.content
    assert api_errors(answer) == {
        "partner": ["A record stays with its partner: withdraw it and add a new one."]
    }
    job.refresh_from_db()
    assert (job.partner_id, job.consortium.acronym) == (job.partner_id, "PIT-TEST")
    assert job.history.count() == 1


@pytest.mark.parametrize("moment", ["2026-01-01T10:00:00", "2026-01-01", "2026-01-01 10:00"])
def test_a_moment_without_its_offset_is_a_bad_filter(coordinator: Any, moment: str) -> None:
    """Read in the server's time zone, it would move a synchronisation by an hour or two."""
    answer = api_client(coordinator).get("/api/v1/expenses/", {"updated_since": moment})
    assert answer.status_code == 400, answer.content
    assert api_errors(answer) == {
        "updated_since": [
            "Give the moment with its offset from UTC: end it with Z or, say, +01:00."
        ]
    }
    for good in ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00+01:00"):
        read = api_client(coordinator).get("/api/v1/expenses/", {"updated_since": good})
        assert read.status_code == 200, read.content


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        ("get", "/api/v1/nothing/", "No such address in the API."),
        ("get", "/api/v2/expenses/", "No such address in the API."),
        (
            "post",
            "/api/v1/expenses",
            "No such address in the API: API addresses end with a slash, as in /api/v1/expenses/.",
        ),
        (
            "get",
            "/api/v1/expenses/1/submit",
            "No such address in the API: API addresses end with a slash, as in "
            "/api/v1/expenses/1/submit/.",
        ),
    ],
)
def test_an_address_that_is_not_the_apis_is_a_json_404(
    coordinator: Any, method: str, path: str, detail: str, settings: Any
) -> None:
    """Not the site's HTML page, nor a server error for a POST missing its slash (Django can't
    redirect a POST), whether or not the site runs with DEBUG."""
    for debug in (False, True):
        settings.DEBUG = debug
        answer = getattr(api_client(coordinator), method)(path, {}, format="json")
        assert answer.status_code == 404, answer.content
        assert answer["Content-Type"] == "application/json"
        assert api_errors(answer) == {"detail": detail}
        assert api_error_codes(answer) == {None: ["not_found"]}
    # A script's client that enforces CSRF, as a browser's session would: the same JSON 404.
    enforcing = APIClient(enforce_csrf_checks=True)
    enforcing.force_login(coordinator)
    answer = getattr(enforcing, method)(path, {}, format="json")
    assert (answer.status_code, answer["Content-Type"]) == (404, "application/json")
    assert not answer.has_header("ETag")
    # A malformed id within a real address is the API's own 404, in JSON too.
    answer = api_client(coordinator).get("/api/v1/expenses/abc/")
    assert answer.status_code == 404
    assert api_error_codes(answer) == {None: ["not_found"]}
    # The rest of the site keeps its page, and its redirect to the address with its slash.
    assert api_client(coordinator).get("/admin").status_code == 301


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_moment_the_database_cannot_hold_is_a_bad_filter(coordinator: Any, moment: str) -> None:
    answer = api_client(coordinator).get("/api/v1/expenses/", {"updated_since": moment})
    assert answer.status_code == 400, answer.content
    assert list(api_errors(answer)) == ["updated_since"]


def _put_evidence(client: Any, expense: Any, name: str, content: bytes) -> Any:
    """A draft's evidence, sent alone as a multipart form with its one `evidence` part."""
    return client.put(
        f"/api/v1/expenses/{expense.pk}/evidence/",
        {"evidence": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_a_file_name_too_long_for_the_disk_is_refused(expense: Any, partner_member: Any) -> None:
    media = Path(settings.MEDIA_ROOT)
    history = expense.history.count()
    answer = _put_evidence(api_client(partner_member), expense, "é" * 200 + ".pdf", PDF)
    assert answer.status_code == 400, answer.content
    assert api_errors(answer) == {
        "evidence": ["This file name is too long: rename the file and try again."]
    }
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
    expense.refresh_from_db()
    assert not expense.evidence
    assert expense.history.count() == history


def test_a_new_budget_line_reads_with_its_consumption(
    partner_a: Any, workpackage: Any, operating: Any, coordinator: Any
) -> None:
    answer = api_client(coordinator).post(
        "/api/v1/budget-lines/",
        {
            "partner": partner_a.pk,
            "workpackage": workpackage.pk,
            "category": operating.pk,
            "planned_amount": "5000.00",
            "funding_rate": "50.00",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert (answer.json()["granted_amount"], answer.json()["consumed"]) == ("2500.00", "0.00")
    line = BudgetLine.objects.get(pk=answer.json()["id"])
    assert line.history.get().history_user == coordinator


def test_file_links_open_with_the_api_token_of_who_may_see_them(
    expense: Any, partner_member: Any, other_partner_member: Any
) -> None:
    owner = api_client(partner_member)
    stored = _put_evidence(owner, expense, "invoice.pdf", PDF)
    assert stored.status_code == 200, stored.content
    link = stored.json()["evidence"].removeprefix("http://testserver")

    download = owner.get(link)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF
    assert api_client(other_partner_member).get(link).status_code == 404
    stranger = api_client()
    stranger.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert stranger.get(link).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_for_the_same_row_get_one_refusal_not_an_error(
    partner_a: Any, workpackage: Any, coordinator: Any, period: Any
) -> None:
    """Another session inserts the same effort row and commits only once this request's insert
    is waiting on it: the request answers 400 with the rule, not 500."""
    other = connections.create_connection("default")
    other.set_autocommit(False)
    with other.cursor() as cursor:
        cursor.execute(
            "INSERT INTO workpackages_effort (created_at, updated_at, consortium_id, partner_id,"
            " workpackage_id, period_id, planned_person_months)"
            " VALUES (now(), now(), %s, %s, %s, %s, 3)",
            [partner_a.consortium_id, partner_a.pk, workpackage.pk, period.pk],
        )
    answers: list[Any] = []

    def post() -> None:
        try:
            answers.append(
                api_client(coordinator).post(
                    "/api/v1/effort/",
                    {
                        "partner": partner_a.pk,
                        "workpackage": workpackage.pk,
                        "period": period.pk,
                        "planned_person_months": "6.00",
                    },
                    format="json",
                )
            )
        finally:
            connection.close()

    request = threading.Thread(target=post)
    request.start()
    try:
        time.sleep(1.0)
        # Still running: its insert waits on the other session's row, past every check in Python.
        assert request.is_alive()
        other.commit()
    finally:
        # Whatever happened, the request is not left waiting on this session (nor is the flush
        # that ends the test).
        other.close()
        request.join(timeout=30)

    assert len(answers) == 1
    assert answers[0].status_code == 400, answers[0].content
    assert api_errors(answers[0]) == {
        "non_field_errors": ["Effort for this partner, workpackage and period is already recorded."]
    }
    assert Effort.objects.get().planned_person_months == Decimal("3.00")


def test_a_budget_lines_granted_amount_follows_its_plan_unless_set(
    budget_line: BudgetLine, coordinator: Any
) -> None:
    client = api_client(coordinator)
    url = f"/api/v1/budget-lines/{budget_line.pk}/"
    planned = client.get(url).json()["planned_amount"]
    rate = Decimal(client.get(url).json()["funding_rate"])

    assert client.patch(url, {"granted_amount": "1000.00"}, format="json").status_code == 200
    # Sending the same plan again keeps the granted amount the coordinator set.
    kept = client.patch(url, {"planned_amount": planned}, format="json")
    assert kept.json()["granted_amount"] == "1000.00"

    replanned = client.patch(url, {"planned_amount": "50000.00"}, format="json")
    assert replanned.status_code == 200, replanned.content
    assert Decimal(replanned.json()["granted_amount"]) == (Decimal(50000) * rate / 100).quantize(
        Decimal("0.01")
    )
    # The plan sent again unchanged changed nothing, and recorded nothing.
    changes = list(budget_line.history.all()[:3])
    assert [row.history_user for row in changes[:2]] == [coordinator, coordinator]
    assert changes[2].history_type == "+"


def test_a_draft_whose_evidence_went_missing_can_still_be_edited(
    expense: Any, partner_member: Any
) -> None:
    client = api_client(partner_member)
    stored = _put_evidence(client, expense, "invoice.pdf", PDF)
    assert stored.status_code == 200, stored.content
    expense.refresh_from_db()
    Path(expense.evidence.path).unlink()

    edited = client.patch(
        f"/api/v1/expenses/{expense.pk}/", {"description": "Corrected label"}, format="json"
    )
    assert edited.status_code == 200, edited.content
    expense.refresh_from_db()
    assert expense.description == "Corrected label"
    assert expense.history.first().history_user == partner_member


def _documented(method: str, template: str, status: int) -> bool:
    operation = published_schema()["paths"][template][method.lower()]
    answer = operation["responses"].get(str(status), {})
    return answer.get("content", {}).get("application/json", {}).get("schema") == {
        "$ref": "#/components/schemas/Error"
    }


def test_each_refusal_of_the_request_itself_has_the_one_shape_and_is_documented(
    submitted_expense: Any, coordinator: Any, partner_member: Any
) -> None:
    """405, 406, 409, 413 and 415 as answered, each in the one error shape with its code, and
    each documented for the operation that answered it (the other operations of the address,
    for a method it does not take)."""
    client = api_client(coordinator)
    one = f"/api/v1/expenses/{submitted_expense.pk}/"
    template = "/api/v1/expenses/{id}/"

    wrong_method = client.delete(one)
    assert wrong_method.status_code == 405
    assert api_error_codes(wrong_method) == {None: ["method_not_allowed"]}
    assert "PATCH" in wrong_method["Allow"]
    assert _documented("GET", template, 405) and _documented("PATCH", template, 405)

    xml = client.get(one, HTTP_ACCEPT="application/xml")
    assert xml.status_code == 406
    assert api_error_codes(xml) == {None: ["not_acceptable"]}
    assert _documented("GET", template, 406)

    decided = client.post(f"{one}reject/", {"comment": "Again."}, format="json")
    assert decided.status_code == 200, decided.content
    again = client.post(f"{one}reject/", {"comment": "Again."}, format="json")
    assert again.status_code == 409, again.content
    assert set(api_error_codes(again).popitem()[1]) == {"invalid_state"}
    assert _documented("POST", "/api/v1/expenses/{id}/reject/", 409)

    text = client.generic("PATCH", one, "amount=1", content_type="text/plain")
    assert text.status_code == 415
    assert api_error_codes(text) == {None: ["unsupported_media_type"]}
    assert _documented("PATCH", template, 415)

    huge = client.generic(
        "PUT",
        f"/api/v1/expenses/{submitted_expense.pk}/evidence/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(MAX_REQUEST_BYTES + 1),
    )
    assert huge.status_code == 413
    assert api_error_codes(huge) == {None: ["request_too_large"]}
    assert _documented("PUT", "/api/v1/expenses/{id}/evidence/", 413)


def test_a_server_error_says_nothing_of_its_cause(
    coordinator: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without DEBUG, an unexpected error answers the one shape, with no trace of the exception
    (its text is for the logs)."""
    from workpackages.overview import api as overview_api

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret table name in a database message")

    settings.DEBUG = False
    monkeypatch.setattr(overview_api.ConsortiumViewSet, "list", broken)
    client = api_client(coordinator)
    client.raise_request_exception = False
    answer = client.get("/api/v1/consortia/")
    assert answer.status_code == 500
    assert answer.json()["type"] == "server_error"
    assert api_error_codes(answer) == {None: ["error"]}
    assert "secret" not in answer.content.decode()
