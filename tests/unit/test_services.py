"""The client, connection and approval services on dict-backed fakes: no Azurite, no HTTP.

Each service takes its own small bundle (repositories behind Protocols, a clock, clients of the
outside systems); the fakes keep the repositories' contract (ETags, ConcurrencyConflict). The Azure
repositories keep their integration tests; the HTTP answers are pinned in tests/e2e.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from shared.afas.environment import parse_profit_environment
from shared.afas.errors import AfasAuthError, AfasNotFound, AfasRetriableError
from shared.afas.models import MetaInfo
from shared.approvals.service import ApprovalService
from shared.clients.errors import (
    BookingUnsettled,
    ChangedMeanwhile,
    InvalidConfiguration,
    UpstreamUnavailable,
)
from shared.clients.model import ClientConfig, ProfitTarget
from shared.clients.service import ClientService
from shared.connections import errors as refusals
from shared.connections.service import ProfitConnectionService
from shared.journal.mapping import JournalMapping
from shared.journal.models import PayrollAdministration, PeriodType
from shared.loket.errors import LoketServerError
from shared.secret import Secret
from shared.store.approvals import ApprovalState, Prepared
from shared.store.connections import ConnectionKey, ConnectionKind
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, Level
from shared.sync.client_bookings import ClientBookings
from shared.sync.deps import ReviewDeps
from shared.sync.ledger import Booking, Holder, State
from shared.sync.review import ReviewProblem
from tests.support.fakes import (
    FakeApprovals,
    FakeBookings,
    FakeClients,
    FakeConnections,
    FakeLoket,
    FakeRunDetails,
    FakeRuns,
    ManualClock,
)

OFFICE = "office-unit"
LOKET_ID = "0b7e5f1c-3c1d-4a43-9d0e-2b1b6f1f0a01"
PROFIT = ProfitTarget("12345", 1, "90")
PROFIT_KEY = ConnectionKey(OFFICE, ConnectionKind.AFAS_PROFIT, "12345")

# -- the client service -------------------------------------------------------------------------


@dataclass
class FakeAdministration:
    """The AFAS administration of a client as the client service checks it."""

    problems: list[tuple[str, str]] = field(default_factory=list)

    def check(self) -> list[tuple[str, str]]:
        return list(self.problems)


def client_world() -> tuple[ClientService, FakeClients, FakeConnections, FakeLoket, FakeBookings]:
    clients, connections, bookings = FakeClients(), FakeConnections(), FakeBookings()
    loket = FakeLoket(
        {LOKET_ID: PayrollAdministration(LOKET_ID, "e1", "Bakkerij Zon", 4711, PeriodType.MONTHLY)}
    )
    administration, clock = FakeAdministration(), ManualClock()
    booking_side = ClientBookings(
        loket=cast(Any, loket), booker=cast(Any, None), bookings=bookings, clock=clock
    )
    service = ClientService(
        clients=clients,
        connections=connections,
        loket=cast(Any, loket),
        booker=lambda config: administration,
        clock=clock,
        unsettled=booking_side.unsettled,
    )
    return service, clients, connections, loket, bookings


def config(**changes: Any) -> ClientConfig:
    return replace(ClientConfig(OFFICE, "c1", LOKET_ID, PROFIT, name="Zon"), **changes)


def test_a_checked_configuration_is_stored_with_what_loket_says() -> None:
    service, clients, connections, _, _ = client_world()
    connections.add(PROFIT_KEY)
    stored, created = service.save(config(), user="anna", if_match=None)
    assert created
    assert (stored.loket_administration_name, stored.loket_client_number) == ("Bakkerij Zon", 4711)
    assert stored.period_type == "monthly"
    assert clients.get(OFFICE, "c1") == stored


def test_every_field_issue_comes_back_at_once_and_nothing_is_stored() -> None:
    service, clients, _, _, _ = client_world()
    bad = config(
        loket_administration_id="0b7e5f1c-3c1d-4a43-9d0e-000000000000",
        mapping=JournalMapping(cost_center_axis=1, cost_unit_axis=1),
    )
    with pytest.raises(InvalidConfiguration) as refused:
        service.save(bad, user="anna", if_match=None)
    fields = {issue.field for issue in refused.value.issues}
    assert fields == {"loketPayrollAdministrationId", "target.environment", "mapping.costUnitAxis"}
    assert clients.rows == {}


@pytest.mark.parametrize(
    ("reauthorize", "active", "says"),
    [(False, False, "staat op inactief"), (True, True, "vraagt opnieuw toestemming")],
)
def test_an_unusable_afas_connection_is_a_field_issue(
    reauthorize: bool, active: bool, says: str
) -> None:
    service, _, connections, _, _ = client_world()
    connections.add(PROFIT_KEY, active=active, reauthorize=reauthorize)
    with pytest.raises(InvalidConfiguration) as refused:
        service.check(config(), user="anna")
    (issue,) = refused.value.issues
    assert issue.field == "target.environment" and says in issue.text


def test_loket_not_answering_is_upstream_unavailable_not_a_field_issue() -> None:
    service, clients, connections, loket, _ = client_world()
    connections.add(PROFIT_KEY)
    loket.fail = LoketServerError("down", status=503)
    with pytest.raises(UpstreamUnavailable) as refused:
        service.save(config(), user="anna", if_match=None)
    assert refused.value.system == "Loket"
    assert clients.rows == {}


def test_switching_a_client_off_needs_no_live_check() -> None:
    service, _, connections, loket, _ = client_world()
    connections.add(PROFIT_KEY)
    stored, _ = service.save(config(), user="anna", if_match=None)
    loket.fail = LoketServerError("down", status=503)
    off, created = service.save(config(include_in_sync=False), user="anna", if_match=stored.etag)
    assert not created and not off.include_in_sync
    assert off.loket_administration_name == "Bakkerij Zon"  # kept from the checked save


def test_a_stale_etag_is_changed_meanwhile() -> None:
    service, _, connections, _, _ = client_world()
    connections.add(PROFIT_KEY)
    service.save(config(), user="anna", if_match=None)
    with pytest.raises(ChangedMeanwhile):
        service.save(config(name="Zon B.V."), user="bob", if_match='W/"stale"')


def test_an_unfinished_booking_keeps_the_client_in_its_administration() -> None:
    service, clients, connections, _, bookings = client_world()
    connections.add(PROFIT_KEY)
    stored, _ = service.save(config(), user="anna", if_match=None)
    bookings.insert(
        Booking(
            target="profit|12345|1",
            loket_journal_run_id="run-1",
            state=State.UNKNOWN,
            holder=Holder(OFFICE, "c1", "nightly-2025-04-01"),
            lease_until=None,
            reference="LB-0001",
        )
    )
    elsewhere = config(target=ProfitTarget("12345", 2, "90"))
    with pytest.raises(BookingUnsettled) as refused:
        service.save(elsewhere, user="anna", if_match=stored.etag)
    assert (refused.value.open_runs, refused.value.reference) == (1, "LB-0001")
    with pytest.raises(BookingUnsettled):
        service.delete(stored)
    assert clients.get(OFFICE, "c1") == stored
    service.save(config(target=ProfitTarget("12345", 1, "91")), user="anna", if_match=stored.etag)


# -- the connection service ---------------------------------------------------------------------


@dataclass
class FakeProfit:
    """``ProfitClient.check_token`` for any token: answers ``meta`` or raises ``fail``."""

    meta: MetaInfo = field(
        default_factory=lambda: MetaInfo(frozenset(), frozenset(), "O12345AA", "Loonbrug")
    )
    fail: Exception | None = None
    checks: list[str] = field(default_factory=list)

    def check_token(self) -> MetaInfo:
        if self.fail is not None:
            raise self.fail
        return self.meta

    @contextmanager
    def __call__(self, environment: Any, token: Secret) -> Iterator[FakeProfit]:
        self.checks.append(environment.number)
        yield self


def connection_world() -> tuple[ProfitConnectionService, FakeConnections, FakeProfit]:
    connections, profit = FakeConnections(), FakeProfit()
    return ProfitConnectionService(connections, profit, ManualClock()), connections, profit


ENV = parse_profit_environment("12345")


def test_a_token_is_stored_only_after_afas_accepted_it() -> None:
    service, connections, profit = connection_world()
    stored = service.connect(OFFICE, ENV, Secret("data"), active=True, user="u1")
    assert stored.created and profit.checks == ["12345"]
    assert stored.connection.details["environmentName"] == "O12345AA"
    secrets = connections.read_secrets(PROFIT_KEY)
    assert secrets is not None and secrets.afas_token == Secret("data")
    again = service.connect(OFFICE, ENV, Secret("data2"), active=True, user="u1")
    assert not again.created


@pytest.mark.parametrize(
    ("error", "why", "field"),
    [
        (AfasAuthError("no", status=401), refusals.Refusal.TOKEN_REFUSED, "token"),
        (AfasNotFound("no", status=404), refusals.Refusal.ENVIRONMENT_NOT_FOUND, "environment"),
    ],
)
def test_a_refused_token_is_not_stored(error: Exception, why: refusals.Refusal, field: str) -> None:
    service, connections, profit = connection_world()
    profit.fail = error
    with pytest.raises(refusals.TokenRefused) as refused:
        service.connect(OFFICE, ENV, Secret("data"), active=True, user="u1")
    assert (refused.value.why, refused.value.field) == (why, field)
    assert connections.rows == {}


def test_afas_not_answering_is_unreachable_with_its_retry_after() -> None:
    service, connections, profit = connection_world()
    profit.fail = AfasRetriableError("busy", status=503, retry_after=30)
    with pytest.raises(refusals.AfasUnreachable) as refused:
        service.connect(OFFICE, ENV, Secret("data"), active=True, user="u1")
    assert refused.value.retry_after == 30
    assert connections.rows == {}


def test_switching_needs_a_stored_token_and_only_switching_on_asks_afas() -> None:
    service, _, profit = connection_world()
    with pytest.raises(refusals.TokenRequired):
        service.switch(OFFICE, ENV, active=False)
    service.connect(OFFICE, ENV, Secret("data"), active=True, user="u1")
    profit.checks.clear()
    off = service.switch(OFFICE, ENV, active=False)
    assert not off.active and profit.checks == []
    on = service.switch(OFFICE, ENV, active=True)
    assert on.active and profit.checks == ["12345"]


def test_a_switch_racing_another_change_is_changed_meanwhile() -> None:
    service, connections, _ = connection_world()
    service.connect(OFFICE, ENV, Secret("data"), active=True, user="u1")
    connections.conflict_next_update = True
    with pytest.raises(refusals.ChangedMeanwhile):
        service.switch(OFFICE, ENV, active=False)


# -- the approval service -----------------------------------------------------------------------


def prepared(client: str = "c1", run: str = "jr-1", office: str = OFFICE) -> Prepared:
    return Prepared(
        office_id=office,
        client_id=client,
        target_key="profit|12345|1",
        target_label="administratie 1",
        environment="12345",
        loket_journal_run_id=run,
        payroll_run_id="pr-1",
        payroll_period="2025-3",
        sequence_number=1,
        run_id="nightly-2025-04-01",
        reference="LB-0001",
        fingerprint="f" * 64,
        total_debit=Decimal("100.00"),
        total_credit=Decimal("100.00"),
        line_count=2,
        description="Lonen maart",
    )


@dataclass
class ApprovalWorld:
    service: ApprovalService
    approvals: FakeApprovals
    details: FakeRunDetails
    runs: FakeRuns
    bookings: FakeBookings
    clock: ManualClock


def approval_world() -> ApprovalWorld:
    approvals, details, runs, bookings = (
        FakeApprovals(),
        FakeRunDetails(),
        FakeRuns(),
        FakeBookings(),
    )
    clock = ManualClock()

    def no_loket(office_id: str) -> Any:
        raise AssertionError("this test needs no Loket")

    review = ReviewDeps(
        runs=runs,
        details=details,
        clients=FakeClients(),
        bookings=bookings,
        loket=no_loket,
        target=cast(Any, lambda config: None),
        clock=clock,
        approvals=approvals,
    )
    return ApprovalWorld(
        ApprovalService(approvals, review), approvals, details, runs, bookings, clock
    )


def awaiting(world: ApprovalWorld, p: Prepared) -> None:
    world.details.record(
        p.office_id,
        p.run_id,
        JournalRunRecord(
            p.client_id, p.loket_journal_run_id, p.payroll_run_id, p.payroll_period, 1,
            JournalRunOutcome.AWAITING_APPROVAL, p.environment,
        ),
    )  # fmt: skip


def test_pending_lists_the_offices_own_pending_items() -> None:
    world = approval_world()
    mine = world.approvals.add(prepared(), now=world.clock())
    world.approvals.add(prepared(office="other-office"), now=world.clock())
    assert world.service.pending(OFFICE) == [mine]


def test_an_unknown_or_foreign_item_is_not_found() -> None:
    world = approval_world()
    foreign = world.approvals.add(prepared(office="other-office"), now=world.clock())
    for call in (
        lambda: world.service.approve(OFFICE, foreign.approval_id, user="anna"),
        lambda: world.service.reject(
            OFFICE, "nope", user="anna", reason="onjuist", mark_failed=False
        ),
    ):
        with pytest.raises(ReviewProblem) as refused:
            call()
        assert refused.value.kind == "not-found"


def test_a_rejection_is_recorded_on_the_run_and_counted_once() -> None:
    world = approval_world()
    p = prepared()
    item = world.approvals.add(p, now=world.clock())
    awaiting(world, p)
    decision = world.service.reject(
        OFFICE, item.approval_id, user="anna", reason="bedragen kloppen niet", mark_failed=False
    )
    assert decision.item.state is ApprovalState.REJECTED and not decision.marked_in_loket
    (row,) = world.details.records_for_client(OFFICE, p.run_id, "c1")
    assert row.status is JournalRunOutcome.REJECTED
    (message,) = world.details.messages.values()
    assert message.level is Level.WARNING and "afgewezen door anna" in message.text
    assert world.runs.decisions == [(OFFICE, p.run_id, "rejected")]
    with pytest.raises(ReviewProblem) as again:
        world.service.reject(
            OFFICE, item.approval_id, user="bob", reason="nogmaals", mark_failed=False
        )
    assert again.value.kind == "conflict"
    with pytest.raises(ReviewProblem) as approve:
        world.service.approve(OFFICE, item.approval_id, user="bob")
    assert approve.value.kind == "conflict" and "afgewezen door anna" in approve.value.dutch
    assert world.runs.decisions == [(OFFICE, p.run_id, "rejected")]


def test_a_stale_if_match_is_a_precondition_failure() -> None:
    world = approval_world()
    item = world.approvals.add(prepared(), now=world.clock())
    with pytest.raises(ReviewProblem) as refused:
        world.service.reject(
            OFFICE, item.approval_id, user="anna", reason="onjuist", mark_failed=False,
            if_match='W/"0"',
        )  # fmt: skip
    assert refused.value.kind == "precondition"
    assert world.approvals.get(OFFICE, item.approval_id) == item


def test_an_item_whose_post_is_out_cannot_be_rejected() -> None:
    world = approval_world()
    p = prepared()
    item = world.approvals.add(p, now=world.clock())
    world.bookings.insert(
        Booking(
            target=p.target_key,
            loket_journal_run_id=p.loket_journal_run_id,
            state=State.POSTED,
            holder=Holder(OFFICE, "c1", f"approval:{item.approval_id}"),
            lease_until=world.clock() + timedelta(minutes=5),
        )
    )
    with pytest.raises(ReviewProblem) as refused:
        world.service.reject(
            OFFICE, item.approval_id, user="anna", reason="te laat", mark_failed=False
        )
    assert refused.value.kind == "conflict" and "al naar AFAS verstuurd" in refused.value.dutch
    current = world.approvals.get(OFFICE, item.approval_id)
    assert current is not None and current.state is ApprovalState.PENDING


def test_the_fakes_keep_the_etag_contract() -> None:
    world = approval_world()
    item = world.approvals.add(prepared(), now=datetime(2025, 4, 2, tzinfo=UTC))
    world.approvals.move(item, ApprovalState.REJECTED)
    from shared.store.tables import ConcurrencyConflict

    with pytest.raises(ConcurrencyConflict):
        world.approvals.move(item, ApprovalState.APPROVING)
