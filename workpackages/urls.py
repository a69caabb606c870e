"""Routes of the partner pages: the consortium's overview (dashboard, calendar), then each
subject's pages."""

from workpackages.jobs import views as jobs
from workpackages.money import views as money
from workpackages.overview import statements
from workpackages.overview import views as overview
from workpackages.workplan import views as workplan

urlpatterns = [
    *overview.urlpatterns,
    *statements.urlpatterns,
    *workplan.urlpatterns,
    *money.urlpatterns,
    *jobs.urlpatterns,
]
