"""The sync engine under faults: every ready run is booked exactly once or fails visibly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devtools.sandbox.loket import default_scenario
from shared.store.connections import ConnectionKey, ConnectionKind, ConnectionState
from shared.sync.ledger import State as BookingState
from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE, SyncJob
from tests.support.invariants import Expectation, Report, assert_invariant, snapshot
from tests.support.localhost import start_local_host, wait_until
from tests.support.sync_world import World, sync_world

MONTHLY = "Korenschoof maandloners"
FOUR_WEEKLY = "Korenschoof 4-wekers"


def nightly_once(world: World) -> dict[str, Any]:
    world.nightly()
    return world.wait_for_run(world.latest_run()["runId"], timeout=90)


def settled(world: World, expectation: Expectation) -> Report:
    """THE invariant (tests/support/invariants.py), once both queues are empty."""
    queues = [world.services.storage.queue(q) for q in (SYNC_QUEUE, SYNC_POISON_QUEUE)]
    wait_until(
        lambda: all(q.get_queue_properties().approximate_message_count == 0 for q in queues),
        timeout=30,
        what="both queues empty",
    )
    return assert_invariant(world.services, world.loket, world.afas, expectation)


def imported(run: dict[str, Any], client: str) -> list[dict[str, Any]]:
    rows = run["journalRuns"]
    assert isinstance(rows, list)
    return [r for r in rows if r["clientId"] == client and r["status"] == "imported"]


def test_transient_loket_and_afas_faults_are_absorbed(tmp_path: Path) -> None:
    with sync_world(tmp_path) as world:
        world.profit_client("4711", MONTHLY)
        world.loket.fail("journal_runs", 503, times=2)
        world.loket.rate_limit("journal_run_results", retry_after=1, times=2)
        world.loket.slow("patch_journal_run", 1.0, times=1)
        world.afas.throttle("connectors/FiEntries", status=429, retry_after=1, times=1)
        world.afas.throttle("Profit_Accounts", status=503, retry_after=1, times=1)
        world.afas.slow("connectors/FiEntries", seconds=1.5, times=1)
        expectation = snapshot(world.services, world.loket, world.office)
        run = nightly_once(world)
        assert run["status"] == "done", run["messages"]
        assert len(imported(run, "4711")) == 1
        assert len(world.afas.profit_entries()) == 1
        assert world.loket_status(world.runs_of(MONTHLY)[1].id) == 7
        assert settled(world, expectation).booked == 1


def test_book_then_fail_leaves_exactly_one_entry(tmp_path: Path) -> None:
    with sync_world(tmp_path) as world:
        world.profit_client("4711", MONTHLY)
        world.sb_client("4712", FOUR_WEEKLY)
        world.afas.book_then_fail("connectors/FiEntries", status=500)
        world.afas.book_then_fail("payrolljournalentry", status=503)
        expectation = snapshot(world.services, world.loket, world.office)
        run = nightly_once(world)
        assert run["status"] == "done", run["messages"]
        assert len(world.afas.profit_entries()) == 1
        assert len(world.afas.sb_bookings()) == 1
        assert len(imported(run, "4711")) == 1 and len(imported(run, "4712")) == 1
        assert settled(world, expectation).booked == 2


def test_a_dropped_answer_is_settled_by_the_voucher_on_redelivery(tmp_path: Path) -> None:
    with sync_world(tmp_path) as world:
        world.profit_client("4711", MONTHLY)
        world.afas.book_then_drop("connectors/FiEntries")
        expectation = snapshot(world.services, world.loket, world.office)
        run = nightly_once(world)
        assert run["status"] == "done", run["messages"]
        assert len(world.afas.profit_entries()) == 1
        row = imported(run, "4711")[0]
        booking = world.services.bookings.get("profit|12345|1", str(row["loketJournalRunId"]))
        assert booking is not None and booking.state is BookingState.MARKED
        # The unanswered POST was settled by looking the voucher up, never by posting again.
        assert world.afas.count("connectors/FiEntries", "POST") == 1
        assert world.afas.count("Profit_Transactions") >= 1
        assert settled(world, expectation).booked == 1


def test_duplicate_deliveries_book_once(tmp_path: Path) -> None:
    with sync_world(tmp_path) as world:
        world.profit_client("4711", MONTHLY)
        world.afas.slow("connectors/FiEntries", seconds=1.0, times=3)
        expectation = snapshot(world.services, world.loket, world.office)
        world.nightly()
        run_id = world.latest_run()["runId"]
        queue = QueueClient.from_connection_string(
            world.azurite.connection_string,
            "sync-jobs",
            message_encode_policy=TextBase64EncodePolicy(),
        )
        for _ in range(3):  # the planner (or a replayed tick) sent the same job again
            queue.send_message(SyncJob(world.office, str(run_id), "4711").to_json())
        run = world.wait_for_run(str(run_id), timeout=90)
        assert run["status"] == "done", run["messages"]
        assert (run["jobsTotal"], run["jobsDone"]) == (1, 1)
        assert len(world.afas.profit_entries()) == 1
        wait_until(
            lambda: queue.get_queue_properties().approximate_message_count == 0,
            timeout=30,
            what="duplicates drained",
        )
        assert len(world.afas.profit_entries()) == 1
        assert len(imported(world.api("GET", f"/api/runs/{run_id}").json(), "4711")) == 1
        assert settled(world, expectation).booked == 1


def test_worker_killed_between_posting_and_recording(tmp_path: Path) -> None:
    with sync_world(tmp_path, host_args=("--queue-lease", "3")) as world:
        world.profit_client("4711", MONTHLY)
        world.afas.book_then_hang("connectors/FiEntries", seconds=6)
        expectation = snapshot(world.services, world.loket, world.office)
        world.nightly()
        run_id = str(world.latest_run()["runId"])
        wait_until(lambda: world.afas.profit_entries(), timeout=30, what="AFAS to book the entry")
        world.host.stop(kill=True)  # the worker dies with the POST unanswered
        booking_key = world.runs_of(MONTHLY)[1].id
        booking = world.services.bookings.get("profit|12345|1", booking_key)
        assert booking is not None and booking.state is BookingState.POSTED
        time.sleep(0)  # the queue lease (3 s) expires on its own; no waiting needed here
        world.host = start_local_host(
            world.env,
            tmp_path,
            port=world.host.port,
            args=("--no-timers", "--host-json", str(tmp_path / "host.json")),
        )
        run = world.wait_for_run(run_id, timeout=90)
        assert run["status"] == "done", run["messages"]
        assert len(world.afas.profit_entries()) == 1
        assert len(imported(run, "4711")) == 1
        recovered = world.services.bookings.get("profit|12345|1", booking_key)
        assert recovered is not None and recovered.state is BookingState.MARKED
        assert settled(world, expectation).booked == 1


def test_loket_garbage_fails_the_client_visibly_without_retrying_forever(tmp_path: Path) -> None:
    with sync_world(tmp_path) as world:
        world.profit_client("4711", MONTHLY)
        world.loket.garbage("journal_runs", times=None)
        run = nightly_once(world)
        assert run["status"] == "failed"
        messages = [m for m in run["messages"] if m["clientId"] == "4711"]
        assert any(
            "Loket gaf een antwoord dat Loonbrug niet begrijpt" in m["text"] for m in messages
        )
        assert world.afas.profit_entries() == []


def test_revoked_loket_consent_fails_visibly_and_asks_to_reconnect(tmp_path: Path) -> None:
    with sync_world(tmp_path, loket=default_scenario()) as world:
        world.profit_client("4711", MONTHLY)
        world.loket.revoke_consent()
        world.loket.expire_access_tokens()
        run = nightly_once(world)
        assert run["status"] == "failed"
        text = " ".join(m["text"] + " " + m["hint"] for m in run["messages"])
        assert "opnieuw toestemming" in text and "Koppel opnieuw" in text
        connection = world.services.connections.get(
            ConnectionKey(world.office, ConnectionKind.LOKET)
        )
        assert connection is not None and connection.state is ConnectionState.REAUTHORIZE
        states = {
            c["kind"]: c["state"]
            for c in world.api("GET", "/api/connections").json()["connections"]
        }
        assert states["loket"] == "reauthorize"


def test_a_job_that_exhausts_its_retries_ends_failed_with_a_message(tmp_path: Path) -> None:
    with sync_world(tmp_path) as world:
        world.profit_client("4711", MONTHLY)
        world.loket.fail("journal_runs", 503, times=None)  # Loket stays down
        expectation = snapshot(world.services, world.loket, world.office)
        run = nightly_once(world)
        assert run["status"] == "failed" and run["jobsDone"] == 1
        exhausted = [m for m in run["messages"] if "pogingen gestopt" in m["text"]]
        assert len(exhausted) == 1
        assert "Loket.nl was niet bereikbaar" in exhausted[0]["text"] and exhausted[0]["hint"]
        world.host.wait_for_log(r"Moving message to queue 'sync-jobs-poison'")
        assert world.afas.profit_entries() == []
        report = settled(world, expectation)  # not booked, but visibly failed: never lost
        assert (report.booked, report.failed_visibly) == (0, 1)
