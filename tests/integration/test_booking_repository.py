"""The booking ledger's storage contract, run against both implementations: the Azure Table
repository on Azurite and the dict-backed fake the unit tests use. If the fake drifted from the
real thing, the unit tests of the booking step would prove nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.bootstrap import Services
from shared.store.bookings import TABLE, BookingLedger, BookingRepository
from shared.store.tables import ConcurrencyConflict
from shared.sync import ledger
from shared.sync.ledger import Holder, State
from tests.support.fakes import FakeBookings

T0 = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)
JOB = Holder("office-a", "4711", "nightly-2026-11-23")


@pytest.fixture(params=["azurite", "fake"])
def repository(request: pytest.FixtureRequest) -> BookingRepository:
    if request.param == "fake":
        return FakeBookings()
    services: Services = request.getfixturevalue("services")
    return BookingLedger(services.storage)


def test_the_first_claim_is_one_conditional_insert_and_every_change_etag_conditional(
    repository: BookingRepository, unique: Callable[[str], str]
) -> None:
    target, run_id = f"profit|12345|{unique('adm')}", unique("run")
    claim = ledger.Claim(JOB, T0 + timedelta(minutes=15), T0)
    first = repository.insert(ledger.first_claim(target, run_id, claim))
    assert first.etag and first.state is State.CLAIMED
    with pytest.raises(ConcurrencyConflict):  # a second first claim loses
        repository.insert(ledger.first_claim(target, run_id, claim))
    stale = repository.get(target, run_id)
    assert stale == first
    post = ledger.Post(T0, "1", "80", "LB202503S1-ABCDEF12", "f" * 64, timedelta(minutes=4))
    posted = repository.save(ledger.transition(first, post))
    assert posted.etag != first.etag
    with pytest.raises(ConcurrencyConflict):  # a stale writer loses
        repository.save(ledger.transition(stale, ledger.Release(T0)))
    booked = repository.save(ledger.transition(posted, ledger.Booked("4711", T0)))
    stored = repository.get(target, run_id)
    assert stored == booked
    assert (stored.state, stored.entry_number, stored.posts, stored.last_post_at) == (
        State.BOOKED,
        "4711",
        1,
        T0,
    )
    assert (stored.administration, stored.journal, stored.reference, stored.fingerprint) == (
        "1",
        "80",
        "LB202503S1-ABCDEF12",
        "f" * 64,
    )
    assert stored.holder == JOB and repository.of_client(target, "office-a", "4711") == [stored]
    assert repository.of_client(target, "office-b", "4711") == []


def test_a_row_written_before_the_state_machine_is_read_safely(
    services: Services, unique: Callable[[str], str]
) -> None:
    """The old ledger wrote ``failed`` both for a refusal and for a post whose outcome was not
    known (an empty 201, a failing look-up): such a row is read as outcome unknown, so it is
    looked up before anything is posted again."""
    target, run_id = f"profit|12345|{unique('adm')}", unique("run")
    services.storage.table(TABLE).create_entity(
        {
            "PartitionKey": target,
            "RowKey": run_id,
            "state": "failed",
            "office_id": "o",
            "client_id": "c",
            "run_id": "nightly-2026-11-01",
            "reference": "LB1",
            "entry_number": "",
            "error": "FiEntries answered 201 without EnNo",
            "attempts": 1,
            "posted_at": T0,
            "lease_until": T0,
        }
    )
    row = BookingLedger(services.storage).get(target, run_id)
    assert row is not None and row.state is State.UNKNOWN and not row.afas_finished
    assert row.last_post_at == T0 and row.reference == "LB1"
    assert ledger.plan(row, JOB, T0 + timedelta(hours=1)) is ledger.Step.LOOK_UP
