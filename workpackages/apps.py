from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The app's subjects, each a package with the same modules (models, services, selectors, admin…).
SUBJECTS = ("workplan", "money", "jobs")


class WorkpackagesConfig(AppConfig):
    name = "workpackages"
    verbose_name = _("Work plan, budget and jobs")

    def ready(self) -> None:
        # Each subject's services register the write rules of its models as they load, in this
        # order (the consortium's own rules are checked work plan first, then jobs).
        for subject in SUBJECTS:
            import_module(f"{self.name}.{subject}.services")
        # Every door that deletes a row of the API's lists leaves its tombstone.
        import_module(f"{self.name}.overview.changes").tombstones_connect()
