"""`manage.py second_factor_reset USERNAME`: an operator removes a person's authenticator app and
recovery codes (a lost phone, the last superuser included), recorded like a reset from the admin.
The person signs in with their password and sets two-step sign-in up again."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from consortium.backends import account_for
from consortium.second_factor import second_factor_reset


class Command(BaseCommand):
    help = (
        "Reset a person's two-step sign-in (authenticator app and recovery codes) after a lost "
        "phone; they set it up again at their next sign-in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the person's username or email address")

    def handle(self, *args: Any, **options: Any) -> None:
        person = account_for(options["username"].strip())
        if person is None:
            raise CommandError(f"No account is called {options['username']!r}.")
        try:
            second_factor_reset(person=person, user=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            f"Two-step sign-in reset for {person.get_username()}: they set it up again at their "
            "next sign-in."
        )
