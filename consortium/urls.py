"""Routes of the accounts (two-step sign-in and integration tokens included) and team pages."""

from consortium.views import accounts, notifications, second_factor, team, tokens

urlpatterns = [
    *accounts.urlpatterns,
    *second_factor.urlpatterns,
    *team.urlpatterns,
    *notifications.urlpatterns,
    *tokens.urlpatterns,
]
