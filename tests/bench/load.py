"""`python -m tests.bench.load [--keep]`: how fast the production topology answers a consortium's
everyday reads, alone and under load.

What it starts: the topology of the drills (tests/drills/topology.py) on this machine. That is
gunicorn from `bin/web` with LOAD_WEB_WORKERS processes (by default two per core, as
deploy/gunicorn.conf.py advises), a Celery worker and beat, a Redis and a PostgreSQL database of its
own, released by `bin/release` and seeded with `seed_demo`. It runs with the production settings,
over plain HTTP on loopback.

What it measures:

1. Each kind of request alone: after a warm-up (one request per web process), 10 sequential
   requests of each kind, and their median (`alone p50`). Partners' pages are read as partner1
   (signed in with a password), the admin as the coordinator (with a password and an
   authenticator code, as production requires of staff), and the API with the tokens of two
   integrations taken from the token endpoint (partner1's and the funder's, `observer`).
2. The same requests under load: locust, headless (tests/bench/locustfile.py), for LOAD_SECONDS
   (60) with LOAD_USERS (20) simulated people, LOAD_RATE (5) more each second until all have
   started. Five in ten are partners reading their pages, three are integrations reading the API
   and two are coordinators reading the admin. Each signs in once when it starts and pauses
   1–3 s between requests. The table is of the steady state, from the moment the last person has
   signed in: per kind, requests per second, p50/p95/p99 latency in ms, errors, and p95 under
   load divided by the median alone. The sign-ins, and the reads sent while people were still
   signing in (each sign-in hashes a password: a burst of them is the heaviest moment), have lines
   of their own.

A read succeeds with a 200 only, because a redirect would mean a session lost on the way to the
sign-in page. A sign-in step succeeds with its redirect. Every other answer, and every request
with no answer at all, is an error, and one error makes the run exit 1.

The last line is a summary for scripts, over the reads of the steady state (times in ms):
`load_rps=… load_p50_ms=… load_p95_ms=… load_p99_ms=… load_errors=… single_p50_ms=…`.
`load_errors` counts every failed request, sign-ins included; `single_p50_ms` is the median of
all the requests measured alone.

Production's settings are kept, with one exception: the API's hourly budget per person
(API_THROTTLE_USER, 2000 an hour). It is raised because two demo accounts stand here for a
consortium's many integrations. The throttle itself still runs on every API request (one Redis
round trip). Everything started is stopped by its process id, the database is dropped and the
working directory removed (`--keep` keeps both, for a look at the logs).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import psycopg
import requests

from tests.drills.client import DEMO_PASSWORD, Browser, enrol_second_factor
from tests.drills.topology import PG, ROOT, Process, Topology

USERS = int(os.environ.get("LOAD_USERS", "20"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
RATE = float(os.environ.get("LOAD_RATE", "5"))
WEB_WORKERS = int(os.environ.get("LOAD_WEB_WORKERS", str(2 * (os.cpu_count() or 1))))
ALONE = 10
# The integrations' budget while the load runs: two accounts for many integrations.
API_THROTTLE_USER = "1000000/hour"
# Who reads what, as locust names the kinds: partner1's pages, the API, the coordinator's admin.
PARTNER, API, ADMIN = "partner1", "api", "coordinator"
INTEGRATIONS = ("partner1", "observer")


@dataclass(frozen=True)
class Read:
    """One kind of request of the mix: who sends it, where, and how often against the others of
    the same people (locust's task weight)."""

    role: str
    path: str
    weight: int

    @property
    def name(self) -> str:
        return f"{'api' if self.role == API else 'page'} {self.path}"


READS = (
    Read(PARTNER, "/", 3),
    Read(PARTNER, "/expenses/", 3),
    Read(PARTNER, "/jobs/", 2),
    Read(PARTNER, "/expenses/{expense}/edit/", 2),
    Read(API, "/api/v1/expenses/", 3),
    Read(API, "/api/v1/jobs/", 2),
    Read(API, "/api/v1/deliverables/", 2),
    Read(API, "/api/v1/budget-lines/", 2),
    Read(API, "/api/v1/consortia/{consortium}/summary/", 1),
    Read(ADMIN, "/admin/", 3),
    Read(ADMIN, "/admin/workpackages/expense/", 2),
    Read(ADMIN, "/admin/workpackages/jobrecord/", 2),
    Read(ADMIN, "/admin/consortium/partner/", 1),
)
# Of ten people at once: partners, integrations, coordinators (locust's user weights).
PEOPLE = {PARTNER: 5, API: 3, ADMIN: 2}
# The sign-in requests, as locust names them.
SIGN_IN = ("sign-in page", "sign-in", "second factor page", "second factor")


@dataclass
class Setup:
    """What the locustfile reads from the file LOAD_SETUP names: the ids in the paths, the
    integrations' tokens, the coordinator's second factor (the key, the recovery codes kept for
    the load, and the time step whose code is used up already)."""

    expense: int
    consortium: int
    tokens: list[str]
    second_factor_key: str
    recovery_codes: list[str]
    totp_step_used: int

    def path(self, read: Read) -> str:
        return read.path.format(expense=self.expense, consortium=self.consortium)

    def save(self, file: Path) -> None:
        file.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, file: str | Path) -> Setup:
        return cls(**json.loads(Path(file).read_text()))


@dataclass
class Kind:
    """The answers to one kind of request: their durations in ms, and what went wrong."""

    durations: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float | None:
        return percentile(self.durations, share)


class Sample(NamedTuple):
    """One request locust sent: its kind, when it started (epoch seconds), how long it took (ms),
    and what went wrong ("" when nothing did)."""

    name: str
    started: float
    milliseconds: float
    error: str

    @property
    def ended(self) -> float:
        return self.started + self.milliseconds / 1000


def kinds_of(samples: list[Sample]) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for sample in samples:
        kind = kinds.setdefault(sample.name, Kind())
        if sample.error:
            kind.errors.append(sample.error)
        else:
            kind.durations.append(sample.milliseconds)
    return kinds


@dataclass
class Load:
    """The requests under load, split where the last person finished signing in."""

    signing_in: list[Sample]
    steady: list[Sample]
    # Seconds of each part: from the first request to the last sign-in, then to the last answer.
    signing_in_seconds: float
    steady_seconds: float

    @classmethod
    def of(cls, samples: list[Sample]) -> Load:
        timed = [sample for sample in samples if sample.started]
        if not timed:
            return cls([], samples, 0, 0)
        first = min(sample.started for sample in timed)
        last = max(sample.ended for sample in timed)
        signed_in = max((s.ended for s in timed if s.name in SIGN_IN), default=first)
        return cls(
            signing_in=[s for s in timed if s.started < signed_in],
            steady=[s for s in samples if not s.started or s.started >= signed_in],
            signing_in_seconds=signed_in - first,
            steady_seconds=last - signed_in,
        )


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` of 1), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1]


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# The topology and its demo --------------------------------------------------------------------


def start(topology: Topology) -> None:
    topology.start_smtp()
    topology.start_redis()
    say(f"load: releasing and seeding the demo into {topology.database}")
    began = time.monotonic()
    topology.prepare_database()
    say(f"load: database released and seeded in {time.monotonic() - began:.0f} s")
    topology.start_web()
    topology.start_worker()
    topology.start_beat()


def token(topology: Topology, username: str) -> str:
    """An integration's token, from the token endpoint as a script takes it."""
    answer = requests.post(
        topology.url("/api/v1/auth/token/"),
        json={"username": username, "password": DEMO_PASSWORD},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def api_session(key: str) -> requests.Session:
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {key}", "Accept": "application/json"})
    return session


def first_id(session: requests.Session, url: str) -> int:
    answer = session.get(url, timeout=30)
    answer.raise_for_status()
    results = answer.json()["results"]
    if not results:
        raise RuntimeError(f"nothing at {url}")
    return int(results[0]["id"])


# Alone, then under load --------------------------------------------------------------------


def measure_alone(
    topology: Topology, setup: Setup, sessions: dict[str, list[requests.Session]]
) -> dict[str, Kind]:
    """Each kind of request, one at a time: a warm-up request per web process, then ALONE
    requests timed, the sessions of a role taken in turn."""
    kinds: dict[str, Kind] = {}
    for read in READS:
        kind = kinds.setdefault(read.name, Kind())
        url = topology.url(setup.path(read))
        turn = sessions[read.role]
        for n in range(WEB_WORKERS + ALONE):
            session = turn[n % len(turn)]
            began = time.perf_counter()
            try:
                answer = session.get(url, timeout=30, allow_redirects=False)
            except requests.RequestException as error:
                kind.errors.append(type(error).__name__)
                continue
            elapsed = (time.perf_counter() - began) * 1000
            if answer.status_code != 200:
                kind.errors.append(f"{answer.status_code} {answer.headers.get('Location', '')}")
            elif n >= WEB_WORKERS:
                kind.durations.append(elapsed)
    return kinds


def run_locust(topology: Topology, setup_file: Path) -> list[Sample]:
    """locust, headless, in a process of its own registered with the topology's (stopped with
    them by its id). Returns every request it sent."""
    samples = topology.workdir / "samples.json"
    command = [
        str(ROOT / ".venv" / "bin" / "locust"),
        "-f",
        str(ROOT / "tests" / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(USERS),
        "--spawn-rate",
        str(RATE),
        "--run-time",
        f"{SECONDS}s",
        "--host",
        topology.url(""),
        # locust's own summary, kept with --keep.
        "--csv",
        str(topology.workdir / "locust"),
        "--only-summary",
        "--stop-timeout",
        "10",
    ]
    log = topology.workdir / "locust.log"
    popen = subprocess.Popen(  # noqa: S603
        command,
        cwd=ROOT,
        env={
            **topology.env(),
            "PYTHONPATH": str(ROOT),
            "LOAD_SETUP": str(setup_file),
            "LOAD_SAMPLES": str(samples),
        },
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    locust = Process("locust", popen, log)
    topology.processes[locust.name] = locust
    try:
        popen.wait(SECONDS + 120)
    except subprocess.TimeoutExpired:
        locust.kill()
        raise RuntimeError(f"locust still running after {SECONDS + 120} s") from None
    if not samples.exists():
        raise RuntimeError(
            f"locust left no samples (exit {popen.returncode}):\n{locust.log_text()}"
        )
    found = [Sample(*sample) for sample in json.loads(samples.read_text())]
    # What went wrong in the locustfile itself, outside any request.
    exceptions = topology.workdir / "locust_exceptions.csv"
    if exceptions.exists():
        with exceptions.open() as file:
            for row in csv.DictReader(file):
                found += [Sample("locustfile", 0, 0, row["Message"])] * int(row["Count"])
    return found


# The report ---------------------------------------------------------------------------------


def figure(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def row(name: str, kind: Kind, seconds: float, single: float | None = None) -> str:
    count = len(kind.durations) + len(kind.errors)
    p95 = kind.percentile(0.95)
    ratio = p95 / single if p95 is not None and single else None
    rate = count / seconds if seconds else None
    return (
        f"{name:44} {count:>8} {figure(rate, 2):>6} {figure(kind.percentile(0.5)):>6} "
        f"{figure(p95):>6} {figure(kind.percentile(0.99)):>6} {len(kind.errors):>6} "
        f"{figure(single):>9} {figure(ratio, 1):>9}"
    )


def table(load: Load, alone: dict[str, Kind]) -> None:
    say(
        f"{'request kind (steady state; ms)':44} {'requests':>8} {'req/s':>6} {'p50':>6} "
        f"{'p95':>6} {'p99':>6} {'errors':>6} {'alone p50':>9} {'p95/alone':>9}"
    )
    steady = kinds_of(load.steady)
    for read in READS:
        single = (
            statistics.median(alone[read.name].durations) if alone[read.name].durations else None
        )
        say(row(read.name, steady.get(read.name, Kind()), load.steady_seconds, single))
    say(row("all reads", reads_of(load.steady), load.steady_seconds))
    say(f"while signing in, the first {load.signing_in_seconds:.0f} s:")
    signing_in = kinds_of(load.signing_in)
    for name in SIGN_IN:
        if name in signing_in:
            say(row(name, signing_in[name], load.signing_in_seconds))
    say(row("all reads", reads_of(load.signing_in), load.signing_in_seconds))


def reads_of(samples: list[Sample]) -> Kind:
    """The reads among `samples`, as one kind."""
    names = {read.name for read in READS}
    return kinds_of([sample._replace(name="") for sample in samples if sample.name in names]).get(
        "", Kind()
    )


def errors_of(kinds: dict[str, Kind], when: str) -> list[str]:
    found = []
    for name, kind in kinds.items():
        for error in sorted(set(kind.errors)):
            found.append(f"{when}: {name}: {error} ×{kind.errors.count(error)}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    args = parser.parse_args()
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="cm-load-"))
    topology = Topology(
        workdir,
        database=f"cm_load_{secrets.token_hex(4)}",
        web_workers=WEB_WORKERS,
        overrides={"API_THROTTLE_USER": API_THROTTLE_USER},
    )
    alone: dict[str, Kind] = {}
    samples: list[Sample] = []
    phases: dict[str, float] = {}
    failure = ""
    try:
        start(topology)
        # One sign-in of the coordinator per simulated coordinator, and a few for the
        # measurements alone.
        factor = enrol_second_factor(topology, ADMIN, USERS + 10, "load")
        tokens = [token(topology, username) for username in INTEGRATIONS]
        integrations = [api_session(key) for key in tokens]
        # A draft expense of partner1's partner: the one page of an expense it still edits.
        setup = Setup(
            expense=first_id(integrations[0], topology.url("/api/v1/expenses/?status=draft")),
            consortium=first_id(integrations[0], topology.url("/api/v1/consortia/")),
            tokens=tokens,
            second_factor_key=factor.key,
            recovery_codes=[],
            totp_step_used=-1,
        )
        sessions = {
            PARTNER: [Browser(topology.url(""), PARTNER).session],
            ADMIN: [Browser(topology.url(""), ADMIN).session],
            API: integrations,
        }
        phases["setup"] = time.monotonic() - began
        say(
            f"load: topology up in {phases['setup']:.0f} s ({WEB_WORKERS} web processes), "
            "measuring each request alone"
        )
        alone = measure_alone(topology, setup, sessions)
        # The codes the measurements alone left, and the time step whose app code they used.
        setup.recovery_codes = factor.recovery_codes
        setup.totp_step_used = factor._last_step
        setup.save(workdir / "setup.json")
        phases["alone"] = time.monotonic() - began - phases["setup"]
        # Another busy process on the machine shows in every figure: its load, to tell.
        say(
            f"load: locust, {USERS} users ({RATE:g} more a second) for {SECONDS} s; the "
            f"machine's load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        samples = run_locust(topology, workdir / "setup.json")
        phases["load"] = time.monotonic() - began - phases["setup"] - phases["alone"]
    except Exception as error:
        failure = f"{type(error).__name__}: {error}"
    finally:
        stopping = time.monotonic()
        topology.stop()
        if failure:
            for name, text in topology.logs():
                say(f"--- last lines of {name}'s log ---")
                say("\n".join(text.splitlines()[-30:]))
        if args.keep:
            say(f"load: logs kept in {workdir}, database {topology.database}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            drop(topology.database)
        phases["teardown"] = time.monotonic() - stopping
    total = time.monotonic() - began
    if failure:
        say(f"load: FAILED {failure}")
        say(f"load_errors=1 total_s={total:.0f}")
        return 1
    load = Load.of(samples)
    table(load, alone)
    problems = errors_of(alone, "alone") + errors_of(kinds_of(samples), "under load")
    for problem in problems:
        say(f"  ERROR {problem}")
    say(
        "load: "
        + ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in phases.items())
        + f", total {total:.0f} s"
    )
    reads = reads_of(load.steady)
    count = len(reads.durations) + len(reads.errors)
    singles = [d for kind in alone.values() for d in kind.durations]
    say(
        f"load_users={USERS} load_seconds={SECONDS} web_workers={WEB_WORKERS} "
        f"load_requests={count} "
        f"load_rps={figure(count / load.steady_seconds if load.steady_seconds else None, 2)} "
        f"load_p50_ms={figure(reads.percentile(0.5))} "
        f"load_p95_ms={figure(reads.percentile(0.95))} "
        f"load_p99_ms={figure(reads.percentile(0.99))} "
        f"load_errors={sum(1 for sample in samples if sample.error)} "
        f"single_p50_ms={figure(statistics.median(singles) if singles else None)} "
        f"single_errors={sum(len(kind.errors) for kind in alone.values())} "
        f"signing_in_p95_ms={figure(reads_of(load.signing_in).percentile(0.95))} "
        f"total_s={total:.0f}"
    )
    return 1 if problems else 0


def drop(database: str) -> None:
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(dbname="postgres", autocommit=True, **PG) as connection,
    ):
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
