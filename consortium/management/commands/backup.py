"""`manage.py backup [PATH]`: the database and the media files in one archive, with a manifest of
checksums (`consortium/backups.py` says what it holds and why the dump comes first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from consortium.backups import BackupError, BackupSummary, IncompleteBackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write an archive of the database (pg_dump) and of every media file, with a manifest "
        "of their checksums. PATH is a file name, or a folder that gets "
        "consortium-manager-<UTC time>.tar (default: var/backups/)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", metavar="PATH", help="Where to write the archive.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        destination = Path(path) if path else settings.VAR_DIR / "backups"
        if not path or path.endswith("/"):
            # A folder: created when missing, the archive gets a name of its own in it.
            destination.mkdir(parents=True, exist_ok=True)
        try:
            summary = backup_create(destination=destination)
        except IncompleteBackupError as incomplete:
            self.report(incomplete.summary)
            raise CommandError(str(incomplete)) from incomplete
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.report(summary)

    def report(self, summary: BackupSummary) -> None:
        manifest = summary.manifest
        self.stdout.write(self.style.SUCCESS(f"Wrote {summary.path}"))
        self.stdout.write(
            f"  database: {len(manifest.tables)} tables, {manifest.rows:,} rows, "
            f"dump of {manifest.dump.size:,} bytes"
        )
        self.stdout.write(f"  media: {len(manifest.files):,} files, {manifest.media_bytes:,} bytes")
        again = f" (attempt {summary.attempts})" if summary.attempts > 1 else ""
        self.stdout.write(f"  archive: {summary.size:,} bytes in {summary.seconds:.1f} s{again}")
