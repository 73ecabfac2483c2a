"""Which host.json queue settings (issue 18): the same nightly (``BENCH_QUEUE_CLIENTS`` clients,
default 150, one ready 40-line run each, 50 ms per Loket and AFAS call) on the local host with
several ``batchSize`` + ``newBatchThreshold`` pairs, one after another. Reported per pair: wall
time, throughput and the time one job takes (wall x concurrency / jobs), so the concurrency
where this machine's CPU, not the waiting on the APIs, becomes the ceiling shows.

    python -m bench queue_settings
"""

from __future__ import annotations

import sys
from typing import Any

from bench import nightly
from bench.common import Result, size

PAIRS = ((4, 2), (8, 4), (16, 8))


def run(quick: bool = False) -> Result:
    clients = size("queue_clients", 150, 30, quick_run=quick)
    base = nightly.production_queues()
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    for batch, threshold in PAIRS:
        queues = {**base, "batchSize": batch, "newBatchThreshold": threshold}
        result = nightly.run(clients=clients, queues=queues)
        wall = float(result.figures["wall_s"])
        concurrency = batch + threshold
        per_job = wall * concurrency / clients
        rows.append(
            [
                f"{batch} + {threshold}",
                concurrency,
                round(wall, 1),
                round(clients / wall * 60, 1),
                round(per_job * 1000),
                round(float(result.figures["bound_measured_s"]), 1),
            ]
        )
        figures[f"{batch}+{threshold}"] = {"wall_s": wall, "per_job_ms": round(per_job * 1000)}
    return Result(
        name="queue_settings",
        title=f"Queue settings: a nightly of {clients} clients, 50 ms per API call",
        headers=[
            "batchSize + newBatchThreshold",
            "jobs at a time",
            "wall s",
            "booked runs / min",
            "time per job, ms (wall x jobs at a time / jobs)",
            "lower bound s",
        ],
        rows=rows,
        notes=[
            "One local host process (Python, GIL) on this 2-core machine, with Azurite and the "
            "sandboxes beside it; AFAS calls per Profit environment are capped at 8 at a time "
            "(shared/afas/profit.py environment_slots), and the bench's clients all book into "
            "one Profit environment.",
        ],
        figures=figures,
    )


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv)
    res.show()
    if "--quick" not in sys.argv:
        res.save()
