"""Routes of the accounts and team pages."""

from .views import accounts, team

urlpatterns = [*accounts.urlpatterns, *team.urlpatterns]
