"""What every consortium-owned row of the work plan, the money and the jobs has in common, and
how their amounts are stored and shown: `Decimal` EUR, to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from consortium.memo import read_once
from consortium.models import Consortium, TimeStamped

CENT = Decimal("0.01")


def cents(value: Any) -> Decimal:
    """An amount to the cent, rounding half away from zero (0.005 → 0.01), as Belgian accounting
    does. Sums from the database go through it: PostgreSQL keeps the columns' two decimals, but
    SQLite's sums carry a dozen (`140476.360000000`), which no money field accepts."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


ZERO = Decimal("0.00")


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


class ConsortiumOwned(TimeStamped):
    """A row that belongs to one consortium.

    `consortium` is copied from the row named by `consortium_source` (a workpackage, a partner) so
    that scoping is one indexed column everywhere; on PostgreSQL composite foreign keys also make the
    database refuse a row whose related objects sit in another consortium. `same_consortium_fields`
    lists the relations that must belong to that consortium.
    """

    consortium = models.ForeignKey(
        Consortium,
        verbose_name=_("consortium"),
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
    )

    consortium_source: ClassVar[str | None] = None
    same_consortium_fields: ClassVar[tuple[str, ...]] = ()
    always_validated: ClassVar[tuple[str, ...]] = ("consortium",)

    class Meta:
        abstract = True

    def derive_consortium(self) -> None:
        if self.consortium_source and self._has(self.consortium_source):
            self.consortium_id = getattr(self, self.consortium_source).consortium_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Inline rows of a parent being created are validated before the parent has an id.
        if self.consortium_id is None:
            self.derive_consortium()
        super().save(*args, **kwargs)

    def _with_consortium(self, exclude: Any) -> Any:
        # Forms leave out the derived consortium and the status; constraints on them (a
        # milestone's number is unique per consortium, one active line per heading) must still
        # be checked, or the database answers with an error page.
        if not exclude:
            return exclude
        kept = set(self.always_validated)
        if not self.consortium_source or self.consortium_id is None:
            kept.discard("consortium")
        return set(exclude) - kept

    def validate_unique(self, exclude: Any = None) -> None:
        super().validate_unique(self._with_consortium(exclude))

    def validate_constraints(self, exclude: Any = None) -> None:
        super().validate_constraints(self._with_consortium(exclude))

    def _has(self, field: str) -> bool:
        return getattr(self, f"{field}_id", None) is not None

    def participation_error(self) -> ValidationError | None:
        """Money and effort go to the workpackages a partner takes part in: the refusal, if this
        row's partner is not among its workpackage's participants."""
        if not (self._has("partner") and self._has("workpackage")):
            return None
        participants = apps.get_model("workpackages", "WorkpackageParticipant").objects
        partner_id, workpackage_id = self.partner_id, self.workpackage_id  # type: ignore[attr-defined]
        if read_once(
            ("participation", partner_id, workpackage_id),
            participants.filter(partner_id=partner_id, workpackage_id=workpackage_id).exists,
        ):
            return None
        return ValidationError(
            _(
                "%(partner)s takes no part in %(workpackage)s: the coordinators add it to the "
                "workpackage's participants first."
            ),
            params={
                "partner": self.partner,  # type: ignore[attr-defined]
                "workpackage": self.workpackage.code,  # type: ignore[attr-defined]
            },
            code="not_a_participant",
        )

    def clean(self) -> None:
        super().clean()
        self.derive_consortium()
        errors = {}
        if self.consortium_id is None:
            # The row's own parent is missing: that field's "required" error says it all.
            return
        for field in self.same_consortium_fields:
            if self._has(field) and getattr(self, field).consortium_id != self.consortium_id:
                errors[field] = ValidationError(
                    _("This belongs to another consortium."), code="other_consortium"
                )
        if errors:
            raise ValidationError(errors)
