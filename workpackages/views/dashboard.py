"""The partner's dashboard at `/`: deadlines, money, jobs and the next expense statement."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from consortium.portal import partner_view
from workpackages.overview.selectors import partner_dashboard


@partner_view
def dashboard(request: HttpRequest) -> HttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    return render(
        request,
        "portal/dashboard/index.html",
        {"section": "dashboard", "board": partner_dashboard(scope.partner)},
    )


urlpatterns = [
    path("", dashboard, name="dashboard"),
]
