"""Assertions shared by the invariant tests: a refusal returns its messages and leaves the database
as it was."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


def refused(factory: Any, **values: Any) -> dict[str, list[str]]:
    """Create through `factory` (full_clean, then save) and return the refusal's messages."""
    with pytest.raises(ValidationError) as exc:
        factory(**values)
    return exc.value.message_dict


def refused_update(instance: Any, **values: Any) -> dict[str, list[str]]:
    """Change a saved row in memory, validate it, return the messages and reload the row."""
    for field, value in values.items():
        setattr(instance, field, value)
    with pytest.raises(ValidationError) as exc:
        instance.full_clean()
    instance.refresh_from_db()
    return exc.value.message_dict


def assert_db_refuses(model: Any, pk: int, **values: Any) -> None:
    """The database itself refuses the change, whatever the Python code does."""
    # The savepoint keeps the test's transaction usable after the error.
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=pk).update(**values)


def api_errors(answer: Any) -> dict[str, Any]:
    """An API error answer, checked to be in the API's one error shape, read back as the messages
    per field or query parameter (`non_field_errors` for the object as a whole), or as
    `{"detail": …}` for an error about the request itself (its address, rights, rate or body)."""
    body = answer.json()
    assert set(body) == {"type", "errors"}, body
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}, body
        assert error["code"] and isinstance(error["detail"], str) and error["detail"], body
    if body["type"] != "validation_error":
        assert body["type"] == ("server_error" if answer.status_code >= 500 else "client_error")
    if [error["attr"] for error in body["errors"]] == [None]:
        # About the request as a whole (a 409 names the field whose state forbids the step).
        return {"detail": body["errors"][0]["detail"]}
    messages: dict[str, list[str]] = {}
    for error in body["errors"]:
        assert error["attr"], body
        messages.setdefault(error["attr"], []).append(error["detail"])
    return messages


def api_error_codes(answer: Any) -> dict[str | None, list[str]]:
    """The codes of an API error answer, per field (None for the request as a whole)."""
    codes: dict[str | None, list[str]] = {}
    for error in answer.json()["errors"]:
        codes.setdefault(error["attr"], []).append(error["code"])
    return codes
