"""Shared plumbing of the benchmarks: a fresh Azurite, the local host, timing, tables, results.

Each benchmark module has ``run(quick: bool) -> Result`` and can run alone
(``python -m bench.<name>``); ``python -m bench`` (``make bench``) runs them all, prints the
tables and writes docs/performance.md from bench/results/*.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.azurite import ROOT, Azurite, start_azurite

RESULTS = ROOT / "bench" / "results"
TEST_KEY = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="  # base64 of 32 x "k", as the tests


def base_env(connection_string: str, **overrides: str) -> dict[str, str]:
    """The settings of a development app on ``connection_string`` (as tests/conftest.py)."""
    env = {
        "AzureWebJobsStorage": connection_string,
        "LOONBRUG_ENVIRONMENT": "development",
        "TOKEN_ENCRYPTION_KEY": TEST_KEY,
        "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
        "LOKET_CLIENT_ID": "loket-client",
        "LOKET_CLIENT_SECRET": "loket-secret",
        "AFAS_SB_CLIENT_ID": "sb-client",
        "AFAS_SB_CLIENT_SECRET": "sb-secret",
        "NIGHTLY_LOCAL_HOUR": "2",
    }
    env.update(overrides)
    return env


@dataclass
class Result:
    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    measured_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    machine: str = field(
        default_factory=lambda: (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
    )

    def table(self) -> str:
        return markdown_table(self.headers, self.rows)

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        path.write_text(json.dumps(asdict(self), indent=2, default=str) + "\n")
        return path

    def show(self) -> None:
        print(f"\n## {self.title}\n\n{self.table()}\n")
        for note in self.notes:
            print(f"- {note}")
        sys.stdout.flush()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(call: Callable[[], Any], repeat: int, warmup: int = 5) -> list[float]:
    """Milliseconds per call of ``call``, ``repeat`` times after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@contextmanager
def fresh_azurite() -> Iterator[tuple[Azurite, Path]]:
    with tempfile.TemporaryDirectory(prefix="loonbrug-bench-") as tmp:
        workdir = Path(tmp)
        azurite = start_azurite(log_path=str(workdir / "azurite.log"))
        try:
            yield azurite, workdir
        finally:
            azurite.stop()


def load_results() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]


def size(name: str, full: int, quick: int, *, quick_run: bool) -> int:
    """A benchmark size: ``BENCH_{NAME}`` from the environment if set (iterate on small sizes:
    ``BENCH_NIGHTLY_CLIENTS=200 python -m bench nightly``), else ``quick`` or ``full``."""
    raw = os.environ.get(f"BENCH_{name.upper()}", "").strip()
    if raw:
        return int(raw)
    return quick if quick_run else full
