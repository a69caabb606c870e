"""The coordinators' admin site: only coordinators get in, and its index is their dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from consortium.models import Consortium
from consortium.permissions import CoordinatorPermissions, SuperuserOnlyAdmin, is_coordinator
from consortium.second_factor import second_factor_due
from reporting.alerts import alerts
from workpackages.overview.selectors import consortium_dashboards


class ConsortiumAdminSite(admin.AdminSite):
    site_header = _("Consortium Manager")
    site_title = _("Consortium Manager")
    index_title = _("Dashboard")
    index_template = "admin/consortium_index.html"
    # The side navigation, which its « button folds away: the lists fit 1440 px with it open.
    enable_nav_sidebar = True

    def has_permission(self, request: HttpRequest) -> bool:
        # Partner users and observers are never staff; a stale staff flag without a coordinator
        # role doesn't open the admin either; nor does a session that still owes its second
        # factor (the middleware sends it to that step before any page already).
        return is_coordinator(request.user) and not second_factor_due(request.user)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Admins that don't apply the consortium scoping (third-party models) are superuser-only."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, CoordinatorPermissions | SuperuserOnlyAdmin):
            admin_class = type(admin_class.__name__, (SuperuserOnlyAdmin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        consortia = Consortium.objects.restrict(request.user, "manage")
        extra_context = {
            **(extra_context or {}),
            "alerts": alerts(consortia),
            "dashboards": consortium_dashboards(consortia, user=request.user),
        }
        return super().index(request, extra_context)
