"""``make bench``: run every benchmark, print its table, write docs/performance.md.

python -m bench                 # all, full size (about 10 minutes)
python -m bench --quick         # all, small sizes (a smoke test of the harness)
python -m bench api_runs nightly
python -m bench --render        # only rewrite docs/performance.md from bench/results/

Sizes come from the environment when set (iterate on small ones): BENCH_NIGHTLY_CLIENTS,
BENCH_ROUND_TRIP_CLIENTS, BENCH_WORKER_LINES, BENCH_API_RUNS_LARGE.
"""

from __future__ import annotations

import importlib
import sys
import time

from bench.common import load_results
from devtools.azurite import ROOT

ORDER = (
    "import_time",
    "api_runs",
    "round_trips",
    "worker_10k",
    "nightly",
    "queue_settings",
    "reconciliation",
)
DOC = ROOT / "docs" / "performance.md"
NOTES = ROOT / "bench" / "notes.md"


def render() -> str:
    results = {r["name"]: r for r in load_results()}
    parts = [
        "# Performance\n",
        "Written by `make bench` (bench/, not part of `make test`) from bench/results/*.json; "
        "the analysis below the tables is bench/notes.md. Rerun it after a change that could "
        "matter and commit both.\n",
    ]
    for name in ORDER:
        result = results.get(name)
        if result is None:
            parts.append(f"## {name}\n\nNot measured yet: `python -m bench {name}`.\n")
            continue
        from bench.common import markdown_table

        parts.append(f"## {result['title']}\n")
        parts.append(markdown_table(result["headers"], result["rows"]) + "\n")
        parts += [f"- {note}" for note in result["notes"]]
        parts.append(f"- Measured {result['measured_at']} on {result['machine']}.\n")
    parts.append(NOTES.read_text())
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    if "--render" not in argv:
        wanted = [a for a in argv if not a.startswith("--")] or list(ORDER)
        for name in wanted:
            module = importlib.import_module(f"bench.{name}")
            started = time.perf_counter()
            print(f"\n# bench {name}{' (quick)' if quick else ''} ...", flush=True)
            result = module.run(quick=quick)
            result.show()
            if not quick:
                result.save()
            print(f"({time.perf_counter() - started:.0f} s)", flush=True)
    if not quick:
        DOC.write_text(render())
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
