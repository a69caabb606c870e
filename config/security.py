"""Headers every answer carries beyond Django's own (docs/deploy.md, "Security"):

- `Permissions-Policy`: no page of the app uses the camera, the microphone, geolocation,
  payment or USB, and none may be given them by a frame.
- `Cache-Control: private, no-store` on what is someone's own: every page of a signed-in person,
  every API answer and every uploaded file, so that no shared cache or browser history keeps a
  copy of partners' money. Public pages (the sign-in page) and static files keep theirs.

The Content Security Policy is django-csp's (`CONTENT_SECURITY_POLICY` in the settings).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "interest-cohort",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.private_prefixes = ("/api/", settings.MEDIA_URL)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if request.path.startswith(self.private_prefixes) or (user and user.is_authenticated):
            patch_cache_control(response, private=True, no_store=True)
        return response
