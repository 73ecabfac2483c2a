"""The randomized sync soak (``make soak``, not ``make test``): one office with many clients
(Profit and SB) over several nightlies and reruns, new Loket journal runs appearing between
nights, a few clients that share their Loket payroll administration and AFAS administration
with another client, and random faults from the matrix's catalogue at random steps of random
deliveries (tests/support/fault_catalogue.py ``Chaos``). Then the faults stop, one more nightly
settles what is left, and THE invariant must hold, with every ready run booked exactly once.

Seeded: each seed decides the scenario and which deliveries meet which fault, and is printed.
The soak runs once per seed of ``SOAK_SEEDS`` (comma-separated; default: the three below), or
only ``SOAK_SEED``. ``SOAK_CONCURRENCY=1`` replays a run exactly (with workers side by side,
which job meets a shared sandbox fault first may vary; the invariant must hold anyway).
``SOAK_WRITE_DOCS=1`` (set by ``make soak``) writes the summaries of the seeds run into
docs/reliability.md.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from devtools.azurite import ROOT, Azurite
from devtools.sandbox.loket import (
    Scenario,
    ScenarioAdministration,
    ScenarioEmployer,
    balanced_lines,
    make_run,
    sandbox_id,
)
from shared.runs.model import JobStatus
from tests.support.fault_catalogue import SECOND_JOURNAL, Chaos
from tests.support.fault_world import FaultWorld, fault_world

DEFAULT_SEEDS = (20261124, 20261125, 20261126)
SEEDS = tuple(
    int(seed)
    for seed in (
        os.environ.get("SOAK_SEEDS")
        or os.environ.get("SOAK_SEED")
        or ",".join(map(str, DEFAULT_SEEDS))
    ).split(",")
    if seed.strip()
)
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "3"))
CLIENTS = 40
TWINS = (0, 1, 2)  # clients t000.. share s000..'s Loket and AFAS administration (s002 is SB)
NIGHTS = 6
RERUN_AFTER = (2, 4)  # a rerun over the whole year after these nights
RATE = 0.12  # chance of a fault at each checkpoint of a delivery
DOC = ROOT / "docs" / "reliability.md"


def soak_scenario(rng: random.Random) -> Scenario:
    scenario = Scenario()
    for n in range(CLIENTS):
        employer = ScenarioEmployer(sandbox_id("soak", n), f"Soak werkgever {n} B.V.", 30_000 + n)
        admin_id = sandbox_id(employer.id, "administration")
        administration = ScenarioAdministration(
            admin_id, f"Soak loonadministratie {n}", 7_000 + n, 1
        )
        administration.runs.append(
            make_run(admin_id, 1, 4, 2024, 1, lines=balanced_lines(rng, rng.randint(3, 14)))
        )
        employer.administrations.append(administration)
        scenario.employers.append(employer)
    return scenario


def grow(world: FaultWorld, rng: random.Random) -> int:
    """Between nights, Loket gets new journal runs: the next period's payroll (now and then a
    run without lines, a test-year run, or one that is not ready until a later night)."""
    added = 0
    for administration in list(world.loket.scenario.administrations()):
        for run in administration.runs:
            if run.status == 0 and rng.random() < 0.5:
                world.loket.set_run_status(run.id, 4)  # ready now
        if rng.random() >= 0.6:
            continue
        sequence = len(administration.runs) + 1
        if sequence > 12:
            continue
        roll = rng.random()
        lines = [] if roll < 0.05 else balanced_lines(rng, rng.randint(3, 14))
        status = 0 if 0.05 <= roll < 0.1 else 4
        new = make_run(
            administration.id, sequence, status, 2024, sequence, lines=lines, test_year=roll > 0.95
        )
        world.loket.add_run(administration.id, new)
        added += 1
    return added


def kind_of(n: int) -> str:
    return "sb" if n % 3 == 2 else "profit"


@pytest.mark.soak
@pytest.mark.parametrize("seed", SEEDS)
def test_sync_soak(fault_azurite: Azurite, seed: int) -> None:
    print(
        f"\nsync soak: seed {seed}, concurrency {CONCURRENCY} (rerun: SOAK_SEED={seed} make soak)"
    )
    rng = random.Random(seed)
    started = time.perf_counter()
    clients = tuple(
        (f"s{n:03d}", f"Soak loonadministratie {n}", kind_of(n)) for n in range(CLIENTS)
    ) + tuple((f"t{n:03d}", f"Soak loonadministratie {n}", kind_of(n)) for n in TWINS)
    with fault_world(
        fault_azurite, seed=seed, loket=soak_scenario(rng), clients=clients, concurrency=CONCURRENCY
    ) as world:
        world.afas.profit().administrations[1].add_journal(*SECOND_JOURNAL)  # journal_changed
        by_name = {a.name: a.id for a in world.loket.scenario.administrations()}
        chaos = Chaos(
            world,
            seed,
            RATE,
            kinds={c: kind for c, _, kind in clients},
            administrations={c: by_name[name] for c, name, _ in clients},
        )
        world.hook = chaos
        runs = 0
        for night in range(1, NIGHTS + 1):
            world.nightly()
            world.drain(timeout=900)
            runs += 1
            if night in RERUN_AFTER:
                world.rerun(date(2024, 1, 1), date(2024, 12, 31))
                world.drain(timeout=900)
                runs += 1
            grow(world, rng)
            world.clock.advance(timedelta(days=1))
        # The weather clears: one more nightly books whatever the faults left behind.
        chaos.calm()
        world.clock.advance(timedelta(days=1))
        world.nightly()
        world.drain(timeout=900)
        runs += 1
        report = world.check()
        stats = world.stats
        jobs = report.jobs
        failed_jobs = Counter(
            job.last_error or "a journal run failed"
            for run_id in world.run_ids
            for job in world.admin.runs.jobs(world.office, run_id)
            if job.status is JobStatus.FAILED
        )
    elapsed = time.perf_counter() - started
    duplicates = sum(v.startswith("DUPLICATE") for v in report.violations)
    lost = sum(v.startswith("LOST") for v in report.violations)
    lines = [
        f"seed {seed}, {len(clients)} clients ({sum(k == 'profit' for *_, k in clients)} Profit, "
        f"{sum(k == 'sb' for *_, k in clients)} SB; {len(TWINS)} share their administrations "
        f"with another client), {runs} runs ({NIGHTS + 1} nightlies, {len(RERUN_AFTER)} reruns), "
        f"concurrency {CONCURRENCY}, {elapsed:.0f} s",
        f"{jobs} jobs in {stats.deliveries} deliveries: {stats.succeeded} returned, "
        f"{stats.retried} retried, {stats.killed} killed, {stats.poisoned} to poison "
        f"({stats.poison_handled} handled)",
        "faults injected: "
        + ", ".join(f"{k} {n}" for k, n in sorted(chaos.injected.items()))
        + f" (total {sum(chaos.injected.values())}); re-consents during a refresh: "
        + ", ".join(f"{k} {n}" for k, n in sorted(chaos.reconsent.done.items()) or [("none", 0)]),
        "failed jobs (each run booked later, or failed for its content): "
        + (", ".join(f"{k} {n}" for k, n in sorted(failed_jobs.items())) or "none"),
        f"duplicate vouchers / tracking ids: {duplicates}, lost journal runs: {lost}",
        report.summary(),
    ]
    summary = "\n".join(lines)
    print(summary)
    if os.environ.get("SOAK_WRITE_DOCS"):
        write_figures(seed, summary)
    assert report.ok, "\n  ".join([summary, *report.violations[:60]])
    assert not chaos.reconsent.errors, chaos.reconsent.errors
    # Faults never leave a run failed once the weather clears; what fails does so for its
    # content (the soak's random lines may put a cost-centre account without a cost centre,
    # which the pre-check refuses, visibly, every night).
    settled = report.booked + report.already_booked + report.failed_visibly + report.skipped_empty
    assert settled == report.expected, summary
    assert all("vraagt een kostenplaats" in f for f in report.failures), "\n  ".join(
        [summary, *report.failures]
    )
    assert stats.killed > 0 and sum(chaos.injected.values()) >= 100, summary


_WRITTEN: dict[int, str] = {}  # seed -> summary, of the seeds this session ran


def write_figures(seed: int, summary: str) -> None:
    """Replace the soak block in docs/reliability.md (between the markers) with the summaries of
    every seed this session ran, in the order they ran."""
    _WRITTEN[seed] = summary
    text = DOC.read_text()
    body = "\n\n".join(_WRITTEN.values())
    block = "<!-- soak:begin -->\n```text\n" + body + "\n```\n<!-- soak:end -->"
    pattern = re.compile(r"<!-- soak:begin -->.*?<!-- soak:end -->", re.S)
    if not pattern.search(text):
        raise AssertionError("docs/reliability.md has no soak markers")
    DOC.write_text(pattern.sub(lambda _: block, text))
    print(f"wrote the soak figures into {Path(DOC).relative_to(ROOT)}")
