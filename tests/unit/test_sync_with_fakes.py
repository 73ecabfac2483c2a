"""One job of the worker end to end on the dict-backed fakes (and the entry preview on the same
fakes): no Azurite, no HTTP.

``WorkerDeps`` is typed with the sync's small Protocols (``shared/sync/ports.py``); here they are
the fakes of ``tests/support/fakes.py``, Loket is :class:`FakeLoket` and AFAS Profit a real
``ProfitBooker`` on :class:`FakeProfit`. The same job against Azurite and the sandboxes is
``tests/e2e/test_sync.py``; the repositories keep their Azurite integration tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from shared.afas.models import Administration, Period, ProfitAccount
from shared.clients.model import ClientConfig, ProfitTarget
from shared.journal.models import JournalLine, JournalRun, JournalRunStatus, PayrollPeriod
from shared.runs.model import JobStatus, RunStatus
from shared.store.run_details import JournalRunOutcome, Level
from shared.sync.bookers import AnyBooker, ProfitBooker
from shared.sync.booking import BookingPolicy
from shared.sync.client_bookings import ClientBookings
from shared.sync.deps import WorkerDeps
from shared.sync.ledger import State
from shared.sync.messages import SyncJob
from shared.sync.worker import process
from tests.support.fakes import (
    FakeBookings,
    FakeClients,
    FakeLoket,
    FakeProfit,
    FakeRunDetails,
    FakeRuns,
    ManualClock,
)

OFFICE = "office-fakes"
LOKET_ADMINISTRATION = "0b7e5f1c-3c1d-4a43-9d0e-2b1b6f1f0a01"
RUN_ID = "nightly-2025-04-02"
JOURNAL_RUN = "5d4c3b2a-0000-4000-8000-000000000001"
TARGET = ProfitTarget("12345", 1, "90")
JOB = SyncJob(OFFICE, RUN_ID, "c1")


class Killed(BaseException):
    """The host dies between two steps (nothing in the worker catches a BaseException)."""


@dataclass
class World:
    deps: WorkerDeps
    runs: FakeRuns
    details: FakeRunDetails
    bookings: FakeBookings
    loket: FakeLoket
    profit: FakeProfit


def world() -> World:
    clock = ManualClock(datetime(2025, 4, 2, 1, 0, tzinfo=UTC))
    runs, details, clients, bookings = FakeRuns(), FakeRunDetails(), FakeClients(), FakeBookings()
    clients.save(
        ClientConfig(OFFICE, "c1", LOKET_ADMINISTRATION, TARGET, name="Bakkerij Zon"),
        by_user="anna",
        now=clock(),
    )
    runs.add_run(OFFICE, RUN_ID, ["c1"], now=clock())
    loket = FakeLoket()
    period = PayrollPeriod(2025, 3, date(2025, 3, 1), date(2025, 3, 31))
    loket.add_run(
        JournalRun(
            JOURNAL_RUN, LOKET_ADMINISTRATION, JournalRunStatus.READY, 12, "pr-12", 3, period
        ),
        [
            JournalLine("4000", "Brutoloon", Decimal("1250.00"), Decimal("0.00")),
            JournalLine("1600", "Netto lonen", Decimal("0.00"), Decimal("1250.00")),
        ],
    )
    profit = FakeProfit(
        accounts=[
            ProfitAccount("4000", "Lonen en salarissen", blocked=False),
            ProfitAccount("1600", "Te betalen nettolonen", blocked=False),
        ],
        periods=[Period(1, 2025, 3, date(2025, 3, 1), date(2025, 3, 31), blocked=False)],
        administrations=[Administration(1, "Bakkerij Zon B.V.")],
    )

    def booker(config: ClientConfig) -> AnyBooker:
        assert isinstance(config.target, ProfitTarget)
        return ProfitBooker(cast(Any, profit), config.target)

    deps = WorkerDeps(
        runs=runs,
        details=details,
        clients=clients,
        bookings=bookings,
        loket=cast(Any, loket),
        target=booker,
        clock=clock,
        booking=BookingPolicy(sleep=lambda _seconds: None),
    )
    return World(deps, runs, details, bookings, loket, profit)


def test_a_ready_journal_run_is_booked_once_and_loket_is_told() -> None:
    w = world()
    process(w.deps, JOB, dequeue_count=1, message_id="m1")
    assert list(w.profit.booked.values()) == [70001]
    assert w.bookings.get(TARGET.administration_key, JOURNAL_RUN).state is State.MARKED  # type: ignore[union-attr]
    assert [run for run, _ in w.loket.marked] == [JOURNAL_RUN]
    run = w.runs.get(OFFICE, RUN_ID)
    assert run is not None and (run.status, run.imported, run.failed) == (RunStatus.DONE, 1, 0)
    (record,) = w.details.records.values()
    assert record.status is JournalRunOutcome.IMPORTED


def test_a_redelivery_books_nothing_more() -> None:
    w = world()
    process(w.deps, JOB, dequeue_count=1, message_id="m1")
    process(w.deps, JOB, dequeue_count=2, message_id="m1")  # the same message again
    assert len(w.profit.posts) == 1
    run = w.runs.get(OFFICE, RUN_ID)
    assert run is not None and (run.jobs_done, run.imported) == (1, 1)


def test_a_redelivery_after_the_host_died_between_booking_and_recording_books_nothing_more() -> (
    None
):
    w = world()

    def die_after_booking(step: str) -> None:
        if step == "booked":
            raise Killed(step)

    w.deps.checkpoint = die_after_booking
    with pytest.raises(Killed):
        process(w.deps, JOB, dequeue_count=1, message_id="m1")
    assert len(w.profit.posts) == 1
    w.deps.checkpoint = lambda step: None
    process(w.deps, JOB, dequeue_count=2, message_id="m1")  # the queue delivers it again
    assert len(w.profit.posts) == 1  # found in the ledger: not posted again
    assert [run for run, _ in w.loket.marked] == [JOURNAL_RUN]
    job = w.runs.get_job(OFFICE, RUN_ID, "c1")
    assert job is not None and job.status is JobStatus.DONE
    run = w.runs.get(OFFICE, RUN_ID)
    assert run is not None and (run.status, run.imported) == (RunStatus.DONE, 1)


def test_a_refusal_is_a_visible_dutch_message_and_nothing_is_booked() -> None:
    w = world()
    w.profit.refuse = "Boekingen op geblokkeerde rekening niet toegestaan"
    process(w.deps, JOB, dequeue_count=1, message_id="m1")
    assert w.profit.booked == {}
    assert w.bookings.get(TARGET.administration_key, JOURNAL_RUN).state is State.REFUSED  # type: ignore[union-attr]
    assert w.loket.marked == []  # Loket is not told it was processed
    run = w.runs.get(OFFICE, RUN_ID)
    assert run is not None and (run.status, run.failed) == (RunStatus.FAILED, 1)
    (record,) = w.details.records.values()
    assert record.status is JournalRunOutcome.FAILED
    (error,) = w.details.messages.values()  # the one message of the run detail
    assert error.level is Level.ERROR and error.client_id == "c1"
    assert error.text.startswith("Periode 2025 - 3 (volgnr. 12): AFAS weigerde de journaalpost")
    assert "Boekingen op geblokkeerde rekening niet toegestaan" in error.text  # AFAS's own words
    assert error.hint.startswith("Deblokkeer de grootboekrekening in AFAS")


def test_the_preview_books_nothing_and_shows_the_ledgers_reference_once_booked() -> None:
    w = world()
    previews = ClientBookings(
        loket=cast(Any, w.loket), booker=w.deps.target, bookings=w.bookings, clock=w.deps.clock
    )
    config = w.deps.clients.get(OFFICE, "c1")
    assert config is not None
    before = previews.preview(config, JOURNAL_RUN)
    assert before.booking is None and not before.findings and w.profit.posts == []
    assert before.draft.entry.total_debit == Decimal("1250.00")
    process(w.deps, JOB, dequeue_count=1, message_id="m1")
    after = previews.preview(config, JOURNAL_RUN)
    assert after.booking is not None and after.booking.state.booked
    assert after.reference == after.booking.reference == w.profit.posts[0].voucher_number
    assert previews.unsettled(config) == []  # booked and Loket told: settled
