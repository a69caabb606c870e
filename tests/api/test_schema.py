"""The API's published contract: the OpenAPI schema generates and validates without a warning, it
is served to signed-in people and integrations at `/api/schema/` and documents the error answers of
every operation, and the interactive documentation at `/api/docs/` works offline, from this site's
own static files only.
"""

from __future__ import annotations

import re
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests import factories
from tests.api.conftest import api_client

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}
WRITES = {"post", "put", "patch"}
# Every URL a page or script names: attributes, CSS `url(...)`, and quoted absolute URLs.
URL_PATTERNS = [
    re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']([^"']+)["']""", re.IGNORECASE),
    re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""", re.IGNORECASE),
    re.compile(r"""\burl\s*:\s*["']([^"']+)["']"""),
    re.compile(r"""["'`]((?:https?:)?//[^"'`\s]+)["'`]""", re.IGNORECASE),
]
ORIGIN = "testserver"


def _served_schema() -> dict[str, Any]:
    answer = api_client(factories.UserFactory()).get("/api/schema/")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("application/vnd.oai.openapi")
    document = yaml.safe_load(answer.content)
    assert isinstance(document, dict)
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method in HTTP_METHODS
    ]


def _authenticated(document: dict[str, Any], operation: dict[str, Any]) -> bool:
    """Whether the operation requires credentials: some security requirement, none of them empty."""
    security: list[Any] = operation.get("security", document.get("security")) or []
    return bool(security) and {} not in security


def _urls(text: str) -> set[str]:
    return {url.strip() for pattern in URL_PATTERNS for url in pattern.findall(text)}


def _same_origin(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"", "http", "https"} and parts.netloc in {"", ORIGIN}


def test_schema_generates_and_validates_without_warnings(tmp_path: Any, capsys: Any) -> None:
    assert not spectacular_settings.DISABLE_ERRORS_AND_WARNINGS  # or nothing would be reported
    GENERATOR_STATS.reset()  # warnings of earlier generations in this process are not ours
    out, err = StringIO(), StringIO()
    target = tmp_path / "schema.yaml"
    try:
        call_command(
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(target),
            stdout=out,
            stderr=err,
        )
    except CommandError as exc:
        pytest.fail(f"{exc}\n{capsys.readouterr().err}")
    printed = capsys.readouterr()
    assert not GENERATOR_STATS, printed.err
    assert printed.err == ""
    assert err.getvalue() == ""
    assert target.read_text().startswith("openapi: 3.")


def test_schema_is_served_anonymously_as_a_valid_openapi_3_document() -> None:
    document = _served_schema()
    assert str(document["openapi"]).startswith("3.")
    assert document["info"]["title"] == "Consortium Manager API"
    validate_schema(document)
    assert len(_operations(document)) == 61
    assert all(path.startswith("/api/v1/") for path in document["paths"])


def test_only_the_token_exchange_is_open_to_anonymous_callers() -> None:
    document = _served_schema()
    anonymous = {
        f"{method.upper()} {path}"
        for method, path, operation in _operations(document)
        if not _authenticated(document, operation)
    }
    assert anonymous == {"POST /api/v1/auth/token/"}


@pytest.mark.parametrize(
    ("code", "applies"),
    [
        ("401", "authenticated"),
        ("403", "authenticated writes"),
        ("404", "{id} routes"),
        ("400", "writes"),
        ("405", "every operation"),
        ("406", "every operation"),
        ("409", "writes of the shared base"),
        ("413", "writes"),
        ("415", "writes"),
        ("429", "every operation"),
    ],
)
def test_every_operation_documents_its_error_answers(code: str, applies: str) -> None:
    document = _served_schema()
    missing = []
    for method, path, operation in _operations(document):
        authenticated = _authenticated(document, operation)
        concerned = {
            "authenticated": authenticated,
            "authenticated writes": authenticated and method != "get",
            "{id} routes": "{id}" in path,
            "writes": method in WRITES,
            "writes of the shared base": method in WRITES and not path.startswith("/api/v1/auth/"),
            "every operation": True,
        }[applies]
        if not concerned:
            continue
        answer = operation["responses"].get(code)
        if answer is None or "application/json" not in answer.get("content", {}):
            missing.append(f"{method.upper()} {path}")
    assert missing == [], f"{code} not documented (as JSON) for {applies}: {missing}"


def test_every_error_answer_has_the_one_error_shape() -> None:
    """Whatever the status, an error's body is the `Error` component: a generated client reads
    every refusal with one model."""
    document = _served_schema()
    other = sorted(
        f"{method.upper()} {path} {code}"
        for method, path, operation in _operations(document)
        for code, answer in operation["responses"].items()
        if code >= "400"
        and answer["content"]["application/json"]["schema"]
        != {"$ref": "#/components/schemas/Error"}
    )
    assert other == []
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["errors", "type"] or set(error["required"]) == {"type", "errors"}
    item = document["components"]["schemas"]["ErrorItem"]
    assert set(item["properties"]) == {"code", "detail", "attr"}
    assert item["properties"]["attr"]["nullable"] is True


def test_the_schema_and_its_docs_are_for_signed_in_people_only() -> None:
    """The schema names every resource, filter and rule: an anonymous caller gets the API's 401,
    a browser is sent to the sign-in page; a token or a session reads both."""
    anonymous = api_client()
    refused = anonymous.get("/api/schema/")
    assert refused.status_code == 401
    assert "paths" not in refused.content.decode()
    page = anonymous.get("/api/docs/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/api/docs/"
    assert anonymous.get("/api/docs/?script=").status_code == 302

    user = factories.UserFactory()
    assert api_client(user).get("/api/schema/").status_code == 200
    session = APIClient()
    session.force_login(user)
    assert session.get("/api/schema/").status_code == 200
    assert session.get("/api/docs/").status_code == 200


def test_docs_page_uses_only_this_sites_own_files() -> None:
    client = APIClient()
    client.force_login(factories.UserFactory())
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    urls = _urls(html)
    assert urls, "the page references no script or stylesheet"
    foreign = sorted(url for url in urls if not _same_origin(url))
    assert foreign == [], f"the docs page loads files from other sites: {foreign}"

    assets = sorted(url for url in urls if url.startswith(settings.STATIC_URL))
    assert any(url.endswith(".js") for url in assets)
    assert any(url.endswith(".css") for url in assets)
    absent = [url for url in assets if finders.find(url.removeprefix(settings.STATIC_URL)) is None]
    assert absent == [], f"static files the docs page needs are missing: {absent}"

    scripts = re.findall(r"""<script[^>]*\bsrc\s*=\s*["']([^"']+)["']""", html)
    init = [url for url in scripts if not url.startswith(settings.STATIC_URL)]
    assert init == ["/api/docs/?script="]
    script = client.get(init[0])
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
    code = script.content.decode()
    foreign = sorted(url for url in _urls(code) if not _same_origin(url))
    assert foreign == [], f"the Swagger UI set-up loads from other sites: {foreign}"
    schema_urls = re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", code)
    assert schema_urls == ["/api/schema/"]
    assert client.get(schema_urls[0]).status_code == 200


def test_every_operation_but_the_token_revocation_documents_a_400() -> None:
    """Every operation of the shared base refuses a query parameter it does not read; revoking a
    token (an APIView of its own, reading nothing) is the one that answers no 400."""
    document = _served_schema()
    without = sorted(
        f"{method.upper()} {path}"
        for method, path, operation in _operations(document)
        if "application/json" not in operation["responses"].get("400", {}).get("content", {})
    )
    assert without == ["DELETE /api/v1/auth/token/"]


def test_request_bodies_hold_their_fields_and_no_others() -> None:
    """A field an endpoint does not read is refused: its request body says so. Read-only fields,
    ignored when sent back, are not in a request's schema at all."""
    document = _served_schema()
    components = document["components"]["schemas"]
    open_bodies = []
    for method, path, operation in _operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            name = content["schema"]["$ref"].split("/")[-1]
            if components[name].get("additionalProperties") is not False:
                open_bodies.append(f"{method.upper()} {path} {media_type}")
    assert open_bodies == ["POST /api/v1/auth/token/ application/json"]
    expense = components["PatchedExpenseRequest"]["properties"]
    assert not {"id", "status", "consortium", "accepted_amount"} & set(expense)
    assert set(components["ExpenseAcceptRequest"]["properties"]) == {
        "accepted_amount",
        "in_full",
        "comment",
    }


def test_each_operation_takes_one_media_type_multipart_only_to_upload_a_file() -> None:
    """Generated clients need one body per operation: JSON, except the two that send a file (an
    expense's evidence, a deliverable's version), which are multipart."""
    document = _served_schema()
    bodies = {
        f"{method.upper()} {path}": list(operation["requestBody"]["content"])
        for method, path, operation in _operations(document)
        if "requestBody" in operation
    }
    assert all(len(media_types) == 1 for media_types in bodies.values()), bodies
    multipart = sorted(key for key, types in bodies.items() if types == ["multipart/form-data"])
    assert multipart == [
        "POST /api/v1/deliverables/{id}/submit/",
        "PUT /api/v1/expenses/{id}/evidence/",
    ]
    assert {types[0] for types in bodies.values()} == {"application/json", "multipart/form-data"}


def test_the_schema_says_what_the_server_enforces() -> None:
    """Bounds, booleans and orderings as the server reads them."""
    document = _served_schema()
    components = document["components"]["schemas"]
    amount = components["ExpenseRequest"]["properties"]["amount"]
    assert amount["minimum"] == 0.01
    fte = components["JobRecordRequest"]["properties"]["fte"]
    assert (fte["minimum"], fte["maximum"]) == (0.01, 1.0)
    effort = components["EffortRequest"]["properties"]
    for name in ("planned_person_months", "actual_person_months"):
        assert (effort[name]["minimum"], effort[name]["maximum"]) == (0.0, 10000.0)
    # JSON Schema's bounds do not apply to strings: the patterns hold them for generators.
    rate = components["BudgetLineRequest"]["properties"]["funding_rate"]
    held = {
        "amount": (amount, ["0.01", "1200.00", "9999999999.99"], ["0", "0.00", "-1", "1.234"]),
        "fte": (fte, ["0.01", "0.5", "1", "1.00"], ["0", "0.00", "1.01", "2"]),
        "planned person-months": (
            effort["planned_person_months"],
            ["0", "10000", "9999.99"],
            ["10000.01", "10001", "-1"],
        ),
        "funding rate": (rate, ["0", "60", "100.00"], ["100.01", "101", "-5"]),
    }
    evidence = components["ExpenseEvidenceRequest"]["properties"]["evidence"]
    held["evidence's name"] = (
        evidence,
        ["invoice.pdf", "Invoice.PDF", "scan.Jpeg", "a.b.xlsx"],
        ["invoice", "invoicepdf", "invoice.exe", "pdf"],
    )
    for name, (schema, taken, refused) in held.items():
        pattern = re.compile(schema["pattern"])
        assert [value for value in taken if not pattern.search(value)] == [], name
        assert [value for value in refused if pattern.search(value)] == [], name
    assert "evidence" not in components["ExpenseRequest"]["properties"]
    assert (
        "flat-rate overheads"
        in components["BudgetSummary"]["properties"]["consumed"]["description"]
    )
    parameters = {
        parameter["name"]: parameter
        for parameter in document["paths"]["/api/v1/deliverables/"]["get"]["parameters"]
    }
    assert parameters["overdue"]["schema"] == {"type": "boolean"}
    ordering = parameters["ordering"]
    assert ordering["schema"]["items"]["enum"] == [
        "due_date", "-due_date", "status", "-status", "number", "-number", "updated_at",
        "-updated_at",
    ]  # fmt: skip
    assert (ordering["style"], ordering["explode"]) == ("form", False)
