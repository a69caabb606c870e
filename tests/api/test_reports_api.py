"""The report archive in the API, as the funder's pages show it: the coordinators read every report
of their consortia, the observers those a coordinator sent, partners' people none, and nobody
another consortium's; each report lists its documents with the addresses that serve them."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reporting.choices import ReportKind
from reporting.services import report_generate, report_schedule
from tests.api.conftest import api_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def reports(consortium: Any, coordinator: Any) -> dict[str, Any]:
    """A progress report sent and generated, and a jobs report still the coordinators' draft."""
    sent = {
        "kind": ReportKind.PROGRESS,
        "consortium": consortium,
        "period_start": datetime.date(2026, 11, 9),
        "period_end": datetime.date(2026, 11, 15),
    }
    report_schedule(release=True, **sent)
    draft = report_schedule(
        kind=ReportKind.JOBS,
        consortium=consortium,
        period_start=datetime.date(2026, 10, 1),
        period_end=datetime.date(2026, 10, 31),
    )
    return {"sent": report_generate(**sent), "draft": draft}


def _ids(user: Any, **query: Any) -> set[int]:
    answer = api_client(user).get("/api/v1/reports/", query)
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["results"]}


def test_each_reads_the_reports_the_funder_pages_show_them(
    reports: dict[str, Any],
    coordinator: Any,
    observer: Any,
    partner_member: Any,
    other_coordinator: Any,
) -> None:
    sent, draft = reports["sent"], reports["draft"]
    assert sent.released_at is not None and draft.released_at is None
    assert _ids(coordinator) == {sent.pk, draft.pk}
    assert _ids(observer) == {sent.pk}
    assert _ids(partner_member) == set()
    assert _ids(other_coordinator) == set()

    for user, report, status in [
        (coordinator, draft, 200),
        (observer, sent, 200),
        (observer, draft, 404),
        (partner_member, sent, 404),
        (other_coordinator, sent, 404),
    ]:
        answer = api_client(user).get(f"/api/v1/reports/{report.pk}/")
        assert answer.status_code == status, (user.username, report, answer.content)


def test_a_report_lists_its_documents_and_where_to_fetch_them(
    reports: dict[str, Any], observer: Any, partner_member: Any
) -> None:
    sent = reports["sent"]
    client = api_client(observer)
    answer = client.get(f"/api/v1/reports/{sent.pk}/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["kind"], body["period_start"], body["period_end"]) == (
        "progress",
        "2026-11-09",
        "2026-11-15",
    )
    languages = sorted(document.language for document in sent.documents.all())
    assert [document["language"] for document in body["documents"]] == languages
    document = body["documents"][0]
    # The PDF and the spreadsheet through the protected media route, with the same token.
    for name in ("pdf", "xlsx"):
        path = urlsplit(document[name]).path
        assert path.startswith("/media/reports/"), path
        assert client.get(path).status_code == 200
        assert api_client(partner_member).get(path).status_code == 404
    # The report itself on the funder's pages, for a signed-in browser.
    html = urlsplit(document["html"]).path
    assert html == reverse("funder-report", args=[sent.consortium_id, sent.pk, languages[0]])
    browser = APIClient()
    browser.force_login(observer)
    page = browser.get(html)
    assert page.status_code == 200
    assert page["Content-Security-Policy"]


def test_reports_filter_by_kind_and_consortium_and_synchronise_by_cursor(
    reports: dict[str, Any], coordinator: Any, other_consortium: Any
) -> None:
    sent, draft = reports["sent"], reports["draft"]
    assert _ids(coordinator, kind="jobs") == {draft.pk}
    assert _ids(coordinator, consortium=sent.consortium_id) == {sent.pk, draft.pk}
    refused = api_client(coordinator).get("/api/v1/reports/", {"consortium": other_consortium.pk})
    assert refused.status_code == 400
    assert "consortium" in refused.content.decode()

    client = api_client(coordinator)
    first = client.get(
        "/api/v1/reports/", {"updated_since": "2026-01-01T00:00:00Z", "page_size": 1}
    ).json()
    assert first["count"] == 2
    second = client.get(first["next"]).json()
    assert second["next"] is None
    # In the order they last changed: the draft, untouched since it was made, first.
    assert [row["id"] for row in first["results"] + second["results"]] == [draft.pk, sent.pk]
