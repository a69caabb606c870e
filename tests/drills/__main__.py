"""`make drills`: start the production topology on this machine, run every drill, print each
figure, and fail if one is off. `python -m tests.drills [--keep]` (`--keep` leaves the logs and
the drills' database for a look afterwards)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tests.drills import drills
from tests.drills.client import enrol_second_factor
from tests.drills.topology import Topology

# Enough for every sign-in of the coordinator in the drills, a dozen of them within a minute.
RECOVERY_CODES = 40


def prepare(topology: Topology) -> None:
    """The demo as `seed_demo` leaves it, then what an operator would change in the admin for
    a drill: the outbox's sweep every 10 s instead of 5 minutes, the monthly jobs-created report
    every 15 s, the weekly and monthly reports sent without review, and none of the demo's
    reports waiting (the drills send their own). The coordinator signs in with two-step
    sign-in, as production requires of staff."""
    topology.prepare_database()
    enrol_second_factor(topology, "coordinator", RECOVERY_CODES, "drills")
    topology.sql("DELETE FROM reporting_reportdelivery")
    topology.sql("DELETE FROM reporting_reportdocument")
    topology.sql("DELETE FROM reporting_report")
    # The demo's weekly and monthly reports go out without review, as a consortium that wants
    # them straight away would set them.
    topology.sql(
        "UPDATE reporting_reportschedule SET review_first = false "
        "WHERE kind IN ('progress', 'jobs')"
    )
    for name, seconds in (
        ("Hand waiting reports and reminders to the queue", 10),
        ("Monthly jobs-created report", 15),
    ):
        [(interval,)] = topology.sql(
            "INSERT INTO django_celery_beat_intervalschedule (every, period) "
            "VALUES (%s, 'seconds') RETURNING id",
            seconds,
        )
        topology.sql(
            "UPDATE django_celery_beat_periodictask SET interval_id = %s, crontab_id = NULL, "
            "last_run_at = NULL WHERE name = %s",
            interval,
            name,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cm-drills-"))
    topology = Topology(workdir)
    results: list[drills.Figures] = []
    began = time.monotonic()
    try:
        topology.start_smtp()
        topology.start_redis()
        print("drills: releasing and seeding the demo into", topology.database, flush=True)
        prepare(topology)
        topology.start_web()
        topology.start_worker()
        topology.start_worker()
        topology.start_beat()
        print(f"drills: topology up in {time.monotonic() - began:.0f} s, logs in {workdir}")
        results.append(drills.probes(topology, "the installation answers its probes"))
        report(results[-1])
        for drill in drills.DRILLS:
            started = time.monotonic()
            try:
                figures = drill(topology)
            except Exception as error:
                figures = drills.Figures(drill.__name__.replace("_", " "))
                figures.failures.append(f"{type(error).__name__}: {error}")
                traceback.print_exc()
            figures.values["seconds"] = round(time.monotonic() - started)
            results.append(figures)
            report(figures)
        results.append(drills.everything_sent_once(topology))
        report(results[-1])
        results.append(drills.probes(topology, "the installation answers its probes after"))
        report(results[-1])
    finally:
        topology.stop()
        if args.keep:
            print(f"drills: logs kept in {workdir}, database {topology.database}")
        else:
            failed = any(r.failures for r in results) or not results
            if failed:
                for name, text in topology.logs():
                    print(f"--- last lines of {name}'s log ---")
                    print("\n".join(text.splitlines()[-30:]))
            shutil.rmtree(workdir, ignore_errors=True)
            drop(topology)
    failures = [f"{r.name}: {failure}" for r in results for failure in r.failures]
    print(
        f"drills: {len(results)} checks in {time.monotonic() - began:.0f} s, {len(failures)} failed"
    )
    for failure in failures:
        print("  FAILED", failure)
    return 1 if failures else 0


def report(figures: drills.Figures) -> None:
    mark = "FAILED" if figures.failures else "ok"
    values = ", ".join(f"{what} {value}" for what, value in figures.values.items())
    print(f"drill {mark:6} {figures.name}: {values}", flush=True)


def drop(topology: Topology) -> None:
    import psycopg

    from tests.drills.topology import PG

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{topology.database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
