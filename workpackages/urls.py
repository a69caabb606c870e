"""Routes of the partner pages: the consortium's overview (dashboard, calendar), then each
subject's pages."""

from .jobs import views as jobs
from .money import views as money
from .overview import views as overview
from .workplan import views as workplan

urlpatterns = [
    *overview.urlpatterns,
    *workplan.urlpatterns,
    *money.urlpatterns,
    *jobs.urlpatterns,
]
