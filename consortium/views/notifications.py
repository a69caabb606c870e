"""The person's choice of the workflow notifications they receive (partners reach it from the
partner pages, coordinators from the link of every digest), and the digest's one-click link that
stops them all. The rules are `consortium/notifications.py`'s."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from consortium import notifications
from consortium.forms_notifications import NotificationSettingsForm
from consortium.formtools import add_service_error
from consortium.models import language_of


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    """Tick the kinds of notification to receive; only the person's own settings change."""
    user = request.user
    offered = notifications.kinds_offered(user)
    off = notifications.notifications_off_of(user)
    form = NotificationSettingsForm(
        request.POST if request.method == "POST" else None,
        offered=offered,
        initial={"receive": [kind for kind in offered if kind not in off]},
    )
    if form.is_bound and form.is_valid():
        try:
            notifications.notification_settings_set(
                user=user, receive=form.cleaned_data["receive"], offered=offered
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Your choice of notifications is saved."))
            return HttpResponseRedirect(reverse("notification-settings"))
    return render(request, "accounts/notifications.html", {"form": form, "offered": offered})


@csrf_exempt  # One-click opt-out (RFC 8058): mail clients POST without a session or token.
def notifications_opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (mail scanners follow links); POST stops every notification."""
    user = notifications.opt_out_user(token)
    if user is None:
        raise Http404
    done = request.method == "POST"
    if done:
        notifications.notifications_stop(user=user)
    # The page speaks the language of the digest the person came from.
    with translation.override(language_of(user)):
        return render(
            request, "accounts/notifications_opt_out.html", {"done": done, "person": user}
        )


urlpatterns = [
    path("accounts/notifications/", notification_settings, name="notification-settings"),
    path("notifications/stop/<str:token>/", notifications_opt_out, name="notifications-opt-out"),
]
