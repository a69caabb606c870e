"""Sign-in, sign-out, passwords and the language switch, for partners and coordinators alike."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import LanguageForm, LoginForm, PasswordResetForm, SetPasswordForm
from ..middleware import SESSION_LANGUAGE
from ..portal import SESSION_KEY, memberships_of, partner_view
from ..services import profile_language_set


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("dashboard")


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the language; a signed-in person's choice is kept in their profile."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the languages offered."))
        return HttpResponseRedirect(_safe_next(request, request.POST.get("next")))
    code = form.cleaned_data["language"]
    if request.user.is_authenticated:
        profile_language_set(user=request.user, language=code)
    request.session[SESSION_LANGUAGE] = code
    translation.activate(code)
    response = HttpResponseRedirect(_safe_next(request, form.cleaned_data["next"]))
    # Before signing in, the cookie carries the choice to the login page.
    response.set_cookie(
        "django_language", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
    )
    return response


@require_POST
@partner_view
def switch(request: HttpRequest) -> HttpResponse:
    """Work on another consortium's pages, for people who belong to a partner in several."""
    chosen = request.POST.get("membership", "")
    mine = {str(m.pk) for m in memberships_of(request.user)}
    if chosen in mine:
        request.session[SESSION_KEY] = int(chosen)
    return HttpResponseRedirect(reverse("dashboard"))


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """What django-axes answers a sign-in after too many wrong passwords (`AXES_LOCKOUT_CALLABLE`):
    how long to wait, and the way out that needs no password."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)


def _page(view: Any, template: str, **kwargs: Any) -> Any:
    return view.as_view(template_name=f"accounts/{template}.html", **kwargs)


urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/language/", language, name="language"),
    path("accounts/consortium/", switch, name="portal-switch"),
    path(
        "accounts/password/",
        _page(auth_views.PasswordChangeView, "password_change"),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        _page(auth_views.PasswordChangeDoneView, "password_change_done"),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        _page(
            auth_views.PasswordResetView,
            "password_reset",
            form_class=PasswordResetForm,
            success_url=reverse_lazy("password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        _page(auth_views.PasswordResetDoneView, "password_reset_done"),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        _page(
            auth_views.PasswordResetConfirmView,
            "password_reset_confirm",
            form_class=SetPasswordForm,
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        _page(auth_views.PasswordResetCompleteView, "password_reset_complete"),
        name="password_reset_complete",
    ),
]
