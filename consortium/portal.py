"""Who a partner page is for: the signed-in person, the partner they work for and its consortium.

Every partner page is decorated with `partner_view`: anonymous visitors go to the login page, and
the view finds `request.scope` set. A person may work for one partner in each of several consortia;
the one they picked last is kept in the session. Partner-private rows (money, jobs) are always
filtered by `scope.partner` on top of `restrict()`, so a coordinator who also works for a partner
sees only that partner's rows here, as any colleague would.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from consortium.choices import PartnerStatus
from consortium.exports import write_csv, xlsx_file
from consortium.models import Consortium, Membership, Partner
from consortium.querysets import Action, may_manage_team

SESSION_KEY = "portal_membership"


@dataclass(frozen=True)
class PortalScope:
    """The partner a page shows and writes for, through the person's membership."""

    membership: Membership
    memberships: tuple[Membership, ...]

    @property
    def partner(self) -> Partner:
        return self.membership.partner

    @property
    def consortium(self) -> Consortium:
        return self.membership.partner.consortium


def memberships_of(user: Any) -> list[Membership]:
    """The person's active memberships of active partners, in one query."""
    return list(
        Membership.objects.filter(
            user_id=user.pk, is_active=True, partner__status=PartnerStatus.ACTIVE
        )
        .select_related("partner__organisation", "partner__consortium")
        .order_by("partner__consortium__acronym")
    )


def scope_of(request: HttpRequest) -> PortalScope | None:
    memberships = memberships_of(request.user)
    if not memberships:
        return None
    chosen = request.session.get(SESSION_KEY)
    current = next((m for m in memberships if m.pk == chosen), memberships[0])
    return PortalScope(membership=current, memberships=tuple(memberships))


def partner_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A page of the partner portal: signed in, and working for an active partner."""

    @functools.wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        scope = scope_of(request)
        if scope is None:
            if request.user.is_staff:
                # Coordinators who work for no partner have the admin for their consortium.
                return redirect("admin:index")
            if Consortium.objects.overseen_by(request.user).exists():
                # The funder's observers read their consortia on pages of their own.
                return redirect("funder")
            return render(request, "portal/no_partner.html", status=403)
        request.scope = scope  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def partner_rows(request: HttpRequest, model: Any, action: Action = "view") -> QuerySet[Any]:
    """The rows of `model` that belong to the page's partner and that the person may read (or,
    with "change", write): any other row is a 404 on the page that looks it up here."""
    partner = request.scope.partner  # type: ignore[attr-defined]
    return model.objects.restrict(request.user, action).filter(partner=partner)


def consortium_rows(request: HttpRequest, model: Any, action: Action = "view") -> QuerySet[Any]:
    """The rows of `model` of the page's consortium that the person may read (the work plan)."""
    consortium = request.scope.consortium  # type: ignore[attr-defined]
    return model.objects.restrict(request.user, action).filter(consortium=consortium)


def writing_partner(request: HttpRequest) -> Partner:
    """The partner the person writes for on this page; a 404 if they may not write for it."""
    return get_object_or_404(
        Partner.objects.restrict(request.user, "change"),
        pk=request.scope.partner.pk,  # type: ignore[attr-defined]
    )


def contact_only(request: HttpRequest) -> None:
    """Refuse pages that only those who manage the partner's team may use (`may_manage_team`)."""
    if not may_manage_team(request.user, request.scope.partner):  # type: ignore[attr-defined]
        raise PermissionDenied


def querystring_without_page(request: HttpRequest) -> str:
    """The current filters, ready to be followed by `page=` (the pagination include's `query`)."""
    query = request.GET.copy()
    query.pop("page", None)
    encoded = query.urlencode()
    return f"{encoded}&" if encoded else ""


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# Batches read from the database cursor while the file is written.
CHUNK_SIZE = 500


def filename(scope: PortalScope, subject: str, fmt: str) -> str:
    """`PIT-ATMP_P3_expenses_2026-11-27.xlsx`: consortium, partner number, subject, day."""
    acronym = re.sub(r"[^A-Za-z0-9._-]+", "-", scope.consortium.acronym).strip("-") or "export"
    today = timezone.localdate().isoformat()
    return f"{acronym}_P{scope.partner.number}_{subject}_{today}.{fmt}"


def _headers(model: Any, names: Sequence[str]) -> list[str]:
    """Column headers in the reader's language: the fields' own names."""
    return [str(capfirst(model._meta.get_field(name).verbose_name)) for name in names]


def choice_labels(enum: Any) -> dict[str, str]:
    # Translated now, while the reader's language is active: the CSV is written after the view.
    return {value: str(label) for value, label in enum.choices}


def _respond(
    request: HttpRequest,
    *,
    fmt: str,
    subject: str,
    headers: list[str],
    rows: Iterable[Sequence[Any]],
    title: str,
) -> HttpResponse | StreamingHttpResponse:
    response: HttpResponse | StreamingHttpResponse
    if fmt == "csv":
        response = StreamingHttpResponse(write_csv(rows, headers), content_type=CONTENT_TYPES[fmt])
    else:
        response = FileResponse(
            xlsx_file(rows, headers, title=title), content_type=CONTENT_TYPES[fmt]
        )
    name = filename(request.scope, subject, fmt)  # type: ignore[attr-defined]
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # Partner-private money and jobs: no shared cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response


def _check_format(fmt: str) -> None:
    if fmt not in CONTENT_TYPES:
        raise Http404


def _back_to_list(request: HttpRequest, list_name: str) -> HttpResponse:
    """Invalid filters: back to the list, which shows what is wrong with them."""
    messages.error(request, _("Nothing was exported: correct the filters first."))
    query = request.GET.urlencode()
    return redirect(reverse(list_name) + (f"?{query}" if query else ""))


def export_rows(
    request: HttpRequest,
    fmt: str,
    *,
    filterset: Any,
    list_name: str,
    subject: str,
    fields: Sequence[str],
    columns: Sequence[str],
    row: Callable[..., tuple[Any, ...]],
) -> HttpResponse | StreamingHttpResponse:
    """The rows of `filterset` as a file: `columns` read in one query, each row of values turned
    into the file's cells by `row`, under the headers of the model's `fields`."""
    _check_format(fmt)
    if not filterset.is_valid():
        return _back_to_list(request, list_name)
    model = filterset.queryset.model
    values = filterset.qs.values_list(*columns).iterator(chunk_size=CHUNK_SIZE)
    return _respond(
        request,
        fmt=fmt,
        subject=subject,
        headers=_headers(model, fields),
        rows=(row(*value) for value in values),
        title=str(capfirst(model._meta.verbose_name_plural)),
    )
