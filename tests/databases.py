"""The workers' test databases, migrated once per run.

Migrating an empty database takes about a dozen seconds of CPU, and `make test` runs two workers.
The first worker that needs its database creates it as pytest-django does (migrations included),
then copies it as a template; the other worker creates its own from that copy (PostgreSQL's
`CREATE DATABASE … TEMPLATE`) and finds every migration applied. A file lock, named after the
run, tells them apart. Without xdist, with `--reuse-db` or on SQLite, nothing changes.
"""

from __future__ import annotations

import fcntl
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from django.conf import settings
from django.db import DatabaseError, connections

# How long a worker waits for the other to migrate before it migrates its own database anyway.
WAIT_SECONDS = 300


@dataclass
class SharedMigration:
    """The run's template database and the lock around it."""

    template: str
    lock_path: Path
    ready_path: Path
    lock: IO[str] | None = None
    builder: bool = False

    @classmethod
    def for_run(cls, config: pytest.Config, keepdb: bool) -> SharedMigration | None:
        run = getattr(config, "workerinput", {}).get("testrunuid")
        database = settings.DATABASES["default"]
        if run is None or keepdb or "postgresql" not in database["ENGINE"]:
            return None
        template = f"test_{database['NAME']}_template"
        folder = Path(tempfile.gettempdir())
        return cls(
            template=template,
            lock_path=folder / f"{template}-{run}.lock",
            ready_path=folder / f"{template}-{run}.ready",
        )

    def acquire(self) -> bool:
        self.lock = self.lock_path.open("a")
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.2)

    def release(self) -> None:
        if self.lock is not None:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()
            self.lock = None

    def before_setup(self) -> None:
        """Under the lock: create this worker's database from the template, or be the one that
        migrates and publishes it. The lock is kept until `after_setup`."""
        if not self.acquire():
            self.release()
            return
        if self.ready_path.exists():
            settings.DATABASES["default"].setdefault("TEST", {})["TEMPLATE"] = self.template
        else:
            self.builder = True

    def after_setup(self) -> None:
        """The builder publishes its migrated database; if it cannot, the other worker finds no
        template and migrates its own, as it would without this module."""
        try:
            if self.builder:
                self._execute(
                    f'DROP DATABASE IF EXISTS "{self.template}"',
                    # No session may be connected to the database being copied.
                    f'CREATE DATABASE "{self.template}" '
                    f'TEMPLATE "{connections["default"].settings_dict["NAME"]}"',
                )
                self.ready_path.touch()
        except DatabaseError as error:
            warnings.warn(f"the migrated test database was not shared: {error}", stacklevel=1)
        finally:
            self.release()

    def remove(self) -> None:
        """The builder drops the template when its session ends (a worker that comes later
        migrates its own database)."""
        if not self.builder or not self.acquire():
            return
        try:
            self.ready_path.unlink(missing_ok=True)
            self._execute(f'DROP DATABASE IF EXISTS "{self.template}"')
        except DatabaseError:
            pass
        finally:
            self.release()
            self.lock_path.unlink(missing_ok=True)

    def _execute(self, *statements: str) -> None:
        connection = connections["default"]
        connection.close()
        with connection._nodb_cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


_shared: dict[str, SharedMigration | None] = {}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    django_db_keepdb: bool,
    request: pytest.FixtureRequest,
) -> None:
    shared = SharedMigration.for_run(request.config, django_db_keepdb)
    _shared["run"] = shared
    if shared is not None:
        shared.before_setup()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    shared = _shared.get("run")
    if shared is None:
        yield
        return
    with django_db_blocker.unblock():
        shared.after_setup()
    yield
    with django_db_blocker.unblock():
        shared.remove()
