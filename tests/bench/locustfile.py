"""The load of `python -m tests.bench.load`: the mix of people its docstring describes, reading what
`tests.bench.load.READS` lists, each signed in once when it starts.

Started by `tests.bench.load`, which passes the ids, tokens and second factor it set up in the file
LOAD_SETUP names, and collects every request's duration and error from the file LOAD_SAMPLES names
(written when locust quits).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from typing import Any

from locust import HttpUser, TaskSet, between, events
from locust.exception import StopUser

from tests.bench.load import ADMIN, API, PARTNER, PEOPLE, READS, Read, Sample, Setup
from tests.drills.client import DEMO_PASSWORD, VERIFY, Browser, SecondFactor

SETUP = Setup.load(os.environ["LOAD_SETUP"])
# Every sign-in of the coordinator, whichever simulated coordinator signs in.
COORDINATOR_FACTOR = SecondFactor(
    key=SETUP.second_factor_key,
    recovery_codes=list(SETUP.recovery_codes),
    _last_step=SETUP.totp_step_used,
)
# The integrations take the tokens in turn.
TOKENS = itertools.cycle(SETUP.tokens)
SAMPLES: list[Sample] = []


@events.request.add_listener
def record(
    name: str,
    start_time: float,
    response_time: float,
    exception: BaseException | None = None,
    **kwargs: Any,
) -> None:
    SAMPLES.append(Sample(name, start_time, response_time, str(exception) if exception else ""))


@events.quitting.add_listener
def save(**kwargs: Any) -> None:
    with open(os.environ["LOAD_SAMPLES"], "w") as file:
        json.dump(SAMPLES, file)


def reader(read: Read) -> Callable[[Any], None]:
    """A task that reads `read` and wants a 200: a redirect means the session was lost."""

    def task(user: Any) -> None:
        path = SETUP.path(read)
        with user.client.get(
            path, name=read.name, allow_redirects=False, catch_response=True
        ) as answer:
            if answer.status_code == 200:
                answer.success()
            else:
                answer.failure(f"{answer.status_code} {answer.headers.get('Location', '')}")

    task.__name__ = read.name
    return task


def tasks_of(role: str) -> list[TaskSet | Callable[..., Any]]:
    """The role's reads, each as many times as its weight (locust picks one at random)."""
    return [task for read in READS if read.role == role for task in [reader(read)] * read.weight]


class SignedIn(HttpUser):
    """A person on the site: signs in once, with the sign-in page's CSRF token, then with the
    second factor production asks of staff when `second_factor` is set."""

    abstract = True
    wait_time = between(1, 3)
    username = ""
    second_factor = False

    def on_start(self) -> None:
        self.form(
            "/accounts/login/", "sign-in", {"username": self.username, "password": DEMO_PASSWORD}
        )
        if self.second_factor:
            self.form(
                f"{VERIFY}?next=/admin/", "second factor", {"code": COORDINATOR_FACTOR.code()}
            )

    def form(self, path: str, name: str, data: dict[str, str]) -> None:
        """Fill in the form at `path` as a browser does, its page first; the form wants a
        redirect (a 200 is the form again, with its error), or this person stops."""
        with self.client.get(path, name=f"{name} page", catch_response=True) as page:
            if page.status_code != 200:
                page.failure(f"{page.status_code} {page.headers.get('Location', '')}")
                raise StopUser()
            page.success()
            token = Browser.csrf(page.text)
        with self.client.post(
            path,
            data={**data, "csrfmiddlewaretoken": token},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"{answer.status_code}, not signed in")
                raise StopUser()
            answer.success()


class Partner(SignedIn):
    """A partner's finance officer: their dashboard, their expenses and jobs, an expense."""

    weight = PEOPLE[PARTNER]
    username = PARTNER
    tasks = tasks_of(PARTNER)


class Coordinator(SignedIn):
    """A coordinator in the admin: the dashboard, the expenses, jobs and partners to review."""

    weight = PEOPLE[ADMIN]
    username = ADMIN
    second_factor = True
    tasks = tasks_of(ADMIN)


class Integration(HttpUser):
    """A partner's ERP or the funder's dashboard reading the API with its token."""

    weight = PEOPLE[API]
    wait_time = between(1, 3)
    tasks = tasks_of(API)

    def on_start(self) -> None:
        self.client.headers.update(
            {"Authorization": f"Token {next(TOKENS)}", "Accept": "application/json"}
        )
