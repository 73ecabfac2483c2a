"""Attacks on the exactly-once promise (a helper's brief: "break it"). Each test reproduces one
way a Loket journal run landed in AFAS twice, was reported failed or rejected while AFAS held
it, or a route answered 500; each failed before its fix (docs/reliability.md lists them). They
drive the real worker, planner and approvals against Azurite and the sandboxes, as
``test_exactly_once.py`` does."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from devtools.azurite import Azurite
from devtools.sandbox.afas import add_cost_centres
from shared.sync.messages import SYNC_QUEUE
from tests.faults.test_exactly_once import profit_target, try_put_client
from tests.support.fault_world import FaultWorld, Timeouts, WorkerKilled, fault_world
from tests.support.localhost import wait_until
from tests.support.sync_world import PROFIT_MAPPING

FI = "connectors/FiEntries"
PROFIT_ONLY = (("4711", "Korenschoof maandloners", "profit"),)
SB_ONLY = (("5120", "Van Dijk installatie", "sb"),)


def entries(world: FaultWorld) -> list[Any]:
    return world.afas.profit_entries()


def answered_posts(world: FaultWorld) -> int:
    """FiEntries posts the Profit sandbox has finished processing (booked or refused)."""
    return sum(
        1
        for x in list(world.afas.profit_log)
        if x.request.method == "POST" and "fientries" in x.request.path.lower()
    )


def all_posts_processed(world: FaultWorld) -> bool:
    return answered_posts(world) >= world.afas.count(FI, "POST")


# -- A1. the quiet period is shorter than AFAS's own processing time ---------------------------


def test_a_post_afas_is_still_processing_after_the_quiet_period_is_never_posted_again(
    fault_azurite: Azurite,
) -> None:
    """Profit keeps processing a post after the client stopped waiting (published: up to the
    server-side timeout of 900 s). Was: the quiet period was twice the read timeout (240 s);
    the redelivery 5 minutes later found nothing, posted again, and then the first post landed
    as well. Now the quiet period is AFAS's 900 s plus a read timeout of margin."""
    with fault_world(
        fault_azurite,
        seed=301,
        clients=PROFIT_ONLY,
        timeouts=Timeouts(read=0.3, afas_server=900.0),
    ) as world:
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.slow(FI, seconds=2.0)  # Profit is still busy with it after we gave up
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        world.clock.advance(timedelta(minutes=5))  # < 900 s: AFAS may still be processing it
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None  # deferred
        wait_until(lambda: all_posts_processed(world), timeout=15, what="every post processed")
        assert len(entries(world)) == 1
        assert world.afas.count(FI, "POST") == 1, "posted again while AFAS was still processing"
        # The deferred message comes back in ~15 minutes: not in this test's lifetime.
        world.admin.storage.queue(SYNC_QUEUE).clear_messages()


# -- A2. a client moved to another administration after booking, before Loket heard of it ------


def kill_at(world: FaultWorld, step: str, message_id: str) -> None:
    def hook(at: str, delivery: Any) -> None:
        if at == step and delivery is not None and delivery.message_id == message_id:
            raise WorkerKilled(step)

    world.hook = hook


def test_a_client_moved_after_booking_but_before_loket_was_told_is_not_booked_again(
    fault_azurite: Azurite,
) -> None:
    with fault_world(fault_azurite, seed=302, clients=PROFIT_ONLY) as world:
        second = world.afas.profit().add_administration(2, "Demo Werkmaatschappij B.V.")
        add_cost_centres(second, ("4000", "4100"))
        world.nightly(send=False)
        (body,) = world.admin.outbox
        kill_at(world, "recorded", "m")  # booked and recorded; Loket not told yet
        world.deliver_now(body, dequeue_count=1, message_id="m")
        world.hook = lambda step, delivery: None
        assert len(world.afas.profit_entries(administration=1)) == 1
        moved = {**profit_target(), "administration": 2}
        answer = try_put_client(world, "4711", "Korenschoof maandloners", moved, PROFIT_MAPPING)
        # Either the move is refused until Loket has been told, or the redelivery must not book
        # the run into administration 2 as well.
        world.deliver_now(body, dequeue_count=2, message_id="m")
        booked_in_1 = len(world.afas.profit_entries(administration=1))
        booked_in_2 = len(world.afas.profit_entries(administration=2))
        assert (booked_in_1, booked_in_2) == (1, 0), (answer.status, answer.body)


# -- A3. a pre-check that blocks now fails a run whose earlier post AFAS did book ---------------


def test_an_outstanding_post_is_looked_up_before_a_blocking_pre_check_fails_the_run(
    fault_azurite: Azurite,
) -> None:
    with fault_world(fault_azurite, seed=303, clients=PROFIT_ONLY) as world:
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.book_then_drop(FI)  # AFAS booked it; the answer never arrived
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        [entry] = entries(world)
        # Month-end: the accountant closes the period the entry landed in.
        administration = world.afas.profit().administrations[1]
        period = administration.find_period(entry.year, entry.period)
        assert period is not None
        period.blocked = True
        world.clock.advance(timedelta(minutes=30))  # long past any quiet period
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None
        run_id = world.run_ids[-1]
        [record] = [
            r
            for r in world.admin.run_details.records(world.office, run_id)
            if r.entry_number or r.status.value != "skipped"
        ]
        assert record.status.value == "imported", (record.status, record.note)
        world.assert_invariant()


# -- A4. an answer cut off mid-body is no AfasError: unclassified, a 500 from the approve route --


class TruncatingProxy:
    """An HTTP proxy in front of the AFAS sandbox that passes everything through, except that
    the answer to a request whose path contains ``cut`` (once) is cut off half-way through its
    body (headers with the full Content-Length, then the connection closes): what a dropped
    connection during the answer looks like to ``requests``."""

    def __init__(self, upstream: str, cut: str) -> None:
        import http.server
        import threading

        import requests

        proxy = self
        self.cut = cut.lower()
        self.cuts = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = requests.request(
                    self.command, upstream + self.path, data=body, headers=headers, timeout=10
                )
                content = answer.content
                truncate = proxy.cut in self.path.lower() and proxy.cuts == 0
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                if truncate:
                    proxy.cuts += 1
                    self.wfile.write(content[: len(content) // 2])
                else:
                    self.wfile.write(content)
                self.wfile.flush()
                self.close_connection = True

            do_GET = do_POST = _relay

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_approval_whose_profit_answer_is_cut_off_mid_body_is_no_500(
    fault_azurite: Azurite,
) -> None:
    import dataclasses

    from shared.api.handlers import approvals as approval_routes
    from tests.faults.test_exactly_once import put_client
    from tests.support.afas_fixtures import call
    from tests.support.api import admin_headers
    from tests.support.fault_world import PlannerServices

    with fault_world(fault_azurite, seed=304, clients=()) as world:
        put_client(
            world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING, mode="review"
        )
        world.nightly()
        world.drain()
        (item,) = world.admin.approvals.pending(world.office)
        proxy = TruncatingProxy(world.afas.url, cut="FiEntries")
        try:
            settings = dataclasses.replace(
                world.settings, afas_profit_url=f"{proxy.url}/{{environment}}/ProfitRestServices"
            )
            behind_proxy = PlannerServices(settings, clock=world.clock)
            answer = call(
                behind_proxy,
                approval_routes.APPROVE,
                headers=admin_headers(world.office),
                route={"approvalId": item.approval_id},
            )
        finally:
            proxy.stop()
        assert proxy.cuts == 1 and len(entries(world)) == 1  # AFAS booked it; the answer was cut
        assert answer.status in (200, 503), (answer.status, answer.body)


# -- A5. an approval whose post is outstanding can be rejected --------------------------------


def test_a_journal_run_whose_approved_post_is_outstanding_cannot_be_rejected(
    fault_azurite: Azurite,
) -> None:
    from devtools.sandbox.afas import Fault, FaultKind
    from shared.api.handlers import approvals as approval_routes
    from tests.faults.test_exactly_once import put_client
    from tests.support.afas_fixtures import call
    from tests.support.api import admin_headers

    with fault_world(fault_azurite, seed=305, clients=()) as world:
        put_client(
            world, "4711", "Korenschoof maandloners", profit_target(), PROFIT_MAPPING, mode="review"
        )
        world.nightly()
        world.drain()
        (item,) = world.admin.approvals.pending(world.office)
        route = {"approvalId": item.approval_id}
        headers = admin_headers(world.office)
        world.afas.book_then_drop(FI)  # approve #1: AFAS books it, the answer is lost
        first = call(world.admin, approval_routes.APPROVE, headers=headers, route=route)
        assert first.status == 503, first.body
        assert len(entries(world)) == 1
        world.clock.advance(timedelta(minutes=11))  # the approval's lease ran out
        # The look-up gets an answer it cannot read (classified "refused": a conflict). (A STATUS
        # fault of 404 on a Profit path is answered 500 by the sandbox, see the report.)
        world.afas.inject(
            Fault(
                FaultKind.BOOK_THEN_BODY,
                "Profit_Transactions",
                method="GET",
                status=200,
                message="<html>proxy error</html>",
            )
        )
        second = call(world.admin, approval_routes.APPROVE, headers=headers, route=route)
        assert second.status == 409, second.body  # the look-up failed: "conflict"
        rejected = call(
            world.admin,
            approval_routes.REJECT,
            headers=headers,
            route=route,
            body=json.dumps({"reason": "Klopt niet", "markFailedInLoket": True}).encode(),
        )
        # AFAS holds the entry of approve #1: a rejection must be refused until it is settled.
        assert rejected.status == 409, (rejected.status, rejected.body)


# -- A6. delete and re-create: the 409 on a move while a post is unsettled is bypassed -----------


def test_deleting_and_recreating_a_client_while_a_post_is_unsettled_does_not_book_twice(
    fault_azurite: Azurite,
) -> None:
    from shared.api.handlers import clients as client_routes
    from tests.support.afas_fixtures import call
    from tests.support.api import admin_headers

    with fault_world(fault_azurite, seed=306, clients=PROFIT_ONLY) as world:
        second = world.afas.profit().add_administration(2, "Demo Werkmaatschappij B.V.")
        add_cost_centres(second, ("4000", "4100"))
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.book_then_drop(FI)  # booked in administration 1, the answer lost
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        moved = {**profit_target(), "administration": 2}
        refused = try_put_client(world, "4711", "Korenschoof maandloners", moved, PROFIT_MAPPING)
        assert refused.status == 409  # the documented protection...
        deleted = call(
            world.admin,
            client_routes.DELETE_CLIENT,
            headers=admin_headers(world.office),
            route={"clientId": "4711"},
        )
        assert deleted.status == 409, deleted.body  # refused as well, until it is settled
        recreated = try_put_client(world, "4711", "Korenschoof maandloners", moved, PROFIT_MAPPING)
        assert recreated.status == 409
        world.clock.advance(timedelta(minutes=30))
        world.deliver_now(body, dequeue_count=2, message_id="m")  # ...the job runs on
        booked = (
            len(world.afas.profit_entries(administration=1)),
            len(world.afas.profit_entries(administration=2)),
        )
        assert booked == (1, 0), (recreated.status, booked)


# -- A7. a post that never left the process is recorded as AFAS refusing the entry ---------------


def test_a_post_that_never_left_the_process_is_no_refusal() -> None:
    import socket
    from datetime import date
    from decimal import Decimal

    from shared.afas.profit import ProfitClient
    from shared.afas.retry import RetryPolicy
    from shared.clients.model import ProfitTarget
    from shared.journal.builder import Draft
    from shared.journal.entries import ProfitEntry, ProfitLine
    from shared.secret import Secret
    from shared.sync.bookers import ProfitBooker
    from shared.sync.booking import BookingPolicy, BookingRefused, book_once
    from shared.sync.ledger import Holder, State
    from tests.support.fakes import FakeBookings, ManualClock

    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    client = ProfitClient(
        f"http://127.0.0.1:{closed}", Secret("<token/>"), retry=RetryPolicy(attempts=1)
    )
    target = ProfitBooker(client, ProfitTarget("12345", 1, "80"))
    entry = ProfitEntry(
        year=2025,
        period=3,
        administration=1,
        journal="80",
        voucher_number="LB202503S1-0000ABCD",
        entry_date=date(2025, 3, 31),
        voucher_date=date(2025, 3, 31),
        lines=(
            ProfitLine("4000", "Lonen", Decimal("100"), Decimal("0")),
            ProfitLine("1500", "Netto", Decimal("0"), Decimal("100")),
        ),
    )
    bookings, clock = FakeBookings(), ManualClock()
    draft: Draft[ProfitEntry] = Draft(entry=entry, period=None, findings=())  # type: ignore[arg-type]
    holder = Holder("office", "4711", "nightly-2025-04-02")
    outcome: BaseException | None = None
    try:
        book_once(bookings, clock, target, draft, "run-1", holder, policy=BookingPolicy())
    except Exception as exc:  # expected: come back later (BookingUnsettled), not a refusal
        outcome = exc
    refused = isinstance(outcome, BookingRefused)
    row = bookings.get(target.key, "run-1")
    assert row is not None
    assert not refused and row.state is State.CLAIMED and row.posts == 0, (refused, row.state)
