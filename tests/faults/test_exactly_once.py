"""The review's reproductions of a journal run booked twice (or booked unapproved, or never
bookable), one test per scenario of issue 15, named after it. Each runs the real worker, planner
and approvals against Azurite and the sandboxes over HTTP; each failed on the code before the
booking ledger became a state machine (``docs/reliability.md`` lists them)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from devtools.azurite import Azurite
from devtools.sandbox.afas import SB_ADMINISTRATION_ID, Fault, FaultKind, add_cost_centres
from shared.api.handlers import approvals as approval_routes
from shared.api.handlers import clients as client_routes
from shared.store.approvals import ApprovalState
from shared.store.run_details import JournalRunOutcome
from shared.sync.bookers import target_key
from shared.sync.ledger import State
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers
from tests.support.fault_world import Delivery, FaultWorld, Timeouts, fault_world
from tests.support.localhost import wait_until
from tests.support.sync_world import PROFIT_MAPPING, SB_MAPPING

FI = "connectors/FiEntries"
PROFIT_ONLY = (("4711", "Korenschoof maandloners", "profit"),)
SB_ONLY = (("5120", "Van Dijk installatie", "sb"),)


def try_put_client(
    world: FaultWorld,
    client_id: str,
    administration: str,
    target: dict[str, Any],
    mapping: dict[str, Any],
    **extra: Any,
) -> Any:
    loket_id = next(
        a.id for a in world.loket.scenario.administrations() if a.name == administration
    )
    body = {"loketPayrollAdministrationId": loket_id, "target": target, "mapping": mapping, **extra}
    return call(
        world.admin,
        client_routes.PUT_CLIENT,
        headers=admin_headers(world.office),
        route={"clientId": client_id},
        body=json.dumps(body).encode(),
    )


def put_client(
    world: FaultWorld,
    client_id: str,
    administration: str,
    target: dict[str, Any],
    mapping: dict[str, Any],
    **extra: Any,
) -> None:
    answer = try_put_client(world, client_id, administration, target, mapping, **extra)
    assert answer.status in (200, 201), answer.body


def profit_target(journal: str = "80") -> dict[str, Any]:
    return {"type": "afas-profit", "environment": "12345", "administration": 1, "journal": journal}


def next_night(world: FaultWorld) -> str:
    world.clock.advance(timedelta(days=1))
    run_id = world.nightly()
    world.drain()
    return run_id


def pending_review_item(world: FaultWorld) -> Any:
    """Client 4711 in review mode, one nightly: its one pending approval item."""
    put_client(
        world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING, mode="review"
    )
    world.nightly()
    world.drain()
    (item,) = world.admin.approvals.pending(world.office)
    return item


def approve(world: FaultWorld, approval_id: str) -> Any:
    """POST /api/approvals/{id}/approve as the office's admin."""
    return call(
        world.admin,
        approval_routes.APPROVE,
        headers=admin_headers(world.office),
        route={"approvalId": approval_id},
    )


def entries(world: FaultWorld) -> list[Any]:
    return world.afas.profit_entries()


# -- 1. a run marked failed after its post went out --------------------------------------------


def test_a_201_without_a_readable_body_is_looked_up_and_never_posted_again(
    fault_azurite: Azurite,
) -> None:
    """Was: Profit booked and answered 201 with an empty body; the contract error was read as
    "refused before processing", the ledger said failed, Loket heard "processing failed", and
    the next nightly (which takes export-failed runs) posted again: two entries."""
    with fault_world(fault_azurite, seed=151, clients=PROFIT_ONLY) as world:
        world.afas.inject(Fault(FaultKind.BOOK_THEN_BODY, FI, method="POST", status=201))
        world.nightly()
        world.drain()
        next_night(world)
        assert len(entries(world)) == 1
        assert world.afas.count(FI, "POST") == 1
        world.assert_invariant()


@pytest.mark.parametrize("status", [500, 401, 403, 404])
def test_a_failing_look_up_after_an_unanswered_post_never_leads_to_a_blind_post(
    fault_azurite: Azurite, status: int
) -> None:
    """Was: the post went out unanswered (Profit booked it); the look-up of the next delivery got
    a plain 500 (not retriable), or 401/403/404: the ledger said failed, and the next nightly
    posted again without a look-up. Now a failing look-up changes nothing in the ledger: the
    booking stays outstanding until a look-up settles it."""
    with fault_world(fault_azurite, seed=152, clients=PROFIT_ONLY) as world:
        world.afas.book_then_drop(FI)
        # Every try of one delivery's look-up fails (the client retries a 500 within its policy).
        # (a 500 is retried within the policy; 401/403/404 are not, so one answer suffices)
        tries = 3 if status == 500 else 1
        world.afas.inject(
            Fault(FaultKind.STATUS, "Profit_Transactions", method="GET", status=status, times=tries)
        )
        world.nightly()
        world.drain()
        next_night(world)
        assert len(entries(world)) == 1
        assert world.afas.count(FI, "POST") == 1
        world.assert_invariant()


# -- 2. the look-up searched today's journal ---------------------------------------------------


def test_a_journal_changed_while_a_post_is_unsettled_is_looked_up_where_the_post_went(
    fault_azurite: Azurite,
) -> None:
    """Was: the post landed late in journal 80, the admin switched the client to journal 90, and
    the look-up (filtered on today's journal) found nothing: the next delivery booked again in
    90. Now the look-up is by administration and voucher across journals."""
    with fault_world(
        fault_azurite, seed=153, clients=PROFIT_ONLY, timeouts=Timeouts(read=0.3)
    ) as world:
        world.afas.profit().administrations[1].add_journal("90", "Memoriaal lonen 2")
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.slow(FI, seconds=0.5)  # lands after the client stopped waiting
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        put_client(world, "4711", "Korenschoof maandloners", profit_target("90"), PROFIT_MAPPING)
        wait_until(lambda: entries(world), timeout=10, what="the late booking")
        world.clock.advance(timedelta(minutes=5))  # well past the quiet period
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None
        assert [e.journal for e in entries(world)] == ["80"]
        assert world.afas.count(FI, "POST") == 1
        world.assert_invariant()


def test_moving_a_client_to_another_administration_while_a_post_is_unsettled_is_refused(
    fault_azurite: Azurite,
) -> None:
    """The other half of scenario 2: the ledger is partitioned by AFAS administration, so a post
    still outstanding in administration 1 would not be looked up from administration 2. The
    change is refused (409, Dutch) until the booking is settled; a journal change is allowed
    (the look-up searches every journal of the administration)."""
    with fault_world(
        fault_azurite, seed=159, clients=PROFIT_ONLY, timeouts=Timeouts(read=0.3)
    ) as world:
        profit = world.afas.profit()
        second = profit.add_administration(2, "Demo Werkmaatschappij B.V.")
        add_cost_centres(second, ("4000", "4100"))
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.inject(Fault(FaultKind.DROP, FI, method="POST"))  # unanswered, not booked
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        moved = {**profit_target(), "administration": 2}
        answer = try_put_client(world, "4711", "Korenschoof maandloners", moved, PROFIT_MAPPING)
        assert answer.status == 409, answer.body
        problem = json.loads(answer.body)
        assert (
            problem["type"].endswith("booking-unsettled") and "administratie" in problem["detail"]
        )
        world.clock.advance(timedelta(minutes=5))  # past the quiet period: the next try settles
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None
        assert len(entries(world)) == 1
        world.assert_invariant()
        answer = try_put_client(world, "4711", "Korenschoof maandloners", moved, PROFIT_MAPPING)
        assert answer.status == 200, answer.body  # settled: now it may move


# -- 3. the quiet period was timed from the first post -----------------------------------------


def test_the_quiet_period_counts_from_the_last_post_not_the_first(fault_azurite: Azurite) -> None:
    """Was: post 1 answered 503, post 2 (same call) went unanswered and landed late; the ledger
    kept the time of post 1, so the next delivery, past post 1's quiet period but not post 2's,
    posted a third time: two entries."""
    with fault_world(
        fault_azurite, seed=154, clients=PROFIT_ONLY, timeouts=Timeouts(read=0.5)
    ) as world:
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.throttle(FI, status=503, retry_after=1)  # post 1: busy
        world.afas.inject(Fault(FaultKind.SLOW, FI, method="POST", delay=0.7))  # post 2: late
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        assert world.afas.count(FI, "POST") == 2
        # The queue's retry, at once: post 1 is 1.5 s old (its quiet period of 1 s is over),
        # post 2 only 0.5 s: nothing may be posted; the job is deferred to the end of it.
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None
        assert world.afas.count(FI, "POST") == 2
        wait_until(lambda: entries(world), timeout=10, what="post 2 landing")
        world.drain()
        assert len(entries(world)) == 1 and world.afas.count(FI, "POST") == 2
        world.assert_invariant()


# -- 4. review mode booked an entry nobody approved --------------------------------------------


def test_review_mode_never_books_an_entry_nobody_approved(fault_azurite: Azurite) -> None:
    """Was: approve while AFAS answered 503 left the item ``approving``; the mapping changed;
    the nightly took ``approving`` as approved and booked the changed entry, and the item then
    read ``approved`` with the old fingerprint. Now only the approved fingerprint is ever sent:
    the changed entry goes back to pending, with a message."""
    with fault_world(fault_azurite, seed=155, clients=()) as world:
        item = pending_review_item(world)
        world.afas.throttle(FI, status=503, retry_after=7200)  # maintenance: answered, not booked
        answer = approve(world, item.approval_id)
        assert answer.status == 503, answer.body
        approving = world.admin.approvals.get(world.office, item.approval_id)
        assert approving is not None and approving.state is ApprovalState.APPROVING
        changed = {**PROFIT_MAPPING, "accounts": {**PROFIT_MAPPING["accounts"], "1500": "1720"}}
        put_client(
            world, "4711", "Korenschoof maandloners", profit_target(), changed, mode="review"
        )
        run_id = next_night(world)
        assert entries(world) == []  # nothing booked that nobody approved
        again = world.admin.approvals.get(world.office, item.approval_id)
        assert again is not None and again.state is ApprovalState.PENDING
        assert again.prepared.fingerprint != item.prepared.fingerprint
        messages = world.admin.run_details.messages(world.office, run_id)
        assert any(m.code == "changed-since-approval" and m.hint for m in messages)
        # The admin approves what is there now: it is booked, once.
        answer = approve(world, item.approval_id)
        assert answer.status == 200, answer.body
        assert len(entries(world)) == 1
        [booked] = entries(world)
        assert {ln.account for ln in booked.lines} >= {"1720"}


@pytest.mark.parametrize("mode", ["review", "automatic"])
def test_an_approval_that_died_after_booking_is_settled_by_the_next_nightly(
    fault_azurite: Azurite, mode: str
) -> None:
    """The admin's approval booked the entry, then Loket failed (the request died half way): the
    item stays "being approved". The next nightly finds the booked row and settles the item as
    approved with the entry number, also after the client was switched out of review mode (the
    worker reads the item only when one can be half way: review mode, or a row booked by an
    approval; issue 18)."""
    with fault_world(fault_azurite, seed=159, clients=()) as world:
        item = pending_review_item(world)
        world.loket.fail("patch_journal_run", 500, times=None)
        answer = approve(world, item.approval_id)
        assert answer.status >= 400, answer.body
        assert len(entries(world)) == 1
        half_way = world.admin.approvals.get(world.office, item.approval_id)
        assert half_way is not None and half_way.state is ApprovalState.APPROVING
        world.loket.clear_faults()
        if mode == "automatic":
            put_client(world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING)
        next_night(world)
        settled = world.admin.approvals.get(world.office, item.approval_id)
        assert settled is not None and settled.state is ApprovalState.APPROVED
        assert settled.entry_number == str(entries(world)[0].entry_number)
        assert len(entries(world)) == 1
        world.assert_invariant()


def test_an_approval_whose_post_went_unanswered_is_settled_by_an_automatic_nightly(
    fault_azurite: Azurite,
) -> None:
    """The admin's approval posted the entry, Profit booked it but the answer never came (the
    request died half way): the item stays "being approved" (a post is out). The client is then
    switched to automatic; the next nightly takes the expired claim over, looks the post up and
    finds it booked. Was (issue 18): the ledger row now named the nightly as its holder and the
    client was no longer in review mode, so the worker never read the item: it stayed "being
    approved" for ever, in no list (only pending items are listed)."""
    with fault_world(fault_azurite, seed=161, clients=()) as world:
        item = pending_review_item(world)
        world.afas.book_then_drop(FI)
        answer = approve(world, item.approval_id)
        assert answer.status >= 400, answer.body
        assert len(entries(world)) == 1
        half_way = world.admin.approvals.get(world.office, item.approval_id)
        assert half_way is not None and half_way.state is ApprovalState.APPROVING
        put_client(world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING)
        next_night(world)
        settled = world.admin.approvals.get(world.office, item.approval_id)
        assert settled is not None and settled.state is ApprovalState.APPROVED, settled
        assert settled.entry_number == str(entries(world)[0].entry_number)
        assert len(entries(world)) == 1 and world.afas.count(FI, "POST") == 1
        world.assert_invariant()


def test_an_approval_that_died_before_posting_is_settled_by_an_automatic_nightly(
    fault_azurite: Azurite,
) -> None:
    """The admin approved; Loket did not answer the approval's read of the journal run, so it
    stopped before anything was claimed or posted ("try again in a few minutes"): the item stays
    "being approved", in no list. The client is then switched to automatic and the next nightly
    books the entry the admin approved. Was (issue 18): that row was the nightly's own fresh
    claim and the client no longer in review mode, so the worker never read the item: "being
    approved" for ever. An item can exist for every client that was ever in review mode."""
    with fault_world(fault_azurite, seed=162, clients=()) as world:
        item = pending_review_item(world)
        world.loket.fail("journal_runs", 503, times=None)
        answer = approve(world, item.approval_id)
        assert answer.status == 503, answer.body
        world.loket.clear_faults()
        half_way = world.admin.approvals.get(world.office, item.approval_id)
        assert half_way is not None and half_way.state is ApprovalState.APPROVING
        assert not entries(world)
        put_client(world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING)
        next_night(world)
        settled = world.admin.approvals.get(world.office, item.approval_id)
        assert settled is not None and settled.state is ApprovalState.APPROVED, settled
        assert settled.entry_number == str(entries(world)[0].entry_number)
        assert len(entries(world)) == 1
        world.assert_invariant()
        # What the store keeps (it was in review mode) is no part of what an admin sends:
        # switching the client out of the nightly still needs no live check.
        world.loket.fail("/v2/", 503, times=None)
        off = try_put_client(
            world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING,
            includeInSync=False,
        )  # fmt: skip
        assert off.status == 200, off.body


def test_approving_an_item_an_automatic_nightly_booked_reports_the_journal_run_imported_once(
    fault_azurite: Azurite,
) -> None:
    """A client in review mode has an item pending; it is switched to automatic and the next
    nightly books the entry (imported in that run). The item is still listed; the admin approves
    it. Was: the approval reported the journal run imported in the run that prepared the item as
    well (two runs said imported, the nightly's and the item's). Now the item's run says already
    booked (no longer counted as awaiting), and the item is approved with the entry number AFAS
    holds."""
    with fault_world(fault_azurite, seed=163, clients=()) as world:
        item = pending_review_item(world)
        put_client(world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING)
        next_night(world)
        assert len(entries(world)) == 1
        answer = approve(world, item.approval_id)
        assert answer.status == 200, answer.body
        final = world.admin.approvals.get(world.office, item.approval_id)
        assert final is not None and final.state is ApprovalState.APPROVED
        assert final.entry_number == str(entries(world)[0].entry_number)
        assert len(entries(world)) == 1
        prepared_in = world.admin.runs.get(world.office, item.prepared.run_id)
        assert prepared_in is not None and prepared_in.journal_runs.awaiting == 0
        world.assert_invariant()


def test_an_item_is_never_approved_as_another_entry_than_the_one_booked(
    fault_azurite: Azurite,
) -> None:
    """A client in review mode has an item pending; it is switched to automatic with another
    mapping and the next nightly books that entry. The mapping changes once more; the admin
    approves the still-listed item. Was: approve refreshed the item to today's entry (409), and
    approving again answered "approved and booked" (the nightly's entry number) for an entry
    AFAS does not hold. Now the item fails and says the journal run was booked as another entry;
    the item's run says already booked."""
    with fault_world(fault_azurite, seed=164, clients=()) as world:
        item = pending_review_item(world)
        for accounts in ({"1550": "1710"}, {"1500": "1720"}):
            mapping = {**PROFIT_MAPPING, "accounts": {**PROFIT_MAPPING["accounts"], **accounts}}
            put_client(world, "4711", "Korenschoof maandloners", profit_target(), mapping)
            if len(entries(world)) == 0:
                next_night(world)
        assert len(entries(world)) == 1
        for _ in range(2):
            approve(world, item.approval_id)
        final = world.admin.approvals.get(world.office, item.approval_id)
        assert final is not None and final.state is not ApprovalState.APPROVED, final
        assert final.state is ApprovalState.FAILED and "al geboekt" in final.reason
        prepared_in = world.admin.runs.get(world.office, item.prepared.run_id)
        assert prepared_in is not None and prepared_in.journal_runs.awaiting == 0
        assert len(entries(world)) == 1
        world.assert_invariant()


# -- 6. a retried job took over another job's live claim ---------------------------------------


def test_two_clients_on_one_administration_never_take_over_each_others_live_claim(
    fault_azurite: Azurite,
) -> None:
    """Was: two clients map the same Loket administration to the same AFAS administration; the
    take-over check compared only the run id (``nightly-YYYY-MM-DD``, shared by every client),
    so a retried delivery of the second client took over the first one's live claim while its
    post was in flight, and posted again."""
    twins = (
        ("4711", "Korenschoof maandloners", "profit"),
        ("4799", "Korenschoof maandloners", "profit"),
    )
    with fault_world(fault_azurite, seed=156, clients=twins, timeouts=Timeouts(read=3.0)) as world:
        world.nightly(send=False)
        first, second = sorted(world.admin.outbox, key=lambda b: json.loads(b)["clientId"])
        world.afas.slow(FI, seconds=1.0)
        outcome: list[BaseException | None] = []
        started: list[threading.Thread] = []

        def twin() -> None:
            time.sleep(0.3)  # the first client's post is now in flight
            outcome.append(world.deliver_now(second, dequeue_count=2, message_id="b", slot=1))

        def at(step: str, delivery: Delivery | None) -> None:
            if step == "prechecked" and delivery and delivery.message_id == "a" and not started:
                thread = threading.Thread(target=twin)
                thread.start()
                started.append(thread)

        world.hook = at
        result = world.deliver_now(first, dequeue_count=1, message_id="a")
        started[0].join(timeout=30)
        assert world.afas.count(FI, "POST") == 1
        assert result is None
        world.hook = lambda step, delivery: None
        assert world.deliver_now(second, dequeue_count=3, message_id="b", slot=1) is None
        assert len(entries(world)) == 1 and world.afas.count(FI, "POST") == 1


# -- 7. a transient error on a read failed the job ---------------------------------------------


def test_a_plain_500_on_a_profit_read_is_retried_not_a_failed_job(fault_azurite: Azurite) -> None:
    """Was: a plain HTTP 500 on a GetConnector (here the periods, read before every booking)
    ended the whole job as failed; with one such answer in eleven a client could miss every
    nightly. Reads are safe to repeat: retried within the policy, the run is booked."""
    with fault_world(fault_azurite, seed=157, clients=PROFIT_ONLY) as world:
        world.afas.inject(
            Fault(FaultKind.STATUS, "Profit_periods_per_administration", method="GET", status=500)
        )
        run_id = world.nightly()
        world.drain()
        run = world.admin.runs.get(world.office, run_id)
        assert run is not None and (run.imported, run.jobs_failed) == (1, 0)
        world.assert_invariant()


# -- 8. AFAS SB replays a Tracking-Identifier's first answer -----------------------------------


@pytest.mark.parametrize("fix", ["mapping", "in-sb"])
def test_sb_books_once_the_office_fixed_what_sb_refused(fault_azurite: Azurite, fix: str) -> None:
    """Was: one fixed Tracking-Identifier per (journal run, administration); SB replays the first
    answer to it, errors included, so after the office fixed its mapping (or the account in SB)
    every retry got the old refusal again. Now the identifier changes with the entry's content
    and with every fresh attempt after a definitive refusal, never between deliveries."""
    with fault_world(fault_azurite, seed=158, clients=SB_ONLY) as world:
        sb = world.afas.scenario.sb["enyoi"].administrations[SB_ADMINISTRATION_ID]
        sb.refused_accounts.add("1710")
        run_id = world.nightly()
        world.drain()
        failed = [
            r
            for r in world.admin.run_details.records(world.office, run_id)
            if r.status is JournalRunOutcome.FAILED
        ]
        assert failed and "geblokkeerd" in failed[0].note
        if fix == "mapping":
            fixed = {**SB_MAPPING, "accounts": {**SB_MAPPING["accounts"], "1500": "1720"}}
            target = {
                "type": "afas-sb",
                "environment": "enyoi",
                "administrationId": SB_ADMINISTRATION_ID,
            }
            put_client(world, "5120", "Van Dijk installatie", target, fixed)
        else:
            sb.refused_accounts.clear()
        next_night(world)
        booked = [b for b in sb.bookings]
        assert len(booked) == len({r.loket_journal_run_id for r in failed}) >= 1
        for record in failed:
            key = target_key(world.admin.clients.get(world.office, "5120").target)  # type: ignore[union-attr]
            row = world.admin.bookings.get(key, record.loket_journal_run_id)
            assert row is not None and row.state is State.MARKED and row.generation >= 1
        world.assert_invariant()
