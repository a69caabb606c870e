"""Who a partner page is for: the signed-in person, the partner they work for and its consortium.

Every partner page is decorated with `partner_view`: anonymous visitors go to the login page, and
the view finds `request.scope` set. A person may work for one partner in each of several consortia;
the one they picked last is kept in the session. Partner-private rows (money, jobs) are always
filtered by `scope.partner` on top of `restrict()`, so a coordinator who also works for a partner
sees only that partner's rows here, as any colleague would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render

from .choices import PartnerStatus
from .models import Consortium, Membership, Partner
from .querysets import may_manage_team

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
            return render(request, "portal/no_partner.html", status=403)
        request.scope = scope  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


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
