"""Top-level routes: the coordinators' admin, uploaded files; the API and the partner portal plug in here."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from workpackages.views import protected_media

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", protected_media, name="media"),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
