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
