"""The partner's team: everyone sees who works for the partner; the partner contact invites
colleagues, sets their role and takes their access away or gives it back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import services
from ..forms_team import DecisionForm, InviteForm, RoleForm
from ..models import Membership
from ..portal import PortalScope, contact_only, partner_view
from ..querysets import Action, may_manage_team

# A page of the change log on a member's page: the latest changes are the ones people ask about.
HISTORY_LENGTH = 20


def _scope(request: HttpRequest) -> PortalScope:
    return request.scope  # type: ignore[attr-defined]


def _team(request: HttpRequest, action: Action = "view") -> QuerySet[Membership]:
    """The partner's memberships the person may see (or change): any other is a 404."""
    return (
        Membership.objects.restrict(request.user, action)
        .filter(partner=_scope(request).partner)
        .select_related("user")
    )


def _name(membership: Membership) -> str:
    user: Any = membership.user
    return str(user.get_full_name() or user.get_username())


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal on the form: under the field it names, else above the fields."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@partner_view
def team(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    members = _team(request).order_by(
        "-is_active", "user__last_name", "user__first_name", "user__username", "pk"
    )
    page_obj = Paginator(members, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/team/team.html",
        {
            "section": "team",
            "page_obj": page_obj,
            "query": "",
            "is_contact": may_manage_team(request.user, scope.partner),
            "me": scope.membership.pk,
        },
    )


@partner_view
def invite(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    contact_only(request)
    form = InviteForm(request.POST) if request.method == "POST" else InviteForm()
    if form.is_bound and form.is_valid():
        try:
            membership = services.membership_invite(
                partner=scope.partner,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                invited_by=request.user,
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                _(
                    "%(person)s joins the team as %(role)s; an invitation is on its way to %(email)s."
                )
                % {
                    "person": _name(membership),
                    "role": membership.get_role_display(),
                    "email": membership.user.email,
                },
            )
            return HttpResponseRedirect(reverse("team"))
    return render(request, "portal/team/invite.html", {"section": "team", "form": form}, status=200)


def _member_page(
    request: HttpRequest,
    membership: Membership,
    *,
    role_form: RoleForm | None = None,
    decision_form: DecisionForm | None = None,
) -> HttpResponse:
    scope = _scope(request)
    history = membership.history.select_related("history_user")
    rows = list(history.order_by("-history_date", "-history_id")[: HISTORY_LENGTH + 1])
    # Each change against the state before it; the oldest row shown may have no "before".
    changes = [
        {
            "when": row.history_date,
            "who": row.history_user,
            "created": row.history_type == "+",
            "role": row.get_role_display(),
            "old_role": before.get_role_display() if before else None,
            "role_changed": before is not None and before.role != row.role,
            "is_active": row.is_active,
            "active_changed": before is not None and before.is_active != row.is_active,
        }
        for row, before in zip(rows, [*rows[1:], None], strict=True)
    ][:HISTORY_LENGTH]
    return render(
        request,
        "portal/team/member.html",
        {
            "section": "team",
            "membership": membership,
            "member": membership.user,
            "changes": changes,
            "is_contact": may_manage_team(request.user, scope.partner),
            "is_me": membership.user_id == request.user.pk,
            "role_form": role_form or RoleForm(initial={"role": membership.role}),
            "decision_form": decision_form or DecisionForm(),
        },
    )


@partner_view
def member(request: HttpRequest, pk: int) -> HttpResponse:
    return _member_page(request, get_object_or_404(_team(request), pk=pk))


@require_POST
@partner_view
def role(request: HttpRequest, pk: int) -> HttpResponse:
    contact_only(request)
    membership = get_object_or_404(_team(request, "change"), pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            membership = services.membership_role_set(
                membership=membership, role=form.cleaned_data["role"], changed_by=request.user
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                _("%(person)s is now %(role)s.")
                % {"person": _name(membership), "role": membership.get_role_display()},
            )
            return HttpResponseRedirect(reverse("team"))
    return _member_page(request, membership, role_form=form)


def _decision(
    request: HttpRequest, pk: int, service: Callable[..., Membership], done: str
) -> HttpResponse:
    """Apply a decision without fields on one member, then say `done` (with %(person)s)."""
    contact_only(request)
    membership = get_object_or_404(_team(request, "change"), pk=pk)
    try:
        membership = service(membership, request.user)
    except ValidationError as error:
        form = DecisionForm(request.POST)
        form.is_valid()  # No fields: always valid, and ready to take the refusal.
        _add_errors(form, error)
        return _member_page(request, membership, decision_form=form)
    messages.success(request, done % {"person": _name(membership)})
    if membership.user_id == request.user.pk and not membership.is_active:
        # Without access to this partner, the person's own pages are those of another one.
        return HttpResponseRedirect(reverse("dashboard"))
    return HttpResponseRedirect(reverse("team-member", args=[membership.pk]))


@require_POST
@partner_view
def deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda m, user: services.membership_deactivate(membership=m, changed_by=user),
        _("%(person)s no longer has access to the partner pages."),
    )


@require_POST
@partner_view
def reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda m, user: services.membership_reactivate(membership=m, changed_by=user),
        _("%(person)s has access to the partner pages again."),
    )


@require_POST
@partner_view
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda m, user: services.membership_invitation_resend(membership=m, sent_by=user),
        _("The invitation is on its way to %(person)s again."),
    )


urlpatterns = [
    path("team/", team, name="team"),
    path("team/invite/", invite, name="team-invite"),
    path("team/<int:pk>/", member, name="team-member"),
    path("team/<int:pk>/role/", role, name="team-role"),
    path("team/<int:pk>/deactivate/", deactivate, name="team-deactivate"),
    path("team/<int:pk>/reactivate/", reactivate, name="team-reactivate"),
    path("team/<int:pk>/resend/", resend, name="team-resend"),
]
