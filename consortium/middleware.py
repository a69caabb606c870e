"""What every request of a signed-in person goes through: the language they chose follows them
from one device to the next, and a session that owes its second factor passes it first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware import common
from django.middleware.http import ConditionalGetMiddleware
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from consortium.api.errors import error_response
from consortium.authentication import ApiTokenAuthentication, note_use
from consortium.models import Profile
from consortium.querysets import scopes_per_request
from consortium.second_factor import second_factor_due, second_factor_enrolment_due

# Set at sign-in from the person's profile and by the language switch; read on every request
# without a query.
SESSION_LANGUAGE = "_language"


class UserLanguageMiddleware:
    """After `LocaleMiddleware` and authentication: a signed-in person's own language wins over
    the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.session.get(SESSION_LANGUAGE) if hasattr(request, "session") else None
        if language in self.languages and request.user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language in self.languages:
            response.headers.setdefault("Content-Language", language)
        return response


def remember_language(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """At sign-in (here or in the admin), the person's chosen language replaces the browser's."""
    if request is None or not hasattr(request, "session"):
        return
    language = Profile.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    if language:
        request.session[SESSION_LANGUAGE] = language


class SecondFactorMiddleware:
    """The second factor's door for every page (the admin included) and for the API called with
    the session: a signed-in person who owes it (`second_factor_due`) is sent to enter a code,
    or, staff who have none yet, to set one up; the API answers them 403. A request that carries
    an API token is the token's business. Signing in and out, the language, password resets, the
    second factor's own pages and the links of emails stay open; static files and the health
    probes never reach this far."""

    # URL names, not paths: a page that moves keeps its place here.
    OPEN = frozenset(
        {
            "login",
            "logout",
            "language",
            "password_reset",
            "password_reset_done",
            "password_reset_confirm",
            "password_reset_complete",
            "second-factor-verify",
            "second-factor",
            "admin:logout",
            "reminders-opt-out",
        }
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.token_keyword = ApiTokenAuthentication.keyword.lower().encode()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or match.view_name in self.OPEN or not second_factor_due(request.user):
            return None
        # The API answers in JSON; its docs page is a page like any other.
        if request.path.startswith("/api/") and match.view_name != "api-docs":
            if self._carries_token(request):
                return None
            return error_response(
                403,
                "second_factor_due",
                gettext("Enter your two-step sign-in code on the site first, or use an API token."),
            )
        if second_factor_enrolment_due(request.user):
            return redirect_to_login(request.get_full_path(), reverse("second-factor"))
        return redirect_to_login(request.get_full_path(), reverse("second-factor-verify"))

    def _carries_token(self, request: HttpRequest) -> bool:
        # Read as DRF's authentication reads it: the header's first word names the scheme.
        words = request.META.get("HTTP_AUTHORIZATION", "").encode("iso-8859-1", "replace").split()
        return bool(words) and words[0].lower() == self.token_keyword


API_PREFIX = "/api/"


class CommonMiddleware(common.CommonMiddleware):
    """Django's, except that an API address without its trailing slash is not redirected: a
    redirect would lose a POST's body (Django refuses it with a server error while debugging),
    and a client is better told the address it should use (`consortium.api.views.not_found`)."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if request.path_info.startswith(API_PREFIX):
            return False
        return super().should_redirect_with_slash(request)


class ApiConditionalGetMiddleware(ConditionalGetMiddleware):
    """Django's conditional GET for the API's answers only: each read carries an `ETag` of its
    body, and a client that sends it back in `If-None-Match` gets `304 Not Modified` and no body
    when nothing changed, which spares an integration's polling the transfer of unchanged pages.
    The site's pages are left alone (they are never cached, and carry per-request tokens)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not request.path_info.startswith(API_PREFIX) or not 200 <= response.status_code < 300:
            return response  # a refusal or an error has nothing to keep
        return super().process_response(request, response)


class IntegrationTokenUseMiddleware:
    """Records an integration token's last use (`authentication.note_use`) after the request,
    outside its transaction: a refusal rolls the request's writes back but the token was used
    all the same, and the token's other requests never wait on the row's lock."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        token = getattr(request, "integration_token_used", None)
        if token is not None:
            note_use(token)
        return response


class ScopesPerRequestMiddleware:
    """Each person's consortia and partners are looked up once per request, however many lists,
    choices and checks the request scopes (`querysets.person_scope`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with scopes_per_request():
            return self.get_response(request)
