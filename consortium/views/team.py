"""The partner's team: the partner contact invites colleagues and sets their role."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from ..portal import partner_view


@partner_view
def team(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/team/team.html", {"section": "team"})


urlpatterns = [
    path("team/", team, name="team"),
]
