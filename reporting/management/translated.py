"""Commands whose `--help` is translated."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class TranslatedHelpCommand(BaseCommand):
    """A command whose `help` is a lazy translation: argparse formats its description with
    regular expressions, so it gets the text in the active language as a plain string."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)
