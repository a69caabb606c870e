"""Partner pages: expenses."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from consortium.portal import partner_view


@partner_view
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/expenses/index.html", {"section": "expenses"})


urlpatterns = [
    path("expenses/", index, name="expense-list"),
]
