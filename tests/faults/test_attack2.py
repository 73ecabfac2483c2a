"""Second round of attacks on the exactly-once promise (a helper's brief: "break it", after the
SB Admin Center and the spec conformance work). Each test reproduces one way a Loket journal run
lands in AFAS twice, ends invisibly, or a route answers 500; each is marked ``xfail(strict=True)``
with the bug it shows until it is fixed. They drive the real worker, planner and routes against
Azurite and the sandboxes, as ``test_exactly_once.py`` and ``test_attack.py`` do."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from devtools.azurite import Azurite
from devtools.sandbox.afas import SB_ADMINISTRATION_ID
from devtools.sandbox.loket import ScenarioLine
from devtools.sandbox.loket import default_scenario as loket_default
from shared.sync.bookers import target_key
from shared.sync.ledger import State
from tests.faults.test_exactly_once import next_night, put_client
from tests.support.fault_world import FaultWorld, Timeouts, fault_world
from tests.support.sync_world import SB_MAPPING

SB_PAYROLL = "payrolljournalentry"
SB_TARGET: dict[str, Any] = {
    "type": "afas-sb",
    "environment": "enyoi",
    "administrationId": SB_ADMINISTRATION_ID,
}
ROUNDING = {"account": "4000", "maxDifference": "0.05"}


def _bookable_run(world: FaultWorld) -> Any:
    (run,) = [
        r
        for a in world.loket.scenario.administrations()
        if a.name == "Van Dijk installatie"
        for r in a.runs
        if r.status != 1
    ]
    return run


def _sb_row(world: FaultWorld, client_id: str, loket_journal_run_id: str) -> Any:
    config = world.admin.clients.get(world.office, client_id)
    assert config is not None
    return world.admin.bookings.get(target_key(config.target), loket_journal_run_id)


# -- B1. SB: "look-up only" replays the post, and a draft refused before sending forgets it ------


def _van_dijk_with_a_cent_off() -> Any:
    """The default Loket scenario, Van Dijk's only bookable run 1 cent off balance (a rounding
    difference Loket leaves now and then); its other ready run is not ready yet."""
    scenario = loket_default()
    [administration] = [a for a in scenario.administrations() if a.name == "Van Dijk installatie"]
    first, *rest = sorted(administration.runs, key=lambda r: r.sequence_number)
    first.lines.append(ScenarioLine("4000", "Afronding", Decimal("0.01"), Decimal("0")))
    for run in rest:
        run.status = 1  # not ready: one journal run in play
    return scenario


def test_sb_post_outstanding_then_rounding_removed_is_never_booked_twice(
    fault_azurite: Azurite,
) -> None:
    """Van Dijk's run is a cent off; the client books the difference on a rounding account. The
    post reaches SB and SB books it, but the answer is lost (ledger ``unknown``). The office then
    takes the rounding account out of the configuration (allowed: same administration). The
    next delivery finds the entry unbalanced (blocking), so it only "looks up" the outstanding
    post; for SB that is the same Tracking-Identifier again, but ``check_lines`` refuses the
    unbalanced draft before anything is sent, and the ledger records ``refused``. Once the
    office puts the rounding account back, the next nightly posts a fresh generation with a new
    Tracking-Identifier: SB books the run a second time."""
    with fault_world(
        fault_azurite,
        seed=401,
        loket=_van_dijk_with_a_cent_off(),
        clients=(),
        timeouts=Timeouts(afas_attempts=1),  # one SB post per call: the drop is not retried
    ) as world:
        put_client(world, "5120", "Van Dijk installatie", SB_TARGET, SB_MAPPING, rounding=ROUNDING)
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.book_then_drop(SB_PAYROLL)  # SB books it; the answer never arrives
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        assert len(world.afas.sb_bookings()) == 1
        put_client(world, "5120", "Van Dijk installatie", SB_TARGET, SB_MAPPING)  # no rounding
        second = world.deliver_now(body, dequeue_count=2, message_id="m")
        third = world.deliver_now(body, dequeue_count=3, message_id="m")
        row = _sb_row(world, "5120", _bookable_run(world).id)
        state_after_block = row.state if row is not None else None
        put_client(world, "5120", "Van Dijk installatie", SB_TARGET, SB_MAPPING, rounding=ROUNDING)
        next_night(world)
        booked = len(world.afas.sb_bookings())
        assert booked == 1, (booked, state_after_block, repr(second), repr(third))
        assert state_after_block is not State.REFUSED


# -- B2. SB: a refusal replayed to the look-up-only call escapes unclassified ------------------


def test_sb_outstanding_post_whose_account_was_removed_meanwhile_fails_classified(
    fault_azurite: Azurite,
) -> None:
    """The post never reached SB (the connection dropped on the way: outcome unknown). The
    office then removes ledger account 1710 from the SB administration; the pre-check blocks
    (unknown account), so the next delivery only settles the outstanding post: for SB the same
    Tracking-Identifier again, which SB answers with a refusal. That refusal escapes the
    look-up-only step as ``BookingRefused``: no classification, the delivery raises."""
    from devtools.sandbox.afas import Fault, FaultKind
    from shared.failures import classify

    with fault_world(
        fault_azurite,
        seed=402,
        loket=_van_dijk_with_a_cent_off(),
        clients=(),
        timeouts=Timeouts(afas_attempts=1),
    ) as world:
        put_client(world, "5120", "Van Dijk installatie", SB_TARGET, SB_MAPPING, rounding=ROUNDING)
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.inject(Fault(FaultKind.DROP, SB_PAYROLL, method="POST"))  # never processed
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        assert world.afas.sb_bookings() == []
        sb = world.afas.scenario.sb["enyoi"].administrations[SB_ADMINISTRATION_ID]
        del sb.accounts["1710"]
        second = world.deliver_now(body, dequeue_count=2, message_id="m")
        assert second is None or classify(second) is not None, repr(second)


def test_sb_approval_whose_outstanding_post_sb_now_refuses_is_no_500(
    fault_azurite: Azurite,
) -> None:
    """Review mode, SB. Approve #1: the post never reaches SB (dropped on the way; 503, the item
    stays ``approving``). The office removes account 1710 in SB. Approve #2 (after the approval
    lease): the pre-check blocks, so the outstanding post is settled first; SB answers the
    replayed Tracking-Identifier with a refusal, and the route answers 500."""
    from devtools.sandbox.afas import Fault, FaultKind
    from shared.api.handlers import approvals as approval_routes
    from tests.support.afas_fixtures import call
    from tests.support.api import admin_headers

    with fault_world(
        fault_azurite, seed=403, loket=_van_dijk_with_a_cent_off(), clients=()
    ) as world:
        put_client(
            world,
            "5120",
            "Van Dijk installatie",
            SB_TARGET,
            SB_MAPPING,
            rounding=ROUNDING,
            mode="review",
        )
        world.nightly()
        world.drain()
        (item,) = world.admin.approvals.pending(world.office)
        route = {"approvalId": item.approval_id}
        headers = admin_headers(world.office)
        world.afas.inject(Fault(FaultKind.DROP, SB_PAYROLL, method="POST", times=50))
        first = call(world.admin, approval_routes.APPROVE, headers=headers, route=route)
        assert first.status == 503, first.body
        with world.afas.lock:
            world.afas.faults.clear()
        assert world.afas.sb_bookings() == []
        sb = world.afas.scenario.sb["enyoi"].administrations[SB_ADMINISTRATION_ID]
        del sb.accounts["1710"]
        world.clock.advance(timedelta(minutes=11))  # the approval's lease ran out
        second = call(world.admin, approval_routes.APPROVE, headers=headers, route=route)
        assert second.status < 500, (second.status, second.body)


# -- B3. the move guard reads the ledger before a job in flight has claimed ----------------------


def test_a_client_moved_while_its_nightly_job_is_between_pre_check_and_claim_is_booked_once(
    fault_azurite: Azurite,
) -> None:
    """The admin moves client 4711 to administration 2 while tonight's job for it is running:
    it has read the lines and pre-checked the entry for administration 1, not yet claimed. The
    ledger has no row, so the 409 guard lets the move through; the job books into
    administration 1. It dies before Loket hears of it (or Loket is down); the redelivery reads
    the configuration again, finds no row for administration 2, and books there as well."""
    from devtools.sandbox.afas import add_cost_centres
    from tests.faults.test_exactly_once import profit_target, try_put_client
    from tests.support.fault_world import WorkerKilled
    from tests.support.sync_world import PROFIT_MAPPING

    with fault_world(
        fault_azurite, seed=404, clients=(("4711", "Korenschoof maandloners", "profit"),)
    ) as world:
        second = world.afas.profit().add_administration(2, "Demo Werkmaatschappij B.V.")
        add_cost_centres(second, ("4000", "4100"))
        world.nightly(send=False)
        (body,) = world.admin.outbox
        moves: list[int] = []

        def hook(step: str, delivery: Any) -> None:
            if delivery is None or delivery.dequeue_count != 1:
                return
            if step == "prechecked" and not moves:
                moved = {**profit_target(), "administration": 2}
                answer = try_put_client(
                    world, "4711", "Korenschoof maandloners", moved, PROFIT_MAPPING
                )
                moves.append(answer.status)
            if step == "recorded":
                raise WorkerKilled(step)  # booked and recorded; Loket not told yet

        world.hook = hook
        world.deliver_now(body, dequeue_count=1, message_id="m")
        world.hook = lambda step, delivery: None
        world.deliver_now(body, dequeue_count=2, message_id="m")
        booked = (
            len(world.afas.profit_entries(administration=1)),
            len(world.afas.profit_entries(administration=2)),
        )
        assert booked in ((1, 0), (0, 1)), (moves, booked)


# -- B4. a post proven absent past the quiet period keeps the client unmovable forever ----------


def test_a_client_whose_unanswered_post_never_landed_and_now_blocks_can_be_deleted(
    fault_azurite: Azurite,
) -> None:
    """The post of 4711's run is lost on the way (connection dropped, Profit never processed
    it: outcome unknown). The accountant then closes the periods of administration 1. The next
    nightly, long after the quiet period, looks the voucher up (absent: it can no longer land)
    and fails the run visibly, as it should. The customer leaves; the admin deletes the client:
    409 "wacht op de volgende nachtelijke run of start een rerun", and no nightly or rerun
    will ever change that."""
    from datetime import date

    from devtools.sandbox.afas import Fault, FaultKind
    from shared.api.handlers import clients as client_routes
    from tests.support.afas_fixtures import call
    from tests.support.api import admin_headers

    with fault_world(
        fault_azurite, seed=405, clients=(("4711", "Korenschoof maandloners", "profit"),)
    ) as world:
        world.nightly(send=False)
        (body,) = world.admin.outbox
        world.afas.inject(Fault(FaultKind.DROP, "connectors/FiEntries", method="POST"))
        assert world.deliver_now(body, dequeue_count=1, message_id="m") is not None
        assert world.afas.profit_entries() == []
        for period in world.afas.profit().administrations[1].periods:
            period.blocked = True
        world.clock.advance(timedelta(minutes=30))  # long past the quiet period
        assert world.deliver_now(body, dequeue_count=2, message_id="m") is None  # failed, visibly
        world.rerun(date(2000, 1, 1), date(2100, 1, 1))
        world.drain()
        assert world.afas.profit_entries() == []
        deleted = call(
            world.admin,
            client_routes.DELETE_CLIENT,
            headers=admin_headers(world.office),
            route={"clientId": "4711"},
        )
        assert deleted.status in (200, 204), (deleted.status, deleted.body)


# -- B5. an SB token answer with an absurd expires_in: 500 from the callback ---------------------


def test_an_sb_token_answer_with_an_absurd_lifetime_is_no_500(
    afas_services: Any, afas_sandbox: Any, unique: Any
) -> None:
    """``expires_in`` is an integer without a maximum in the OpenAPI schema of ``/app/token``
    (and a string in the pages' examples). A server answering 10^15 (or "1e15") seconds makes
    the expiry overflow ``datetime``: the consent's callback answers 500 instead of a 400 (or
    storing the tokens with a capped lifetime)."""
    from tests.support.afas_fixtures import sb_consent

    afas_sandbox._lifetime = lambda: 10**15  # what a misbehaving token endpoint could answer
    done, _ = sb_consent(afas_services, unique("office"))
    assert done.status < 500, (done.status, done.body)
