"""The bench's databases, one per stage, each a copy of the demo (`CREATE DATABASE … TEMPLATE`):

- `1x`: the demo as `seed_demo` builds it;
- `20x`: the demo grown N× (`generate_scale --big`), with N-1 demo-like consortia beside it, and
  a coordinator of all of them (`coordinator-all`, added by the bench) for the query counts;
- `million`: the demo, with about a million expense lines and a million job records in other
  consortia (`generate_scale --million`);
- `writes`: the demo again, for the import and the statement, which write.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("1x", "20x", "million", "writes")


class Stages:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        parts = urlsplit(base_url)
        self.base = parts.path.lstrip("/") or "consortium_manager_bench"
        self.connect = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
        }
        if parts.password:
            self.connect["password"] = parts.password

    def name(self, stage: str) -> str:
        return f"{self.base}_{stage}"

    def url(self, stage: str) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{self.name(stage)}"))

    def _admin(self, *statements: str) -> None:
        with psycopg.connect(dbname="postgres", autocommit=True, **self.connect) as connection:
            for statement in statements:
                connection.execute(statement)

    def create(self, stage: str, template: str | None = None) -> None:
        name = self.name(stage)
        copy = f' TEMPLATE "{self.name(template)}"' if template else ""
        self._admin(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"{copy}'
        )

    def drop_all(self) -> None:
        self._admin(*(f'DROP DATABASE IF EXISTS "{self.name(s)}" WITH (FORCE)' for s in STAGES))

    def manage(self, stage: str, *args: str) -> float:
        """Run `manage.py` on the stage's database; the seconds it took."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.url(stage),
        }
        started = time.perf_counter()
        subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started

    def settle(self, stage: str) -> None:
        """What autovacuum does to a database in use: its visibility map and statistics up to
        date, so that counts read the indexes alone, as they would in production."""
        with psycopg.connect(dbname=self.name(stage), autocommit=True, **self.connect) as db:
            db.execute("VACUUM ANALYZE")

    def build(self, scale: int, million_rows: int) -> dict[str, float]:
        """Every stage's database; the seconds each step took."""
        seconds = {}
        self.create("1x")
        seconds["migrate"] = self.manage("1x", "migrate", "--no-input", "-v0")
        seconds["seed_demo"] = self.manage("1x", "seed_demo", "--force")
        self.settle("1x")
        self.create("20x", template="1x")
        seconds["generate 20x"] = self.manage(
            "20x",
            "generate_scale",
            "--scale",
            str(scale),
            "--big",
            "--force",
        )
        self.settle("20x")
        self.create("million", template="1x")
        seconds["generate million"] = self.manage(
            "million",
            "generate_scale",
            "--scale",
            "1",
            "--million",
            "--million-rows",
            str(million_rows),
            "--force",
        )
        self.settle("million")
        self.create("writes", template="1x")
        return seconds
