"""`make bench`: how fast the app answers, against the database's own floor, as the data grows.

`python -m tests.bench [--keep]` builds its databases (tests/bench/stages.py), then measures, in
this process, with `DEBUG` off (tests/bench/settings.py):

1. the progress, semester and jobs reports' figures against their floor, one hand-written SQL
   query (grouping sets) returning the same totals, checked equal (tests/bench/floors.py);
2. the API's lists (100 rows a page, as the coordinator and as a partner's finance officer)
   against a plain `.values()` answered by `JsonResponse` (tests/bench/urls.py);
3. the admin, the partner pages, the funder's page and the API summary at 1×, 20× (the demo grown
   20×, with 19 consortia beside it, all coordinated by the same person) and beside a million
   expense lines and a million job records of other consortia;
4. the peak memory of a semester report with its PDF, and of an XLSX export, at 1× and 20×;
5. importing 1,000 expense lines and submitting a statement of 1,000 lines.

Every timing is the median of BENCH_RUNS (7) runs after a warm-up; the runs interleave what is
compared (a page at each stage, a list and its floor), and each ratio is taken within a run.
BENCH_SCALE (20) is the growth; at BENCH_SCALE=1 (CI) every stage is tiny and the run only proves
the bench still works. The table ends with one summary line of `key=value` pairs, each the worst
of its kind.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.bench.stages import Stages

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/consortium_manager_bench"
API_LISTS = ("deliverables", "expenses", "jobs", "budget-lines")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Bench:
    def __init__(self, stages: Stages, runs: int) -> None:
        self.stages = stages
        self.runs = runs
        self.table: list[tuple[str, ...]] = []
        self.summary: dict[str, Any] = {}
        self.clients: dict[tuple[str, str], Any] = {}

    # Stages, people and requests ---------------------------------------------------------------

    def use(self, stage: str) -> None:
        """Point the default database at the stage's copy (reconnecting, outside any timing)."""
        from django.db import connection

        if connection.settings_dict["NAME"] != self.stages.name(stage):
            connection.close()
            connection.settings_dict["NAME"] = self.stages.name(stage)
        connection.ensure_connection()

    def client(self, stage: str, username: str) -> Any:
        from django.contrib.auth import get_user_model
        from django.test import Client

        key = (stage, username)
        if key not in self.clients:
            self.use(stage)
            client = Client()
            client.force_login(get_user_model().objects.get(username=username))
            self.clients[key] = client
        return self.clients[key]

    def get(self, stage: str, username: str, url: str) -> tuple[float, int]:
        """Seconds of one GET (the whole body read) and its database queries."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = self.client(stage, username)
        self.use(stage)
        # The log keeps the last 9,000 queries: emptied, it counts this request's.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{url} as {username} on {stage}: {response.status_code}")
        return elapsed, len(queries)

    # 1. Reports against their floor --------------------------------------------------------------

    def reports(self, stage_list: list[str]) -> None:
        from django.utils import timezone

        from consortium.models import Consortium
        from tests.bench import floors

        today = timezone.localdate()
        worst = 0.0
        for stage in stage_list:
            self.use(stage)
            consortium = Consortium.objects.get(acronym="PIT-ATMP")
            period = floors.semester_period(consortium)
            pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any], Callable[..., Any]]] = {
                "progress": (
                    lambda c=consortium: floors.progress_figures(c),
                    lambda c=consortium: floors.progress_floor(c),
                    floors.progress_agree,
                ),
                "semester": (
                    lambda c=consortium, p=period: floors.semester_figures(c, p),
                    lambda c=consortium, p=period: floors.semester_floor(c, p),
                    floors.semester_agree,
                ),
                "jobs": (
                    lambda c=consortium: floors.jobs_figures(c, today),
                    lambda c=consortium: floors.jobs_floor(c, today),
                    floors.jobs_agree,
                ),
            }
            ratios: dict[str, list[float]] = defaultdict(list)
            times: dict[str, list[float]] = defaultdict(list)
            for name, (figures, floor, agree) in pairs.items():
                wrong = agree(figures(), floor())
                if wrong:
                    raise RuntimeError(f"{name} report ≠ its floor on {stage}: {wrong[:5]}")
            for _run in range(self.runs):
                for name, (figures, floor, _agree) in pairs.items():
                    started = time.perf_counter()
                    figures()
                    mine = time.perf_counter() - started
                    started = time.perf_counter()
                    floor()
                    theirs = time.perf_counter() - started
                    times[name].append(mine)
                    times[f"{name} floor"].append(theirs)
                    ratios[name].append(mine / theirs)
            for name in pairs:
                ratio = median(ratios[name])
                worst = max(worst, ratio)
                self.row(
                    f"1. {name} report figures ({stage})",
                    f"{median(times[name]) * 1000:.1f} ms",
                    f"floor {median(times[f'{name} floor']) * 1000:.1f} ms",
                    f"×{ratio:.2f}",
                    "≤ ×2",
                )
        self.summary["report_ratio"] = round(worst, 2)

    # 2. API lists against `.values()` ------------------------------------------------------------

    def api_lists(self, stage_list: list[str]) -> None:
        worst = 0.0
        for stage in stage_list:
            for username in ("coordinator", "partner1"):
                for kind in API_LISTS:
                    api = f"/api/v1/{kind}/?page_size=100"
                    floor = f"/bench/floor/{kind}/?page_size=100"
                    self.get(stage, username, api)
                    self.get(stage, username, floor)
                    _t, one = self.get(stage, username, f"/api/v1/{kind}/?page_size=1")
                    ratios, api_times, floor_times = [], [], []
                    queries = floor_queries = 0
                    for _run in range(self.runs):
                        mine, queries = self.get(stage, username, api)
                        theirs, floor_queries = self.get(stage, username, floor)
                        ratios.append(mine / theirs)
                        api_times.append(mine)
                        floor_times.append(theirs)
                    ratio = median(ratios)
                    worst = max(worst, ratio)
                    self.row(
                        f"2. API {kind} as {username} ({stage})",
                        f"{median(api_times) * 1000:.1f} ms",
                        f"floor {median(floor_times) * 1000:.1f} ms",
                        f"×{ratio:.2f}",
                        f"{queries} queries (1 row: {one}; floor {floor_queries})",
                    )
                    if one != queries:
                        self.summary.setdefault("query_growth", []).append(
                            f"{kind}:{one}≠{queries}"
                        )
        self.summary["api_ratio"] = round(worst, 2)

    # 3. Pages as the data grows ----------------------------------------------------------------

    def pages(self, consortium_pk: int) -> None:
        pages = [
            ("coordinator", "/admin/"),
            ("coordinator", "/admin/workpackages/expense/"),
            ("coordinator", "/admin/workpackages/jobrecord/"),
            ("coordinator", "/admin/workpackages/budgetline/"),
            ("coordinator", "/admin/workpackages/deliverable/"),
            ("coordinator", "/admin/workpackages/milestone/"),
            ("coordinator", "/admin/workpackages/effort/"),
            ("coordinator", "/admin/consortium/partner/"),
            ("coordinator", "/admin/reporting/report/"),
            ("coordinator", f"/api/v1/consortia/{consortium_pk}/summary/"),
            ("partner1", "/"),
            ("partner1", "/expenses/"),
            ("partner1", "/jobs/"),
            ("partner1", "/workplan/"),
            ("partner1", "/workplan/deliverables/"),
            ("partner1", "/effort/"),
            ("partner1", f"/api/v1/consortia/{consortium_pk}/summary/"),
            ("observer", f"/funder/{consortium_pk}/"),
        ]
        stages = ["1x", "20x", "million"]
        for username, url in pages:
            for stage in stages:
                self.get(stage, username, url)
        times: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        counts: dict[tuple[str, str, str], int] = {}
        for _run in range(self.runs):
            for username, url in pages:
                for stage in stages:
                    elapsed, queries = self.get(stage, username, url)
                    times[(username, url, stage)].append(elapsed)
                    counts[(username, url, stage)] = queries
        # The same pages' queries for a coordinator of every consortium of the 20× stage: the
        # same as for the coordinator of one.
        self.coordinator_of_all("20x")
        for username, url in pages:
            if username == "coordinator":
                self.get("20x", "coordinator-all", url)
                _elapsed, queries = self.get("20x", "coordinator-all", url)
                if queries != counts[(username, url, "1x")]:
                    self.summary.setdefault("query_growth", []).append(f"{url}:all")
                counts[(username, url, "all")] = queries
        growth_20x = growth_million = 0.0
        for username, url in pages:
            runs = range(self.runs)
            base = times[(username, url, "1x")]
            grown = median([times[(username, url, "20x")][i] / base[i] for i in runs])
            beside = median([times[(username, url, "million")][i] / base[i] for i in runs])
            growth_20x, growth_million = max(growth_20x, grown), max(growth_million, beside)
            same = {counts[(username, url, stage)] for stage in stages}
            if len(same) > 1:
                self.summary.setdefault("query_growth", []).append(url)
            self.row(
                f"3. {url} as {username}",
                " / ".join(f"{median(times[(username, url, s)]) * 1000:.1f}" for s in stages)
                + " ms",
                f"20× ×{grown:.2f}",
                f"million ×{beside:.2f}",
                "queries "
                + " / ".join(str(counts[(username, url, s)]) for s in stages)
                + (
                    f" (20 consortia: {counts[(username, url, 'all')]})"
                    if username == "coordinator"
                    else ""
                ),
            )
        self.summary["growth_20x"] = round(growth_20x, 2)
        self.summary["growth_million"] = round(growth_million, 2)

    def coordinator_of_all(self, stage: str) -> None:
        """`coordinator-all`, coordinator of every consortium of the stage (through the service
        a superuser would use)."""
        from django.contrib.auth import get_user_model

        from consortium.models import Consortium
        from consortium.services import consortium_role_grant

        self.use(stage)
        users = get_user_model().objects
        if users.filter(username="coordinator-all").exists():
            return
        person = users.create_user("coordinator-all", password=None, is_staff=True)
        for consortium in Consortium.objects.order_by("pk"):
            consortium_role_grant(
                consortium=consortium, user=person, kind="coordinator", granted_by=None
            )

    # 4. Memory ------------------------------------------------------------------------------------

    def memory(self) -> None:
        from consortium.models import Consortium
        from reporting.rendering import report_render
        from tests.bench import floors

        def report() -> None:
            consortium = Consortium.objects.get(acronym="PIT-ATMP")
            period = floors.semester_period(consortium)
            report_render(
                kind="semester",
                consortium=consortium,
                period_start=period.start_date,
                period_end=period.end_date,
                languages=["en"],
            )

        def export(username: str, url: str) -> Callable[[], None]:
            def read() -> None:
                response = self.client(stage_now[0], username).get(url)
                assert response.status_code == 200, (url, response.status_code)
                if response.streaming:
                    # Each piece as a client reads it, then let go: the server's memory counts.
                    for _piece in response.streaming_content:
                        pass

            return read

        stage_now = ["1x"]
        subjects = {
            "semester report with its PDF": report,
            "expenses XLSX (admin)": export(
                "coordinator", "/admin/workpackages/expense/export.xlsx"
            ),
            "jobs XLSX (partner)": export("partner1", "/jobs/export.xlsx"),
        }
        worst = 0.0
        for name, subject in subjects.items():
            peaks = {}
            for stage in ("1x", "20x"):
                stage_now[0] = stage
                self.use(stage)
                subject()
                tracemalloc.start()
                subject()
                peaks[stage] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            growth = peaks["20x"] / peaks["1x"]
            worst = max(worst, growth)
            self.row(
                f"4. peak memory: {name}",
                f"{peaks['1x'] / 2**20:.1f} MiB",
                f"{peaks['20x'] / 2**20:.1f} MiB at 20×",
                f"×{growth:.2f}",
                "≤ ×1.5",
            )
        self.summary["memory_growth"] = round(worst, 2)

    # 5. Import and statement --------------------------------------------------------------------

    def writes(self, lines: int) -> None:
        from django.contrib.auth import get_user_model
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from consortium.models import Membership, ReportingPeriod
        from workpackages.imports import expenses_import
        from workpackages.money.models import BudgetLine
        from workpackages.money.services import statement_submit

        self.use("writes")
        user = get_user_model().objects.get(username="partner1")
        partner = Membership.objects.filter(user=user, is_active=True).get().partner
        today = timezone.localdate()
        open_periods = ReportingPeriod.objects.filter(
            consortium_id=partner.consortium_id, end_date__lt=today
        ).exclude(statements__partner=partner)
        period = open_periods.order_by("-end_date").first()
        if period is None:
            raise RuntimeError("The demo has no ended period left without a statement")
        # A budget line of the partner's whose heading takes declared costs (not a flat rate)
        # and needs no evidence file: the lines go to it.
        line = (
            BudgetLine.objects.filter(
                partner=partner,
                status="active",
                category__kind="actual",
                category__evidence_required=False,
            )
            .select_related("workpackage", "category")
            .first()
        )
        if line is None:
            raise RuntimeError("The demo's partner1 has no budget line to import lines to")
        workpackage, heading = line.workpackage, line.category.code
        text = io.StringIO()
        text.write("date,workpackage,category,period,amount,description,invoice\n")
        for number in range(lines):
            day = period.start_date + datetime.timedelta(
                days=number % ((period.end_date - period.start_date).days + 1)
            )
            amount = Decimal(100 + number % 900) + Decimal("0.45")
            text.write(
                f"{day.isoformat()},WP{workpackage.number},{heading},{period.number},{amount},"
                f"Bench line {number},INV-{number}\n"
            )
        upload = SimpleUploadedFile("bench.csv", text.getvalue().encode(), "text/csv")
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            started = time.perf_counter()
            result = expenses_import(partner=partner, user=user, file=upload)
            import_seconds = time.perf_counter() - started
        if result.errors or len(result.created) != lines:
            raise RuntimeError(f"The import failed: {result.errors[:5]}")
        self.row(
            f"5. import of {lines} expense lines",
            f"{import_seconds:.2f} s",
            f"{len(queries)} queries",
            "",
            "≤ 3 s, queries flat",
        )
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            started = time.perf_counter()
            statement = statement_submit(partner=partner, period=period, user=user)
            statement_seconds = time.perf_counter() - started
        self.row(
            f"5. statement of {statement.lines} lines",
            f"{statement_seconds:.2f} s",
            f"{len(queries)} queries",
            "",
            "≤ 0.5 s",
        )
        self.summary["import_s"] = round(import_seconds, 2)
        self.summary["statement_s"] = round(statement_seconds, 2)

    # Output ---------------------------------------------------------------------------------------

    def row(self, *cells: str) -> None:
        self.table.append(cells)
        print(" | ".join(cells), flush=True)

    def summary_line(self) -> str:
        growth = self.summary.pop("query_growth", [])
        self.summary["query_growth"] = ",".join(growth) if growth else "none"
        return " ".join(f"{key}={value}" for key, value in self.summary.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the stages' databases")
    args = parser.parse_args()
    scale = int(os.environ.get("BENCH_SCALE", "20"))
    runs = max(int(os.environ.get("BENCH_RUNS", "7")), 1)
    million_rows = int(os.environ.get("BENCH_MILLION_ROWS", "0")) or (
        1_000_000 if scale >= 20 else 50_000 * scale
    )
    lines = int(os.environ.get("BENCH_LINES", "1000"))
    stages = Stages(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    # The tasks the demo and the writes hand to the queue (webhook deliveries) go to a queue of
    # the bench's own on the machine's Redis, which no worker reads, deleted at the end.
    os.environ["CELERY_QUEUE"] = f"cm-bench-{os.getpid()}"
    started = time.perf_counter()
    print(f"Building the stages: scale {scale}, {million_rows:,} rows beside", flush=True)
    for step, seconds in stages.build(scale, million_rows).items():
        print(f"  {step}: {seconds:.0f} s", flush=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.bench.settings"
    os.environ["DATABASE_URL"] = stages.url("1x")
    import django

    django.setup()
    from consortium.models import Consortium

    bench = Bench(stages, runs)
    try:
        bench.use("1x")
        consortium_pk = Consortium.objects.get(acronym="PIT-ATMP").pk
        bench.reports(["1x", "20x"])
        bench.api_lists(["1x", "20x", "million"])
        bench.pages(consortium_pk)
        bench.memory()
        bench.writes(lines)
    finally:
        from django.db import connection

        from config.celery_app import app, worker_queues

        connection.close()
        if not args.keep:
            stages.drop_all()
        with app.connection_for_write() as broker:
            for name in worker_queues(os.environ["CELERY_QUEUE"]):
                broker.default_channel.queue_delete(name)
    print(f"Measured in {time.perf_counter() - started:.0f} s", flush=True)
    print(bench.summary_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
