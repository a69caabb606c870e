"""What the demo's builders share: the build's context (the consortium, its partners, a seeded
random generator, today), the arithmetic that splits money and days, and the saving of new rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone

from consortium import dates
from consortium.models import Consortium, CostCategory, Partner, ReportingPeriod
from workpackages.workplan.models import Workpackage


@dataclasses.dataclass
class Context:
    """What every builder needs: the consortium, its people and a shared random generator."""

    consortium: Consortium
    coordinator: Any
    rng: random.Random
    today: datetime.date
    partners: dict[str, Partner] = dataclasses.field(default_factory=dict)
    authors: dict[int, Any] = dataclasses.field(default_factory=dict)
    workpackages: dict[int, Workpackage] = dataclasses.field(default_factory=dict)
    categories: dict[str, CostCategory] = dataclasses.field(default_factory=dict)
    periods: list[ReportingPeriod] = dataclasses.field(default_factory=list)

    def author(self, partner: Partner) -> Any:
        """The user who types in a partner's data: its demo login if it has one."""
        return self.authors.get(partner.pk, self.coordinator)


def apportion(total: Decimal, weights: Sequence[int], unit: Decimal) -> list[Decimal]:
    """Split `total` in proportion to `weights` in multiples of `unit`, summing exactly to `total`.

    Leftover units go to the largest remainders (Hamilton's method) so no share drifts by more than
    one unit; a sub-unit rest, if `total` is not a multiple of `unit`, goes on the largest share.
    """
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("apportion() needs at least one positive weight")
    units = int(total // unit)
    rest = total - units * unit
    counts = [units * w // weight_sum for w in weights]
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (-(units * weights[i] % weight_sum), i)
    )
    for i in by_remainder[: units - sum(counts)]:
        counts[i] += 1
    shares = [n * unit for n in counts]
    largest = max(range(len(shares)), key=lambda i: shares[i])
    shares[largest] += rest
    return shares


def enterprise_number(rng: random.Random, taken: set[str]) -> str:
    """A valid, unused Belgian enterprise number: 0 + 7 digits, then the modulo-97 check digits."""
    while True:
        base = f"0{rng.randrange(2_000_000, 9_999_999):07d}"
        number = f"{base}{97 - int(base) % 97:02d}"
        if number not in taken:
            taken.add(number)
            return number


def month_overlap(start_month: int, end_month: int, period_start: int, period_end: int) -> int:
    """How many project months of [start_month, end_month] fall in [period_start, period_end]."""
    return max(0, min(end_month, period_end) - max(start_month, period_start) + 1)


def period_months(ctx: Context, period: ReportingPeriod) -> tuple[int, int]:
    """The first and last project month of a reporting period."""
    start = ctx.consortium.start_date
    return dates.months_between(start, period.start_date), dates.months_between(
        start, period.end_date
    )


def random_day(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    """A day between `first` and `last` inclusive (`first` if the range is empty)."""
    span = (last - first).days
    return first + datetime.timedelta(days=rng.randint(0, span)) if span > 0 else first


def local_datetime(day: datetime.date, hour: int) -> datetime.datetime:
    """An aware datetime on `day` at `hour` o'clock in the project's time zone."""
    return datetime.datetime.combine(
        day, datetime.time(hour), tzinfo=timezone.get_current_timezone()
    )


def validate_new(instance: Any) -> None:
    """Validate a new demo row by what only Python checks: each field's own validators and the
    model's `clean()` (dates within their period, amounts derived from the partner's rate, every
    relation in the row's consortium, a budget line behind each expense...).

    `full_clean()` would also ask the database, one query at a time, whether each foreign key
    exists and whether the row passes each uniqueness and check constraint: a dozen queries per
    row, two thirds of the demo's build time for thousands of rows. The database checks all of
    these itself when the row is written (foreign keys at the latest when the build's transaction
    commits): a demo row that broke one would stop the build with an `IntegrityError` instead of a
    `ValidationError`.
    """
    relations = [field.name for field in instance._meta.concrete_fields if field.is_relation]
    instance.clean_fields(exclude=relations)
    instance.clean()


def save_new(instance: Any, *, user: Any) -> None:
    """Save a new demo row as `consortium.services.save_with_history` does, `user` as the author
    of its history row, validated by `validate_new()`."""
    validate_new(instance)
    instance._history_user = user
    instance.save()
