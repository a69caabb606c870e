"""Amounts of money as the application stores and shows them: `Decimal` EUR, to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(value: Any) -> Decimal:
    """An amount to the cent, rounding half away from zero (0.005 → 0.01), as Belgian accounting
    does. Sums from the database go through it: PostgreSQL keeps the columns' two decimals, but
    SQLite's sums carry a dozen (`140476.360000000`), which no money field accepts."""
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)
