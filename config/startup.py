"""What a production process checks before it serves anything."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def require_collected_static() -> None:
    """Refuse to serve pages when the static files have not been collected.

    With the manifest storage of production, every page naming a stylesheet would otherwise fail
    with a 500 ("Missing staticfiles manifest entry"). `bin/release` collects them (`manage.py
    collectstatic`), and the image does at build."""
    if settings.DEBUG:
        return  # `make run`: with DEBUG on, the files are found where they are.
    backend = import_string(settings.STORAGES["staticfiles"]["BACKEND"])
    manifest_name = getattr(backend, "manifest_name", None)
    if manifest_name is None:
        return  # Files found where they are (development, tests): nothing to collect.
    if not (Path(settings.STATIC_ROOT) / manifest_name).is_file():
        raise ImproperlyConfigured(
            f"The static files have not been collected into {settings.STATIC_ROOT}: run "
            "`manage.py collectstatic --noinput` (bin/release does) before starting the web "
            "processes."
        )
