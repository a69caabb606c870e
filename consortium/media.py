"""Uploaded and generated files are served only to the people who may see the row they belong to.

Each app names, in `settings.PROTECTED_FILES`, a function that finds the file at a path among the
rows a person may see; the dispatcher asks each in turn and answers 404 when none has it.

Once the check has passed, a file on disk is handed to the proxy (`X-Accel-Redirect`, with
django-sendfile2) when `MEDIA_X_ACCEL_REDIRECT` says the proxy serves it; otherwise, and for
media on object storage, the app streams it from the storage."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string
from django_sendfile import sendfile
from rest_framework.exceptions import AuthenticationFailed

from consortium.authentication import ApiTokenAuthentication


def _reader(request: HttpRequest) -> Any:
    """The signed-in user, or the owner of the API token the request sends: the API hands out
    these files' links to integrations too."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = ApiTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        found = None
    return found[0] if found else request.user


def protected_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve an uploaded or generated file after the same scoping check as its row.

    Files live under MEDIA_ROOT with unguessable-enough names, but a name is not a permission:
    classified deliverables (SEN, EU-R…), invoices and reports must not leak by URL. Each app
    names its files in `settings.PROTECTED_FILES`.
    """
    user = _reader(request)
    for finder in settings.PROTECTED_FILES:
        field_file = import_string(finder)(user, path)
        if field_file is not None:
            return _send(request, field_file)
    raise Http404


def _send(request: HttpRequest, field_file: Any) -> HttpResponseBase:
    name = PurePosixPath(field_file.name).name
    if settings.MEDIA_X_ACCEL_REDIRECT and isinstance(field_file.storage, FileSystemStorage):
        # The proxy sends the bytes; the app only says which file, after its check.
        return sendfile(request, field_file.path, attachment=True, attachment_filename=name)
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    return FileResponse(handle, as_attachment=True, filename=name)
