"""Two-step sign-in pages: the code asked after the password, and the page where a person sets
up their authenticator app, gets new recovery codes or turns it off. The rules are
`consortium/second_factor.py`'s."""

from __future__ import annotations

from base64 import b32encode
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from consortium import second_factor
from consortium.forms import SecondFactorCodeForm
from consortium.formtools import add_service_error


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("dashboard")


def _to(page: str, target: str) -> HttpResponse:
    return HttpResponseRedirect(f"{page}?{urlencode({'next': target})}")


def _passed(request: HttpRequest, device: Any) -> None:
    """Mark the session as having passed its second factor, under a new session key."""
    otp_login(request, device)
    request.session.cycle_key()


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: the authenticator app's code, or a recovery code."""
    user = request.user
    if second_factor.second_factor_enrolment_due(user):
        return _to(reverse("second-factor"), _next(request))
    if not second_factor.second_factor_due(user):
        return HttpResponseRedirect(_next(request))
    form = SecondFactorCodeForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            device = second_factor.second_factor_check(user=user, code=form.cleaned_data["code"])
        except ValidationError as error:
            add_service_error(form, error)
        else:
            _passed(request, device)
            if isinstance(device, StaticDevice):
                left = second_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a recovery code; it no longer works. %(count)s "
                        "recovery code is left: get new ones on the two-step sign-in page.",
                        "You signed in with a recovery code; it no longer works. %(count)s "
                        "recovery codes are left: get new ones on the two-step sign-in page.",
                        left,
                    )
                    % {"count": left},
                )
            return HttpResponseRedirect(_next(request))
    return render(
        request, "accounts/second_factor_verify.html", {"form": form, "next": _next(request)}
    )


def _qr_code(device: Any) -> str:
    """The key's address as a QR code in inline SVG (the page's policy allows no script and
    images from this site only)."""
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4, light="#fff", title=_("QR code of your Consortium Manager account's key")
    )
    return mark_safe(svg)  # noqa: S308  (segno's own markup: the key is encoded, never inserted)


def _secret(device: Any) -> str:
    """The key as people type it into an app without a camera: base 32, in groups of four."""
    key = b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def _codes(request: HttpRequest, codes: list[str]) -> HttpResponse:
    """The recovery codes, shown this once; the next visit shows only how many are left."""
    return render(
        request, "accounts/second_factor_codes.html", {"codes": codes, "next": _next(request)}
    )


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """Set up two-step sign-in (staff are sent here when it is required of them and they have
    none), get new recovery codes, or turn it off."""
    user = request.user
    if second_factor.second_factor_due(user) and not second_factor.second_factor_enrolment_due(
        user
    ):
        # Set up already: this session proves it has the factor before changing anything.
        return _to(reverse("second-factor-verify"), request.path)
    action = request.POST.get("action") if request.method == "POST" else None
    form = SecondFactorCodeForm(request.POST if action in ("confirm", "off") else None)
    if second_factor.has_second_factor(user):
        renew = SecondFactorCodeForm(request.POST if action == "codes" else None, prefix="renew")
        if action == "codes" and renew.is_valid():
            try:
                codes = second_factor.recovery_codes_renew(
                    user=user, code=renew.cleaned_data["code"]
                )
            except ValidationError as error:
                add_service_error(renew, error)
            else:
                return _codes(request, codes)
        elif action == "off" and form.is_valid():
            try:
                second_factor.second_factor_turn_off(user=user, code=form.cleaned_data["code"])
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Two-step sign-in is off for your account."))
                return HttpResponseRedirect(reverse("second-factor"))
        return render(
            request,
            "accounts/second_factor.html",
            {
                "form": form,
                "on": True,
                "codes_left": second_factor.recovery_codes_left(user),
                "renew_form": renew,
                "may_turn_off": second_factor.may_turn_off(user),
            },
        )
    if action == "confirm" and form.is_valid():
        try:
            codes = second_factor.totp_device_confirm(user=user, code=form.cleaned_data["code"])
        except ValidationError as error:
            add_service_error(form, error)
        else:
            _passed(request, second_factor.device_confirmed(user))
            messages.success(request, _("Two-step sign-in is on for your account."))
            return _codes(request, codes)
    device = second_factor.totp_device_pending(user=user)
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "on": False,
            "required": second_factor.staff_must_use_second_factor(user),
            "qr_code": _qr_code(device),
            "secret": _secret(device),
            "next": request.POST.get("next") or request.GET.get("next") or "",
        },
    )


urlpatterns = [
    path("accounts/two-step/", manage, name="second-factor"),
    path("accounts/two-step/verify/", verify, name="second-factor-verify"),
]
