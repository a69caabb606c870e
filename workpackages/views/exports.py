"""Partner page module: exports."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
