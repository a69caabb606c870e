"""Every model of the application has a factory in `tests/factories.py`, and each makes a valid
row: the fields its model validates, through the service that makes it in production when there
is one."""

from __future__ import annotations

from typing import Any

import factory
import pytest
from django.apps import apps

from tests import factories

APPS = ("consortium", "workpackages", "reporting")


def _models() -> list[Any]:
    return sorted(
        (
            model
            for app in APPS
            for model in apps.get_app_config(app).get_models()
            # django-simple-history's copies are written by the history, never by hand.
            if not model.__name__.startswith("Historical")
        ),
        key=lambda model: model._meta.label,
    )


def _factories() -> dict[Any, Any]:
    found = {}
    for value in vars(factories).values():
        if (
            isinstance(value, type)
            and issubclass(value, factory.Factory)
            and not value._meta.abstract
        ):
            found[value._meta.model] = value
    return found


FACTORIES = _factories()


def test_every_model_has_a_factory() -> None:
    assert [model._meta.label for model in _models() if model not in FACTORIES] == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", _models(), ids=lambda model: model._meta.label)
def test_each_factory_makes_a_valid_row(model: Any) -> None:
    row = FACTORIES[model]()
    assert isinstance(row, model)
    row.refresh_from_db()
    assert model.objects.filter(pk=row.pk).exists()
