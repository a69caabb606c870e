"""What an integration needs to see deletions: a tombstone for every row of the API's lists that
is deleted, whichever door deleted it (the admin, `record_delete`, a service such as
`reporting_periods_generate`, a cascade), read at `GET /api/v1/changes/?since=…`.

One `post_delete` receiver, connected for each model the API lists (`KINDS`) when the app is
ready, writes the row's kind (the API's name for it), its id and, as plain numbers that outlive
it, the consortium and the partner it belonged to, in the deletion's own transaction: a rolled
back deletion leaves no tombstone. A tombstone is read by those who read the row: a partner's
private row (its money, effort, jobs, people) by that partner's people and the consortium's
coordinators and observers, a row of the work plan by the whole consortium, a report by its
coordinators and observers; never from another consortium.
"""

from __future__ import annotations

from typing import Any, Self

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consortium.querysets import (
    Action,
    person_scope,
)

# Each model the API lists ("app_label.modelname"), with the name its rows have in the API. The
# report archive's model is named, not imported: `reporting` depends on this app, not the reverse.
KINDS: dict[str, str] = {
    "consortium.consortium": "consortium",
    "consortium.organisation": "organisation",
    "consortium.partner": "partner",
    "consortium.membership": "membership",
    "consortium.reportingperiod": "reporting-period",
    "consortium.costcategory": "cost-category",
    "workpackages.workpackage": "workpackage",
    "workpackages.deliverable": "deliverable",
    "workpackages.milestone": "milestone",
    "workpackages.budgetline": "budget-line",
    "workpackages.expense": "expense",
    "workpackages.effort": "effort",
    "workpackages.jobrecord": "job",
    "reporting.report": "report",
}
# The kinds of row that only those who oversee the consortium read (reports hold every partner's
# money): a partner's people read no tombstone of theirs.
OVERSEERS_ONLY = frozenset({"report"})


class TombstoneQuerySet(models.QuerySet):
    def restrict(self, user: Any, action: Action = "view") -> Self:
        """The tombstones of the rows `user` could read: nobody writes one ("change",
        "manage"). The person's consortia and partners are looked up once, then matched by id."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        if action != "view":
            return self.none()
        scope = person_scope(user)
        return self.filter(
            Q(consortium_id__in=scope.coordinated)
            | Q(consortium_id__in=scope.observed, coordinators_only=False)
            | Q(consortium_id__in=scope.partner_consortia, partner_id__isnull=True)
            & ~Q(kind__in=OVERSEERS_ONLY)
            | Q(partner_id__in=scope.partners)
        )


class Tombstone(models.Model):
    """A row of one of the API's lists that was deleted: what it was, and whose."""

    kind = models.CharField(_("type"), max_length=40)
    object_id = models.PositiveBigIntegerField(_("id of the deleted row"))
    # Plain numbers, not foreign keys: they name rows that may be gone too.
    consortium_id = models.PositiveBigIntegerField(_("consortium"), null=True, blank=True)
    partner_id = models.PositiveBigIntegerField(
        _("partner"),
        null=True,
        blank=True,
        help_text=_("Set for a row private to its partner (money, effort, jobs, people)."),
    )
    # A row still its owner's own business when deleted (a draft expense, a report not sent):
    # observers never read it, nor its tombstone.
    coordinators_only = models.BooleanField(
        _("hidden from observers"),
        default=False,
        help_text=_("The row was a partner's draft or a report not sent yet."),
    )
    deleted_at = models.DateTimeField(_("deleted at"), default=timezone.now)

    objects = TombstoneQuerySet.as_manager()

    class Meta:
        verbose_name = _("deleted row")
        verbose_name_plural = _("deleted rows")
        ordering = ["deleted_at", "id"]
        indexes = [models.Index(fields=["deleted_at", "id"], name="tombstone_deleted_order")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"

    @property
    def change(self) -> str:
        """What happened to the row, as `/changes/` says it."""
        return "deleted"


def _id_at(row: Any, path: str) -> int | None:
    """The id at the end of `path` (`partner__consortium`) from `row`; the row's own for ""."""
    if not path:
        return int(row.pk)
    *relations, last = path.split("__")
    value = row
    try:
        for name in relations:
            value = getattr(value, name)
    except ObjectDoesNotExist:
        return None
    found = getattr(value, f"{last}_id", None)
    return None if found is None else int(found)


def tombstone_record(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Leave the tombstone of a deleted row of one of the API's lists (`post_delete`)."""
    label = sender._meta.label_lower
    queryset = sender._default_manager.get_queryset()
    consortium_path: str | None = getattr(queryset, "consortium_path", None)
    partner_path: str | None = getattr(queryset, "partner_path", None)
    Tombstone.objects.create(
        kind=KINDS[label],
        object_id=instance.pk,
        consortium_id=None if consortium_path is None else _id_at(instance, consortium_path),
        partner_id=None if partner_path is None else _id_at(instance, partner_path),
        coordinators_only=_matches(instance, getattr(queryset, "owner_private", None)),
    )


def _matches(row: Any, condition: Q | None) -> bool:
    """Whether a row (deleted, in memory) meets a plain condition of `owner_private`: lookups
    of a field's value, or of whether it is null, all of them. Another shape counts as met: the
    tombstone is then kept from observers rather than shown to them wrongly."""
    if condition is None:
        return False
    if condition.negated or condition.connector != Q.AND:
        return True
    for child in condition.children:
        if not isinstance(child, tuple):
            return True
        lookup, expected = child
        *path, last = lookup.split("__")
        if last != "isnull":
            path, last = [*path, last], "exact"
        try:
            value = row
            for name in path:
                value = getattr(value, name)
        except (AttributeError, ObjectDoesNotExist):
            return True
        met = (value is None) == expected if last == "isnull" else value == expected
        if not met:
            return False
    return True


# Rows the API shows inside another's answer, not in a list of their own: writing or deleting one
# changes its parent's answer, so it moves the parent's `updated_at` (each model, with the name of
# its parent's foreign key).
NESTED: dict[str, str] = {"workpackages.workpackageparticipant": "workpackage"}


def parent_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A nested row written or deleted (`post_save`, `post_delete`): its parent changed now."""
    field = sender._meta.get_field(NESTED[sender._meta.label_lower])
    parent_id = getattr(instance, field.attname)
    if parent_id is not None:
        field.related_model._default_manager.filter(pk=parent_id).update(updated_at=timezone.now())


def tombstones_connect() -> None:
    """Connect `tombstone_record` to the deletion of every model of `KINDS` (by name, so that
    a model of an app loaded later is connected once it is), and `parent_changed` to the writes
    of the nested rows."""
    for label in KINDS:
        post_delete.connect(tombstone_record, sender=label, dispatch_uid=f"tombstone:{label}")
    for label in NESTED:
        for signal in (post_save, post_delete):
            signal.connect(parent_changed, sender=label, dispatch_uid=f"parent:{label}")
