"""The language a signed-in person chose follows them from one device to the next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from consortium.models import Profile

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
