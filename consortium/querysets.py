"""The one rule of who may see and manage what, shared by the admin, the API and the partner pages.

Every consortium-owned model's manager is built from `ScopedQuerySet`; callers write
`Model.objects.restrict(user, "view")` and never filter by hand. An object outside the result is
treated as absent (404), never as forbidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Self

from django.apps import apps
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# view: read; change: write the rows of one's own partner (a draft expense, a deliverable it leads)
# or any row of a consortium one coordinates; manage: coordinators only.
Action = Literal["view", "change", "manage"]


def _role_model() -> Any:
    return apps.get_model("consortium", "ConsortiumRole")


def _membership_model() -> Any:
    return apps.get_model("consortium", "Membership")


def coordinated_consortia(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the consortia the user coordinates."""
    return (
        _role_model()
        .objects.filter(user_id=user.pk, kind="coordinator", is_active=True)
        .values("consortium_id")
    )


def overseen_consortia(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the consortia the user coordinates or observes: they see all of them."""
    return _role_model().objects.filter(user_id=user.pk, is_active=True).values("consortium_id")


def member_partners(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the partners the user works for."""
    return _membership_model().objects.filter(user_id=user.pk, is_active=True).values("partner_id")


def contact_partners(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the partners the user is an active partner contact of."""
    return (
        _membership_model()
        .objects.filter(user_id=user.pk, is_active=True, role="contact")
        .values("partner_id")
    )


def may_manage_team(user: Any, partner: Any) -> bool:
    """Who changes a partner's team (invites, roles, access): its active partner contacts and
    its consortium's coordinators. The same rule as `Membership.objects.restrict(user, "change")`,
    for a partner that may have no member yet."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return (
        coordinated_consortia(user).filter(consortium_id=partner.consortium_id).exists()
        or contact_partners(user).filter(partner_id=partner.pk).exists()
    )


def member_consortia(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the consortia in which the user works for a partner."""
    return (
        _membership_model()
        .objects.filter(user_id=user.pk, is_active=True)
        .values("partner__consortium_id")
    )


class ScopedQuerySet(models.QuerySet):
    """Rows that belong to one consortium, reached through `consortium_path`.

    `partner_path` is set on rows private to one partner (money, effort, jobs): other partners of the
    same consortium don't see them. Work-plan rows leave it unset and are read by every partner user of
    the consortium. `owner_path` names the partner whose people may change a row ("change"): the
    partner of an expense, the lead partner of a deliverable; rows without one are changed by
    coordinators only.
    """

    consortium_path: str = "consortium"
    partner_path: str | None = None
    owner_path: str | None = None

    def restrict(self, user: Any, action: Action = "view") -> Self:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        consortium_id = f"{self.consortium_path}_id" if self.consortium_path else "id"
        coordinated = Q(**{f"{consortium_id}__in": coordinated_consortia(user)})
        if action == "manage" or (action == "change" and self.owner_path is None):
            return self.filter(coordinated)
        if action == "change":
            owner = f"{self.owner_path}_id" if self.owner_path else "id"
            return self.filter(coordinated | Q(**{f"{owner}__in": self.owners(user)}))
        condition = Q(**{f"{consortium_id}__in": overseen_consortia(user)})
        if self.partner_path is None:
            condition |= Q(**{f"{consortium_id}__in": member_consortia(user)})
        else:
            condition |= Q(**{f"{self.partner_path}_id__in": member_partners(user)})
        return self.filter(condition)

    def owners(self, user: Any) -> models.QuerySet[Any]:
        """Ids of the partners whose rows of this kind the user may change."""
        return member_partners(user)


class PartnerOwnedQuerySet(ScopedQuerySet):
    partner_path = "partner"
    owner_path = "partner"
