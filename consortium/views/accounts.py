"""Sign-in, sign-out, passwords, email addresses and the language switch, for partners and
coordinators alike."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consortium import accounts, services
from consortium.backends import address_paused
from consortium.forms import (
    EmailChangeForm,
    LanguageForm,
    LoginForm,
    PasswordResetForm,
    SetPasswordForm,
)
from consortium.middleware import SESSION_LANGUAGE
from consortium.portal import SESSION_KEY, memberships_of, partner_view


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
        services.profile_language_set(user=request.user, language=code)
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
    how long to wait, whether the account or the whole address is paused, and the way out that
    needs no password."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "accounts/locked_out.html",
        {"minutes": minutes, "address": address_paused(request, credentials)},
        status=429,
    )


@login_required
def email_change(request: HttpRequest) -> HttpResponse:
    """A person asks for a new email address: a link goes to it, and nothing changes until they
    open it."""
    form = EmailChangeForm(request.POST) if request.method == "POST" else EmailChangeForm()
    if form.is_bound and form.is_valid():
        try:
            email = accounts.user_email_change_request(
                user=request.user,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as error:
            for field, errors in error.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _(
                    "A link to confirm %(email)s is on its way to that address. Your address "
                    "changes once you open it, signed in, within %(hours)s hours."
                )
                % {"email": email, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
            )
            return HttpResponseRedirect(reverse("email_change"))
    return render(request, "accounts/email_change.html", {"form": form})


@login_required
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link emailed to the new address: shows the change, and makes it on a POST (a mail
    scanner opening the link changes nothing)."""
    try:
        email = accounts.email_change_target(user=request.user, token=token)
    except ValidationError as error:
        return render(
            request, "accounts/email_change_confirm.html", {"errors": error.messages}, status=400
        )
    if request.method == "POST":
        try:
            accounts.user_email_change_confirm(user=request.user, token=token)
        except ValidationError as error:
            return render(
                request,
                "accounts/email_change_confirm.html",
                {"errors": error.messages, "email": email},
                status=400,
            )
        messages.success(
            request,
            _("Your email address is now %(email)s; your previous address has been told.")
            % {"email": email},
        )
        return HttpResponseRedirect(reverse("email_change"))
    return render(request, "accounts/email_change_confirm.html", {"email": email})


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
    path("accounts/email/", email_change, name="email_change"),
    path("accounts/email/confirm/<str:token>/", email_change_confirm, name="email_change_confirm"),
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
