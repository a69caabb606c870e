"""Sign-in with a username or an email address, for the admin and the partner pages alike, and how
django-axes counts wrong passwords: per account from one address, and per address whatever the
accounts."""

from __future__ import annotations

import unicodedata
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q, Sum
from django.http import HttpRequest


def identifier_key(text: str) -> str:
    """How two typed names or addresses are compared: Unicode-normalised, trimmed and case-folded
    (`str.casefold()`), so that "MEMBER-A", "Straße" and "STRASSE" read as one name.

    PostgreSQL's UPPER(), behind Django's `iexact`, is no substitute: it takes a dotless `ı` for an
    `i`, so "jım@lab.example" would match "jim@lab.example" there while being another text.
    """
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def accounts_with_address(email: str) -> list[Any]:
    """Every account whose email address is `email`, compared case-folded. `iexact` narrows the
    candidates in SQL (an index scan); the case-folded comparison decides."""
    wanted = identifier_key(email)
    if not wanted:
        return []
    candidates = (
        get_user_model()._default_manager.filter(email__iexact=email.strip()).order_by("pk")
    )
    return [user for user in candidates if identifier_key(user.email) == wanted]


def account_for(identifier: str) -> Any | None:
    """The account a typed username or email address signs in: the one with this exact
    username, else the only one with this address. An address shared by several accounts names
    none of them: the person uses their username instead."""
    users = get_user_model()._default_manager
    user = users.filter(username=identifier).first()
    if user is None and "@" in identifier:
        matches = accounts_with_address(identifier)
        user = matches[0] if len(matches) == 1 else None
    return user


class UsernameOrEmailBackend(ModelBackend):
    """Partners remember their email address more often than a username."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None or password is None:
            return None
        user = account_for(username.strip())
        if user is None:
            # Spend the time a password check takes, so that timing doesn't tell who exists.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


# Cached on the request: django-axes asks for the name of one attempt several times.
_ACCOUNT_KEYS = "_sign_in_account_keys"


def attempted_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The name a failed sign-in is counted under (`AXES_USERNAME_CALLABLE`): that of the account
    it tried, whichever of the account's names was typed and however it was written, so that a
    username, an email address and their variants share one count. An identifier that names no
    account is counted under its normalised text."""
    typed = (credentials or {}).get("username")
    if typed is None and request is not None:
        typed = request.POST.get("username")
    typed = str(typed or "").strip()
    cache: dict[str, str] = {}
    if request is not None:
        cache = getattr(request, _ACCOUNT_KEYS, None) or {}
        setattr(request, _ACCOUNT_KEYS, cache)
    if typed not in cache:
        account = account_for(typed) if typed else None
        cache[typed] = identifier_key(account.get_username() if account else typed)
    return cache[typed]


def client_address(request: HttpRequest) -> str:
    """The address a sign-in came from (`AXES_CLIENT_IP_CALLABLE`), read as the API's throttling
    reads it: behind `API_NUM_PROXIES` reverse proxies, the entry of `X-Forwarded-For` the nearest
    proxy added; with none, the connection's own address, whatever the header says."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = settings.API_NUM_PROXIES
    if proxies and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(proxies, len(addresses))]
    return str(request.META.get("REMOTE_ADDR", ""))


def recent_failures(request: Any, username: str) -> tuple[int, int]:
    """Wrong passwords from the request's address within the lockout window: for the account
    counted as `username`, and for every account."""
    counts = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
    ).aggregate(
        account=Sum("failures_since_start", filter=Q(username=username)),
        address=Sum("failures_since_start"),
    )
    return counts["account"] or 0, counts["address"] or 0


def address_paused(request: Any, credentials: dict[str, Any] | None = None) -> bool:
    """Whether it is the address, not only the account, that reached its limit."""
    username = get_client_username(request, credentials)
    return recent_failures(request, username)[1] >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


class AccountAndAddressHandler(AxesDatabaseHandler):
    """django-axes' database handler (`AXES_HANDLER`) with two limits: LOGIN_FAILURE_LIMIT wrong
    passwords for one account from one address, and LOGIN_ADDRESS_FAILURE_LIMIT from one address
    whatever the accounts, so that trying one password on many names pauses too. The rows stay
    axes' own (one per name and address), so a successful sign-in clears its account's count
    from that address only, never the address's."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        # Axes compares one number with AXES_FAILURE_LIMIT. The address's count is shifted so
        # that it reaches that number exactly when it reaches the address's own limit.
        account, address = recent_failures(request, get_client_username(request, credentials))
        shifted = address - settings.LOGIN_ADDRESS_FAILURE_LIMIT + settings.AXES_FAILURE_LIMIT
        return max(account, shifted)
