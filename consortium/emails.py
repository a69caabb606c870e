"""Emails of the accounts and team pages, rendered in the reader's language and sent by a worker."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from consortium.tasks import send_email


def absolute(path: str) -> str:
    """A link for an email: the app's public address and `path`."""
    return settings.SITE_URL.rstrip("/") + path


def email_later(*, template: str, context: dict[str, Any], to: str, language: str) -> None:
    """Render `<template>_subject.txt`, `.txt` and `.html` in `language` and queue the email
    once the current transaction commits: a rolled-back invitation sends nothing."""
    with translation.override(language):
        subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    send_email.enqueue_on_commit(subject, text, html, [to])
