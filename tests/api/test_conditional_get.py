"""An integration polling the API sends back the `ETag` it read: `304 Not Modified`, without a
body, while nothing changed; the new page, with a new `ETag`, once something has."""

from __future__ import annotations

from typing import Any

import pytest

from consortium.records import record_update
from tests.api.conftest import api_client

pytestmark = pytest.mark.django_db


def test_an_unchanged_list_answers_304_and_a_changed_one_its_new_page(
    expense: Any, partner_member: Any, coordinator: Any
) -> None:
    client = api_client(coordinator)
    first = client.get("/api/v1/expenses/")
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag

    again = client.get("/api/v1/expenses/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    # Another list is another answer.
    other = client.get("/api/v1/jobs/", HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200

    record_update(instance=expense, user=partner_member, description="Culture media, corrected")
    changed = client.get("/api/v1/expenses/", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert "Culture media, corrected" in changed.content.decode()


def test_only_reads_of_the_api_carry_an_etag(expense: Any, coordinator: Any) -> None:
    client = api_client(coordinator)
    refused = client.get("/api/v1/expenses/", {"status": "nonsense"})
    assert refused.status_code == 400
    assert not refused.has_header("ETag")
    missing = client.get("/api/v1/expenses/999999/")
    assert missing.status_code == 404
    assert not missing.has_header("ETag")
    written = client.patch(
        f"/api/v1/expenses/{expense.pk}/", {"description": "Edited"}, format="json"
    )
    assert written.status_code == 200
    assert not written.has_header("ETag")
    page = client.get("/")
    assert not page.has_header("ETag")
