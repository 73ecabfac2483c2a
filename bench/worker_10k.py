"""CPU time and peak memory of a worker building, pre-checking and booking ONE 10,000-line
journal run (400 employees x 25 components over 20 cost accounts with 20 cost centres and 5
cost units, and 10 credit accounts) into AFAS Profit, in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import Result, size
from bench.world import bench_world
from devtools.azurite import ROOT

LINES = 10_000
COMPONENTS = 25  # per employee: 20 cost lines, 5 credit lines


def run(quick: bool = False) -> Result:
    lines = size("worker_lines", LINES, 2_000, quick_run=quick)
    with bench_world(clients=1, lines_per_run=lines, employees=lines // 25) as world:
        planned = world.services.planner.nightly(local_hour=0)
        assert planned and world.services.sent, "the nightly planned no job"
        done = subprocess.run(
            [sys.executable, "-m", "bench.worker_child"],
            cwd=ROOT,
            input=json.dumps({"env": world.env, "job": world.services.sent[0]}),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-5000:]
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        entries = world.afas.profit_entries(administration=1)
        if len(entries) != 1:
            said = world.services.run_details.messages(world.office, planned[0].run_id)
            raise AssertionError(f"{len(entries)} entries booked: {[m.text for m in said]}")
        booked_lines = len(entries[0].lines)
        afas_posts = world.afas.count("connectors/FiEntries", "POST")
    rows = [
        ["Loket lines read", measured["lines"]],
        ["AFAS entry lines (aggregated per account x cost centre x unit)", booked_lines],
        ["build + pre-check only, CPU s", round(measured["pure_cpu_s"], 3)],
        ["whole job, CPU s (user + system)", round(measured["cpu_s"], 2)],
        ["whole job, wall s", round(measured["wall_s"], 2)],
        ["Python heap peak during the job, MiB (tracemalloc)", round(measured["heap_peak_mb"], 1)],
        ["peak RSS of the worker process, MiB (goal <= 120)", round(measured["max_rss_mb"], 1)],
        ["AFAS FiEntries posts", afas_posts],
    ]
    return Result(
        name="worker_10k",
        title=f"One worker booking a {lines:,}-line journal run",
        headers=["measure", "value"],
        rows=rows,
        notes=[
            "The worker runs in a fresh process of its own; the sandboxes and Azurite run "
            "outside it, so its CPU and memory are the worker's alone. tracemalloc slows "
            "Python down a little; the CPU figure includes that.",
            f"Pre-check findings: {sorted(set(measured['findings'])) or 'none'}.",
        ],
        figures=measured | {"booked_lines": booked_lines},
    )


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    result.show()
    if "--quick" not in sys.argv:
        result.save()
