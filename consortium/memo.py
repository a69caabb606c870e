"""Reads a bulk write repeats for every row with the same ids, answered once per block.

An import of a thousand expense lines asks a thousand times whether the partner takes part in
the workpackage, has a budget line for the heading, has submitted the period's statement, and
whether each related row exists. Within `repeated_reads()` (`records.record_create_all`), each
such read is answered once per distinct key; everywhere else `read_once` reads afresh, so a
single write checks what the database holds at that moment.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_reads: contextvars.ContextVar[dict[Hashable, Any] | None] = contextvars.ContextVar(
    "repeated_reads", default=None
)


@contextlib.contextmanager
def repeated_reads() -> Iterator[None]:
    """Within the block, `read_once` answers each key once."""
    token = _reads.set({})
    try:
        yield
    finally:
        _reads.reset(token)


def read_once(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, or within `repeated_reads()` what it answered for `key` earlier in the block."""
    reads = _reads.get()
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return reads[key]
