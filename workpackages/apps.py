from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkpackagesConfig(AppConfig):
    name = "workpackages"
    verbose_name = _("Work plan, budget and jobs")

    def ready(self) -> None:
        from . import services  # noqa: F401  (the write rules of its models, as it loads)
