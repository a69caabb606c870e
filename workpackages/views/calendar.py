"""Partner pages: calendar."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from consortium.portal import partner_view


@partner_view
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/calendar/index.html", {"section": "calendar"})


urlpatterns = [
    path("calendar/", index, name="calendar"),
]
