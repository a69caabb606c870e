"""Routes of the accounts and team pages."""

from consortium.views import accounts, team

urlpatterns = [*accounts.urlpatterns, *team.urlpatterns]
