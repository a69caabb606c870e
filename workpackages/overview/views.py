"""Partner pages of the whole consortium: the partner's dashboard at `/` (deadlines, money, jobs
and the next expense statement), the person's calendar feed (its secret address, renewed or
revoked here) and the feed itself, which calendar programs fetch without signing in."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, re_path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from consortium.models import Profile
from consortium.portal import partner_view
from consortium.services import calendar_feed_renew, calendar_feed_revoke
from workpackages.overview.calendar import feed_for, feed_items, feed_url
from workpackages.overview.selectors import partner_dashboard

# The page previews the next deadlines the feed holds; the feed itself holds them all.
PREVIEW = 10


def feed_token(user: Any) -> str | None:
    """The key of the person's feed address, None when they have none."""
    return Profile.objects.filter(user_id=user.pk).values_list("calendar_token", flat=True).first()


@partner_view
def index(request: HttpRequest) -> HttpResponse:
    token = feed_token(request.user)
    today = timezone.localdate()
    upcoming = [
        item
        for item in feed_items(request.user, list(request.scope.memberships))  # type: ignore[attr-defined]
        if item.day >= today
    ]
    # On the host the page came from: the one the person reaches the site by.
    url = feed_url(token, request) if token else ""
    return render(
        request,
        "portal/calendar/index.html",
        {
            "section": "calendar",
            "feed_url": url,
            "webcal_url": url.replace("https://", "webcal://", 1).replace(
                "http://", "webcal://", 1
            ),
            "upcoming": upcoming[:PREVIEW],
            "more": max(len(upcoming) - PREVIEW, 0),
        },
    )


@require_POST
@partner_view
def renew(request: HttpRequest) -> HttpResponse:
    had_one = feed_token(request.user) is not None
    calendar_feed_renew(user=request.user)
    messages.success(
        request,
        _("Your calendar has a new address: the previous one no longer works.")
        if had_one
        else _("Your calendar address is ready: add it to your calendar program."),
    )
    return redirect("calendar")


@require_POST
@partner_view
def revoke(request: HttpRequest) -> HttpResponse:
    calendar_feed_revoke(user=request.user)
    messages.success(
        request, _("Your calendar address is switched off: calendars using it no longer update.")
    )
    return redirect("calendar")


@never_cache
@require_safe
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The feed of the person whose key the address holds; no session needed, none used."""
    body = feed_for(token)
    if body is None:
        raise Http404
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="deadlines.ics"'
    # The address is a secret: keep it out of search engines and of shared caches.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@partner_view
def dashboard(request: HttpRequest) -> HttpResponse:
    scope = request.scope  # type: ignore[attr-defined]
    return render(
        request,
        "portal/dashboard/index.html",
        {"section": "dashboard", "board": partner_dashboard(scope.partner)},
    )


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("calendar/", index, name="calendar"),
    path("calendar/renew/", renew, name="calendar-renew"),
    path("calendar/revoke/", revoke, name="calendar-revoke"),
    re_path(r"^calendar/(?P<token>[A-Za-z0-9_-]{1,64})\.ics$", feed, name="calendar-feed"),
]
