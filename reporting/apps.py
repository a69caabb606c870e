from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("Reporting")

    def ready(self) -> None:
        from reporting import services  # noqa: F401  (the write rules of its models, as it loads)
        from reporting.schedules import ensure_default_schedules

        post_migrate.connect(ensure_default_schedules, sender=self)
        post_migrate.connect(_consortia_schedules, sender=self)
        post_save.connect(
            _consortium_schedules, sender="consortium.Consortium", dispatch_uid="report_schedules"
        )


def _consortia_schedules(**_signal: Any) -> None:
    """Every consortium has a schedule of each report: those created before a kind existed get
    it on `migrate`."""
    from reporting.services import report_schedules_ensure

    report_schedules_ensure()


def _consortium_schedules(instance: Any, created: bool, raw: bool = False, **_signal: Any) -> None:
    """A new consortium starts with a schedule of each report, each reviewed before it goes."""
    if created and not raw:
        from consortium.models import Consortium
        from reporting.services import report_schedules_ensure

        report_schedules_ensure(Consortium.objects.filter(pk=instance.pk))
