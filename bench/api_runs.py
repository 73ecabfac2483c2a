"""``GET /api/runs`` and ``GET /api/runs/{id}`` on the local host with 1,000 and 100,000 runs
stored for the office (seeded through ``RunRepository.create_many`` in entity-group transactions).

The ratio of the latencies (100k / 1k) shows whether a request's cost grows with the number of
runs an office has: ~1 means it reads only what it returns.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import requests

from bench.common import Result, base_env, fresh_azurite, percentile, timed
from bench.common import size as bench_size
from shared.api.auth import encode_principal
from shared.bootstrap import Services
from shared.runs.model import RunType
from shared.settings import Settings
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, Level, RunMessage
from shared.store.runs import NewRun
from tests.support.localhost import start_local_host

SIZES = (1_000, 100_000)
RERUN_EVERY = 50  # 2% of the runs are reruns: ?type=rerun has to skip the nightlies
T0 = datetime(2026, 1, 1, 1, 5, tzinfo=UTC)


def seed(services: Services, office: str, count: int) -> tuple[list[str], float]:
    """``count`` runs, one per hour back from T0; details for a sample. Answers sample ids."""
    started = time.perf_counter()
    runs = (
        (
            NewRun(
                office,
                f"{'rerun' if n % RERUN_EVERY == 0 else 'nightly'}-{n:06d}",
                RunType.RERUN if n % RERUN_EVERY == 0 else RunType.NIGHTLY,
                T0 - timedelta(hours=n),
            ),
            3,
        )
        for n in range(count)
    )
    services.runs.create_many(office, runs)
    rng = random.Random(count)
    sample = [
        f"{'rerun' if n % RERUN_EVERY == 0 else 'nightly'}-{n:06d}"
        for n in rng.sample(range(count), 20)
    ]
    for run_id in sample:
        for client in range(3):
            services.run_details.record(
                office,
                run_id,
                JournalRunRecord(
                    client_id=f"client-{client}",
                    loket_journal_run_id=str(uuid.uuid4()),
                    payroll_run_id=str(uuid.uuid4()),
                    payroll_period="2025-12",
                    sequence_number=1,
                    status=JournalRunOutcome.IMPORTED,
                    environment="12345",
                    entry_number=str(1000 + client),
                    reference=f"LB-{client}",
                ),
            )
            services.run_details.message(
                office,
                run_id,
                RunMessage(
                    T0, Level.INFO, "Journaalpost geïmporteerd.", client_id=f"client-{client}"
                ),
                key=f"m{client}",
            )
    return sample, time.perf_counter() - started


AZURITE_ALONE = "Azurite alone: the 21-row range query of the first page"


def run(quick: bool = False) -> Result:
    sizes = (1_000, bench_size("api_runs_large", SIZES[1], 10_000, quick_run=quick))
    repeat = 50 if quick else 200
    rows: list[list[object]] = []
    figures: dict[str, object] = {}
    with fresh_azurite() as (azurite, workdir):
        env = base_env(azurite.connection_string)
        services = Services(Settings.from_env(env))
        host = start_local_host(env, workdir, args=("--no-timers",))
        try:
            session = requests.Session()
            measured: dict[str, dict[int, list[float]]] = {}
            for size in sizes:
                office = f"bench-{size}"
                sample, seconds = seed(services, office, size)
                figures[f"seed_seconds_{size}"] = round(seconds, 1)
                headers = {"X-MS-CLIENT-PRINCIPAL": encode_principal(office_id=office, user_id="b")}
                cycle = iter(sample * (repeat // len(sample) + 2))

                def get(path: str, headers: dict[str, str] = headers) -> None:
                    answer = session.get(host.url(path), headers=headers, timeout=60)
                    assert answer.status_code == 200, answer.text

                def detail(get: Any = get, cycle: Iterator[str] = cycle) -> None:
                    get(f"/api/runs/{next(cycle)}")

                cases: dict[str, Callable[[], None]] = {
                    "GET /api/runs (first page, 20)": partial(get, "/api/runs"),
                    "GET /api/runs?limit=100": partial(get, "/api/runs?limit=100"),
                    "GET /api/runs?type=rerun": partial(get, "/api/runs?type=rerun"),
                    "GET /api/runs/{id} (3 journal runs, 3 messages)": detail,
                }
                # The same range query the first page makes, straight against the emulator:
                # if this grows with the partition too, the emulator scans, not our code.
                table = services.storage.table("Runs")

                def raw_range(table: Any = table, office: str = office) -> None:
                    rows = table.query_entities(
                        "PartitionKey eq @pk and RowKey gt @a and RowKey lt @b",
                        parameters={"pk": office, "a": "ix|", "b": "ix}"},
                        results_per_page=21,
                    )
                    next(iter(rows.by_page()))

                cases[AZURITE_ALONE] = raw_range
                for name, call in cases.items():
                    reps = repeat if "type=" not in name or size < 50_000 else max(repeat // 10, 10)
                    measured.setdefault(name, {})[size] = timed(call, reps)
            small, large = sizes
            scan = {s: percentile(v, 50) for s, v in measured[AZURITE_ALONE].items()}
            for name, by_size in measured.items():
                p50s = {s: percentile(v, 50) for s, v in by_size.items()}
                p95s = {s: percentile(v, 95) for s, v in by_size.items()}
                ratio = p50s[large] / p50s[small]
                # Issue 18's measure: the growth that is ours, Azurite's own scan of the range
                # (the "Azurite alone" row, which Table Storage answers from its index) taken out.
                ours = (
                    ""
                    if name == AZURITE_ALONE or not name.startswith("GET /api/runs")
                    else f"{max(p50s[large] - (scan[large] - scan[small]), 0.0) / p50s[small]:.2f}"
                )
                rows.append(
                    [name, p50s[small], p95s[small], p50s[large], p95s[large], f"{ratio:.2f}",
                     ours, "<= 1.5" if ours else ""]
                )  # fmt: skip
                figures[name] = {"p50": p50s, "p95": p95s, "ratio_p50": round(ratio, 2)}
        finally:
            host.stop()
    return Result(
        name="api_runs",
        title=f"Runs API latency, {sizes[0]:,} vs {sizes[1]:,} runs stored for the office (ms)",
        headers=[
            "request",
            f"p50 {sizes[0]:,}",
            f"p95 {sizes[0]:,}",
            f"p50 {sizes[1]:,}",
            f"p95 {sizes[1]:,}",
            "ratio p50",
            "ratio without Azurite's scan",
            "goal",
        ],
        rows=rows,
        notes=[
            "Every request reads only what it returns (the first page: one range query for 21 "
            "rows; a run: 2 point reads + one query of its own detail partition). Azurite "
            "(LokiJS) evaluates a range query by scanning the table, Table Storage by the "
            "(PartitionKey, RowKey) index: the 'Azurite alone' row shows how much of the "
            "listing's growth is the emulator's.",
            f"{repeat} requests per case (fewer for type=rerun at the large size), one client, "
            "keep-alive, on the local host with Azurite; seeding "
            + ", ".join(f"{s:,} runs in {figures[f'seed_seconds_{s}']} s" for s in sizes)
            + ".",
        ],
        figures=figures,
    )


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    result.show()
    if "--quick" not in sys.argv:
        result.save()
