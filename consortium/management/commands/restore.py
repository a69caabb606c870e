"""`manage.py restore ARCHIVE [--replace] [--check]`: put back the database and the media files
of an archive `manage.py backup` wrote, after checking every checksum of its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consortium.backups import BackupError, Manifest, backup_check, backup_restore


class Command(BaseCommand):
    help = (
        "Restore the database and the media files from an archive of `backup`. Every checksum "
        "is checked first: a damaged archive changes nothing. Stop the web processes, the "
        "workers and beat first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", metavar="ARCHIVE", help="The archive to restore.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help=(
                "Replace a database that holds tables and media that hold files: the database "
                "becomes the archive's, and media files the archive lacks are removed."
            ),
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only check the archive against its manifest; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        archive = Path(options["archive"])
        try:
            if options["check"]:
                self.checked(archive, backup_check(archive=archive))
                return
            summary = backup_restore(archive=archive, replace=options["replace"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        manifest = summary.manifest
        self.checked(archive, manifest)
        self.stdout.write(
            f"Restored the database: {len(manifest.tables)} tables, {manifest.rows:,} rows, "
            "as the manifest counts them."
        )
        self.stdout.write(
            f"Restored {len(manifest.files):,} media files ({manifest.media_bytes:,} bytes)"
            + (
                f"; removed {len(summary.removed_files):,} files the archive does not hold."
                if summary.removed_files
                else "."
            )
        )
        if manifest.missing_files:
            self.stderr.write(
                f"The archive lacked {len(manifest.missing_files)} file(s) its database names "
                "(they were missing when it was made):\n"
                + "\n".join(f"  {name}" for name in manifest.missing_files)
            )
        if summary.pending_migrations:
            self.stdout.write(
                f"{summary.pending_migrations} migration(s) of this version are not applied "
                "to the restored database: run `manage.py migrate` (or bin/release) before "
                "starting the application."
            )
        self.stdout.write(self.style.SUCCESS(f"Done in {summary.seconds:.1f} s."))

    def checked(self, archive: Path, manifest: Manifest) -> None:
        self.stdout.write(
            f"{archive}: made {manifest.created_at}; the dump and {len(manifest.files):,} "
            "media files match their checksums."
        )
