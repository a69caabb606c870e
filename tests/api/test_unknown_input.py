"""A query parameter or a body field an endpoint does not read is refused with a 400 naming it,
and nothing changes: a misspelt filter would otherwise list everything, a misspelt field leave the
row as it was, both answered with a success.

What an endpoint reads: a list, its FilterSet's filters, `page`, `page_size`, `ordering`, `search`
where offered and `format`; any other operation, `format`. A write or an action reads its
serializer's fields; those it marks read-only (`id`, `status`, `consortium`, the timestamps…) are
accepted and ignored, so that a client may send back what it read.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.utils import translation

from tests.api.conftest import api_client
from tests.api.openapi import published_schema
from tests.api.test_permissions_matrix import SPECS, World, _snapshot
from tests.assertions import api_errors

pytestmark = pytest.mark.django_db

SCHEMA = published_schema()
# The token exchange (`TokenView`) is an APIView of its own, not a ScopedViewSet: it reads its
# credentials itself.
KEY_EXCHANGE = "/api/v1/auth/token/"
LISTS = sorted(path for path, item in SCHEMA["paths"].items() if "get" in item and "{" not in path)
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in SCHEMA["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"} and path != KEY_EXCHANGE
)
WRITES = [(method, path) for method, path in OPERATIONS if method in {"POST", "PUT", "PATCH"}]


def _send(
    world: World, method: str, template: str, query: str = "", extra_field: bool = False
) -> tuple[Any, bool]:
    """The operation as the coordinator, with the matrix's valid body (plus an unknown field when
    asked): a refusal can only be about what was added."""
    spec = SPECS[(method, template)]
    target = spec.target(world) if spec.target else None
    path = template.replace("{id}", str(target.pk)) if target is not None else template
    client = api_client(world.coordinator)
    before = _snapshot(target, spec.creates)
    body = dict(spec.body(world)) if spec.body else {}
    if extra_field:
        body["colour"] = "teal"
    url = f"{path}?{query}" if query else path
    if method == "GET":
        answer = client.get(url)
    else:
        fmt = "multipart" if spec.multipart else "json"
        answer = getattr(client, method.lower())(url, body, format=fmt)
    return answer, _snapshot(target, spec.creates) == before


@pytest.mark.parametrize("path", LISTS)
def test_a_list_refuses_a_query_parameter_it_does_not_read(
    path: str, request: pytest.FixtureRequest
) -> None:
    answer = api_client(World(request).coordinator).get(path, {"page_size": 5, "sttaus": "draft"})
    assert answer.status_code == 400, answer.content
    [message] = api_errors(answer)["sttaus"]
    assert message.startswith("Unknown query parameter “sttaus”; the parameters of this endpoint")
    assert list(api_errors(answer)) == ["sttaus"]


@pytest.mark.parametrize("path", LISTS)
def test_a_list_reads_every_query_parameter_its_schema_documents(
    path: str, request: pytest.FixtureRequest
) -> None:
    client = api_client(World(request).coordinator)
    documented = [
        parameter["name"]
        for parameter in SCHEMA["paths"][path]["get"].get("parameters", [])
        if parameter["in"] == "query"
    ]
    # The deletions' feed is only ever synchronised: by cursor, in the order of deletion.
    paged = {"since", "page_size", "cursor"} if path == "/api/v1/changes/" else {"page", "ordering"}
    assert paged | {"page_size"} <= set(documented)
    refused = {}
    for name in [*documented, "format"]:
        cache.clear()
        answer = client.get(path, {name: ""})
        assert answer.status_code in {200, 400}, (name, answer.content)
        messages = api_errors(answer).get(name, []) if answer.status_code == 400 else []
        if any(message.startswith("Unknown query parameter") for message in messages):
            refused[name] = messages
    assert refused == {}


@pytest.mark.parametrize(
    ("method", "template"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS]
)
def test_every_operation_refuses_an_unknown_query_parameter_and_changes_nothing(
    method: str, template: str, request: pytest.FixtureRequest
) -> None:
    answer, unchanged = _send(World(request), method, template, query="verbose=1")
    assert answer.status_code == 400, answer.content
    assert list(api_errors(answer)) == ["verbose"], answer.json()
    assert unchanged


@pytest.mark.parametrize(("method", "template"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_every_write_refuses_a_field_it_does_not_read_and_changes_nothing(
    method: str, template: str, request: pytest.FixtureRequest
) -> None:
    answer, unchanged = _send(World(request), method, template, extra_field=True)
    assert answer.status_code == 400, answer.content
    assert list(api_errors(answer)) == ["colour"], answer.json()
    [message] = api_errors(answer)["colour"]
    assert message.startswith("Unknown field “colour”"), message
    assert unchanged


def test_an_object_route_reads_the_format_parameter(expense: Any, coordinator: Any) -> None:
    answer = api_client(coordinator).get(f"/api/v1/expenses/{expense.pk}/", {"format": "json"})
    assert answer.status_code == 200, answer.content


def test_the_refusal_lists_what_the_endpoint_reads_in_the_requests_language(
    job: Any, submitted_expense: Any, coordinator: Any
) -> None:
    client = api_client(coordinator)
    detail = client.get(f"/api/v1/jobs/{job.pk}/", {"page": 2}, HTTP_ACCEPT_LANGUAGE="fr")
    withdraw = client.post(
        f"/api/v1/jobs/{job.pk}/withdraw/",
        {"reason": "duplicate"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    reject = client.post(
        f"/api/v1/expenses/{submitted_expense.pk}/reject/",
        {"comment": "Not eligible.", "notify": True},
        format="json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    with translation.override("fr"):
        gettext = translation.gettext
        assert api_errors(detail) == {
            "page": [
                gettext(
                    "Unknown query parameter “%(name)s”; the parameters of this endpoint are: "
                    "%(known)s."
                )
                % {"name": "page", "known": "format"}
            ]
        }
        assert api_errors(withdraw) == {
            "reason": [
                gettext("Unknown field “%(name)s”: this endpoint takes no fields.")
                % {"name": "reason"}
            ]
        }
        assert api_errors(reject) == {
            "notify": [
                gettext("Unknown field “%(name)s”; the fields of this endpoint are: %(known)s.")
                % {"name": "notify", "known": "comment"}
            ]
        }
    assert detail["Content-Language"] == withdraw["Content-Language"] == "fr"
    job.refresh_from_db()
    submitted_expense.refresh_from_db()
    assert (job.status, submitted_expense.status) == ("forecast", "submitted")


def test_a_name_that_is_a_key_of_the_error_body_is_refused_as_a_whole(
    expense: Any, coordinator: Any
) -> None:
    """`non_field_errors` is the `attr` of an error about the object as a whole: a parameter of
    that name is reported there, and one named `detail` under its own name."""
    answer = api_client(coordinator).get(
        f"/api/v1/expenses/{expense.pk}/", {"detail": "1", "non_field_errors": "1"}
    )
    assert answer.status_code == 400, answer.content
    messages = api_errors(answer)
    assert list(messages) == ["detail", "non_field_errors"]
    assert [m.split(";")[0] for m in messages["detail"] + messages["non_field_errors"]] == [
        "Unknown query parameter “detail”",
        "Unknown query parameter “non_field_errors”",
    ]


def test_many_unknown_names_are_reported_ten_at_most(expense: Any, coordinator: Any) -> None:
    answer = api_client(coordinator).patch(
        f"/api/v1/expenses/{expense.pk}/",
        {f"field{n}": n for n in range(500)},
        format="json",
    )
    assert answer.status_code == 400
    assert list(api_errors(answer)) == [f"field{n}" for n in range(10)]


def test_a_very_long_unknown_name_is_shortened_in_its_message(
    expense: Any, coordinator: Any
) -> None:
    name = "x" * 5000
    answer = api_client(coordinator).patch(
        f"/api/v1/expenses/{expense.pk}/", {name: 1}, format="json"
    )
    assert answer.status_code == 400
    [message] = api_errors(answer)[name]
    assert message.startswith(f"Unknown field “{'x' * 40}…”;"), message[:80]


def test_read_only_fields_sent_back_are_ignored(
    expense: Any, coordinator: Any, other_consortium: Any
) -> None:
    """A client may PUT back the object it read: `id`, `status`, `consortium`, the timestamps,
    the decision's fields and the evidence file's link are the server's and change through the
    actions (the file through `…/evidence/`), never by a write."""
    client = api_client(coordinator)
    url = f"/api/v1/expenses/{expense.pk}/"
    read = client.get(url).json()
    history = expense.history.count()

    sent_back = client.put(url, {**read, "amount": "1100.00"}, format="json")
    assert sent_back.status_code == 200, sent_back.content
    assert sent_back.json()["amount"] == "1100.00"

    changed = client.patch(
        url,
        {
            "status": "accepted",
            "accepted_amount": "1100.00",
            "consortium": other_consortium.pk,
            "id": 999_999,
            "created_at": "2020-01-01T00:00:00Z",
            "description": "Culture media, corrected",
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    expense.refresh_from_db()
    assert (expense.pk, expense.status, expense.accepted_amount) == (read["id"], "draft", None)
    assert expense.consortium_id == read["consortium"]
    assert expense.description == "Culture media, corrected"
    assert expense.history.count() == history + 2


def test_a_form_sent_to_an_operation_that_reads_json_changes_nothing(
    submitted_expense: Any, coordinator: Any
) -> None:
    """Each operation reads the one body its schema documents: a form where JSON is read is a
    415, whichever fields it carries."""
    for fmt in ("multipart", None):
        client = api_client(coordinator)
        path = f"/api/v1/expenses/{submitted_expense.pk}/reject/"
        body = {"comment": "Not an eligible cost.", "csrfmiddlewaretoken": "sent-by-a-form"}
        if fmt:
            answer = client.post(path, body, format=fmt)
        else:
            answer = client.post(
                path, "comment=Not+eligible", content_type="application/x-www-form-urlencoded"
            )
        assert answer.status_code == 415, answer.content
        assert list(api_errors(answer)) == ["detail"]
    submitted_expense.refresh_from_db()
    assert submitted_expense.status == "submitted"
