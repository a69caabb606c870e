"""Pages of the API's lists: fifty rows by default, never more than 200, none missed or repeated."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.api.conftest import api_client

pytestmark = pytest.mark.django_db


def test_pages_hold_fifty_rows_by_default_and_never_more_than_200(
    partner_a: Any, coordinator: Any
) -> None:
    jobs = [factories.JobRecordFactory(partner=partner_a) for _n in range(201)]
    client = api_client(coordinator)

    default = client.get("/api/v1/jobs/").json()
    assert (default["count"], len(default["results"])) == (201, 50)

    for size in (500, 200, 201, 10_000):
        page = client.get("/api/v1/jobs/", {"page_size": size}).json()
        assert (page["count"], len(page["results"])) == (201, 200), size
        assert page["next"] and "page=2" in page["next"]
    last = client.get("/api/v1/jobs/", {"page_size": 500, "page": 2}).json()
    assert len(last["results"]) == 1 and last["next"] is None

    # Pages never overlap nor miss a row, even ordered by a field many rows share.
    seen: list[int] = []
    for number in (1, 2, 3, 4, 5):
        page = client.get(
            "/api/v1/jobs/", {"page_size": 50, "page": number, "ordering": "-fte"}
        ).json()
        seen += [row["id"] for row in page["results"]]
    assert sorted(seen) == sorted(job.pk for job in jobs)

    for nonsense in ("0", "-5", "many"):
        page = client.get("/api/v1/jobs/", {"page_size": nonsense})
        assert page.status_code == 200 and len(page.json()["results"]) == 50, nonsense
    assert client.get("/api/v1/jobs/", {"page": 99}).status_code == 404
