"""The nightly of 2,000 clients on the local host: one ready 40-line journal run each, every
Loket and AFAS call answered after 50 ms (``latency`` of both sandboxes), the production queue
concurrency (host.json ``batchSize`` + ``newBatchThreshold`` jobs at a time).

Reported: wall time from the timer to the last job, against the lower bound that the latency
and the concurrency allow (the calls of one job are sequential), and the API calls per booked
run, Loket and AFAS apart, against the minimum the APIs allow.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from typing import Any

import requests

from bench.common import Result, size
from bench.cpu import machine_busy_seconds, process_cpu_seconds
from bench.world import bench_world
from devtools.azurite import ROOT
from tests.support.api import admin_headers
from tests.support.localhost import start_local_host, wait_until
from tests.support.sync_world import FAST_QUEUES

LATENCY = 0.050
CLIENTS = 2_000
LINES = 40
# The fewest calls one booked run can take, as the APIs are (docs/performance.md explains).
MIN_LOKET = 3  # list the administration's journal runs, read the 40 lines (1 page), mark processed
# One post: exactly-once comes from the booking ledger and the deterministic voucher number;
# the voucher lookup is only needed when a post's outcome is unknown (never in a clean run).
MIN_AFAS = 1


def production_queues() -> dict[str, object]:
    """host.json's queue settings (its concurrency), with the tests' 1 s retry."""
    queues = dict(json.loads((ROOT / "host.json").read_text())["extensions"]["queues"])
    fast = {k: FAST_QUEUES[k] for k in ("visibilityTimeout", "maxPollingInterval")}
    return {**queues, **fast}


def _route(key: str) -> str:
    """'GET /12345/ProfitRestServices/connectors/Profit_Accounts' -> 'GET Profit_Accounts'."""
    method, path = key.split(" ", 1)
    return f"{method} {path.rstrip('/').split('/')[-1]}"


def run(
    quick: bool = False, clients: int | None = None, queues: dict[str, object] | None = None
) -> Result:
    """``queues``: host.json queue settings to use instead of production's (with a 1 s retry)."""
    clients = clients or size("nightly_clients", CLIENTS, 200, quick_run=quick)
    queues = queues or production_queues()
    with bench_world(clients=clients, lines_per_run=LINES, employees=2, allocation=False) as world:
        host_json = json.loads((ROOT / "host.json").read_text())
        host_json["extensions"]["queues"] = queues
        (world.workdir / "host.json").write_text(json.dumps(host_json))
        concurrency = int(str(queues["batchSize"])) + int(str(queues["newBatchThreshold"]))
        host = start_local_host(
            world.env, world.workdir,
            args=("--no-timers", "--host-json", str(world.workdir / "host.json")),
        )  # fmt: skip
        try:
            session = requests.Session()
            headers = admin_headers(world.office)
            world.loket.reset_counters()
            with world.afas.lock:
                world.afas.calls.clear()
            world.loket.latency = LATENCY
            world.afas.latency = LATENCY
            busy_before = machine_busy_seconds()
            host_before = process_cpu_seconds(host.process.pid)
            started = time.perf_counter()
            assert host.run_function("nightly_sync").status_code == 202
            progress: list[tuple[float, int]] = []

            def finished() -> dict[str, Any] | None:
                runs = session.get(host.url("/api/runs"), headers=headers, timeout=30).json()
                if not runs["runs"]:
                    return None
                latest: dict[str, Any] = runs["runs"][0]
                progress.append((time.perf_counter() - started, latest["jobsDone"]))
                return latest if latest["status"] != "running" else None

            run_row = wait_until(finished, timeout=3600, interval=1.0, what="the nightly")
            wall = time.perf_counter() - started
            busy_after = machine_busy_seconds()
            host_after = process_cpu_seconds(host.process.pid)
        finally:
            world.loket.latency = 0
            world.afas.latency = 0
            host.stop()
        loket_calls = Counter({k: v for k, v in world.loket.calls.items()})
        afas_calls: Counter[str] = Counter()
        for key, n in world.afas.calls.items():
            afas_calls[_route(key)] += n
        booked = len(
            [a for a in world.afas.scenario.profit["12345"].administrations.values() if a.entries]
        )
    imported = int(run_row["journalRunsImported"])
    loket_total = sum(loket_calls.values())
    afas_total = sum(afas_calls.values())
    per_run_loket = loket_total / max(imported, 1)
    per_run_afas = afas_total / max(imported, 1)
    waves = math.ceil(clients / concurrency)
    bound_measured = waves * (per_run_loket + per_run_afas) * LATENCY
    bound_minimum = waves * (MIN_LOKET + MIN_AFAS) * LATENCY
    cores = os.cpu_count() or 1
    busy = (busy_after - busy_before) if busy_after is not None and busy_before is not None else 0.0
    cpu_floor = busy / cores  # the wall time the machine's CPU work alone needs on its cores
    floor = max(bound_measured, cpu_floor)
    host_cpu = (
        (host_after - host_before) if host_after is not None and host_before is not None else 0.0
    )
    rows: list[list[Any]] = [
        ["clients (one ready 40-line run each)", clients],
        ["journal runs imported / failed / skipped", f"{imported} / {run_row['journalRunsFailed']} / {run_row['journalRunsSkipped']}"],
        ["entries in AFAS (administrations with an entry)", booked],
        ["wall time, timer to last job, s", round(wall, 1)],
        ["lower bound with the calls we make, s", round(bound_measured, 1)],
        ["ratio wall / that bound (goal <= 2.0)", round(wall / bound_measured, 2)],
        [f"lower bound with the minimum calls ({MIN_LOKET} Loket + {MIN_AFAS} AFAS), s", round(bound_minimum, 1)],
        ["ratio wall / minimum bound", round(wall / bound_minimum, 2)],
        [f"Loket calls per booked run (minimum {MIN_LOKET})", round(per_run_loket, 2)],
        [f"AFAS calls per booked run (minimum {MIN_AFAS})", round(per_run_afas, 2)],
        ["external calls per booked run, Loket + AFAS (goal <= 5)", round(per_run_loket + per_run_afas, 2)],
        ["throughput, booked runs per minute", round(imported / wall * 60, 1)],
        [f"CPU busy on this machine during the nightly, core-seconds ({cores} cores, every process)", round(busy, 1)],
        ["CPU floor on this machine (busy / cores), s", round(cpu_floor, 1)],
        ["host process CPU, s (one Python process: on one core, a floor of the wall time)", round(host_cpu, 1)],
        ["ratio wall / max(latency bound, CPU floor, host process CPU)", round(wall / floor, 2) if floor else "-"],
        ["CPU per booked run, all processes, ms", round(busy / max(imported, 1) * 1000, 1)],
        ["  of which the local host process (ours: the Functions worker), ms", round(host_cpu / max(imported, 1) * 1000, 1)],
    ]  # fmt: skip
    return Result(
        name="nightly",
        title=f"Nightly of {clients:,} clients, {LATENCY * 1000:.0f} ms per sandbox call, "
        f"{concurrency} jobs at a time",
        headers=["measure", "value"],
        rows=rows,
        notes=[
            "Loket calls by route: " + ", ".join(f"{k} {v}" for k, v in loket_calls.most_common()),
            "AFAS calls by route: " + ", ".join(f"{k} {v}" for k, v in afas_calls.most_common()),
            f"Lower bound = ceil({clients} / {concurrency}) waves x calls per job x "
            f"{LATENCY * 1000:.0f} ms: a job's calls are sequential, {concurrency} jobs run at once.",
            "CPU floor: the machine's busy CPU time during the nightly (/proc/stat: the local "
            "host, Azurite, both sandboxes, the harness) over its cores. On this machine the "
            "CPU, not the latency, is the ceiling when the floor exceeds the latency bound; in "
            "Azure, Storage and the APIs run elsewhere and only the host's share is ours.",
        ],
        figures={
            "wall_s": round(wall, 1),
            "bound_measured_s": round(bound_measured, 1),
            "bound_minimum_s": round(bound_minimum, 1),
            "cpu_busy_s": round(busy, 1),
            "cpu_floor_s": round(cpu_floor, 1),
            "host_cpu_s": round(host_cpu, 1),
            "loket_per_run": round(per_run_loket, 2),
            "afas_per_run": round(per_run_afas, 2),
            "loket_calls": dict(loket_calls),
            "afas_calls": dict(afas_calls),
            "progress": progress[:: max(1, len(progress) // 40)],
        },
    )


if __name__ == "__main__":
    count = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--clients=")), None)
    result = run(quick="--quick" in sys.argv, clients=count)
    result.show()
    if "--quick" not in sys.argv:
        result.save()
