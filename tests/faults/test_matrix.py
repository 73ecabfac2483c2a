"""The fault-injection matrix: every step of a sync job x every fault, then THE invariant
(tests/support/invariants.py) over the sandboxes' ledgers and our tables.

Each cell is a fresh office on fresh sandboxes (Azurite of its own for the session) with three
clients: Profit 4711 (one ready run and a test-year run), SB 4712 (a ready run and a ready run
without lines), SB 5120 (an export-failed run and a ready run): 4 runs to book, 1 to skip. The
nightly is planned by the real planner; worker processes take the jobs from the real queue with
the host's semantics (tests/support/fault_world.py). Every fault is transient, so after the dust
settles all 4 runs must be booked exactly once, and Loket told once.

The faults of issue 15 are scenarios around one step (tests/support/fault_catalogue.py says
each): an unreadable success after a booking, a failing look-up after an unanswered post, a
journal changed while a post is outstanding, an approval during AFAS maintenance followed by a
changed mapping, a re-consent during a token refresh, and two clients sharing one Loket payroll
administration and one AFAS administration (then each run is booked once for both: one client
reports it imported, the other "already booked").

Seeded (per cell) and, apart from the cells whose point is concurrency, sequential: a cell
fails the same way again. Combinations that cannot happen are skipped with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.azurite import Azurite
from tests.support.fault_catalogue import (
    AFAS_PATHS,
    FAULTS,
    STEPS,
    inject,
    sb_refreshes,
    skip_reason,
)
from tests.support.fault_world import fault_world

SEED = int(os.environ.get("FAULT_MATRIX_SEED", "20261124"))
RACES = ("refresh_race", "reconsent_refresh")


def cells() -> list[object]:
    found: list[object] = []
    for step in STEPS:
        for fault in FAULTS:
            reason = skip_reason(step, fault)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            found.append(pytest.param(step, fault, id=f"{step}-{fault}", marks=marks))
    return found


@pytest.mark.parametrize(("step", "fault"), cells())
def test_matrix(step: str, fault: str, fault_azurite: Azurite, tmp_path: Path) -> None:
    if fault == "host_killed":
        from tests.faults.host_kill import host_killed_cell

        host_killed_cell(step, tmp_path)
        return
    seed = SEED + 100 * STEPS.index(step) + FAULTS.index(fault)
    with fault_world(fault_azurite, seed=seed) as world:
        injected = inject(world, step, fault)
        world.nightly()
        world.drain(timeout=60)
        injected.after()
        report = world.assert_invariant()
        injected.verify()
        stats = world.stats
        loket = world.loket
        sb_now = sb_refreshes(world)
    figures = (report.booked, report.already_booked, report.failed_visibly, report.skipped_empty)
    assert figures == injected.expect, report.summary()
    if fault == "crash":
        assert stats.killed >= 1, stats
    elif fault == "duplicate":
        assert injected.overlap is not None and injected.overlap.met == 3, stats  # every job
    elif fault in RACES:
        meet = injected.rendezvous
        assert meet is not None and meet.met == meet.parties, stats  # all raced together
        loket_before, reuse_before, sb_before = injected.refresh_before
        assert loket.reuse_detected == reuse_before  # a rotated token was never sent twice
        if step in AFAS_PATHS:
            assert sb_now - sb_before == 1, "the SB workers should share one refresh"
        else:
            assert loket.refresh_grants - loket_before == 1, "one Loket refresh for all workers"
    else:
        assert injected.spent(), "the injected fault was never hit"
