"""Run ONE sync job in this (fresh) process and report what it cost, as JSON on stdout.

    python -m bench.worker_child < {"env": {...}, "job": "<SyncJob JSON>"}

Measured apart from the sandboxes and Azurite (they run in the parent): CPU time of this process
(user + system), wall time, the Python heap peak (tracemalloc) and the peak RSS. Before the job,
the pure part (build the entry from the lines, pre-check it against the ledger facts) is timed on
its own, with the lines already read.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc

from shared.bootstrap import Services
from shared.settings import Settings
from shared.sync import worker
from shared.sync.bookers import source_for
from shared.sync.messages import SyncJob


def main() -> int:
    request = json.loads(sys.stdin.read())
    services = Services(Settings.from_env(request["env"]))
    job = SyncJob.from_json(request["job"])
    config = services.clients.get(job.office_id, job.client_id)
    assert config is not None

    # The pure part alone: lines already read, facts already cached on the target.
    with services.loket_client(job.office_id) as loket:
        run = next(iter(loket.list_journal_runs(config.loket_administration_id)))
        lines = list(loket.iter_journal_run_lines(run.id))
    target = services.booker(config)
    draft = target.draft(source_for(config, run, lines))
    target.precheck(draft)  # reads the facts once
    cpu = time.process_time()
    draft = target.draft(source_for(config, run, lines))
    findings = [*draft.findings, *target.precheck(draft)]
    pure_cpu = time.process_time() - cpu

    # The whole job, as the queue trigger runs it (reads, pre-check, booking, Loket, tables).
    deps = Services(Settings.from_env(request["env"])).worker_deps
    tracemalloc.start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    worker.process(deps, job, dequeue_count=1)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "lines": len(lines),
                "entry_lines": len(draft.entry.lines),
                "findings": [f.code for f in findings],
                "pure_cpu_s": pure_cpu,
                "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                "wall_s": wall,
                "heap_peak_mb": heap_peak / 2**20,
                "max_rss_mb": after.ru_maxrss / 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
