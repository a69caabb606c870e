"""A row's check constraints validated in one query.

Django's `Model.validate_constraints()` asks the database about each `CheckConstraint` on its own,
each in a savepoint of its own: three round trips per constraint on every validated write (a
budget line has four, a consortium four). `ValidatedModel` asks about all of a row's check
constraints in one query, in one savepoint, and refuses with the same messages, in the same order;
unique constraints are checked as Django checks them.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, models, router, transaction
from django.db.models import BooleanField, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE

logger = logging.getLogger(__name__)


def failing_checks(
    instance: Any,
    model: type[models.Model],
    checks: list[models.CheckConstraint],
    exclude: Any,
    using: str,
) -> set[str] | None:
    """The names of the check constraints of `model` that `instance` breaks, from one query; None
    when the database could not answer (a value it cannot compare): the caller asks one by one.

    A constraint on a field in `exclude` is not checked, as in Django's own validation.
    """
    against = instance._get_field_expression_map(meta=model._meta, exclude=exclude)
    query = Query(None)
    for name, value in against.items():
        if not hasattr(value, "resolve_expression"):
            value = Value(value)
        query.add_annotation(value, name, select=False)
    asked = []
    for position, constraint in enumerate(checks):
        try:
            query.add_annotation(
                Coalesce(Q(constraint.condition), True, output_field=BooleanField()),
                f"_check_{position}",
            )
        except FieldError:
            # The condition names an excluded field.
            continue
        asked.append(constraint.name)
    if not asked:
        return set()
    connection = transaction.get_connection(using)
    savepoint = transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
    try:
        with savepoint:
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError as error:
        logger.warning("Checking %s's constraints in one query failed: %s", model.__name__, error)
        return None
    return {name for name, holds in zip(asked, row, strict=True) if not holds}


class ValidatedModel(models.Model):
    """A model whose check constraints are validated in one query (see the module)."""

    class Meta:
        abstract = True

    def validate_constraints(self, exclude: Any = None) -> None:
        using = router.db_for_write(self.__class__, instance=self)
        errors: dict[str, Any] = {}
        for model, constraints in self.get_constraints():
            checks = [c for c in constraints if isinstance(c, models.CheckConstraint)]
            failing = failing_checks(self, model, checks, exclude, using) if checks else set()
            constraint: Any
            for constraint in constraints:
                try:
                    if failing is None or not isinstance(constraint, models.CheckConstraint):
                        constraint.validate(model, self, exclude=exclude, using=using)
                    elif constraint.name in failing:
                        raise ValidationError(
                            constraint.get_violation_error_message(),
                            code=constraint.violation_error_code,
                        )
                except ValidationError as error:
                    fields: tuple[str, ...] = tuple(getattr(constraint, "fields", ()))
                    if getattr(error, "code", None) == "unique" and len(fields) == 1:
                        errors.setdefault(fields[0], []).append(error)
                    else:
                        errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
