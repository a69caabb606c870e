"""Routes of the reporting app's pages: the funder's space (`funder.py`)."""

from reporting import funder

urlpatterns = [
    *funder.urlpatterns,
]
