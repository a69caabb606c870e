"""Media on a private S3-compatible bucket (django-storages), linked like media on disk.

Every link to a deliverable, an evidence file or a report document goes to the app's `/media/`
route, which checks who may see the row before it streams the bytes (consortium/media.py). The
bucket itself answers no browser: no public objects, no signed links handed out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class PrivateS3Storage(S3Storage):
    """S3Storage whose objects are private and whose URLs are the app's own."""

    default_acl = "private"
    file_overwrite = False

    def url(self, name: str, *args: Any, **kwargs: Any) -> str:
        return urljoin(settings.MEDIA_URL, filepath_to_uri(name))
