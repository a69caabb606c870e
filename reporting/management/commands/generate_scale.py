"""`manage.py generate_scale --scale N [--big] [--million] [--coordinator-of-all] [--seed S]`:
synthetic data modelled on the seeded demo, for benchmarks (see `workpackages/demo/scale.py`)."""

from __future__ import annotations

import argparse
from typing import Any, cast

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from reporting.management.translated import TranslatedHelpCommand
from workpackages.demo.data import ACRONYM, DEMO_SEED
from workpackages.demo.scale import (
    MILLION_CONSORTIA,
    MILLION_ROWS,
    ScaleRefused,
    Summary,
    generate_scale,
)


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            _("%(value)s is not a whole number.") % {"value": value}
        ) from error
    if number < 1:
        raise argparse.ArgumentTypeError(_("%(value)s is less than 1.") % {"value": value})
    return number


class Command(TranslatedHelpCommand):
    # Rendered in the active language by `TranslatedHelpCommand`; the stubs type it as a str.
    help = cast(
        str,
        gettext_lazy(
            "Add synthetic data modelled on the seeded demo partnership, for benchmarks: more "
            "consortia like it (--scale N: N in all), the demo itself N times larger (--big), "
            "and large consortia no demo login sees, with a million expenses and a million "
            "jobs (--million). The same options on the same database give the same rows."
        ),
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            type=positive,
            default=1,
            metavar="N",
            help=_("Consortia like the demo in all, the demo included (default 1: none added)."),
        )
        parser.add_argument(
            "--big",
            action="store_true",
            help=_(
                "Grow the demo itself N times in what a programme accumulates: expenses, jobs "
                "and effort, over its own partners, workpackages and periods; its plan stays."
            ),
        )
        parser.add_argument(
            "--million",
            action="store_true",
            help=_(
                "Add large consortia, seen by no demo login, holding a million expense lines "
                "and a million job records."
            ),
        )
        parser.add_argument(
            "--coordinator-of-all",
            action="store_true",
            help=_("Make the demo's coordinator a coordinator of every consortium --scale adds."),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEMO_SEED,
            help=_("Seed of the random choices (default %(default)s)."),
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Run even with DEBUG off (the logins it creates have a known password)."),
        )
        # The million stage scaled down, for the tests.
        parser.add_argument(
            "--million-rows", type=positive, default=MILLION_ROWS, help=argparse.SUPPRESS
        )
        parser.add_argument(
            "--million-consortia", type=positive, default=MILLION_CONSORTIA, help=argparse.SUPPRESS
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # As for seed_demo: logins with a published password never reach a real server by accident.
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                _(
                    "generate_scale creates logins whose password is public, so it only runs "
                    "with DEBUG on. Use --force to run it anyway."
                )
            )
        try:
            summary = generate_scale(
                scale=options["scale"],
                big=options["big"],
                million=options["million"],
                coordinator_of_all=options["coordinator_of_all"],
                seed=options["seed"],
                million_rows=options["million_rows"],
                million_consortia=options["million_consortia"],
            )
        except ScaleRefused as error:
            raise CommandError(str(error)) from error
        self.report(summary)

    def report(self, summary: Summary) -> None:
        write = self.stdout.write
        if summary.skipped:
            write(
                _("Already there, left as they are: %(consortia)s")
                % {"consortia": ", ".join(summary.skipped)}
            )
        if not summary.created:
            write(_("Nothing to add to %(acronym)s.") % {"acronym": ACRONYM})
            return
        write(
            self.style.SUCCESS(
                _("Generated %(rows)s rows in %(seconds).1f s.")
                % {"rows": f"{sum(summary.created.values()):,}", "seconds": summary.seconds}
            )
        )
        for stage, seconds in summary.stages:
            write(f"  {stage}: {seconds:.1f} s")
        write(_("Rows created per table (history rows aside):"))
        width = max(len(table) for table in summary.created)
        for table, rows in summary.created.items():
            write(f"  {table:<{width}} {rows:>12,}")
