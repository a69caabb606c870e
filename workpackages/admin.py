"""The coordinators' admin of the work plan, the money and the jobs: each subject registers its
own pages (`workplan/admin.py`, `money/admin.py`, `jobs/admin.py`); Django finds them from here."""

from workpackages.jobs import admin as jobs_admin
from workpackages.money import admin as money_admin
from workpackages.workplan import admin as workplan_admin

__all__ = ["jobs_admin", "money_admin", "workplan_admin"]
