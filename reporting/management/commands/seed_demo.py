"""`manage.py seed_demo`: build the PIT-ATMP demo partnership once, with its demo logins."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from consortium.models import Consortium
from reporting.demo import build_reporting_demo
from reporting.management.translated import TranslatedHelpCommand
from workpackages.demo.build import (
    DemoSummary,
    build_demo,
    coordinator_user,
    demo_exists,
    partner_name,
)
from workpackages.demo.data import ACRONYM, DEMO_PASSWORD, PARTNER_CONTACT_AT, PARTNER_FINANCE_AT


class Command(TranslatedHelpCommand):
    # Rendered in the active language by `TranslatedHelpCommand`; the stubs type it as a str.
    help = cast(
        str,
        gettext_lazy(
            "Create the PIT-ATMP demo partnership (partners, work plan, budget, expenses, jobs, "
            "reports and demo logins). Does nothing if it already exists."
        ),
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Run even with DEBUG off (the demo logins have a known password)."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Demo logins with a published password must never appear on a real server by accident.
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                _(
                    "seed_demo creates logins whose password is public, so it only runs with "
                    "DEBUG on. Use --force to run it anyway."
                )
            )
        if demo_exists():
            self.stdout.write(
                _("The demo partnership %(acronym)s is already there: nothing to do.")
                % {"acronym": ACRONYM}
            )
            return
        with transaction.atomic():
            summary = build_demo()
            consortium = Consortium.objects.get(acronym=ACRONYM)
            reports = build_reporting_demo(consortium, coordinator_user())
        self.report(summary)
        drafts = [str(report) for report in reports if report.released_at is None]
        sent = [str(report) for report in reports if report.released_at is not None]
        self.stdout.write(
            _("  Reports: %(reports)s in the archive, waiting for a coordinator to send them")
            % {"reports": ", ".join(drafts)}
        )
        if sent:
            self.stdout.write(
                _("  Sent by the coordinator: %(reports)s (its emails leave with the worker)")
                % {"reports": ", ".join(sent)}
            )

    def report(self, summary: DemoSummary) -> None:
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                _("Created the demo partnership %(acronym)s.") % {"acronym": summary.acronym}
            )
        )
        write(
            _(
                "  %(partners)s partners, %(workpackages)s workpackages, "
                "%(deliverables)s deliverables (%(overdue)s overdue), %(milestones)s milestones"
            )
            % {
                "partners": summary.partners,
                "workpackages": summary.workpackages,
                "deliverables": summary.deliverables,
                "overdue": summary.overdue_deliverables,
                "milestones": summary.milestones,
            }
        )
        write(
            _("  Budget: EUR %(planned)s planned, EUR %(granted)s granted (%(share)s %%)")
            % {
                "planned": money(summary.planned_total),
                "granted": money(summary.granted_total),
                "share": summary.granted_share,
            }
        )
        write(
            _(
                "  Expenses: %(count)s, EUR %(accepted)s accepted; "
                "%(overspent)s budget line(s) overspent"
            )
            % {
                "count": summary.expenses,
                "accepted": money(summary.accepted_total),
                "overspent": summary.overspent_lines,
            }
        )
        jobs = summary.jobs
        write(
            _(
                "  Jobs: direct %(direct_realised)s realised + %(direct_forecast)s forecast, "
                "indirect %(indirect_realised)s realised + %(indirect_forecast)s forecast"
            )
            % {
                "direct_realised": jobs.get("direct_realised", 0),
                "direct_forecast": jobs.get("direct_forecast", 0),
                "indirect_realised": jobs.get("indirect_realised", 0),
                "indirect_forecast": jobs.get("indirect_forecast", 0),
            }
        )
        write(
            _("Demo logins (password “%(password)s”): %(logins)s")
            % {
                "password": DEMO_PASSWORD,
                "logins": ", ".join(
                    [
                        _("coordinator (coordinator)"),
                        _("observer (funder, read-only)"),
                        _("partner1 (finance officer, %(partner)s)")
                        % {"partner": partner_name(PARTNER_FINANCE_AT)},
                        _("partner2 (partner contact, %(partner)s)")
                        % {"partner": partner_name(PARTNER_CONTACT_AT)},
                    ]
                ),
            }
        )


def money(amount: Decimal) -> str:
    """An amount with the active language's separators (81,000,000.00 or 81 000 000,00)."""
    return number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
