"""`manage.py backup` and `manage.py restore` on the demo partnership, in a database and a media
folder of their own: backed up, wiped, restored, every table's rows and every file's SHA-256 as
before; a damaged archive, and a restore onto data without `--replace`, refused without a change;
a site with a lost file, an extra table and an extra file put back exactly with `--replace`; any
database but PostgreSQL refused.

The pytest database is never touched: the demo is seeded into a copy of it (`CREATE DATABASE …
TEMPLATE`, already migrated), on the demo's New Year's Day, and the commands run in processes of
their own pointed at that copy (`DATABASE_URL`, `MEDIA_ROOT`), as an operator runs them. Django
takes seconds to start, so each process runs several commands in a row (`call_command`, the code
`manage.py` runs)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections
from psycopg import sql

from tests.demo.conftest import NEW_YEAR

# The suite's database is set up for the tests that ask for it: these copy it, migrated.
pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}

# Runs the commands of argv[1] (JSON: each its arguments, and the time to freeze the clock at,
# if any) in one Django process, and writes what each printed, or its error, to argv[2].
RUNNER = """
import contextlib, io, json, sys
import django
django.setup()
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
results = []
for step in json.loads(sys.argv[1]):
    out, err, error = io.StringIO(), io.StringIO(), ""
    clock = time_machine.travel(step["at"], tick=True) if step["at"] else contextlib.nullcontext()
    with clock:
        try:
            call_command(*step["args"], stdout=out, stderr=err)
        except CommandError as refused:
            error = str(refused)
    results.append({"out": out.getvalue(), "err": err.getvalue(), "error": error})
with open(sys.argv[2], "w") as answer:
    json.dump(results, answer)
"""


@dataclass
class Result:
    """What one command printed, and its error (empty when it succeeded)."""

    out: str
    err: str
    error: str


@dataclass
class Site:
    """A database and a media folder of their own, and the archive of the seeded demo."""

    database: str
    media: Path
    folder: Path
    archive: Path | None = None

    def run(self, *commands: list[str], at: float | None = None, url: str = "") -> list[Result]:
        answer = self.folder / f"answer-{secrets.token_hex(4)}.json"
        steps = [{"args": args, "at": at} for args in commands]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": url
            or f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{self.database}",
            "MEDIA_ROOT": str(self.media),
        }
        done = subprocess.run(  # noqa: S603  (the suite's own interpreter and script)
            [sys.executable, "-c", RUNNER, json.dumps(steps), str(answer)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return [Result(**result) for result in json.loads(answer.read_text())]

    def sql(self, query: str | sql.Composed, database: str = "") -> list[tuple[Any, ...]]:
        with psycopg.connect(dbname=database or self.database, autocommit=True, **PG) as db:
            cursor = db.execute(query)
            return cursor.fetchall() if cursor.description else []

    def fingerprint(self) -> dict[str, Any]:
        """Every table's row count and rows (hashed in a fixed order), every sequence's last
        value, and every media file's SHA-256."""
        tables = {}
        names = self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        for (name,) in names:
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                "FROM {} AS t"
            ).format(sql.Identifier(name))
            tables[name] = self.sql(query)[0]
        sequences = self.sql(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        return {"tables": tables, "sequences": dict(sequences), "files": files_of(self.media)}

    def wipe(self) -> None:
        """The disaster: the database gone (an empty one in its place) and the media folder."""
        self.sql(f'DROP DATABASE "{self.database}" WITH (FORCE)', database="postgres")
        self.sql(f'CREATE DATABASE "{self.database}"', database="postgres")
        shutil.rmtree(self.media)


def files_of(media: Path) -> dict[str, str]:
    return {
        path.relative_to(media).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(media.rglob("*"))
        if path.is_file()
    }


def manifest_of(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        return dict(json.load(member))


@pytest.fixture(scope="module")
def site(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The demo seeded in a database of its own, and its archive; dropped at the end."""
    folder = tmp_path_factory.mktemp("backup")
    site = Site(database=f"cm_backup_{secrets.token_hex(4)}", media=folder / "media", folder=folder)
    with django_db_blocker.unblock():
        migrated = connections["default"].settings_dict["NAME"]
        # No session may be connected to the database being copied.
        connections.close_all()
    try:
        try:
            site.sql(f'CREATE DATABASE "{site.database}" TEMPLATE "{migrated}"', "postgres")
            steps = [["seed_demo", "--force"]]
        except psycopg.errors.ObjectInUse:
            site.sql(f'CREATE DATABASE "{site.database}"', "postgres")
            steps = [["migrate", "--no-input", "-v0"], ["seed_demo", "--force"]]
        site.run(*steps, at=NEW_YEAR.timestamp())
        (folder / "archives").mkdir()
        [backup] = site.run(["backup", str(folder / "archives")])
        assert not backup.error, backup.error
        [site.archive] = (folder / "archives").glob("consortium-manager-*.tar")
        assert f"Wrote {site.archive}" in backup.out
        yield site
    finally:
        site.sql(f'DROP DATABASE IF EXISTS "{site.database}" WITH (FORCE)', "postgres")


def test_the_demo_comes_back_whole_after_a_wipe(site: Site) -> None:
    assert site.archive is not None
    before = site.fingerprint()
    manifest = manifest_of(site.archive)
    # The demo as archived: its reports' documents and its deliverables among the files, each
    # table's rows counted, each file's checksum the one on disk.
    assert {name.split("/")[0] for name in before["files"]} >= {"reports", "deliverables"}
    assert sum(rows for rows, _ in before["tables"].values()) > 5_000
    assert manifest["tables"] == {name: rows for name, (rows, _) in before["tables"].items()}
    assert {entry["path"]: entry["sha256"] for entry in manifest["files"]} == {
        f"media/{name}": digest for name, digest in before["files"].items()
    }
    assert manifest["missing_files"] == []
    assert manifest["migrations"]["consortium"] and "+00:00" in manifest["created_at"]
    assert site.archive.stat().st_mode & 0o777 == 0o600

    site.wipe()
    assert site.fingerprint() == {"tables": {}, "sequences": {}, "files": {}}
    [restored] = site.run(["restore", str(site.archive)])

    assert not restored.error, restored.error
    assert f"{len(before['files'])} media files" in restored.out
    assert site.fingerprint() == before


def test_a_damaged_archive_or_a_database_with_data_is_refused_and_nothing_changes(
    site: Site,
) -> None:
    assert site.archive is not None
    damaged, truncated = site.folder / "damaged.tar", site.folder / "truncated.tar"
    shutil.copyfile(site.archive, damaged)
    with tarfile.open(damaged) as tar:
        report = next(m for m in tar.getmembers() if m.name.startswith("media/reports/"))
    with damaged.open("r+b") as file:
        file.seek(report.offset_data + report.size // 2)
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 0xFF]))
    truncated.write_bytes(site.archive.read_bytes()[: site.archive.stat().st_size // 2])
    before = site.fingerprint()

    checked, refused, cut, onto_data = site.run(
        ["restore", str(damaged), "--check"],
        ["restore", str(damaged), "--replace"],
        ["restore", str(truncated), "--replace"],
        ["restore", str(site.archive)],
    )

    assert f"{report.name}: its SHA-256 differs" in checked.error
    assert f"{report.name}: its SHA-256 differs" in refused.error
    assert "Nothing was changed." in refused.error
    assert "truncated or damaged" in cut.error and "Nothing was changed." in cut.error
    assert "only with --replace" in onto_data.error
    assert "Nothing was changed." in onto_data.error
    assert site.fingerprint() == before


def test_replace_puts_a_damaged_site_back_as_archived(site: Site) -> None:
    """A file lost, an extra table, an extra file and changed rows: the next backup names the
    lost file; the archive, restored with --replace, puts back exactly what it holds."""
    assert site.archive is not None
    before = site.fingerprint()
    lost = next(name for name in before["files"] if name.startswith("reports/"))
    (site.media / lost).unlink()
    (site.media / "stray.txt").write_text("not in the archive")
    site.sql("CREATE TABLE later_version (id integer)")
    site.sql(
        "DELETE FROM workpackages_jobrecord WHERE id IN (SELECT id FROM workpackages_jobrecord LIMIT 5)"
    )
    (site.folder / "tonight").mkdir()

    tonight, replaced = site.run(
        ["backup", str(site.folder / "tonight")],
        ["restore", str(site.archive), "--replace"],
    )

    assert lost in tonight.error and "not in the media storage" in tonight.error
    [incomplete] = (site.folder / "tonight").glob("*.tar")
    assert manifest_of(incomplete)["missing_files"] == [lost]
    assert not replaced.error, replaced.error
    assert "removed 1 files the archive does not hold" in replaced.out
    assert site.fingerprint() == before


def test_other_databases_are_refused(tmp_path: Path) -> None:
    site = Site(database="", media=tmp_path / "media", folder=tmp_path)
    backup, restore = site.run(
        ["backup", str(tmp_path)],
        ["restore", str(tmp_path / "any.tar")],
        url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    for result in (backup, restore):
        assert "need PostgreSQL; the database is sqlite" in result.error
    assert list(tmp_path.glob("*.tar")) == []
