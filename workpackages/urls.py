"""Routes of the partner pages of the work plan, the money and the jobs."""

from .views import calendar, dashboard, expenses, exports, jobs, workplan

urlpatterns = [
    *dashboard.urlpatterns,
    *workplan.urlpatterns,
    *expenses.urlpatterns,
    *jobs.urlpatterns,
    *exports.urlpatterns,
    *calendar.urlpatterns,
]
