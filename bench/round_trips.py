"""What one booked journal run costs in round trips: storage requests (every request the Azure
SDKs send to Azurite, by table / container / queue and operation) and external calls (Loket and
AFAS sandboxes, by route), per booked run, plus the in-process time per job.

A nightly of ``BENCH_ROUND_TRIP_CLIENTS`` clients (default 9, one ready 40-line run each, as
the nightly benchmark) is planned, then every job is worked in this process, one after another,
by one worker (``Services.worker_deps``, as the queue trigger runs it) whose storage clients
count their requests (``Storage(on_request=...)``). No latency is injected: the time per job is
our own (Python, the SDKs, Azurite and the sandboxes on this machine).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from bench.common import Result, size
from bench.nightly import LINES, _route
from bench.world import bench_world
from shared.bootstrap import Services
from shared.settings import Settings
from shared.store.storage import Storage
from shared.sync import worker
from shared.sync.messages import SyncJob

GOAL_STORAGE = 8  # storage round trips per booked journal run (issue 18)
GOAL_EXTERNAL = 5  # external calls per booked run in a nightly: Loket 3 + AFAS <= 2
GOAL_JOB_MS = 80  # in-process time per job


def storage_operation(method: str, url: str, ports: dict[int, str]) -> str:
    """'GET http://127.0.0.1:p/devstoreaccount1/Bookings(PartitionKey=..)' -> 'Bookings get'."""
    parts = urlsplit(url)
    service = ports.get(parts.port or 0, "?")
    path = unquote(parts.path).split("/", 2)[-1]  # after /devstoreaccount1/
    if service == "table":
        if path == "$batch":
            return "table $batch"
        name, _, rest = path.partition("(")
        if name == "Tables":
            return "Tables create"
        keyed = "PartitionKey=" in rest
        if method == "GET":
            return f"{name} {'get' if keyed else 'query'}"
        return f"{name} {method.lower()}"
    if service == "blob":
        container = path.split("/", 1)[0]
        return f"blob {container} {method.lower()}"
    if service == "queue":
        return f"queue {path.split('/', 1)[0]} {method.lower()}"
    return f"{service} {method.lower()}"


ISSUE_CLIENTS = 9  # the issue's own measurement: a 9-client nightly booking 28 journal runs
ISSUE_RUNS = 28


@dataclass
class Measured:
    clients: int
    imported: int
    failed: int
    skipped: int
    booked: int  # entries in AFAS
    storage: Counter[str]
    creates: int
    loket: Counter[str]
    afas: Counter[str]
    wall_ms: list[float]
    cpu_ms: list[float]

    @property
    def storage_per_run(self) -> float:
        return sum(self.storage.values()) / max(self.imported, 1)

    @property
    def loket_per_run(self) -> float:
        return sum(self.loket.values()) / max(self.imported, 1)

    @property
    def afas_per_run(self) -> float:
        return sum(self.afas.values()) / max(self.imported, 1)


def measure(clients: int, runs: int = 0) -> Measured:
    """A nightly of ``clients`` clients (``runs`` ready runs in all, default one each), every
    job worked in this process, one after another, counting every storage request."""
    with bench_world(clients=clients, lines_per_run=LINES, employees=2, allocation=False,
                     runs=runs) as world:  # fmt: skip
        planned = world.services.planner.nightly(local_hour=0)
        assert planned and len(world.services.sent) == clients, "the nightly planned no jobs"
        azurite = world.azurite
        ports = {azurite.table_port: "table", azurite.blob_port: "blob",
                 azurite.queue_port: "queue"}  # fmt: skip
        seen: Counter[str] = Counter()
        counting = True

        def count(request: Any) -> None:
            if counting:
                http = request.http_request
                seen[storage_operation(http.method, http.url, ports)] += 1

        services = Services(Settings.from_env(world.env))
        services.__dict__["storage"] = Storage(services.settings.storage, on_request=count)
        deps = services.worker_deps
        # Every job counts, the first one included, as in a fresh worker instance; creating the
        # tables (once per process) is reported apart and left out of the per-run sum.
        world.loket.reset_counters()
        with world.afas.lock:
            world.afas.calls.clear()
        wall_ms: list[float] = []
        cpu_ms: list[float] = []
        for body in world.services.sent:
            job = SyncJob.from_json(body)
            wall, cpu = time.perf_counter(), time.thread_time()
            worker.process(deps, job, dequeue_count=1, message_id=f"bench-{job.client_id}")
            wall_ms.append((time.perf_counter() - wall) * 1000)
            cpu_ms.append((time.thread_time() - cpu) * 1000)
        counting = False
        run_row = services.runs.get(world.office, planned[0].run_id)
        assert run_row is not None
        afas_calls: Counter[str] = Counter()
        for key, n in world.afas.calls.items():
            afas_calls[_route(key)] += n
        booked = sum(
            len(a.entries) for a in world.afas.scenario.profit["12345"].administrations.values()
        )
        creates = seen.pop("Tables create", 0)
        return Measured(
            clients, run_row.imported, run_row.failed, run_row.skipped, booked, seen, creates,
            Counter(dict(world.loket.calls)), afas_calls, wall_ms, cpu_ms,
        )  # fmt: skip


def run(quick: bool = False) -> Result:
    clients = size("round_trip_clients", 9, 3, quick_run=quick)
    one = measure(clients)
    issue = measure(ISSUE_CLIENTS, ISSUE_RUNS) if not quick else measure(3, 7)
    job_ms = statistics.median(one.wall_ms[1:] or one.wall_ms)
    rows: list[list[Any]] = [
        [f"clients / ready journal runs (one each; the issue's {issue.clients} clients with "
         f"{ISSUE_RUNS} runs)", f"{one.clients} / {one.clients}",
         f"{issue.clients} / {issue.imported + issue.failed + issue.skipped}", ""],
        ["journal runs imported / failed / skipped",
         f"{one.imported} / {one.failed} / {one.skipped}",
         f"{issue.imported} / {issue.failed} / {issue.skipped}", ""],
        ["entries in AFAS", one.booked, issue.booked, ""],
        ["storage round trips per booked run", round(one.storage_per_run, 2),
         round(issue.storage_per_run, 2), f"<= {GOAL_STORAGE}"],
        ["external calls per booked run (Loket + AFAS)",
         round(one.loket_per_run + one.afas_per_run, 2),
         round(issue.loket_per_run + issue.afas_per_run, 2), f"<= {GOAL_EXTERNAL}"],
        ["  Loket calls per booked run", round(one.loket_per_run, 2),
         round(issue.loket_per_run, 2), "3"],
        ["  AFAS calls per booked run", round(one.afas_per_run, 2),
         round(issue.afas_per_run, 2), "<= 2"],
        ["in-process time per job: the worker's own CPU, ms (median, first job apart)",
         round(statistics.median(one.cpu_ms[1:] or one.cpu_ms), 1),
         round(statistics.median(issue.cpu_ms[1:] or issue.cpu_ms), 1), f"<= {GOAL_JOB_MS}"],
        ["wall time per job, ms (median, first job apart; Azurite and the sandboxes answer on "
         "the same cores)", round(job_ms, 1),
         round(statistics.median(issue.wall_ms[1:] or issue.wall_ms), 1), ""],
        ["first job (cold process), wall ms", round(one.wall_ms[0], 1), round(issue.wall_ms[0], 1),
         ""],
    ]  # fmt: skip

    def by_op(m: Measured) -> str:
        return ", ".join(f"{k} {v / max(m.imported, 1):.2f}" for k, v in m.storage.most_common())

    return Result(
        name="round_trips",
        title=f"Round trips of a booked journal run ({one.clients} clients with one run each, "
        f"and the issue's nightly of {issue.clients} clients with {ISSUE_RUNS} runs; worked in "
        "process)",
        headers=["measure", "one run per job", "the issue's nightly", "goal"],
        rows=rows,
        notes=[
            f"Storage requests per booked run by table and operation, one run per job: "
            f"{by_op(one)} (plus {one.creates} table creations once per process, not counted).",
            f"The same in the issue's nightly: {by_op(issue)}.",
            "Loket calls by route (one run per job): "
            + ", ".join(f"{k} {v}" for k, v in one.loket.most_common()),
            "AFAS calls by route (one run per job): "
            + ", ".join(f"{k} {v}" for k, v in one.afas.most_common()),
            "Every request an Azure SDK sends counts (retries included), through azure-core's "
            "raw_request_hook; the sandboxes count the external calls. No latency is injected.",
            "In-process time = the CPU time of the thread that works the job (time.thread_time): "
            "our Python, the SDKs and requests; not the sandboxes (threads of this process) nor "
            "Azurite. The wall time adds waiting for their answers on the same 2 cores, and "
            "varies by +-25 % between runs on this machine.",
        ],
        figures={
            "storage_per_run": round(one.storage_per_run, 2),
            "external_per_run": round(one.loket_per_run + one.afas_per_run, 2),
            "issue_storage_per_run": round(issue.storage_per_run, 2),
            "issue_external_per_run": round(issue.loket_per_run + issue.afas_per_run, 2),
            "storage_by_operation": dict(one.storage),
            "issue_storage_by_operation": dict(issue.storage),
            "loket_calls": dict(one.loket),
            "afas_calls": dict(one.afas),
            "job_ms_median": round(job_ms, 1),
            "job_wall_ms": [round(v, 1) for v in one.wall_ms],
            "job_cpu_ms": [round(v, 1) for v in one.cpu_ms],
        },
    )


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    result.show()
    if "--quick" not in sys.argv:
        result.save()
