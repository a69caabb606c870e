"""Routes of the accounts (two-step sign-in included) and team pages."""

from consortium.views import accounts, notifications, second_factor, team

urlpatterns = [
    *accounts.urlpatterns,
    *second_factor.urlpatterns,
    *team.urlpatterns,
    *notifications.urlpatterns,
]
