"""Backups: the database and the media files in one archive, and putting them back.

An archive is one uncompressed tar file (the dump and most media files are compressed already):

- `database.dump`: the database, `pg_dump --format=custom`;
- `media/<name>`: every file of the media storage, read through Django's storage API, so that
  media on a disk and media in an S3-compatible bucket are backed up the same way;
- `manifest.json`, last: the format version, when the backup was taken, the latest migration
  applied to each app, the rows of every table, and the size and SHA-256 of the dump and of every
  file.

Why the dump comes first. Files are written under names of their own and never overwritten; the
only files ever deleted are a regenerated report's former documents, once the new ones are
committed (`reporting/services.py`). So a file the database names can go missing only between
the dump and the copy of the media, when a report is regenerated meanwhile; copying the media
first would instead miss every file uploaded between the copy and the dump. The dump is taken in
a snapshot exported by a transaction of this process (`pg_dump --snapshot`), and the row counts
and the name of every file a row points to are read in that same snapshot: the backup then checks
that every file the dump names is in the archive. A file superseded during the backup makes it
start again; a file the database still names but the storage lacks is lost already, and the
archive is kept with that file listed in its manifest, and the backup fails naming it.

A restore checks every checksum before it changes anything, refuses to overwrite a database or
media that hold anything unless told to replace them, restores the database in one transaction,
then writes the media files (and, when replacing, removes those the archive does not hold).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import secrets
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import DatabaseError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

FORMAT = "consortium-manager-backup"
VERSION = 1
DUMP = "database.dump"
MANIFEST = "manifest.json"
MEDIA = "media/"
# How many times a backup starts again when a report regenerated meanwhile deleted a file its dump
# names. Each attempt takes a new snapshot, which names the new files.
ATTEMPTS = 3
CHUNK = 1024 * 1024
# Files up to this size are copied in memory on their way into the archive; larger ones go
# through a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024
# The connection settings libpq reads from the environment, so that no password is ever on a
# command line (where `ps` shows it to every user of the machine).
PG_ENVIRONMENT = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD"}
PG_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}


class BackupError(Exception):
    """A backup or restore that cannot go on; its message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    """A file of the archive, as the manifest lists it."""

    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    """What an archive holds, read from its `manifest.json`."""

    created_at: str
    migrations: dict[str, str]
    tables: dict[str, int]
    dump: Entry
    files: list[Entry]
    missing_files: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError("This is not a Consortium Manager backup (its manifest is not ours).")
        if data.get("version") != VERSION:
            raise BackupError(
                f"The archive's format is version {data.get('version')}; this version of "
                f"Consortium Manager reads version {VERSION}."
            )
        try:
            return cls(
                created_at=str(data["created_at"]),
                migrations={str(app): str(name) for app, name in data["migrations"].items()},
                tables={str(table): int(rows) for table, rows in data["tables"].items()},
                dump=Entry(**data["database"]),
                files=[Entry(**entry) for entry in data["files"]],
                missing_files=[str(name) for name in data.get("missing_files", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BackupError(
                f"The archive's manifest is incomplete or damaged ({error})."
            ) from error

    def as_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "migrations": self.migrations,
            "tables": self.tables,
            "database": self.dump.__dict__,
            "files": [entry.__dict__ for entry in self.files],
            "missing_files": self.missing_files,
        }
        return json.dumps(data, indent=2, ensure_ascii=False).encode() + b"\n"

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def media_bytes(self) -> int:
        return sum(entry.size for entry in self.files)


@dataclass
class BackupSummary:
    """What `backup_create` wrote."""

    path: Path
    manifest: Manifest
    size: int
    seconds: float
    attempts: int


@dataclass
class RestoreSummary:
    """What `backup_restore` put back."""

    manifest: Manifest
    removed_files: list[str]
    pending_migrations: int
    seconds: float


# Creating a backup ----------------------------------------------------------------------------


def backup_create(
    *, destination: Path, storage: Storage | None = None, attempts: int = ATTEMPTS
) -> BackupSummary:
    """Write an archive of the database and the media files at `destination`: a file name, or a
    folder that gets `consortium-manager-<UTC time>.tar`. The archive appears under its name
    only once complete (written under a temporary name, then renamed)."""
    connection = _postgresql()
    storage = storage or default_storage
    started = time.monotonic()
    path = _archive_path(destination)
    for attempt in range(1, attempts + 1):
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        try:
            manifest = _write_archive(partial, connection, storage)
            missing = set(manifest.missing_files)
            if missing - set(_named_files()) and attempt < attempts:
                continue  # Regenerated reports deleted files of this dump: take a new one.
            _fsync(partial)
            try:
                # A link, not a rename: it fails rather than replace an archive made meanwhile.
                os.link(partial, path)
            except FileExistsError:
                raise BackupError(
                    f"{path} exists already: a backup never overwrites a file."
                ) from None
            _fsync(path.parent)
        finally:
            partial.unlink(missing_ok=True)
        summary = BackupSummary(
            path=path,
            manifest=manifest,
            size=path.stat().st_size,
            seconds=time.monotonic() - started,
            attempts=attempt,
        )
        if missing:
            raise IncompleteBackupError(summary, missing)
        return summary
    raise AssertionError("unreachable: the last attempt returns or raises")


class IncompleteBackupError(BackupError):
    """The archive was written, but files the database names were not in the media storage."""

    def __init__(self, summary: BackupSummary, missing: set[str]) -> None:
        self.summary = summary
        names = "\n".join(f"  {name}" for name in sorted(missing))
        super().__init__(
            f"{summary.path} was written, but {len(missing)} file(s) the database names are "
            f"not in the media storage, so the archive lacks them (its manifest lists them):\n"
            f"{names}\nFind them (an earlier backup, the storage's own versions) and put them back."
        )


def _archive_path(destination: Path) -> Path:
    if destination.is_dir():
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        path = destination / f"consortium-manager-{stamp}.tar"
    else:
        path = destination
        if not path.parent.is_dir():
            raise BackupError(f"The folder {path.parent} does not exist.")
    if path.exists():
        raise BackupError(f"{path} exists already: a backup never overwrites a file.")
    return path


def _write_archive(path: Path, connection: BaseDatabaseWrapper, storage: Storage) -> Manifest:
    """One attempt: the dump and what its snapshot says, then the media files, then the
    manifest, which lists the files the dump names that the storage did not have."""
    # Created readable by its owner alone: it holds every record and every password hash.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with (
        tempfile.TemporaryDirectory(prefix="consortium-backup-") as work,
        os.fdopen(descriptor, "wb") as raw,
    ):
        dump_path = Path(work) / DUMP
        created_at = timezone.now().isoformat()
        with _snapshot(connection) as snapshot:
            _run(
                ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump_path}"],
                connection,
            )
            tables = _row_counts(connection)
            migrations = _latest_migrations(connection)
            named = set(_named_files())
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            with dump_path.open("rb") as dump:
                entry = _add(tar, DUMP, dump, Path(work))
            dump_path.unlink()
            dump_entry = Entry(path=DUMP, size=entry.size, sha256=entry.sha256)
            files = []
            for name in media_names(storage):
                try:
                    source = storage.open(name, "rb")
                except FileNotFoundError:
                    continue  # Deleted since it was listed: if the dump names it, it is missing.
                with source:
                    files.append(_add(tar, MEDIA + name, source, Path(work)))
            copied = {entry.path.removeprefix(MEDIA) for entry in files}
            manifest = Manifest(
                created_at=created_at,
                migrations=migrations,
                tables=tables,
                dump=dump_entry,
                files=files,
                missing_files=sorted(named - copied),
            )
            _add_bytes(tar, MANIFEST, manifest.as_json())
    return manifest


@contextlib.contextmanager
def _snapshot(connection: BaseDatabaseWrapper) -> Iterator[str]:
    """A read-only transaction whose snapshot `pg_dump --snapshot` shares, so that what the
    manifest says of the rows is what the dump holds."""
    if connection.in_atomic_block:
        raise BackupError("A backup takes a snapshot of its own: run it outside a transaction.")
    with transaction.atomic(using=connection.alias, durable=True), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        yield cursor.fetchone()[0]


def _add(tar: tarfile.TarFile, name: str, source: IO[bytes], work: Path) -> Entry:
    """Copy a stream into the archive, hashing it on the way. The tar header needs the size
    first, so the bytes are spooled before they are added."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, dir=str(work)) as spool:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            spool.write(chunk)
        size = spool.tell()
        spool.seek(0)
        tar.addfile(_member(name, size), spool)
    return Entry(path=name, size=size, sha256=digest.hexdigest())


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    with tempfile.SpooledTemporaryFile() as spool:
        spool.write(content)
        spool.seek(0)
        tar.addfile(_member(name, len(content)), spool)


def _member(name: str, size: int) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size = size
    member.mode = 0o600
    member.mtime = int(time.time())
    return member


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# What the database holds ----------------------------------------------------------------------


def _postgresql() -> BaseDatabaseWrapper:
    connection = connections["default"]
    if connection.vendor != "postgresql":
        raise BackupError(
            f"Backups and restores need PostgreSQL; the database is {connection.vendor} "
            f"({settings.DATABASES['default']['ENGINE']}). Production runs on PostgreSQL."
        )
    return connection


def _row_counts(connection: BaseDatabaseWrapper) -> dict[str, int]:
    """The rows of every table of the database's schema, by table name."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        )
        names = [row[0] for row in cursor.fetchall()]
        counts = {}
        for name in names:
            cursor.execute(f"SELECT count(*) FROM {quote(name)}")  # noqa: S608  (a quoted table name)
            counts[name] = int(cursor.fetchone()[0])
    return counts


def _latest_migrations(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """The migration applied last to each app."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY applied, id")
        return dict(cursor.fetchall())


def _named_files() -> Iterator[str]:
    """The name of every file a row points to, in every model with a file field."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, models.FileField):
                column = model_field.attname
                yield from (
                    model._base_manager.exclude(**{f"{column}__isnull": True})
                    .exclude(**{column: ""})
                    .values_list(column, flat=True)
                    .iterator()
                )


def media_names(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file of the storage, through its own API (a disk or a bucket alike), in order."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return  # No media folder yet: nothing was ever uploaded.
    for name in sorted(files):
        yield posixpath.join(folder, name) if folder else name
    for name in sorted(folders):
        yield from media_names(storage, posixpath.join(folder, name) if folder else name)


def _environment(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """libpq's environment for pg_dump, pg_restore and psql: the settings' database."""
    database = connection.settings_dict
    environment = {**os.environ, "PGDATABASE": str(database["NAME"])}
    for key, variable in PG_ENVIRONMENT.items():
        if database.get(key):
            environment[variable] = str(database[key])
    for option, variable in PG_OPTIONS.items():
        if database.get("OPTIONS", {}).get(option):
            environment[variable] = str(database["OPTIONS"][option])
    # The restore's `DROP … IF EXISTS` notices are noise.
    environment["PGOPTIONS"] = "-c client_min_messages=warning"
    return environment


def _run(command: list[str], connection: BaseDatabaseWrapper) -> None:
    try:
        done = subprocess.run(  # noqa: S603  (a fixed program; the arguments are ours)
            command,
            env=_environment(connection),
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as error:
        raise BackupError(
            f"{command[0]} is not installed: install PostgreSQL's client programs, of the "
            "server's major version or newer."
        ) from error
    if done.returncode:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()}")


# Checking and restoring an archive ------------------------------------------------------------


def backup_check(*, archive: Path) -> Manifest:
    """Read an archive's manifest and check every member against it (name, size, SHA-256);
    change nothing. Raises `BackupError` naming every difference."""
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = {}
            for member in tar.getmembers():
                members[member.name] = member  # The last of a name wins, as when extracting.
            if MANIFEST not in members:
                raise BackupError(
                    f"{archive} holds no {MANIFEST}: it is truncated or damaged, or not a backup."
                )
            manifest = Manifest.parse(json.loads(_read(tar, members[MANIFEST])))
            expected = {entry.path: entry for entry in [manifest.dump, *manifest.files]}
            problems = [
                f"  {name}: in the archive, not in its manifest"
                for name in sorted(members.keys() - expected.keys() - {MANIFEST})
            ]
            for name, entry in sorted(expected.items()):
                problems += _check_member(tar, members.get(name), entry)
    except FileNotFoundError as error:
        raise BackupError(f"{archive} does not exist.") from error
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError) as error:
        raise BackupError(
            f"{archive} cannot be read as a backup (truncated or damaged?): {error}"
        ) from error
    if problems:
        raise BackupError(f"{archive} does not match its manifest:\n" + "\n".join(problems))
    return manifest


def _check_member(tar: tarfile.TarFile, member: tarfile.TarInfo | None, entry: Entry) -> list[str]:
    if member is None:
        return [f"  {entry.path}: in the manifest, not in the archive"]
    if not member.isfile() or not _safe(entry.path):
        return [f"  {entry.path}: not a plain file with a relative name"]
    if member.size != entry.size:
        return [f"  {entry.path}: {member.size} bytes, the manifest says {entry.size}"]
    source = _open(tar, member)
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
    if digest.hexdigest() != entry.sha256:
        return [f"  {entry.path}: its SHA-256 differs from the manifest's (the file is damaged)"]
    return []


def _safe(path: str) -> bool:
    """A relative name with no `..`: nothing outside the media storage is ever written."""
    parts = path.split("/")
    return not path.startswith("/") and "" not in parts and ".." not in parts and "." not in parts


def _open(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    source = tar.extractfile(member)
    if source is None:
        raise BackupError(f"{member.name} is not a plain file.")
    return source


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    return _open(tar, member).read()


def backup_restore(
    *, archive: Path, replace: bool = False, storage: Storage | None = None
) -> RestoreSummary:
    """Put an archive's database and media files back, after checking every checksum.

    Without `replace`, refuses unless the database has no table and the media storage no file.
    With it, the database is replaced in one transaction (tables the archive does not have are
    dropped too), then the media files are written and those the archive lacks are removed."""
    connection = _postgresql()
    storage = storage or default_storage
    started = time.monotonic()
    try:
        manifest = backup_check(archive=archive)
    except BackupError as error:
        raise BackupError(f"{error}\nNothing was changed.") from error
    _check_migrations_known(manifest, connection)
    if connection.in_atomic_block:
        raise BackupError("A restore runs its own transaction: run it outside a transaction.")
    try:
        tables = _row_counts(connection)
    except DatabaseError as error:
        raise BackupError(
            f"The database {connection.settings_dict['NAME']} does not answer ({error}). "
            "Create it first (createdb), empty."
        ) from error
    present = list(media_names(storage))
    if not replace and (tables or present):
        raise BackupError(
            f"The database {connection.settings_dict['NAME']} holds {len(tables)} table(s) "
            f"with {sum(tables.values())} row(s) and the media storage {len(present)} file(s): "
            "a restore replaces them only with --replace. Nothing was changed."
        )
    _check_alone(connection)
    with tempfile.TemporaryDirectory(prefix="consortium-restore-") as work:
        script = Path(work) / "restore.sql"
        with tarfile.open(archive, mode="r:") as tar:
            dump = Path(work) / DUMP
            _extract(tar, manifest.dump, dump)
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={script}",
                    str(dump),
                ],
                connection,
            )
            dump.unlink()
            connection.close()
            _apply(script, sorted(tables.keys() - manifest.tables.keys()), connection)
            _check_rows(manifest, connection)
            try:
                for entry in manifest.files:
                    _restore_file(tar, entry, storage)
            except (OSError, BackupError) as error:
                raise BackupError(
                    f"The database is restored, but the media files are not all back ({error}). "
                    "Run the restore again with --replace."
                ) from error
    wanted = {entry.path.removeprefix(MEDIA) for entry in manifest.files}
    removed = [name for name in present if name not in wanted]
    for name in removed:
        storage.delete(name)
    return RestoreSummary(
        manifest=manifest,
        removed_files=removed,
        pending_migrations=_pending_migrations(connection),
        seconds=time.monotonic() - started,
    )


def _check_migrations_known(manifest: Manifest, connection: BaseDatabaseWrapper) -> None:
    """An archive from a newer version of the code would be restored under tables this code
    does not know: refused before anything changes."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    for migration in loader.disk_migrations.values():
        known.update(migration.replaces)
    unknown = sorted(
        f"{app}.{name}" for app, name in manifest.migrations.items() if (app, name) not in known
    )
    if unknown:
        raise BackupError(
            "The archive comes from another version of Consortium Manager: this code does not "
            f"know its migrations {', '.join(unknown)}. Deploy the version that made it (or a "
            "later one) and restore again. Nothing was changed."
        )


def _check_alone(connection: BaseDatabaseWrapper) -> None:
    """A restore under running web processes or workers would mix their writes with the
    archive's rows: it waits until they are stopped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(nullif(application_name, ''), 'a client'), "
            "coalesce(host(client_addr), 'local') FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' ORDER BY 1, 2"
        )
        others = cursor.fetchall()
    if others:
        sessions = ", ".join(f"{name} ({address})" for name, address in others)
        raise BackupError(
            f"{len(others)} other session(s) are connected to the database: {sessions}. Stop "
            "the web processes, the workers and beat before a restore. Nothing was changed."
        )


def _extract(tar: tarfile.TarFile, entry: Entry, target: Path) -> None:
    source = _open(tar, tar.getmember(entry.path))
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != entry.sha256:
        raise BackupError(f"{entry.path} changed since it was checked. Nothing was changed.")


def _apply(script: Path, extra_tables: list[str], connection: BaseDatabaseWrapper) -> None:
    """Run pg_restore's script in one transaction with psql: all of it, or none of it. Tables of
    the database that the archive lacks (a later version's) are dropped in the same
    transaction, so that the next `migrate` finds the schema the archive's migrations say."""
    command = [
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--single-transaction",
        "--set=ON_ERROR_STOP=1",
        "--output=/dev/null",
    ]
    if extra_tables:
        quote = connection.ops.quote_name
        tables = ", ".join(quote(name) for name in extra_tables)
        command.append(f"--command=DROP TABLE IF EXISTS {tables} CASCADE")
    _run([*command, f"--file={script}"], connection)


def _check_rows(manifest: Manifest, connection: BaseDatabaseWrapper) -> None:
    restored = _row_counts(connection)
    differences = [
        f"  {table}: {restored.get(table)} rows, the manifest says {rows}"
        for table, rows in sorted(manifest.tables.items())
        if restored.get(table) != rows
    ]
    if differences:
        raise BackupError(
            "The restored database does not hold the rows the manifest counts:\n"
            + "\n".join(differences)
        )


def _restore_file(tar: tarfile.TarFile, entry: Entry, storage: Storage) -> None:
    name = entry.path.removeprefix(MEDIA)
    source = _open(tar, tar.getmember(entry.path))
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, File(source, name=posixpath.basename(name)))
    if saved != name:
        raise BackupError(f"the storage saved {name} as {saved}")


def _pending_migrations(connection: BaseDatabaseWrapper) -> int:
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
