"""Sign-in with a username or an email address, for the admin and the partner pages alike."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class UsernameOrEmailBackend(ModelBackend):
    """Partners remember their email address more often than a username. An address shared by
    several accounts signs in none of them: the person uses their username instead."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None or password is None:
            return None
        users = get_user_model()._default_manager
        user = users.filter(username=username).first()
        if user is None and "@" in username:
            matches = list(users.filter(email__iexact=username.strip())[:2])
            user = matches[0] if len(matches) == 1 else None
        if user is None:
            # Spend the time a password check takes, so that timing doesn't tell who exists.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def attempted_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The name a failed sign-in is counted under: "Partner1 " and "partner1" are one person."""
    username = (credentials or {}).get("username")
    if username is None and request is not None:
        username = request.POST.get("username")
    return str(username or "").strip().lower()


def client_address(request: HttpRequest) -> str:
    """The address a sign-in came from, read as the API's throttling reads it: behind
    `API_NUM_PROXIES` reverse proxies, the entry of `X-Forwarded-For` the nearest proxy added."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = settings.API_NUM_PROXIES
    if proxies and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(proxies, len(addresses))]
    return str(request.META.get("REMOTE_ADDR", ""))
