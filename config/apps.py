from django.contrib.admin.apps import AdminConfig


class ConsortiumAdminConfig(AdminConfig):
    """Installs the coordinators' admin site in place of Django's default one."""

    default_site = "config.admin.ConsortiumAdminSite"
