"""The app's routes, and the floor each API list is measured against: the same rows, as a plain
`.values()` answered by `JsonResponse`, with no serializer, filter, renderer or pagination."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import include, path

from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Expense
from workpackages.workplan.models import Deliverable

# Each list of the API, by the name of its route, with its model.
FLOOR_MODELS: dict[str, Any] = {
    "deliverables": Deliverable,
    "expenses": Expense,
    "jobs": JobRecord,
    "budget-lines": BudgetLine,
}


def floor(request: HttpRequest, kind: str) -> JsonResponse:
    model = FLOOR_MODELS.get(kind)
    if model is None or not request.user.is_authenticated:
        raise Http404
    size = int(request.GET.get("page_size", 100))
    columns = [field.attname for field in model._meta.concrete_fields]
    rows = model.objects.restrict(request.user, "view").values(*columns)[:size]
    return JsonResponse({"results": list(rows)})


urlpatterns = [
    path("bench/floor/<str:kind>/", floor),
    path("", include("config.urls")),
]
