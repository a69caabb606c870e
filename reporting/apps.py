from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reporting")

    def ready(self) -> None:
        from reporting import services  # noqa: F401  (the write rules of its models, as it loads)
        from reporting.schedules import ensure_default_schedules

        post_migrate.connect(ensure_default_schedules, sender=self)
