"""The app's routes, and the floor each API list is measured against: the same rows, as a plain
`.values()` answered by `JsonResponse`, with no serializer, filter, renderer or pagination. The
rows are those the API answers with: a budget line with what it consumed (the same SQL), a
deliverable with its versions and reviews (one query each)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import include, path

from workpackages.jobs.models import JobRecord
from workpackages.money.models import BudgetLine, Expense
from workpackages.money.selectors import budget_lines_with_consumption
from workpackages.workplan.models import Deliverable, DeliverableReview, DeliverableSubmission

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
    rows = model.objects.restrict(request.user, "view")
    if model is BudgetLine:
        rows = budget_lines_with_consumption(rows)
        columns.append("consumed")
    page = list(rows.values(*columns)[:size])
    if model is Deliverable:
        ids = [row["id"] for row in page]
        for name, nested in (
            ("submissions", DeliverableSubmission),
            ("reviews", DeliverableReview),
        ):
            found: dict[int, list[dict[str, Any]]] = {}
            nested_columns = [field.attname for field in nested._meta.concrete_fields]
            for row in nested.objects.filter(deliverable_id__in=ids).values(*nested_columns):
                found.setdefault(row["deliverable_id"], []).append(row)
            for row in page:
                row[name] = found.get(row["id"], [])
    return JsonResponse({"results": page})


urlpatterns = [
    path("bench/floor/<str:kind>/", floor),
    path("", include("config.urls")),
]
