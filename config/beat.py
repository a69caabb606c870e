"""Beat's scheduler: django-celery-beat's, firing only in the one beat that holds the
installation's schedule lock.

Two beats running by mistake (a deployment that started a second one, a stand-by machine) would
each fire every schedule: the database stops duplicate emails, but the work is done twice. The
lock is a PostgreSQL advisory lock held by a connection of the scheduler's own, so it ends with the
process that held it, however it ends: a stand-by beat checks every few seconds and takes over,
reading the schedules again (their `last_run_at` as the first beat left them). On SQLite (`make
run`, one process) there is nothing to hold.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

import psycopg
from django.db import connection
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

# One number per installation's database: the advisory lock's key.
LOCK_KEY = zlib.crc32(b"consortium-manager beat")
# How often a stand-by beat asks for the lock, and a holding one checks it still has it.
CHECK_SECONDS = 5.0


class SingleBeatScheduler(DatabaseScheduler):
    """`DatabaseScheduler` that fires nothing unless this beat holds the schedule lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock_connection: Any = None
        self._holding = False
        self._standing_by = False
        self._checked_at = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self.holds_lock():
            return CHECK_SECONDS
        return float(super().tick(*args, **kwargs))

    def holds_lock(self) -> bool:
        """Whether this beat holds the lock, asking for it (or checking it still has it) at most
        every `CHECK_SECONDS`."""
        if connection.vendor != "postgresql":
            return True
        if time.monotonic() - self._checked_at < CHECK_SECONDS:
            return self._holding
        self._checked_at = time.monotonic()
        was_holding = self._holding
        try:
            if self._lock_connection is None or self._lock_connection.closed:
                self._lock_connection = connection.get_new_connection(
                    connection.get_connection_params()
                )
                self._lock_connection.autocommit = True
                self._holding = False
            with self._lock_connection.cursor() as cursor:
                if self._holding:
                    cursor.execute("SELECT 1")  # Still connected: still holding.
                else:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
                    self._holding = bool(cursor.fetchone()[0])
        except (psycopg.Error, OSError) as error:
            logger.warning("beat: the schedule lock could not be checked: %s", error)
            self._release()
        if self._holding and not was_holding:
            logger.info("beat: this beat holds the schedule lock and fires the schedules")
            self._standing_by = False
            # Read every schedule again, as the beat that held the lock before left them.
            self._initial_read = True
            self._heap = None
        elif not self._holding and not self._standing_by:
            logger.info("beat: another beat holds the schedule lock (or none can); standing by")
            self._standing_by = True
        return self._holding

    def _release(self) -> None:
        """Give the lock back at once (a stand-by beat need not wait for this connection's
        server process to end) and close its connection."""
        self._holding = False
        if self._lock_connection is not None:
            try:
                if not self._lock_connection.closed:
                    self._lock_connection.execute("SELECT pg_advisory_unlock_all()")
                self._lock_connection.close()
            except (psycopg.Error, OSError):  # A connection already gone closes as it can.
                logger.debug("beat: closing the lock's connection failed", exc_info=True)
            self._lock_connection = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
