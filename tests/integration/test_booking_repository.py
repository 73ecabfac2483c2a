"""The booking ledger's storage contract, run against both implementations: the Azure Table
repository on Azurite and the dict-backed fake the unit tests use. If the fake drifted from the
real thing, the unit tests of the booking step would prove nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest

from shared.afas.errors import AfasValidationError
from shared.bootstrap import Services
from shared.failures import classify
from shared.journal.builder import Draft
from shared.journal.entries import ProfitEntry, ProfitLine
from shared.journal.periods import BookingPeriod, PeriodRule
from shared.store.bookings import TABLE, BookingLedger, BookingRepository
from shared.store.tables import ConcurrencyConflict
from shared.sync import ledger
from shared.sync.bookers import AfasBooker
from shared.sync.booking import (
    BookedElsewhere,
    BookingBusy,
    BookingPolicy,
    BookingRefused,
    NotApproved,
    book_once,
)
from shared.sync.ledger import Holder, State
from tests.support.fakes import FakeBookings, ManualClock

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


# -- attack2: two administrations racing for one Loket journal run --------------------------------


class Administration:
    """AFAS stand-in for one administration (what it books goes into ``booked``, shared by both
    administrations, so a journal run booked in two of them shows as two entries)."""

    environment = "12345"
    journal = "80"
    quiet = timedelta(minutes=17)
    replays = False

    def __init__(self, key: str, booked: list[str], *, refuses: bool = False) -> None:
        self.key = self.label = self.administration = key
        self.booked = booked
        self.refuses = refuses

    def reference(
        self, draft: Draft[ProfitEntry], loket_journal_run_id: str, generation: int
    ) -> str:
        return draft.entry.voucher_number

    def post(self, draft: Draft[ProfitEntry], reference: str) -> str:
        if self.refuses:
            raise AfasValidationError("Boekperiode is geblokkeerd", status=400)
        self.booked.append(self.key)
        return str(len(self.booked))

    def look_up(self, row: ledger.Booking) -> str | None:
        return None


def administration(
    key: str, booked: list[str], *, refuses: bool = False
) -> AfasBooker[ProfitEntry]:
    """The stand-in as the booking step takes it (it has only what ``book_once`` uses)."""
    return cast("AfasBooker[ProfitEntry]", Administration(key, booked, refuses=refuses))


def ten_euro_draft(run_id: str) -> Draft[ProfitEntry]:
    """The journal run every race below books: one 10-euro entry, voucher named by ``run_id``."""
    return Draft(
        ProfitEntry(
            year=2026, period=11, administration=1, journal="80",
            voucher_number=f"LB202611S1-{run_id[-8:].upper()}",
            entry_date=date(2026, 11, 30), voucher_date=date(2026, 11, 30),
            lines=(
                ProfitLine("4000", "Brutolonen", Decimal("10.00"), Decimal("0")),
                ProfitLine("1600", "Netto lonen", Decimal("0"), Decimal("10.00")),
            ),
        ),
        BookingPeriod(2026, 11, date(2026, 11, 30), PeriodRule.PAYROLL_PERIOD),
        (),
    )  # fmt: skip


class MeanwhileAfterIndex:
    """The shared ledger; right after a delivery has read the journal run's index, ``meanwhile``
    runs once (the other delivery, from start to end)."""

    def __init__(self, repository: BookingRepository, meanwhile: Callable[[], None]) -> None:
        self.repository = repository
        self.meanwhile: Callable[[], None] | None = meanwhile

    def get(self, target: str, loket_journal_run_id: str) -> ledger.Booking | None:
        return self.repository.get(target, loket_journal_run_id)

    def insert(self, row: ledger.Booking) -> ledger.Booking:
        return self.repository.insert(row)

    def save(self, row: ledger.Booking) -> ledger.Booking:
        return self.repository.save(row)

    def of_client(self, target: str, office_id: str, client_id: str) -> list[ledger.Booking]:
        return self.repository.of_client(target, office_id, client_id)

    def note_target(self, loket_journal_run_id: str, target: str, now: datetime) -> None:
        self.repository.note_target(loket_journal_run_id, target, now)

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        found = self.repository.targets_of(loket_journal_run_id)
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return found


@pytest.mark.parametrize("last_night", ["refused", "approval of a changed entry"])
def test_a_run_tried_in_one_administration_and_booked_in_two_at_once_lands_once(
    repository: BookingRepository, unique: Callable[[str], str], last_night: str
) -> None:
    """attack2: a journal run was tried in administration X last night: refused (closed
    period), or an approval of an entry that had changed since (nothing written but X's note
    in the run's index). The client now also points at administration Y (moved, or a second
    configuration). Tonight the job for X and the job for Y book it at the same moment. Each
    notes its administration in the run's index, then checks the others: X checks before Y
    has noted, Y checks while X's row still says ``refused`` (or is not there yet: X's write
    is next) and X's note is last night's. Was: both posted, the run was booked in X and Y."""
    clock = ManualClock(T0)
    booked: list[str] = []
    run_id = unique("run")
    draft = ten_euro_draft(run_id)
    x = f"profit|12345|{unique('x')}"
    y = f"profit|12345|{unique('y')}"
    policy = BookingPolicy(sleep=lambda _seconds: None)
    if last_night == "refused":
        with pytest.raises(BookingRefused):
            book_once(
                repository, clock, administration(x, booked, refuses=True), draft, run_id, JOB
            )
    else:
        with pytest.raises(NotApproved):
            book_once(
                repository, clock, administration(x, booked), draft, run_id, JOB, approved="0" * 64
            )
        assert repository.get(x, run_id) is None
    clock.advance(days=1)
    outcomes: list[str] = []

    def job_for_y() -> None:
        holder = Holder("office-a", "4712", "nightly-2026-11-24")
        try:
            book_once(
                repository, clock, administration(y, booked), draft, run_id, holder, policy=policy
            )
            outcomes.append("y booked")
        except BookedElsewhere:
            outcomes.append("y: booked elsewhere")

    try:
        shared = MeanwhileAfterIndex(repository, job_for_y)
        book_once(shared, clock, administration(x, booked), draft, run_id, JOB, policy=policy)
        outcomes.append("x booked")
    except BookedElsewhere:
        outcomes.append("x: booked elsewhere")
    assert len(booked) <= 1, (booked, outcomes)


def test_an_attempt_that_stalls_after_checking_elsewhere_writes_nothing(
    repository: BookingRepository, unique: Callable[[str], str]
) -> None:
    """attack2 (found by the booking model with a second SB administration): X notes the
    journal run and finds nobody elsewhere; then X's process stalls (a slow index read, a
    pause) longer than a lease. Y starts meanwhile: X's note is too old to count and X has no
    row yet, so Y books. Was: X then inserted its post and booked a second time."""
    clock = ManualClock(T0)
    booked: list[str] = []
    run_id = unique("run")
    draft = ten_euro_draft(run_id)
    x = f"profit|12345|{unique('x')}"
    y = f"profit|12345|{unique('y')}"
    policy = BookingPolicy(sleep=lambda _seconds: None)

    def stall_then_y_books() -> None:
        clock.advance(minutes=16)
        holder = Holder("office-a", "4712", "nightly-2026-11-24")
        book_once(
            repository, clock, administration(y, booked), draft, run_id, holder, policy=policy
        )

    shared = MeanwhileAfterIndex(repository, stall_then_y_books)
    with pytest.raises(BookingBusy):
        book_once(shared, clock, administration(x, booked), draft, run_id, JOB, policy=policy)
    assert booked == [y] and repository.get(x, run_id) is None


class MeanwhileAfterNote(MeanwhileAfterIndex):
    """The shared ledger; right after a delivery has noted itself in the journal run's index
    (before it reads the index), ``meanwhile`` runs once."""

    def note_target(self, loket_journal_run_id: str, target: str, now: datetime) -> None:
        self.repository.note_target(loket_journal_run_id, target, now)
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        return self.repository.targets_of(loket_journal_run_id)


def test_two_administrations_starting_at_once_both_stand_back_and_say_nothing_is_booked(
    repository: BookingRepository, unique: Callable[[str], str]
) -> None:
    """attack3: the jobs for administrations X and Y of one Loket journal run (two client
    configurations) start at the same moment; each notes itself before either reads the index.
    Each then sees the other's fresh note and stands back: at most once holds, nothing is
    booked anywhere. Was: both runs failed with "al geboekt, of wordt geboekt, in een andere
    AFAS-administratie" and the hint to delete it there and call support, while AFAS holds it
    in neither; the run says now that nothing was booked and what to do (a rerun later, or
    remove the configuration that no longer fits)."""
    clock = ManualClock(T0)
    booked: list[str] = []
    run_id = unique("run")
    draft = ten_euro_draft(run_id)
    x = f"profit|12345|{unique('x')}"
    y = f"profit|12345|{unique('y')}"
    policy = BookingPolicy(sleep=lambda _seconds: None)
    stood_back: list[BookedElsewhere] = []

    def job_for_y() -> None:
        holder = Holder("office-a", "4712", "nightly-2026-11-23")
        try:
            book_once(
                repository, clock, administration(y, booked), draft, run_id, holder, policy=policy
            )
        except BookedElsewhere as elsewhere:
            stood_back.append(elsewhere)

    shared = MeanwhileAfterNote(repository, job_for_y)
    try:
        book_once(shared, clock, administration(x, booked), draft, run_id, JOB, policy=policy)
    except BookedElsewhere as x_elsewhere:
        stood_back.append(x_elsewhere)
    assert booked == [] and len(stood_back) == 2
    for each in stood_back:
        failure = classify(each)
        assert failure is not None
        assert "al geboekt" not in failure.dutch, failure.dutch
        assert "niets geboekt" in failure.dutch and "rerun" in failure.hint, failure
    # A rerun a lease later books it once.
    clock.advance(minutes=16)
    book_once(repository, clock, administration(y, booked), draft, run_id, JOB, policy=policy)
    assert booked == [y]


class SlowFirstSave(MeanwhileAfterIndex):
    """The shared ledger; the first ``save`` lands only after ``meanwhile`` has run (a write
    the storage SDK kept retrying, a process frozen just before it)."""

    def save(self, row: ledger.Booking) -> ledger.Booking:
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return self.repository.save(row)

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        return self.repository.targets_of(loket_journal_run_id)


def test_a_claim_that_lands_a_lease_after_its_note_posts_nothing(
    repository: BookingRepository, unique: Callable[[str], str]
) -> None:
    """attack3: last night administration X refused the journal run (closed period). Tonight
    X's job notes itself, finds nobody elsewhere, and writes its claim on X's refused row; that
    write lands only a lease later. Meanwhile the job for Y (the client moved) sees X's note too
    old to count and X's row still refused, and books. Was: X's claim then landed and X posted,
    the run was booked in X and Y (the 30 s check ran before the claim was written, not after)."""
    clock = ManualClock(T0)
    booked: list[str] = []
    run_id = unique("run")
    draft = ten_euro_draft(run_id)
    x = f"profit|12345|{unique('x')}"
    y = f"profit|12345|{unique('y')}"
    policy = BookingPolicy(sleep=lambda _seconds: None)
    with pytest.raises(BookingRefused):
        book_once(repository, clock, administration(x, booked, refuses=True), draft, run_id, JOB)
    clock.advance(days=1)

    def slow_claim_while_y_books() -> None:
        clock.advance(minutes=16)
        holder = Holder("office-a", "4712", "nightly-2026-11-24")
        book_once(
            repository, clock, administration(y, booked), draft, run_id, holder, policy=policy
        )

    shared = SlowFirstSave(repository, slow_claim_while_y_books)
    with pytest.raises(BookingBusy):
        book_once(shared, clock, administration(x, booked), draft, run_id, JOB, policy=policy)
    assert booked == [y]
    stored = repository.get(x, run_id)
    assert stored is not None and not ledger.may_be_in_afas(stored, clock())


def test_an_attempt_held_up_between_its_note_and_its_post_says_so_and_not_that_another_was_busy(
    repository: BookingRepository, unique: Callable[[str], str]
) -> None:
    """attack3: an attempt that took longer than 30 s between noting itself and recording its
    post sends nothing (another administration trusts the note for a lease only). Nobody else
    was at the journal run. Was: the run said "een andere verwerking was tegelijk met dezelfde
    journaalrun bezig" (and so did the job's last message when its retries ran out)."""
    clock = ManualClock(T0)
    booked: list[str] = []
    run_id = unique("run")
    draft = ten_euro_draft(run_id)
    x = f"profit|12345|{unique('x')}"
    policy = BookingPolicy(sleep=lambda _seconds: None)
    held_up = MeanwhileAfterIndex(repository, lambda: clock.advance(minutes=1))
    with pytest.raises(BookingBusy) as raised:
        book_once(held_up, clock, administration(x, booked), draft, run_id, JOB, policy=policy)
    failure = classify(raised.value)
    assert failure is not None and booked == []
    assert "andere verwerking" not in failure.dutch, failure.dutch
    assert "niets naar AFAS verstuurd" in failure.dutch, failure.dutch


def test_a_redelivered_job_that_stands_back_for_another_administration_lets_go_of_its_claim(
    repository: BookingRepository, unique: Callable[[str], str]
) -> None:
    """attack3: X's job claimed the journal run and died before posting; its redelivery (the
    same holder, inside the lease) stands back because Y's job has just noted itself. Was: X's
    live claim stayed for the rest of the lease, so Y's rerun meanwhile stood back too, told the
    run "is al geboekt, of wordt geboekt" in X, where nothing was ever posted."""
    clock = ManualClock(T0)
    booked: list[str] = []
    run_id = unique("run")
    draft = ten_euro_draft(run_id)
    x = f"profit|12345|{unique('x')}"
    y = f"profit|12345|{unique('y')}"
    policy = BookingPolicy(sleep=lambda _seconds: None)
    claim = ledger.Claim(JOB, T0 + policy.lease, T0)
    repository.insert(ledger.first_claim(x, run_id, claim))  # then X's process died
    clock.advance(minutes=1)
    repository.note_target(run_id, y, clock())  # Y's job is about to claim it
    with pytest.raises(BookedElsewhere):
        book_once(repository, clock, administration(x, booked), draft, run_id, JOB, policy=policy)
    stored = repository.get(x, run_id)
    assert stored is not None and not ledger.may_be_in_afas(stored, clock()), stored
    assert booked == []
