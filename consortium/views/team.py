"""The partner's team: everyone sees who works for the partner; the partner contact invites
colleagues, sets their role and takes their access away or gives it back. An invitation waits
for the answer of the person it was sent to, on the page its emailed link opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consortium import invitations, teams
from consortium.backends import accounts_with_address, identifier_key
from consortium.forms_team import DecisionForm, InvitationAccountForm, InviteForm, RoleForm
from consortium.formtools import add_service_error, flash_service_error
from consortium.models import Invitation, InvitationStatus, Membership
from consortium.portal import SESSION_KEY, PortalScope, contact_only, partner_rows, partner_view
from consortium.querysets import may_manage_team

# A page of the change log on a member's page: the latest changes are the ones people ask about.
HISTORY_LENGTH = 20


def _scope(request: HttpRequest) -> PortalScope:
    return request.scope  # type: ignore[attr-defined]


def _name(membership: Membership) -> str:
    user: Any = membership.user
    return str(user.get_full_name() or user.get_username())


def _invitations(request: HttpRequest) -> QuerySet[Invitation]:
    """The partner's invitations still waiting, or declined, for those who manage its team:
    the address typed, the role, who sent it and when; nothing about any account."""
    return (
        Invitation.objects.restrict(request.user, "change")
        .filter(
            partner=_scope(request).partner,
            status__in=[InvitationStatus.PENDING, InvitationStatus.DECLINED],
        )
        .select_related("invited_by")
    )


@partner_view
def team(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    members = (
        partner_rows(request, Membership)
        .select_related("user")
        .order_by("-is_active", "user__last_name", "user__first_name", "user__username", "pk")
    )
    page_obj = Paginator(members, 50).get_page(request.GET.get("page"))
    is_contact = may_manage_team(request.user, scope.partner)
    return render(
        request,
        "portal/team/team.html",
        {
            "section": "team",
            "page_obj": page_obj,
            "query": "",
            "is_contact": is_contact,
            "invitations": list(_invitations(request).order_by("-sent_at", "-pk"))
            if is_contact
            else [],
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
            invitation = invitations.membership_invite(
                partner=scope.partner,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                invited_by=request.user,
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            # Said the same way whether the address has an account or not.
            messages.success(
                request,
                _(
                    "An invitation is on its way to %(email)s. They join the team as %(role)s "
                    "once they accept it."
                )
                % {"email": invitation.email, "role": invitation.get_role_display()},
            )
            return HttpResponseRedirect(reverse("team"))
    return render(
        request,
        "portal/team/invite.html",
        {"section": "team", "form": form, "days": settings.INVITATION_DAYS},
    )


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
    return _member_page(
        request, get_object_or_404(partner_rows(request, Membership).select_related("user"), pk=pk)
    )


@require_POST
@partner_view
def role(request: HttpRequest, pk: int) -> HttpResponse:
    contact_only(request)
    membership = get_object_or_404(
        partner_rows(request, Membership, "change").select_related("user"), pk=pk
    )
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            membership = teams.membership_role_set(
                membership=membership, role=form.cleaned_data["role"], changed_by=request.user
            )
        except ValidationError as error:
            add_service_error(form, error)
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
    membership = get_object_or_404(
        partner_rows(request, Membership, "change").select_related("user"), pk=pk
    )
    try:
        membership = service(membership, request.user)
    except ValidationError as error:
        form = DecisionForm(request.POST)
        form.is_valid()  # No fields: always valid, and ready to take the refusal.
        add_service_error(form, error)
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
        lambda m, user: teams.membership_deactivate(membership=m, changed_by=user),
        _("%(person)s no longer has access to the partner pages."),
    )


@require_POST
@partner_view
def reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda m, user: teams.membership_reactivate(membership=m, changed_by=user),
        _("%(person)s has access to the partner pages again."),
    )


@require_POST
@partner_view
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(
        request,
        pk,
        lambda m, user: teams.membership_invitation_resend(membership=m, sent_by=user),
        _("The invitation is on its way to %(person)s again."),
    )


def _invitation_decision(
    request: HttpRequest, pk: int, service: Callable[..., Invitation], done: str
) -> HttpResponse:
    """Send again or cancel one of the partner's invitations, then say `done` (with %(email)s)."""
    contact_only(request)
    invitation = get_object_or_404(_invitations(request), pk=pk)
    try:
        invitation = service(invitation, request.user)
    except ValidationError as error:
        flash_service_error(request, error)
    else:
        messages.success(request, done % {"email": invitation.email})
    return HttpResponseRedirect(reverse("team"))


@require_POST
@partner_view
def invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _invitation_decision(
        request,
        pk,
        lambda i, user: invitations.invitation_resend(invitation=i, sent_by=user),
        _("The invitation is on its way to %(email)s again, with a new link."),
    )


@require_POST
@partner_view
def invitation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _invitation_decision(
        request,
        pk,
        lambda i, user: invitations.invitation_cancel(invitation=i, cancelled_by=user),
        _("The invitation to %(email)s is cancelled: its link no longer works."),
    )


# The page an invitation's emailed link opens: its secret is the only way in, whoever visits.


def _invitation_by_key(key: str) -> Invitation:
    invitation = (
        Invitation.objects.for_key(key)
        .select_related("partner__organisation", "partner__consortium", "invited_by")
        .first()
    )
    if invitation is None:
        raise Http404
    return invitation


def _answer_state(request: HttpRequest, invitation: Invitation) -> str:
    """What the visitor can do with the invitation: answer it, or first sign in, sign out, or
    create their account."""
    if not invitation.is_open:
        return "closed"
    user: Any = request.user
    if user.is_authenticated:
        same = identifier_key(user.email) == identifier_key(invitation.email)
        return "answer" if same else "other_account"
    accounts = accounts_with_address(invitation.email)
    if not accounts:
        return "new_account"
    return "sign_in" if any(account.is_active for account in accounts) else "account_off"


def _invitation_page(
    request: HttpRequest,
    invitation: Invitation,
    token: str,
    *,
    form: InvitationAccountForm | None = None,
    errors: list[str] | None = None,
) -> HttpResponse:
    state = _answer_state(request, invitation)
    if state == "new_account" and form is None:
        form = InvitationAccountForm(
            initial={"first_name": invitation.first_name, "last_name": invitation.last_name},
            email=invitation.email,
        )
    inviter: Any = invitation.invited_by
    return render(
        request,
        "portal/team/invitation.html",
        {
            "invitation": invitation,
            "token": token,
            "state": state,
            "form": form,
            "errors": errors or [],
            "inviter": (inviter.get_full_name() or inviter.get_username()) if inviter else "",
        },
        # A link that no longer leads anywhere: gone, as the page says.
        status=410 if state == "closed" else 200,
    )


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    return _invitation_page(request, _invitation_by_key(token), token)


@require_POST
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = _invitation_by_key(token)
    form = None
    try:
        if request.user.is_authenticated:
            membership = invitations.invitation_accept(invitation=invitation, user=request.user)
        else:
            form = InvitationAccountForm(request.POST, email=invitation.email)
            if not form.is_valid():
                return _invitation_page(request, invitation, token, form=form)
            membership = invitations.invitation_accept_with_new_account(
                invitation=invitation,
                password=form.cleaned_data["new_password1"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
            )
            login(request, membership.user, backend="consortium.backends.UsernameOrEmailBackend")
    except ValidationError as error:
        if form is not None and hasattr(error, "error_dict"):
            for field, field_errors in error.error_dict.items():
                name = "new_password1" if field == "password" else field
                form.add_error(name if name in form.fields else None, field_errors)
            return _invitation_page(request, invitation, token, form=form)
        return _invitation_page(request, invitation, token, form=form, errors=error.messages)
    # The partner pages open on the team just joined.
    request.session[SESSION_KEY] = membership.pk
    messages.success(
        request,
        _("Welcome to the team of %(partner)s in %(consortium)s, as %(role)s.")
        % {
            "partner": membership.partner,
            "consortium": membership.partner.consortium.acronym,
            "role": membership.get_role_display(),
        },
    )
    return HttpResponseRedirect(reverse("dashboard"))


@require_POST
def invitation_decline(request: HttpRequest, token: str) -> HttpResponse:
    invitation = _invitation_by_key(token)
    try:
        invitations.invitation_decline(invitation=invitation, user=request.user)
    except ValidationError as error:
        return _invitation_page(request, invitation, token, errors=error.messages)
    return render(request, "portal/team/invitation_declined.html", {"invitation": invitation})


urlpatterns = [
    path("team/", team, name="team"),
    path("team/invite/", invite, name="team-invite"),
    path("team/invitations/<int:pk>/resend/", invitation_resend, name="team-invitation-resend"),
    path("team/invitations/<int:pk>/cancel/", invitation_cancel, name="team-invitation-cancel"),
    path("invitations/<str:token>/", invitation, name="invitation"),
    path("invitations/<str:token>/accept/", invitation_accept, name="invitation-accept"),
    path("invitations/<str:token>/decline/", invitation_decline, name="invitation-decline"),
    path("team/<int:pk>/", member, name="team-member"),
    path("team/<int:pk>/role/", role, name="team-role"),
    path("team/<int:pk>/deactivate/", deactivate, name="team-deactivate"),
    path("team/<int:pk>/reactivate/", reactivate, name="team-reactivate"),
    path("team/<int:pk>/resend/", resend, name="team-resend"),
]
