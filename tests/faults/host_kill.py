"""The matrix's slow cells: the local host (a real Functions-host stand-in, its own Azurite)
killed with SIGKILL the moment a job passes a step, then started again; after the dust
settles, the same invariant as every other cell."""

from __future__ import annotations

from pathlib import Path

from shared.sync.ledger import State as BookingState
from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE
from tests.support.fault_catalogue import DONE_AT
from tests.support.invariants import assert_invariant, snapshot
from tests.support.localhost import start_local_host, wait_until
from tests.support.sync_world import sync_world

QUEUE_LEASE = "3"  # seconds a running message stays invisible (renewed while the host lives)


def host_killed_cell(step: str, tmp_path: Path) -> None:
    at = DONE_AT[step]
    args = ("--queue-lease", QUEUE_LEASE)
    # The Profit client's job pulls the switch: the SB jobs beside it may be anywhere (an SB post
    # cut off is safe to repeat). A Profit post cut off mid-flight is deferred for AFAS's quiet
    # period (minutes with production timeouts): tests/faults/test_weaknesses.py pins that.
    with sync_world(tmp_path, host_args=(*args, "--kill-at", f"{at}@4711")) as world:
        world.profit_client("4711", "Korenschoof maandloners")
        world.sb_client("4712", "Korenschoof 4-wekers")
        world.sb_client("5120", "Van Dijk installatie")
        expectation = snapshot(world.services, world.loket, world.office)
        world.nightly()
        wait_until(lambda: world.host.process.poll() is not None, timeout=60, what="the kill")
        assert f"kill switch: sync job reached {at}" in world.host.log_text()
        in_flight = [
            b
            for key, run in expectation.ready.items()
            if (b := world.services.bookings.get(run.target_key, key[1])) is not None
        ]
        wanted = BookingState.BOOKED if step == "post" else BookingState.MARKED
        assert any(b.state is wanted for b in in_flight), [b.state for b in in_flight]
        world.host = start_local_host(
            world.env,
            tmp_path,
            port=world.host.port,
            args=("--no-timers", "--host-json", str(tmp_path / "host.json"), *args),
        )
        run = world.wait_for_run(str(world.latest_run()["runId"]), timeout=90)
        queues = [world.services.storage.queue(q) for q in (SYNC_QUEUE, SYNC_POISON_QUEUE)]
        wait_until(
            lambda: all(q.get_queue_properties().approximate_message_count == 0 for q in queues),
            timeout=30,
            what="both queues empty",
        )
        report = assert_invariant(world.services, world.loket, world.afas, expectation)
    assert run["status"] == "done", run["messages"]
    assert (report.booked, report.failed_visibly, report.skipped_empty) == (4, 0, 1)
