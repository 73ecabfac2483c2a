"""Weaknesses the fault matrix found, each pinned by a deterministic test (docs/reliability.md
lists them). Every test fails on the code before its fix."""

from __future__ import annotations

import json
import threading

from devtools.azurite import Azurite
from devtools.sandbox.afas import PROFIT_TOKEN, token_data
from shared.api.handlers import afas_connections
from shared.runs.model import JobStatus
from shared.store.connections import ConnectionKey, ConnectionKind
from shared.store.run_details import JournalRunOutcome
from shared.sync.messages import SYNC_QUEUE, SyncJob
from shared.sync.worker import RetryLater, start_job
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers
from tests.support.fault_catalogue import Rendezvous
from tests.support.fault_world import Delivery, Timeouts, fault_world
from tests.support.localhost import wait_until

PROFIT_ONLY = (("4711", "Korenschoof maandloners", "profit"),)
VAN_DIJK_SB = (("5120", "Van Dijk installatie", "sb"),)


def test_a_duplicate_delivered_while_the_first_post_is_in_flight_books_once(
    fault_azurite: Azurite,
) -> None:
    """Was: a duplicate message of the job, retried (dequeue count 2) while the first delivery
    waited for a slow Profit post, took the ledger claim over ("a redelivery of the same run")
    and posted again: two entries. Now a delivery holds the job (lease, by message id) and a
    duplicate message is dropped while it does."""
    with fault_world(
        fault_azurite, seed=1, clients=PROFIT_ONLY, timeouts=Timeouts(read=3.0)
    ) as world:
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.slow("connectors/FiEntries", seconds=1.0)
        outcome: list[BaseException | None] = []

        def duplicate() -> None:
            # The first delivery's post has reached AFAS (and waits there 1 s): a bounded wait
            # on that condition, not a guess at how long the way there takes.
            wait_until(
                lambda: world.afas.count("connectors/FiEntries", "POST") == 1,
                timeout=5,
                what="the first delivery's post in flight",
            )
            outcome.append(world.deliver_now(body, dequeue_count=2, message_id="dup", slot=1))

        started: list[threading.Thread] = []

        def start_duplicate() -> None:
            thread = threading.Thread(target=duplicate)
            thread.start()
            started.append(thread)

        # The first delivery, once past its pre-check, lets the duplicate go.
        world.hook = Rendezvous(
            "prechecked", 1, action=start_duplicate, which=lambda d: d.message_id == "first"
        )
        assert world.deliver_now(body, dequeue_count=1, message_id="first") is None
        started[0].join(timeout=30)
        assert not started[0].is_alive()
        assert outcome == [None]  # the duplicate was dropped, not retried
        assert world.afas.count("connectors/FiEntries", "POST") == 1
        world.assert_invariant()


def test_a_post_answered_late_is_not_posted_again_while_it_may_still_land(
    fault_azurite: Azurite,
) -> None:
    """Was: a post whose answer timed out was posted again by the very next delivery when the
    voucher was not (yet) in Profit; Profit then booked the first one too. Now nothing is
    re-posted until twice the post timeout has passed since it was sent: until then a delivery
    only looks the voucher up, and (second weakness) defers the job to the end of that quiet
    period with a fresh message instead of burning its queue retries (which ended the job as a
    failure after five quick attempts: a worker killed mid-post in production, with a 240 s
    quiet period and 30 s retries, needed a manual rerun)."""
    with fault_world(
        fault_azurite, seed=2, clients=PROFIT_ONLY, timeouts=Timeouts(read=0.3)
    ) as world:
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.slow("connectors/FiEntries", seconds=1.2)  # lands after the client gave up
        first = world.deliver_now(body, dequeue_count=1, message_id="m")
        assert isinstance(first, RetryLater), first  # outcome unknown: the queue retries
        again = world.deliver_now(body, dequeue_count=2, message_id="m")  # the queue's retry
        assert again is None  # deferred: this message is done, a delayed one carries the job
        queue = world.admin.storage.queue(SYNC_QUEUE)
        assert queue.peek_messages() == []  # invisible until the quiet period ends
        assert queue.get_queue_properties().approximate_message_count == 1
        assert world.afas.count("connectors/FiEntries", "POST") == 1
        wait_until(lambda: world.afas.profit_entries(), timeout=10, what="the late booking")
        deferred = wait_until(
            lambda: list(queue.receive_messages(max_messages=1)),
            timeout=10,
            what="the deferred message",
        )
        assert str(deferred[0].content) == body
        queue.delete_message(deferred[0])
        assert world.deliver_now(body, dequeue_count=1, message_id="deferred") is None
        assert world.afas.count("connectors/FiEntries", "POST") == 1
        assert len(world.afas.profit_entries()) == 1
        world.assert_invariant()


def test_a_job_that_fails_whole_counts_what_an_earlier_delivery_booked(
    fault_azurite: Azurite,
) -> None:
    """Was: when a redelivery failed as a whole (here: Loket refuses the list with 403), the
    job counted only what that delivery saw, not the run an earlier, killed delivery had booked
    and recorded: job and run counters disagreed with the rows."""
    with fault_world(fault_azurite, seed=3, clients=VAN_DIJK_SB) as world:
        run_id = world.nightly(send=False)
        (body,) = world.admin.outbox
        killed: list[str] = []

        def kill_after_first_record(step: str, delivery: Delivery | None) -> None:
            from tests.support.fault_world import WorkerKilled

            if step == "recorded" and not killed:
                killed.append(step)
                raise WorkerKilled("killed after recording the first run")

        world.hook = kill_after_first_record
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        world.loket.fail("journal_runs", 403, times=None)
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None
        job = world.admin.runs.get_job(world.office, run_id, "5120")
        assert job is not None and job.status is JobStatus.FAILED
        assert (job.imported, job.failed, job.skipped) == (1, 1, 0)
        run = world.admin.runs.get(world.office, run_id)
        assert run is not None and (run.imported, run.failed, run.jobs_failed) == (1, 1, 1)
        world.assert_invariant()


def test_a_job_row_changed_by_the_planner_is_taken_not_dropped(fault_azurite: Azurite) -> None:
    """Was: when the job row changed between the delivery's read and its start (the planner marks
    a job enqueued right after sending its message), the delivery took the conflict for "another
    delivery has it" and dropped the message: the job stayed unstarted and the run never
    finished. Now the row is read again and the job started (seen once in tests/e2e, a rerun
    that timed out)."""
    with fault_world(fault_azurite, seed=4, clients=PROFIT_ONLY) as world:
        run_id = world.nightly(send=False)
        runs = world.admin.runs
        stale = runs.get_job(world.office, run_id, "4711")
        assert stale is not None
        runs.mark_enqueued([stale])  # the planner writes after the worker read the row
        deps = world.process(0).worker_deps
        job = SyncJob(world.office, run_id, "4711")
        started = start_job(deps, job, stale, "message-1")
        assert started is not None and started.status is JobStatus.RUNNING
        stored = runs.get_job(world.office, run_id, "4711")
        assert stored is not None and (stored.holder, stored.attempts) == ("message-1", 1)


def test_a_run_booked_meanwhile_by_a_client_sharing_the_administration_is_reported_already_booked(
    fault_azurite: Azurite,
) -> None:
    """Was: two clients map the same Loket payroll administration to the same AFAS administration
    (one ledger row per journal run for both). The first client's job had read the lines when
    its twin's job booked the run; the first job's booking step then found the ledger booked and
    reported the run as *imported* too: two imports in the run overview (and its counters) for
    one AFAS entry, and Loket told twice. Now a run the ledger holds as booked by another holder
    is reported "already booked" (skipped), whatever step the job was at (fault matrix,
    precheck x shared_administration)."""
    twins = (
        ("4711", "Korenschoof maandloners", "profit"),
        ("4799", "Korenschoof maandloners", "profit"),
    )
    with fault_world(fault_azurite, seed=5, clients=twins) as world:
        run_id = world.nightly(send=False)
        first, twin = sorted(world.admin.outbox, key=lambda b: json.loads(b)["clientId"])
        outcome: list[BaseException | None] = []

        def twin_books_meanwhile(step: str, delivery: Delivery | None) -> None:
            if step == "read" and delivery and delivery.message_id == "first" and not outcome:
                thread = threading.Thread(
                    target=lambda: outcome.append(
                        world.deliver_now(twin, dequeue_count=1, message_id="twin", slot=1)
                    )
                )
                thread.start()
                thread.join(timeout=30)

        world.hook = twin_books_meanwhile
        assert world.deliver_now(first, dequeue_count=1, message_id="first") is None
        assert outcome == [None]
        assert len(world.afas.profit_entries()) == 1
        rows = {
            (r.client_id, r.status)
            for r in world.admin.run_details.records(world.office, run_id)
            if r.status is not JournalRunOutcome.SKIPPED or r.entry_number
        }
        assert rows == {("4799", JournalRunOutcome.IMPORTED), ("4711", JournalRunOutcome.SKIPPED)}
        messages = world.admin.run_details.messages(world.office, run_id)
        assert any(m.client_id == "4711" and m.code == "already-booked" for m in messages)
        run = world.admin.runs.get(world.office, run_id)
        assert run is not None and run.imported == 1
        world.assert_invariant()


def test_a_run_booked_by_a_job_that_died_before_reporting_it_is_still_reported_by_that_job(
    fault_azurite: Azurite,
) -> None:
    """Found by the soak (seed 20261124). Was: a job booked a journal run and died before it
    recorded the run; a client sharing the administration met the booked ledger row, reported
    "already booked" and told Loket "exported"; the redelivery of the first job listed only runs
    Loket calls ready, so nobody ever reported the booking as imported (the run overview showed
    the entry only as "already booked" elsewhere). Now a nightly job also takes the runs the
    ledger holds as booked by that very job."""
    twins = (
        ("4711", "Korenschoof maandloners", "profit"),
        ("4799", "Korenschoof maandloners", "profit"),
    )
    with fault_world(fault_azurite, seed=6, clients=twins) as world:
        run_id = world.nightly(send=False)
        first, twin = sorted(world.admin.outbox, key=lambda b: json.loads(b)["clientId"])
        killed: list[str] = []

        def die_after_booking(step: str, delivery: Delivery | None) -> None:
            from tests.support.fault_world import WorkerKilled

            if step == "booked" and delivery and delivery.message_id == "first" and not killed:
                killed.append(step)
                raise WorkerKilled("killed after booking, before recording")

        world.hook = die_after_booking
        assert world.deliver_now(first, dequeue_count=1, message_id="first") is not None
        assert world.deliver_now(twin, dequeue_count=1, message_id="twin", slot=1) is None
        assert world.deliver_now(first, dequeue_count=2, message_id="first") is None
        assert len(world.afas.profit_entries()) == 1
        imported = {
            r.client_id
            for r in world.admin.run_details.records(world.office, run_id)
            if r.status is JournalRunOutcome.IMPORTED
        }
        assert imported == {"4711"}
        world.assert_invariant()


def test_a_post_refused_for_a_journal_blocked_after_setup_still_says_which_journal_in_dutch(
    fault_azurite: Azurite,
) -> None:
    """Issue 18: the journals are no longer read before every post (one AFAS call per job);
    AFAS's refusal is the check. A journal blocked in AFAS after the client was set up still
    fails the run with the pre-check's Dutch words (which journal, what to do), read from AFAS
    only to explain the refusal, and nothing is booked."""
    with fault_world(fault_azurite, seed=21, clients=PROFIT_ONLY) as world:
        world.afas.profit().administrations[1].journals["80"].blocked = True
        read_at_setup = world.afas.count("Profit_Journals")
        run_id = world.nightly()
        world.drain()
        records = world.admin.run_details.records(world.office, run_id)
        failed = [r for r in records if r.status is JournalRunOutcome.FAILED]
        assert failed and JournalRunOutcome.IMPORTED not in {r.status for r in records}
        messages = world.admin.run_details.messages(world.office, run_id)
        explained = [m for m in messages if m.code.startswith("journal-blocked")]
        assert explained, [(m.code, m.text) for m in messages]
        assert "Dagboek 80 is geblokkeerd" in explained[0].text
        assert "Deblokkeer het dagboek" in explained[0].hint
        refused = [m for m in messages if m.code.startswith("afas-refused")]
        assert refused and "dagboekcode" in refused[0].hint
        # Read only to explain the refusal, once per refused post.
        assert world.afas.count("Profit_Journals") - read_at_setup == len(failed)
        assert world.afas.profit_entries() == []
        world.assert_invariant()


def test_a_profit_token_replaced_on_another_instance_does_not_fail_a_job_using_the_kept_one(
    fault_azurite: Azurite,
) -> None:
    """Issue 18: a worker keeps Profit connections 60 s (ConnectionCache). The office replaced
    its token on another instance and revoked the old one in AFAS; this worker's next job still
    sends the kept token, and AFAS refuses it. That is not the office's doing: the job comes
    back once with the connection read fresh, and books."""
    with fault_world(fault_azurite, seed=22, clients=PROFIT_ONLY) as world:
        run_id = world.nightly(send=False)
        (body,) = world.admin.outbox
        cache = world.process(0).profit_connection_cache
        key = ConnectionKey(world.office, ConnectionKind.AFAS_PROFIT, "12345")
        assert cache.read_secrets(key) is not None  # kept by an earlier job of this worker
        replaced = world.afas.profit().add_token(token_data("replaced"))
        answer = call(  # on another instance: this worker's cache does not hear of it
            world.admin,
            afas_connections.PROFIT_CONNECT,
            headers=admin_headers(world.office),
            route={"environment": "O12345AA"},
            body=json.dumps({"token": replaced, "active": True}).encode(),
        )
        assert answer.status in (200, 201), answer.body
        world.afas.profit().revoke(PROFIT_TOKEN)
        world.admin.outbox.clear()
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is None  # deferred
        world.drain()
        run = world.admin.runs.get(world.office, run_id)
        assert run is not None and (run.imported, run.jobs_failed) == (1, 0), run
        assert len(world.afas.profit_entries()) == 1
        world.assert_invariant()
