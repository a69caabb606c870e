"""The one rule of who may see and manage what, shared by the admin, the API and the partner pages.

Every consortium-owned model's manager is built from `ScopedQuerySet`; callers write
`Model.objects.restrict(user, "view")` and never filter by hand. An object outside the result is
treated as absent (404), never as forbidden.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, Self

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext

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


def observed_consortia(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the consortia the user observes (the funder): they read all of them but what is
    still a partner's own business (`ScopedQuerySet.owner_private`)."""
    return (
        _role_model()
        .objects.filter(user_id=user.pk, kind="observer", is_active=True)
        .values("consortium_id")
    )


def _working_memberships(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    # A partner that has left the consortium gives its people no access anywhere: not the
    # partner pages, not the API, not the files, not the calendar feed.
    return _membership_model().objects.filter(
        user_id=user.pk, is_active=True, partner__status="active"
    )


def member_partners(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the active partners the user works for."""
    return _working_memberships(user).values("partner_id")


def contact_partners(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the active partners the user is an active partner contact of."""
    return _working_memberships(user).filter(role="contact").values("partner_id")


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


def manageable_people(user: Any) -> models.QuerySet[Any]:
    """People a coordinator manages: those with a role or a membership in a consortium they
    coordinate. Superusers manage everyone and are managed by no coordinator."""
    people = get_user_model()._default_manager.all()
    if user.is_superuser:
        return people
    consortia = coordinated_consortia(user)
    members = people.filter(
        Q(consortium_roles__consortium_id__in=consortia)
        | Q(memberships__partner__consortium_id__in=consortia)
    )
    return people.filter(is_superuser=False, pk__in=members.values("pk"))


def people_managed_alone(user: Any) -> models.QuerySet[Any]:
    """People whose account a coordinator changes on their own: those of their consortia who take
    part in no other (another consortium relies on the others' accounts too)."""
    people = manageable_people(user)
    if user.is_superuser:
        return people
    consortia = coordinated_consortia(user)
    elsewhere = people.filter(
        Q(consortium_roles__isnull=False) & ~Q(consortium_roles__consortium_id__in=consortia)
        | Q(memberships__isnull=False) & ~Q(memberships__partner__consortium_id__in=consortia)
    )
    return people.exclude(pk__in=elsewhere.values("pk"))


def may_edit_organisation(user: Any, organisation: Any) -> bool:
    """An organisation's own details (names, kind, identifiers) are changed by those who may
    change them everywhere it takes part: a superuser, or a coordinator of every consortium it is
    a partner of (of one it is about to join, for an organisation they recorded)."""
    if user is None:
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    partnerships = organisation.partnerships.all()
    if not partnerships.exists():
        return bool(organisation.created_by_id == user.pk)
    return not partnerships.exclude(consortium_id__in=coordinated_consortia(user)).exists()


def member_consortia(user: AbstractBaseUser | AnonymousUser) -> models.QuerySet[Any]:
    """Ids of the consortia in which the user works for an active partner."""
    return _working_memberships(user).values("partner__consortium_id")


# Ids, or the subquery that reads them (`values_list(..., flat=True)`): `in` and `__in` take both.
Ids = Any


@dataclasses.dataclass(frozen=True)
class Scope:
    """A person's consortia and partners, by id: what `restrict` matches rows against.

    Looked up in two small queries, then matched as lists of ids, which the database answers from
    its indexes; a subquery per condition (`consortium_id IN (SELECT …) OR partner_id IN (SELECT
    …)`) made it scan the whole table once the table held other consortia's millions of rows.

    Under a row's lock (`authorize`), each is instead the subquery itself, read by the database
    with the statement: the roles as they are then, whatever the request read before.
    """

    coordinated: Ids = ()
    observed: Ids = ()
    # The active partners the person works for, their consortia, and those they are a contact of.
    partners: Ids = ()
    partner_consortia: Ids = ()
    contacts: Ids = ()
    # The consortia coordinated or observed.
    overseen: Ids = ()


# A request's scopes, by user id, with the generation of roles they were read at: looked up once
# per request (`scopes_per_request`); outside a request (a task, a command, a test's own calls)
# every `restrict` reads them afresh.
_request_scopes: contextvars.ContextVar[dict[Any, tuple[int, Scope]] | None] = (
    contextvars.ContextVar("request_scopes", default=None)
)
# Moved on by every write of a role, a membership or a partner (`consortium.apps`): a request
# that grants or ends access reads the scope again after it.
_generation = [0]
# Set while `authorize` decides: the scope is read by the database with the decision.
_read_live: contextvars.ContextVar[bool] = contextvars.ContextVar("scopes_read_live", default=False)


def access_changed(**kwargs: Any) -> None:
    """A role, a membership or a partner was written: scopes read before it are stale."""
    _generation[0] += 1


@contextlib.contextmanager
def scopes_per_request() -> Iterator[None]:
    """Within the block, each person's scope is looked up once (see `person_scope`)."""
    token = _request_scopes.set({})
    try:
        yield
    finally:
        _request_scopes.reset(token)


def _ids(values: Any) -> tuple[int, ...]:
    return tuple(sorted({value for value in values if value is not None}))


def person_scope(user: Any) -> Scope:
    """The consortia `user` coordinates and observes and the active partners they work for."""
    if _read_live.get():
        return Scope(
            coordinated=coordinated_consortia(user).values_list("consortium_id", flat=True),
            observed=observed_consortia(user).values_list("consortium_id", flat=True),
            partners=member_partners(user).values_list("partner_id", flat=True),
            partner_consortia=member_consortia(user).values_list(
                "partner__consortium_id", flat=True
            ),
            contacts=contact_partners(user).values_list("partner_id", flat=True),
            overseen=overseen_consortia(user).values_list("consortium_id", flat=True),
        )
    cache = _request_scopes.get()
    if cache is not None and (cached := cache.get(user.pk)) and cached[0] == _generation[0]:
        return cached[1]
    generation = _generation[0]
    roles = list(
        _role_model()
        .objects.filter(user_id=user.pk, is_active=True)
        .values_list("consortium_id", "kind")
    )
    memberships = list(
        _working_memberships(user).values_list("partner_id", "partner__consortium_id", "role")
    )
    scope = Scope(
        coordinated=_ids(consortium for consortium, kind in roles if kind == "coordinator"),
        observed=_ids(consortium for consortium, kind in roles if kind == "observer"),
        overseen=_ids(consortium for consortium, _kind in roles),
        partners=_ids(partner for partner, _consortium, _role in memberships),
        partner_consortia=_ids(consortium for _partner, consortium, _role in memberships),
        contacts=_ids(partner for partner, _consortium, role in memberships if role == "contact"),
    )
    if cache is not None:
        cache[user.pk] = (generation, scope)
    return scope


class ScopedQuerySet(models.QuerySet):
    """Rows that belong to one consortium, reached through `consortium_path`.

    `partner_path` is set on rows private to one partner (money, effort, jobs): other partners of the
    same consortium don't see them. Work-plan rows leave it unset and are read by every partner user of
    the consortium. `owner_path` names the partner whose people may change a row ("change"): the
    partner of an expense, the lead partner of a deliverable; rows without one are changed by
    coordinators only. `owner_private` picks the rows observers don't read (drafts).
    """

    consortium_path: str = "consortium"
    partner_path: str | None = None
    owner_path: str | None = None
    # Rows still their owner's own business (a partner's draft expense): read by the owner's people
    # and the consortium's coordinators, never by its observers.
    owner_private: Q | None = None

    def restrict(self, user: Any, action: Action = "view") -> Self:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        scope = person_scope(user)
        consortium_id = f"{self.consortium_path}_id" if self.consortium_path else "id"
        coordinated = Q(**{f"{consortium_id}__in": scope.coordinated})
        if action == "manage" or (action == "change" and self.owner_path is None):
            return self.filter(coordinated)
        if action == "change":
            owner = f"{self.owner_path}_id" if self.owner_path else "id"
            return self.filter(coordinated | Q(**{f"{owner}__in": self.owners(scope)}))
        if self.owner_private is None:
            condition = Q(**{f"{consortium_id}__in": scope.overseen})
        else:
            observed = Q(**{f"{consortium_id}__in": scope.observed})
            condition = coordinated | (observed & ~self.owner_private)
        if self.partner_path is None:
            condition |= Q(**{f"{consortium_id}__in": scope.partner_consortia})
        else:
            condition |= Q(**{f"{self.partner_path}_id__in": scope.partners})
        return self.filter(condition)

    def owners(self, scope: Scope) -> Ids:
        """Ids of the partners whose rows of this kind the person of `scope` may change."""
        return scope.partners


class PartnerOwnedQuerySet(ScopedQuerySet):
    partner_path = "partner"
    owner_path = "partner"


def coordinates(user: Any, consortium_id: int | None) -> bool:
    """Whether `user` coordinates the consortium (superusers coordinate every one)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return coordinated_consortia(user).filter(consortium_id=consortium_id).exists()


def _consortium_of(obj: Any, path: str) -> int | None:
    """The id of the consortium a row (saved or not) belongs to, through `path`."""
    if not path:
        return obj.pk
    value = obj
    *relations, last = path.split("__")
    for name in relations:
        if getattr(value, f"{name}_id", None) is None:
            return None
        value = getattr(value, name)
    return getattr(value, f"{last}_id", None)


def may(user: Any, obj: Any, action: Action) -> bool:
    """Whether `user` may do `action` on `obj`: `restrict()` asked of one row.

    A saved row is looked up in `restrict(user, action)` by its id, so the row as stored decides,
    not values a form has just put on it. A row not saved yet is judged by where it will belong:
    with "change", the partner that will own it (`owner_path`) must be one the user writes for,
    or its consortium one they coordinate; otherwise its consortium must be one they coordinate.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    queryset = type(obj)._default_manager.get_queryset()
    if not hasattr(queryset, "restrict"):
        return bool(user.is_superuser)
    if obj.pk is not None:
        return bool(queryset.restrict(user, action).filter(pk=obj.pk).exists())
    if user.is_superuser:
        return True
    if hasattr(queryset, "may_create"):
        return bool(queryset.may_create(user, obj))
    owner_path = queryset.owner_path
    if action == "change" and owner_path:
        owner_id = getattr(obj, f"{owner_path}_id", None)
        if owner_id is not None and owner_id in queryset.owners(person_scope(user)):
            return True
    consortium_id = _consortium_of(obj, queryset.consortium_path)
    return consortium_id is not None and coordinates(user, consortium_id)


def authorize(user: Any, obj: Any, action: Action) -> None:
    """Refuse, with `PermissionDenied`, an action `user` may not take on `obj` (see `may`).

    Every service that decides or writes calls it, under the row's lock, so that no door (the
    admin, the API, the partner pages, a command) can reach a write its caller may not make.
    `user=None` is the application itself (a command's or a task's own work), never a door's.
    """
    if user is None:
        return
    # Under the row's lock: the person's roles as the database holds them now, not as the
    # request read them before it waited for the lock (another process may have ended them).
    token = _read_live.set(True)
    try:
        allowed = may(user, obj, action)
    finally:
        _read_live.reset(token)
    if not allowed:
        raise PermissionDenied(gettext("You may not do this here."))


def authorize_all(user: Any, rows: list[Any], action: Action) -> None:
    """`authorize` for several saved rows of one scoped model, asked in one query: refused, with
    `PermissionDenied`, unless `user` may do `action` on every one of them."""
    if user is None or not rows:
        return
    ids = {row.pk for row in rows}
    allowed = (
        user.is_authenticated
        and user.is_active
        and type(rows[0])._default_manager.restrict(user, action).filter(pk__in=ids).count()
        == len(ids)
    )
    if not allowed:
        raise PermissionDenied(gettext("You may not do this here."))
