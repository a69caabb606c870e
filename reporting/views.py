"""The report archive's files and the opt-out of deadline reminders."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from consortium.models import language_of
from reporting import reminders
from reporting.emails import opt_out_user_id
from reporting.models import ReportDocument


def visible_file(user: Any, path: str) -> Any:
    """A report's PDF, XLSX or chart at `path`, if `user` reads that consortium's reports."""
    document = (
        ReportDocument.objects.restrict(user, "view")
        .filter(Q(pdf=path) | Q(xlsx=path) | Q(chart=path))
        .first()
    )
    if document is None:
        return None
    return next(
        field for field in (document.pdf, document.xlsx, document.chart) if field.name == path
    )


@csrf_exempt  # One-click opt-out (RFC 8058): mail clients POST without a session or token.
def reminders_opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (mail scanners follow links); POST stops the daily digest."""
    user_id = opt_out_user_id(token)
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise Http404
    done = request.method == "POST"
    if done:
        reminders.reminders_opt_out(user=user)
    # The page speaks the language of the digest the person came from.
    with translation.override(language_of(user)):
        return render(request, "reporting/reminders_opt_out.html", {"done": done, "person": user})
