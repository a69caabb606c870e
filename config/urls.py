"""Top-level routes: the coordinators' admin, the API and its documentation, uploaded files, and
the partner pages (accounts and team from `consortium`, the rest from `workpackages`), and the
funder's pages (`reporting`)."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from consortium.api.base import not_found
from consortium.media import protected_media
from reporting.views import reminders_opt_out

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_router")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    # Whatever else is under /api/: a JSON 404, with the address to use if only its slash is missing.
    re_path(r"^api/(?P<path>.*)$", not_found, name="api-not-found"),
    path("reminders/stop/<str:token>/", reminders_opt_out, name="reminders-opt-out"),
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", protected_media, name="media"),
    path("", include("consortium.urls")),
    path("", include("workpackages.urls")),
    path("", include("reporting.urls")),
]
