"""Whole-row writes, the same for every door: `record_create`, `record_update`, `record_delete`.

The admin's change forms, inlines and deletions, the API's creates and edits, the partner pages'
forms and the commands all save a row through these three services. What may be written is each
model's `WriteRule`, registered by the app that owns the model when it loads
(`consortium/services.py`, `workpackages/<subject>/services.py`, `reporting/services.py`):

- who writes it: `action` is the `restrict()` action the acting person needs on the row ("change":
  the partner that owns it or a coordinator; "manage": coordinators only), checked under the row's
  lock by `authorize`;
- in which states it still changes and is created (`editable_states`);
- which fields a saved row keeps (`fixed`), with the reason people read;
- what else must hold (`checks`), given the row as stored and the changes asked for;
- what to lock first (`lock`), so that a write and a decision on the same records see each other;
- whether and when it may be deleted (`deletable`), and what follows a write (`after`).

A model whose writes are a decision of their own (a membership, a consortium role) names its own
services in `create` / `update`. `record_check` runs the same checks without saving, for a form to
show them next to its fields; the service runs them again under the lock when it saves.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import Case, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from consortium.memo import read_once, repeated_reads
from consortium.querysets import Action, authorize, scopes_per_request


def save_with_history(instance: Any, *, user: Any, update_fields: list[str] | None = None) -> None:
    """Validate and save, recording `user` as the author of the history row.

    A transition that saves only `update_fields` validates those of them that are values; the
    service has checked the state and set the relations itself (the reviewer is the user acting),
    and the database's constraints and foreign keys still hold the invariants, which spares one
    query per relation and per constraint on every decision.
    """
    if update_fields is None:
        instance.full_clean()
    else:
        _clean_changed(instance, update_fields)
    instance._history_user = user
    if update_fields is None:
        instance.save()
    else:
        instance.save(update_fields=[*update_fields, "updated_at"])


def _clean_changed(instance: Any, update_fields: list[str]) -> None:
    """Validate the values among `update_fields` (a transition's own; see `save_with_history`)."""
    instance.clean_fields(
        exclude=[
            f.name
            for f in instance._meta.concrete_fields
            if f.name not in update_fields or f.is_relation
        ]
    )


def save_all_with_history(instances: list[Any], *, user: Any, update_fields: list[str]) -> None:
    """`save_with_history` of the same `update_fields` on several rows of one model, in one UPDATE
    and one insert of their history rows, however many rows there are."""
    if not instances:
        return
    now = timezone.now()
    for instance in instances:
        _clean_changed(instance, update_fields)
        instance.updated_at = now
    model = type(instances[0])
    with transaction.atomic(savepoint=False):
        _update_all(model, instances, [*update_fields, "updated_at"])
        # The rows are written: only their history rows are left to insert.
        bulk_update_with_history(instances, model, [], default_user=user)


def _update_all(model: Any, instances: list[Any], names: list[str]) -> None:
    """Write the fields `names` of `instances` in one UPDATE: a value every row shares is set
    once, the others row by row (a CASE, as `bulk_update` writes every value). A decision on a
    statement's lines sets the same status, moment and reviewer on each: no CASE for those."""
    manager = model._base_manager
    values: dict[str, Any] = {}
    for name in names:
        field = model._meta.get_field(name)
        row_values = [getattr(instance, field.attname) for instance in instances]
        first = row_values[0]
        if all(type(value) is type(first) and value == first for value in row_values):
            values[field.attname] = first
            continue
        case: Any = Case(
            *(
                When(pk=instance.pk, then=Value(value, output_field=field))
                for instance, value in zip(instances, row_values, strict=True)
            ),
            output_field=field,
        )
        if connections[manager.db].features.requires_casted_case_in_updates:
            case = Cast(case, output_field=field)
        values[field.attname] = case
    manager.filter(pk__in=[instance.pk for instance in instances]).update(**values)


def locked(model: Any, pk: int) -> Any:
    """The row `pk` of `model`, locked until the transaction ends (its own table's row only, not
    the rows its default ordering or relations would join)."""
    return model._default_manager.select_for_update(of=("self",)).get(pk=pk)


def check_state(instance: Any, allowed: Collection[str], message: str) -> None:
    """Refuse a transition from a state that doesn't allow it.

    `message` is the whole translated sentence, with `%(object)s` and `%(status)s` (the current
    state), so that each language can phrase each action its own way.
    """
    if instance.status not in allowed:
        raise ValidationError(
            message % {"object": instance, "status": instance.get_status_display().lower()},
            code="invalid_state",
        )


# check(row, *, user, changes, creating): raises ValidationError. `row` is the row as stored (or
# the new row); `changes` the values asked for.
Check = Callable[..., None]


@dataclass(frozen=True)
class WriteRule:
    """What may be written to one model, by whom, and what follows."""

    action: Action = "manage"
    editable_states: frozenset[str] | None = None
    fixed: Callable[[Any], tuple[tuple[str, ...], str]] | None = None
    # prepare(row, changes) -> changes: what else a change implies (a granted amount recomputed).
    prepare: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None
    checks: tuple[Check, ...] = ()
    lock: Callable[[Any], None] | None = None
    deletable: Callable[[Any], str | None] | None = None
    after: tuple[Callable[..., None], ...] = ()
    create: Callable[..., Any] | None = None
    update: Callable[..., Any] | None = None


WRITE_RULES: dict[type, WriteRule] = {}


def write_rule_register(model: type, rule: WriteRule) -> None:
    """Declare how rows of `model` are written; an app does it once, when it loads."""
    WRITE_RULES[model] = rule


def write_rule_extend(
    model: type, *, checks: Iterable[Check] = (), after: Iterable[Callable[..., None]] = ()
) -> None:
    """Add the checks and consequences another app brings to a model's writes (the work plan's
    due dates follow the consortium's start date)."""
    rule = write_rule(model)
    WRITE_RULES[model] = dataclasses.replace(
        rule, checks=(*rule.checks, *checks), after=(*rule.after, *after)
    )


def write_rule(model: type) -> WriteRule:
    try:
        return WRITE_RULES[model]
    except KeyError:
        raise ImproperlyConfigured(
            f"{model.__name__} has no write rule: register one with write_rule_register()."
        ) from None


def keeps(fields: tuple[str, ...], reason: str) -> Callable[[Any], tuple[tuple[str, ...], str]]:
    """A `WriteRule.fixed` for fields a saved row always keeps; `reason` is translated when read
    (mark it with `gettext_noop`)."""

    def fixed(row: Any) -> tuple[tuple[str, ...], str]:
        return fields, gettext(reason)

    return fixed


def with_changes(row: Any, changes: dict[str, Any]) -> Any:
    """A copy of the stored row with the changes asked for, to judge them before they're saved."""
    candidate = copy.copy(row)
    for name, value in changes.items():
        if not candidate._meta.get_field(name).many_to_many:
            setattr(candidate, name, value)
    return candidate


def _split(model: type, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row's own fields, and its many-to-many relations (set once the row has an id)."""
    related = {field.name for field in model._meta.many_to_many}  # type: ignore[attr-defined]
    return (
        {name: value for name, value in fields.items() if name not in related},
        {name: value for name, value in fields.items() if name in related},
    )


def _current(instance: Any, name: str) -> Any:
    field = instance._meta.get_field(name)
    if field.many_to_many:
        return set(getattr(instance, name).all()) if instance.pk else set()
    return getattr(instance, name)


def _differs(instance: Any, name: str, value: Any) -> bool:
    current = _current(instance, name)
    if isinstance(current, set):
        return current != set(value or ())
    if hasattr(current, "name") and hasattr(current, "field"):  # a file
        return (current.name or "") != (getattr(value, "name", value) or "")
    return bool(current != value)


def _effective(instance: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes that really change something."""
    return {name: value for name, value in changes.items() if _differs(instance, name, value)}


def _prepared(rule: WriteRule, stored: Any, changes: dict[str, Any]) -> dict[str, Any]:
    changes = _effective(stored, changes)
    if rule.prepare is not None and changes:
        changes = rule.prepare(stored, changes)
    return changes


def _check_fixed(rule: WriteRule, stored: Any, changes: dict[str, Any]) -> None:
    if rule.fixed is None:
        return
    fixed, reason = rule.fixed(stored)
    moved = [name for name in fixed if name in changes]
    if moved:
        raise ValidationError({name: reason for name in moved}, code="fixed_field")


def _check_change(rule: WriteRule, stored: Any, *, user: Any, changes: dict[str, Any]) -> None:
    authorize(user, stored, rule.action)
    if rule.editable_states is not None:
        check_state(
            stored,
            rule.editable_states,
            gettext("Cannot change %(object)s: it is %(status)s."),
        )
    _check_fixed(rule, stored, changes)
    for check in rule.checks:
        check(stored, user=user, changes=changes, creating=False)


def _check_new(
    rule: WriteRule,
    instance: Any,
    *,
    user: Any,
    fields: dict[str, Any],
    authorized: Callable[[], None] | None = None,
) -> None:
    if hasattr(instance, "derive_consortium"):
        instance.derive_consortium()
    if authorized is None:
        authorize(user, instance, rule.action)
    else:
        authorized()
    allowed = rule.editable_states
    if allowed is not None:
        _check_initial_state(instance, allowed)
    # What a new row writes: every field it holds (a form builds the row before the service sees
    # it), with what the caller named on top.
    written = {
        field.name: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.editable and not field.is_relation and getattr(instance, field.attname) is not None
    }
    written.update(
        {
            field.name: getattr(instance, field.name)
            for field in instance._meta.concrete_fields
            if field.editable and field.is_relation and getattr(instance, field.attname) is not None
        }
    )
    for check in rule.checks:
        check(instance, user=user, changes={**written, **fields}, creating=True)


def _check_initial_state(instance: Any, allowed: Iterable[str]) -> None:
    if instance.status not in allowed:
        raise ValidationError(
            {
                "status": gettext("A new record cannot start as %(status)s.")
                % {"status": instance.get_status_display().lower()}
            },
            code="invalid_state",
        )


def _save(instance: Any, *, user: Any, related: dict[str, Any]) -> None:
    """Validate and save with history; a unique rule another request broke meanwhile is refused
    with that rule's message rather than a database error."""
    try:
        with transaction.atomic():
            save_with_history(instance, user=user)
            for name, values in related.items():
                getattr(instance, name).set(values)
    except IntegrityError:
        instance.validate_constraints()
        raise


def record_check(*, instance: Any, user: Any, changes: dict[str, Any]) -> None:
    """The checks of `record_create` (for a new row) or `record_update`, without saving: what a
    form shows next to its fields. The service runs them again, under the lock, when it saves."""
    rule = write_rule(type(instance))
    if instance.pk is None:
        if rule.create is None:
            _check_new(rule, instance, user=user, fields=changes)
        return
    stored = type(instance)._default_manager.get(pk=instance.pk)
    if rule.update is None:
        _check_change(rule, stored, user=user, changes=_prepared(rule, stored, changes))
    else:
        # A row with services of its own (a membership, a role) is judged by them as it saves.
        authorize(user, stored, rule.action)


@transaction.atomic
def record_create(
    *, model: type | None = None, user: Any, instance: Any = None, **fields: Any
) -> Any:
    """Create a row of `model` from `fields` (or the new `instance` a form built, with `fields`
    naming its many-to-many values), validated, with `user` as the author in its history."""
    model = model or type(instance)
    rule = write_rule(model)
    own, related = _split(model, fields)
    if instance is None:
        instance = model(**own)
    else:
        for name, value in own.items():
            setattr(instance, name, value)
    if rule.create is not None:
        return rule.create(instance, user=user, related=related)
    if rule.lock is not None:
        rule.lock(instance)
    _check_new(rule, instance, user=user, fields=fields)
    _save(instance, user=user, related=related)
    for follow in rule.after:
        follow(instance, user=user, creating=True)
    return instance


class RowsRefused(ValidationError):
    """`record_create_all` refused some rows: `refusals` maps each one's position to its error."""

    def __init__(self, refusals: dict[int, ValidationError]) -> None:
        super().__init__([error for _position, error in sorted(refusals.items())])
        self.refusals = refusals


def _related_exist(instance: Any) -> list[str]:
    """Check that the rows `instance` points to exist, each id once per block (`read_once`); the
    names of the relations checked, which `full_clean` need not check again."""
    checked = []
    for field in instance._meta.concrete_fields:
        if not field.many_to_one or getattr(instance, field.attname) is None:
            continue
        value = getattr(instance, field.attname)
        refusal = read_once(
            ("exists", field.model._meta.label, field.name, value),
            functools.partial(_refusal, field, value, instance),
        )
        if refusal is not None:
            raise ValidationError({field.name: refusal})
        checked.append(field.name)
    return checked


def _refusal(field: Any, value: Any, instance: Any) -> ValidationError | None:
    try:
        field.validate(value, instance)
    except ValidationError as error:
        return error
    return None


@transaction.atomic
def record_create_all(*, model: type, user: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """`record_create` of many rows of one model, with the same rule and checks, in a number of
    queries that does not grow with the rows: what each row reads again with the same ids (the
    person's scope, the partner's lock, its relations' existence, its model's own rules) is read
    once per distinct id (`memo.repeated_reads`), then the rows are inserted in one statement and
    their history rows in another. Refused rows raise `RowsRefused`, every one of them, and
    nothing is written.

    The database's check constraints are checked by the insert itself; should it refuse one,
    each row is checked as `record_create` would, to say which. A model whose writes are services
    of their own (`create`), have consequences (`after`) or many-to-many values is written row by
    row, by `record_create`."""
    rule = write_rule(model)
    if rule.create is not None or rule.after or model._meta.many_to_many:  # type: ignore[attr-defined]
        return [record_create(model=model, user=user, **fields) for fields in rows]
    instances: list[Any] = []
    refusals: dict[int, ValidationError] = {}
    with repeated_reads(), scopes_per_request():
        for position, fields in enumerate(rows):
            instance = model(**fields)
            try:
                if rule.lock is not None:
                    read_once(
                        ("lock", rule.lock, _lock_key(instance)),
                        functools.partial(rule.lock, instance),
                    )
                # Who may write the row is decided by its owner and consortium: asked once
                # for each, after their lock (`authorize` reads the roles as they are then).
                _check_new(
                    rule,
                    instance,
                    user=user,
                    fields=fields,
                    authorized=functools.partial(_authorized_once, rule, instance, user),
                )
                checked = _related_exist(instance)
                instance.full_clean(exclude=checked, validate_constraints=False)
            except ValidationError as error:
                refusals[position] = error
            instances.append(instance)
    if refusals:
        raise RowsRefused(refusals)
    try:
        with transaction.atomic():
            bulk_create_with_history(instances, model, default_user=user)
    except IntegrityError:
        for position, instance in enumerate(instances):
            try:
                instance.validate_constraints()
            except ValidationError as error:
                refusals[position] = error
        if refusals:
            raise RowsRefused(refusals) from None
        raise
    return instances


def _authorized_once(rule: WriteRule, instance: Any, user: Any) -> None:
    """`authorize` of a new row, asked once per owner and consortium within the block."""
    key = ("authorized", rule.action, _lock_key(instance))
    read_once(key, functools.partial(authorize, user, instance, rule.action))


def _lock_key(instance: Any) -> tuple[Any, ...]:
    """What a row's lock takes: its partner's row, or its consortium's."""
    return (getattr(instance, "partner_id", None), getattr(instance, "consortium_id", None))


@transaction.atomic
def record_update(*, instance: Any, user: Any, **changes: Any) -> Any:
    """Change the fields a row's state still allows; refuse the whole change otherwise. Only the
    values that differ from the stored row count as changes."""
    model = type(instance)
    rule = write_rule(model)
    if rule.update is not None:
        # Its own services lock what they change, in their own order (a partner's team, then the
        # membership; a consortium, then the role).
        stored = model._default_manager.get(pk=instance.pk)
        return rule.update(stored, user=user, changes=_prepared(rule, stored, changes))
    if rule.lock is not None:
        rule.lock(instance)
    stored = model._default_manager.select_for_update(of=("self",)).get(pk=instance.pk)
    changes = _prepared(rule, stored, changes)
    _check_change(rule, stored, user=user, changes=changes)
    if not changes:
        return stored
    own, related = _split(model, changes)
    consortium_id = getattr(stored, "consortium_id", None)
    for name, value in own.items():
        setattr(stored, name, value)
    if hasattr(stored, "derive_consortium"):
        stored.derive_consortium()
        if stored.consortium_id != consortium_id:
            raise ValidationError(
                gettext("A record stays in its consortium."), code="other_consortium"
            )
    _save(stored, user=user, related=related)
    for follow in rule.after:
        follow(stored, user=user, creating=False)
    return stored


@transaction.atomic
def record_delete(*, instance: Any, user: Any) -> None:
    """Delete a row its rule lets go (a deliverable nobody worked on, a pending milestone); its
    history keeps who removed it. Financial rows are never deleted: they are withdrawn."""
    model = type(instance)
    rule = write_rule(model)
    stored = model._default_manager.select_for_update(of=("self",)).get(pk=instance.pk)
    authorize(user, stored, rule.action)
    refusal = deletable_refusal(stored)
    if refusal:
        raise ValidationError(refusal, code="not_deletable")
    stored._history_user = user
    stored.delete()


def is_editable(instance: Any) -> bool:
    """Whether the row's state still lets anyone change it (the admin hides the form if not)."""
    return editable_refusal(instance) is None


def editable_refusal(instance: Any) -> str | None:
    """Why the row's state no longer lets anyone change it, as every door says it; None if it
    still changes."""
    rule = WRITE_RULES.get(type(instance))
    if rule is None or rule.editable_states is None or instance.status in rule.editable_states:
        return None
    try:
        check_state(
            instance,
            rule.editable_states,
            gettext("Cannot change %(object)s: it is %(status)s."),
        )
    except ValidationError as refusal:
        return refusal.messages[0]
    return None


def fixed_fields(instance: Any) -> tuple[str, ...]:
    """The fields the saved row keeps in its current state (the admin shows them read-only)."""
    rule = WRITE_RULES.get(type(instance))
    if rule is None or rule.fixed is None or instance.pk is None:
        return ()
    return rule.fixed(instance)[0]


def deletable_refusal(instance: Any) -> str | None:
    """Why the row may not be deleted, as every door says it; None if its rule lets it go."""
    rule = WRITE_RULES.get(type(instance))
    if rule is None or rule.deletable is None:
        return gettext("%(object)s is kept for the record: it is never deleted.") % {
            "object": instance
        }
    return rule.deletable(instance)


def fixed_reason(instance: Any) -> str:
    """Why the saved row keeps its fixed fields, as every door says it."""
    rule = WRITE_RULES.get(type(instance))
    if rule is None or rule.fixed is None or instance.pk is None:
        return ""
    return rule.fixed(instance)[1]


def implied_changes(instance: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """What else the changes to a saved row imply (its rule's `prepare`): a form puts them on its
    row before validating it, as the service does before saving."""
    rule = WRITE_RULES.get(type(instance))
    if rule is None or rule.prepare is None or instance.pk is None or not changes:
        return {}
    prepared = rule.prepare(instance, changes)
    return {name: value for name, value in prepared.items() if name not in changes}
