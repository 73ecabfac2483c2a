"""Model-based test of the booking step (:func:`shared.sync.booking.book_once`): Hypothesis
drives two or three concurrent deliveries of the same job (and, by choice, an approval, an
approval of an entry that has changed since, another client with the same run id, or (SB) the
job of a configuration that books the same journal run into another administration) against a
model of AFAS Profit or AFAS SB that may book and answer, refuse, answer busy, answer late, lose
its answer, answer 201 without a body, fail the look-up, or (SB) replay the first answer to a
Tracking-Identifier. After every rule: AFAS holds at most one entry per journal run, and the
ledger agrees with AFAS. At the end, once the faults stop: exactly one entry per journal run and
the ledger ``booked``. No Azurite and no HTTP: the ledger is
:class:`tests.support.fakes.FakeBookings`, the clock a :class:`~tests.support.fakes.ManualClock`
that only the rules move. The job books journal runs one after the other (rule
``next_journal_run``, once the current one is settled), so a long example keeps exploring.

**Interleaving.** Every delivery runs ``book_once`` (and then ``tell_loket_booked``) in its own
greenlet. Each I/O point is a *gate*: every ledger get/insert/save, every AFAS post, the two
halves of a look-up (AFAS is read when it starts; the answer comes at the second gate), the wait
for a slow answer, Loket's MarkAsProcessed. A delivery parks at its gate, and the rule ``step``
chooses which parked delivery goes on, what its call meets (the fault), whether the host dies
there instead (an exception nothing catches), and how much time passes afterwards. So every
interleaving is Hypothesis's choice: deterministic, reproducible from the printed steps, and
shrinkable; nothing runs concurrently for real, and nothing can hang (a parked greenlet waits for
nobody; the teardown throws into whatever is still parked).

**The model of AFAS** sits below the real targets (:class:`~shared.sync.bookers.ProfitBooker`
and :class:`~shared.sync.bookers.SbBooker`), in place of ``ProfitClient``/``SbClient``.
Every post that leaves the process is a *request*; AFAS processes it at once, or (``LATE``,
``SLOW``) it stays in flight and lands when the rule ``land`` says so, or never.

* Profit books every request it processes (no idempotency key). A request in flight may land at
  any moment before the quiet period after it was sent has passed, and never after: the
  documented assumption (``ASSUMPTION [I]`` in :func:`shared.sync.bookers.repost_quiet_period`)
  in its weakest form, so the test shows the code relies on nothing stronger. A client waits
  ``READ_TIMEOUT`` for an answer; the quiet period is twice that.
* SB processes a Tracking-Identifier once: its first processing decides (book, refuse, book in
  part), every later request with it replays that answer, errors included, and books nothing.
  What a gateway answers before processing (429/503/401, a lost request) is not remembered. An
  SB request in flight may land at any time: the code may assume no quiet period for SB.

One thing the model holds still: time does not pass while a Profit post is being recorded in the
ledger, nor between that and sending it; nor (both flavours) while a claim or a first post is
being written (a ledger write lands within seconds, and the code starts it within
``MAX_RECORD_DELAY`` of noting itself in the journal run's index). The code takes the post's moment before the ledger
write and sends after it, so a slow write shortens the quiet period
(:func:`test_a_slow_ledger_write_of_a_post_shortens_the_quiet_period`, open).

Size: ``BOOKING_MODEL_EXAMPLES`` examples per flavour (default 150) of up to
``BOOKING_MODEL_STEPS`` rules (default 100); ``make soak`` runs
``BOOKING_MODEL_SOAK_EXAMPLES`` (default 5,000) per flavour and prints the figures. A failure
prints the rules that reproduce it; Hypothesis's database (``.hypothesis/``) replays it first on
the next run."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, cast

import pytest
from greenlet import greenlet
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from shared.afas.errors import (
    AfasAuthError,
    AfasContractError,
    AfasError,
    AfasLockedError,
    AfasRequestUnreadable,
    AfasRetriableError,
    AfasServerError,
    AfasSystem,
    AfasTransportError,
    AfasValidationError,
    SbPartiallySucceeded,
)
from shared.afas.models import SbBooking
from shared.afas.profit import ProfitClient
from shared.afas.sb import SbClient
from shared.clients.model import ProfitTarget, SbTarget
from shared.journal.builder import Draft
from shared.journal.entries import ProfitEntry, ProfitLine, SbEntry, SbLine
from shared.journal.periods import BookingPeriod, PeriodRule
from shared.loket.client import LoketClient
from shared.store.tables import ConcurrencyConflict
from shared.sync.audit import fingerprint as wire_fingerprint
from shared.sync.bookers import (
    AnyBooker,
    Booked,
    ProfitBooker,
    SbBooker,
    repost_quiet_period,
)
from shared.sync.booking import (
    BookedElsewhere,
    BookingBusy,
    BookingPartial,
    BookingPolicy,
    BookingRefused,
    BookingUnsettled,
    NotApproved,
    QuietPeriod,
    book_once,
    tell_loket_booked,
)
from shared.sync.ledger import Booking, Holder, State
from tests.support.fakes import FakeBookings, ManualClock

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
READ_TIMEOUT = 120.0  # seconds a post waits for AFAS's answer (production's value)
SERVER_TIMEOUT = 900.0  # published: how long Profit goes on processing a request
QUIET = repost_quiet_period(SERVER_TIMEOUT, READ_TIMEOUT)  # an unanswered post may land: 17 min
LEASE = timedelta(minutes=15)
POLICY = BookingPolicy(lease=LEASE, sleep=lambda _seconds: None)
# The clock moves by these: around the read timeout, the quiet period and the lease.
STEPS_OF_TIME = [
    timedelta(seconds=1),
    timedelta(seconds=30),
    timedelta(minutes=1),
    timedelta(minutes=2),
    QUIET,
    timedelta(minutes=5),
    LEASE,
]
PAST_EVERYTHING = LEASE + QUIET  # leases and quiet periods have all run out

JOB = Holder("office-a", "4711", "nightly-2026-12-05")  # the sync job (every delivery of it)
APPROVAL = Holder("office-a", "4711", "approval:ap-1")  # an admin approving the run
OTHER_CLIENT = Holder("office-a", "4712", "nightly-2026-12-05")  # same run id, other client
STALE = "0" * 64  # the fingerprint of an entry an admin approved before it changed

PERIOD = BookingPeriod(2025, 3, date(2025, 3, 31), PeriodRule.PAYROLL_PERIOD)
SB_ADMINISTRATION = "5a0c6ac1-1b7e-4b8c-9d33-2f1e0c9a7b10"
# SB: the client also points at another administration (moved, or a second configuration)
OTHER_SB_ADMINISTRATION = "7e1d2c3b-4a59-4687-9a0b-c1d2e3f4a5b6"
ELSEWHERE = Holder("office-a", "4713", "nightly-2026-12-05")  # that configuration's job


def run_id(n: int) -> str:
    """The n-th Loket journal run the job books (one after the other, as the worker does)."""
    return f"loket-run-{n}"


def profit_draft(n: int) -> Draft[ProfitEntry]:
    entry = ProfitEntry(
        year=2025,
        period=3,
        administration=1,
        journal="80",
        voucher_number=f"LB202503S{n}-ABCDEF12",
        entry_date=date(2025, 3, 31),
        voucher_date=date(2025, 3, 31),
        lines=(
            ProfitLine("4000", "Brutolonen", Decimal("4000.00"), Decimal("0"), ((1, "100"),)),
            ProfitLine("1710", "Loonheffing", Decimal("0"), Decimal("1300.00")),
            ProfitLine("1600", "Netto lonen", Decimal("0"), Decimal("2700.00")),
        ),
    )
    return Draft(entry, PERIOD, ())


def sb_draft(n: int) -> Draft[SbEntry]:
    entry = SbEntry(
        administration_id=SB_ADMINISTRATION,
        description=f"Loonjournaalpost 2025-3 (run {n})",
        entry_date=date(2025, 3, 31),
        lines=(
            SbLine("4000", Decimal("4000.00"), Decimal("0")),
            SbLine("1710", Decimal("0"), Decimal("1300.00")),
            SbLine("1600", Decimal("0"), Decimal("2700.00")),
        ),
    )
    return Draft(entry, PERIOD, ())


EXAMPLES = int(os.environ.get("BOOKING_MODEL_EXAMPLES", "150"))
STEPS = int(os.environ.get("BOOKING_MODEL_STEPS", "100"))
SOAK_EXAMPLES = int(os.environ.get("BOOKING_MODEL_SOAK_EXAMPLES", "5000"))


# -- faults ------------------------------------------------------------------------------------


class PostFault(Enum):
    """What happens to one post. ``SLOW`` and ``LATE`` leave the request in flight."""

    ANSWER = "processed and answered"
    REFUSE = "refused before processing (validation), nothing booked"
    PARTIAL = "SB: booked in part (PartiallySucceeded)"
    LOST_ANSWER = "processed, the answer lost (read time-out)"
    GATEWAY_504 = "processed, the gateway answers 504"
    UNREADABLE = "processed, answered 201 without a readable body"
    LOST_REQUEST = "never arrived (connection reset after sending)"
    GATEWAY_502 = "never arrived, the gateway answers 502"
    BUSY_429 = "answered 429, nothing processed"
    BUSY_503 = "answered 503, nothing processed"
    LOCKED = "Profit: booking layout locked (500), nothing booked"
    SERVER_ERROR = "Profit: an unrecognised 500, nothing booked"
    SERVER_ERROR_BOOKED = "Profit: booked, then an unrecognised 500"
    AUTH = "answered 401, nothing processed"
    NEVER_SENT = "no connection was made (never left the process)"
    LATE = "accepted; the client times out; it lands later, or never"
    SLOW = "accepted; the client waits; answered, or timed out, later"
    CUT_OFF = "SB: cut off on its way; SB answers (and remembers) DS3100, the sender's line breaks"
    CUT_OFF_ANSWERED = "SB: cut off on its way; SB answers (and remembers) DS3100 to the sender"


class LookUpFault(Enum):
    """How a look-up's answer comes back (AFAS was read when it started)."""

    OK = "answered"
    FAIL_500 = "an unrecognised 500"
    FAIL_401 = "token refused"
    TIMEOUT = "read time-out"


# A request left in flight is the hardest case (the quiet period is all that guards it): drawn
# twice as often as the others.
IN_FLIGHT = [PostFault.LATE, PostFault.SLOW]
SB_ONLY = (PostFault.PARTIAL, PostFault.CUT_OFF, PostFault.CUT_OFF_ANSWERED)
PROFIT_FAULTS = [f for f in PostFault if f not in SB_ONLY] + IN_FLIGHT
SB_FAULTS = [
    f
    for f in PostFault
    if f
    not in (
        PostFault.LOCKED,
        PostFault.SERVER_ERROR,
        PostFault.SERVER_ERROR_BOOKED,
    )
] + IN_FLIGHT


def post_faults(faults: list[PostFault]) -> st.SearchStrategy[PostFault]:
    """Every fault as likely as a plain answer (shrinks to "answered")."""
    return st.sampled_from(faults)


# After a step, time mostly stands still or moves a little: a quiet period spans a few steps.
time_passes = st.sampled_from(
    [timedelta(0)] * 6
    + [timedelta(seconds=1), timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=1)]
    + [timedelta(minutes=2), QUIET]
)
sometimes = st.sampled_from([False] * 19 + [True])  # one step in twenty, the host dies
look_up_faults = st.one_of(st.just(LookUpFault.OK), st.sampled_from(list(LookUpFault)))


@dataclass(frozen=True)
class Go:
    """What a parked delivery meets at its gate when it goes on."""

    post: PostFault = PostFault.ANSWER  # at the wait for a slow answer: ANSWER answers it now
    look_up: LookUpFault = LookUpFault.OK


CALM = Go()  # the faults have stopped


class Killed(BaseException):
    """The host died while this delivery was parked at a gate (nothing in our code catches it)."""


# -- the model of AFAS -------------------------------------------------------------------------


@dataclass
class Entry:
    """One entry AFAS holds for the journal run."""

    number: str
    run: str  # the Loket journal run
    reference: str  # voucher number / Tracking-Identifier of the request that booked it
    request: int
    partial: bool = False
    target: str = ""  # the administration (ledger partition) whose post booked it


@dataclass
class Request:
    """One post that left the process."""

    number: int
    run: str
    reference: str
    sent_at: datetime
    delivery: int
    target: str = ""  # the administration (ledger partition) it was posted to
    state: str = "flight"  # flight | landed | dropped
    answer: Any = None  # what AFAS answered when it processed it (entry number or error)


def timeout(system: AfasSystem) -> AfasTransportError:
    return AfasTransportError("ReadTimeout", system=system, timed_out=True)


class AfasModel:
    system: ClassVar[AfasSystem]

    def __init__(self, world: BookingModel) -> None:
        self.world = world
        self.entries: list[Entry] = []
        self.requests: list[Request] = []
        self._numbers = itertools.count(70001)

    def in_flight(self) -> list[Request]:
        return [r for r in self.requests if r.state == "flight"]

    def may_land(self, request: Request, now: datetime) -> bool:
        raise NotImplementedError

    def land(self, request: Request) -> None:
        raise NotImplementedError

    def expire(self, now: datetime) -> None:
        """Requests that can no longer land are lost."""

    def of_run(self, run: str) -> list[Entry]:
        return [e for e in self.entries if e.run == run]

    def _send(self, reference: str) -> Request:
        delivery = self.world.current()
        number = len(self.requests) + 1
        target = self.world.target_of(delivery.caller).key
        request = Request(number, delivery.run, reference, self.world.clock(), delivery.id, target)
        self.requests.append(request)
        return request

    def _book(self, request: Request, *, partial: bool = False) -> str:
        number = str(next(self._numbers))
        self.entries.append(
            Entry(number, request.run, request.reference, request.number, partial, request.target)
        )
        return number

    def _wait_for_answer(self, request: Request) -> None:
        """A slow request: the client waits (other rules run, the clock moves). Answered in time
        (processing it now if it is still in flight), or a read time-out."""
        go = self.world.gate("answer")
        in_time = self.world.clock() < request.sent_at + timedelta(seconds=READ_TIMEOUT)
        if not (go.post is PostFault.ANSWER and in_time):
            raise timeout(self.system)
        if request.state == "flight":
            self.land(request)
        if request.state != "landed":
            raise timeout(self.system)  # it was lost on the way


class ProfitModel(AfasModel):
    """``ProfitClient``'s booking calls (``post_entry``, ``find_entry``): every request it
    processes is booked, duplicates included."""

    system = AfasSystem.PROFIT
    post_read_timeout = READ_TIMEOUT
    server_timeout = SERVER_TIMEOUT

    def may_land(self, request: Request, now: datetime) -> bool:
        return request.state == "flight" and now < request.sent_at + QUIET

    def land(self, request: Request) -> None:
        request.answer = self._book(request)
        request.state = "landed"

    def expire(self, now: datetime) -> None:
        for request in self.in_flight():
            if not self.may_land(request, now):
                request.state = "dropped"

    def post_entry(self, entry: ProfitEntry) -> int:
        fault = self.world.gate("post").post
        STATS[f"post {fault.name}"] += 1
        self.world.posting(entry.voucher_number)
        profit = self.system
        if fault is PostFault.NEVER_SENT:
            raise AfasTransportError(
                "ConnectTimeout", system=profit, timed_out=True, never_sent=True
            )
        if fault is PostFault.BUSY_429:
            raise AfasRetriableError("HTTP 429", system=profit, status=429)
        if fault is PostFault.BUSY_503:
            raise AfasRetriableError("Service Unavailable", system=profit, status=503)
        if fault is PostFault.LOCKED:
            raise AfasLockedError(
                "De boekingslayout is in gebruik door een andere gebruiker",
                system=profit,
                status=500,
            )
        if fault is PostFault.AUTH:
            raise AfasAuthError("Token geweigerd.", system=profit, status=401)
        if fault is PostFault.REFUSE:
            raise AfasValidationError(
                "Boekingen op geblokkeerde rekening niet toegestaan", system=profit, status=500
            )
        if fault is PostFault.SERVER_ERROR:
            raise AfasServerError("Onbekende fout", system=profit, status=500, log_reference="L1")
        request = self._send(entry.voucher_number)
        if fault is PostFault.LOST_REQUEST:
            request.state = "dropped"
            raise AfasTransportError("ConnectionError", system=profit, timed_out=False)
        if fault is PostFault.GATEWAY_502:
            request.state = "dropped"
            raise AfasRetriableError("Bad Gateway", system=profit, status=502)
        if fault is PostFault.LATE:
            raise timeout(profit)
        if fault is PostFault.SLOW:
            self._wait_for_answer(request)
            return int(request.answer)
        self.land(request)
        if fault is PostFault.LOST_ANSWER:
            raise timeout(profit)
        if fault is PostFault.GATEWAY_504:
            raise AfasRetriableError("Gateway Timeout", system=profit, status=504)
        if fault is PostFault.SERVER_ERROR_BOOKED:
            raise AfasServerError("Onbekende fout", system=profit, status=500, log_reference="L2")
        if fault is PostFault.UNREADABLE:
            unreadable = AfasContractError(
                "FiEntries answered 201 without a readable entry number", system=profit, status=201
            )
            unreadable.success_unreadable = True
            raise unreadable
        assert fault is PostFault.ANSWER, fault
        return int(request.answer)

    def find_entry(self, administration: int, voucher_number: str) -> int | None:
        """A look-up takes time, as every call does: AFAS is read when it starts (the first
        gate), the answer (or a failure) comes at the second, after whatever the rules did in
        between (other deliveries, requests landing, time passing)."""
        assert administration == 1
        self.world.gate("look-up")
        found = sorted(int(e.number) for e in self.entries if e.reference == voucher_number)
        go = self.world.gate("look-up answer")
        STATS[f"look-up {go.look_up.name}"] += 1
        profit = self.system
        if go.look_up is LookUpFault.OK:
            return found[0] if found else None
        if go.look_up is LookUpFault.FAIL_500:
            error: AfasError = AfasServerError("Onbekende fout", system=profit, status=500)
        elif go.look_up is LookUpFault.FAIL_401:
            error = AfasAuthError("Token geweigerd.", system=profit, status=401)
        else:
            error = timeout(profit)
        self.world.current().look_up_errors.append(error)
        raise error


class SbModel(AfasModel):
    """``SbClient.post_entry``: a Tracking-Identifier is processed once; the first processing
    decides, every later request replays its answer."""

    system = AfasSystem.SB

    def __init__(self, world: BookingModel) -> None:
        super().__init__(world)
        self.decisions: dict[int, PostFault] = {}  # request -> what its processing does
        self.first: dict[str, Any] = {}  # Tracking-Identifier -> its first answer

    def may_land(self, request: Request, now: datetime) -> bool:
        return request.state == "flight"

    def land(self, request: Request) -> None:
        tid = request.reference
        if tid not in self.first:
            decision = self.decisions[request.number]
            if decision is PostFault.REFUSE:
                self.first[tid] = AfasValidationError(
                    "LedgerAccount 4000 is blocked", system=self.system, status=400
                )
            elif decision in (PostFault.CUT_OFF, PostFault.CUT_OFF_ANSWERED):
                self.first[tid] = AfasRequestUnreadable(
                    "Invalid JSON request String", system=self.system, status=400
                )
            elif decision is PostFault.PARTIAL:
                self._book(request, partial=True)
                self.first[tid] = SbPartiallySucceeded(
                    "SB heeft de journaalpost maar gedeeltelijk verwerkt", system=self.system
                )
            else:
                self.first[tid] = self._book(request)
        request.answer = self.first[tid]
        request.state = "landed"

    def post_entry(self, entry: SbEntry, tracking_identifier: str) -> SbBooking:
        fault = self.world.gate("post").post
        self.world.posting(tracking_identifier)
        sb = self.system
        if fault is PostFault.NEVER_SENT:
            raise AfasTransportError("ConnectTimeout", system=sb, timed_out=True, never_sent=True)
        if fault is PostFault.BUSY_429:
            raise AfasRetriableError("HTTP 429", system=sb, status=429)
        if fault is PostFault.BUSY_503:
            raise AfasRetriableError("HTTP 503", system=sb, status=503)
        if fault is PostFault.AUTH:
            raise AfasAuthError("HTTP 401", system=sb, status=401)
        request = self._send(tracking_identifier)
        self.decisions[request.number] = fault
        if fault is PostFault.LOST_REQUEST:
            request.state = "dropped"
            raise AfasTransportError("ConnectionError", system=sb, timed_out=False)
        if fault is PostFault.CUT_OFF:
            self.land(request)
            raise AfasTransportError("ConnectionError", system=sb, timed_out=False)
        if fault is PostFault.GATEWAY_502:
            request.state = "dropped"
            raise AfasRetriableError("HTTP 502", system=sb, status=502)
        if fault is PostFault.LATE:
            raise timeout(sb)
        if fault is PostFault.SLOW:
            self._wait_for_answer(request)
        else:
            self.land(request)
        answer = request.answer
        if fault is PostFault.LOST_ANSWER:
            raise timeout(sb)
        if fault is PostFault.GATEWAY_504:
            raise AfasRetriableError("HTTP 504", system=sb, status=504)
        if isinstance(answer, AfasError):
            raise answer  # the first answer, replayed
        if fault is PostFault.UNREADABLE:
            unreadable = AfasContractError("payrolljournalentry answer is not an object", system=sb)
            unreadable.success_unreadable = True
            raise unreadable
        # SB shows an entry by its Code (sb_entry_number): the model gives it the entry number
        return SbBooking(tracking_identifier, (str(answer),), (str(answer),))


class GatedBookings:
    """The ledger, with a gate before every call (a call is one atomic Table Storage request)."""

    def __init__(self, store: FakeBookings, world: BookingModel) -> None:
        self.store = store
        self.world = world

    def get(self, target: str, loket_journal_run_id: str) -> Booking | None:
        self.world.gate("get")
        return self.store.get(target, loket_journal_run_id)

    def insert(self, row: Booking) -> Booking:
        # A first claim that records its post at once (ledger.first_post) records a post.
        self.world.gate("save post" if row.posts else "insert")
        return self.store.insert(row)

    def save(self, row: Booking) -> Booking:
        current = self.store.get(row.target, row.loket_journal_run_id)
        records_a_post = current is not None and row.posts > current.posts
        claims = current is not None and row.attempts > current.attempts
        self.world.gate("save post" if records_a_post else "save claim" if claims else "save")
        return self.store.save(row)

    def of_client(self, target: str, office_id: str, client_id: str) -> list[Booking]:
        return self.store.of_client(target, office_id, client_id)

    def note_target(self, loket_journal_run_id: str, target: str, now: datetime) -> None:
        self.world.gate("note")
        self.store.note_target(loket_journal_run_id, target, now)

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        self.world.gate("index")
        return self.store.targets_of(loket_journal_run_id)


class GatedLoket:
    def __init__(self, world: BookingModel) -> None:
        self.world = world
        self.marked: list[str] = []

    def mark_processed(self, run_id: str, message: str) -> None:
        self.world.gate("mark")
        self.marked.append(run_id)


# -- deliveries --------------------------------------------------------------------------------


class Approval(Enum):
    NONE = "no review"
    CURRENT = "the admin approved the entry as it is"
    STALE = "the admin approved the entry before it changed"


@dataclass(frozen=True)
class Caller:
    """Who delivers: a holder, and (review mode) which entry an admin approved."""

    name: str
    holder: Holder
    approval: Approval = Approval.NONE
    elsewhere: bool = False  # books into the other administration (SB)


@dataclass
class Delivery:
    id: int
    caller: Caller
    slot: int | None
    run: str  # the Loket journal run it books
    approved: str | None = None  # the fingerprint it passes as approved=
    glet: greenlet | None = None
    at: str | None = None  # the gate it is parked at
    look_up_errors: list[AfasError] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    delivery: int
    run: str
    kind: str  # booked | killed | the exception's class name
    entry_number: str = ""


EXPECTED = (
    BookingBusy,
    BookingRefused,
    BookingPartial,
    BookingUnsettled,
    QuietPeriod,
    NotApproved,
    ConcurrencyConflict,
    AfasError,
    BookedElsewhere,
)

STATS: Counter[str] = Counter()  # figures of this process (printed by the soak tests)


class BookingModel(RuleBasedStateMachine):
    """The state machine shared by the Profit and SB flavours (their ``step`` rules differ).

    The job books journal runs one after the other: once the current run is settled (booked,
    or partly booked) the rule ``next_run`` may move on, so a long example keeps exploring
    instead of delivering an already booked run again and again. Deliveries still under way
    for an earlier run go on with it."""

    flavour: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        STATS["examples"] += 1
        self.clock = ManualClock(T0)
        self.store = FakeBookings()
        self.bookings = GatedBookings(self.store, self)
        self.loket = GatedLoket(self)
        self.afas = self.make_afas()
        self.target: AnyBooker = self.make_target()
        self.other_target: AnyBooker | None = None  # SB: "other administration"
        self.runs: list[str] = []
        self.drafts: dict[str, Draft[Any]] = {}
        self.callers: list[Caller] = []
        self.running: dict[int, Delivery] = {}  # slot -> its delivery under way
        self.by_glet: dict[greenlet, Delivery] = {}
        self.ids = itertools.count(1)
        self.outcomes: list[Outcome] = []
        self.booked_as: dict[str, str] = {}  # run -> its entry number, once the ledger said so
        self.land_late = True
        self.healthy = True  # False while a rule runs: a rule that raised skips the recovery
        self.next_run()
        # Outside the rules (the named tests below): book_once runs in the caller's own
        # greenlet, and each post and look-up meets the next fault of this script (then none).
        self.script: list[Go] = []
        self.sequential = Delivery(0, Caller("sequential", JOB), None, self.run)

    # flavour hooks
    def make_afas(self) -> AfasModel:
        raise NotImplementedError

    def make_target(self) -> AnyBooker:
        raise NotImplementedError

    def make_draft(self, n: int) -> Draft[Any]:
        raise NotImplementedError

    @property
    def run(self) -> str:
        return self.runs[-1]

    def next_run(self) -> None:
        run = run_id(len(self.runs) + 1)
        self.runs.append(run)
        self.drafts[run] = self.make_draft(len(self.runs))
        STATS["journal runs"] += 1

    def row(self, run: str) -> Booking | None:
        return self.store.get(self.target.key, run)

    def targets(self) -> list[AnyBooker]:
        return [self.target] + ([self.other_target] if self.other_target is not None else [])

    def target_of(self, caller: Caller) -> AnyBooker:
        if caller.elsewhere:
            assert self.other_target is not None
            return self.other_target
        return self.target

    def settled(self, run: str) -> bool:
        rows = [self.store.get(t.key, run) for t in self.targets()]
        return any(r is not None and (r.state.booked or r.state is State.PARTIAL) for r in rows)

    def make_other_target(self) -> AnyBooker | None:
        return None

    def fingerprint(self, run: str) -> str:
        return wire_fingerprint(self.drafts[run].entry)

    # -- the gates -----------------------------------------------------------------------------

    def current(self) -> Delivery:
        return self.by_glet.get(greenlet.getcurrent(), self.sequential)

    def gate(self, op: str) -> Go:
        """Park the current delivery before ``op``; answers what the rule chose for it."""
        delivery = self.current()
        if delivery is self.sequential:
            return self.script.pop(0) if self.script and op in ("post", "look-up") else CALM
        delivery.at = op
        parent = greenlet.getcurrent().parent
        assert parent is not None
        go = parent.switch(op)
        delivery.at = None
        assert isinstance(go, Go)
        return go

    def posting(self, reference: str) -> None:
        """Called by the model of AFAS for every post the code sends."""
        delivery = self.current()
        STATS["posts"] += 1
        assert delivery.approved in (None, self.fingerprint(delivery.run)), (
            f"{delivery.caller.name} approved another entry, yet posted {reference}"
        )

    def start(self, caller: Caller, slot: int | None) -> Delivery:
        approved = {
            Approval.NONE: None,
            Approval.CURRENT: self.fingerprint(self.run),
            Approval.STALE: STALE,
        }[caller.approval]
        delivery = Delivery(next(self.ids), caller, slot, self.run, approved)
        delivery.glet = greenlet(lambda: self.deliver_once(delivery))
        self.by_glet[delivery.glet] = delivery
        if slot is not None:
            self.running[slot] = delivery
        STATS["deliveries"] += 1
        self.resume(delivery, None)
        return delivery

    def resume(self, delivery: Delivery, go: Go | None, *, kill: bool = False) -> None:
        """Let ``delivery`` go on (meeting ``go``; None: its start) until its next gate or its
        end; ``kill``: it dies where it is parked."""
        glet = delivery.glet
        assert glet is not None and not glet.dead
        STATS["gates passed"] += 1
        if kill:
            result = glet.throw(Killed())
        elif go is None:
            result = glet.switch()
        else:
            result = glet.switch(go)
        if glet.dead:
            assert isinstance(result, Outcome)
            self.outcomes.append(result)
            STATS[f"outcome {result.kind}"] += 1
            del self.by_glet[glet]
            if delivery.slot is not None:
                del self.running[delivery.slot]
        else:
            assert result == delivery.at

    def deliver_once(self, delivery: Delivery) -> Outcome:
        """One delivery: ``book_once``, then tell Loket (as ``shared.sync.steps.book`` does)."""
        run = delivery.run
        target = self.target_of(delivery.caller)
        try:
            booked, booking = book_once(
                self.bookings,
                self.clock,
                target,
                self.drafts[run],
                run,
                delivery.caller.holder,
                approved=delivery.approved,
                policy=POLICY,
            )
        except Killed:
            return Outcome(delivery.id, run, "killed")
        except EXPECTED as exc:
            self.expected(delivery, exc)
            return Outcome(delivery.id, run, type(exc).__name__)
        try:
            loket = cast(LoketClient, self.loket)
            tell_loket_booked(self.bookings, self.clock, loket, booking, run, target, booked)
        except Killed:
            pass  # booked; Loket not told (the next delivery finds it booked and tells it)
        return Outcome(delivery.id, run, "booked", booked.entry_number)

    def expected(self, delivery: Delivery, exc: BaseException) -> None:
        """The failures book_once may raise, each only where it belongs."""
        if isinstance(exc, NotApproved):
            assert delivery.approved not in (None, self.fingerprint(delivery.run)), exc
        elif isinstance(exc, QuietPeriod):
            assert self.flavour == "profit", exc
        elif isinstance(exc, AfasError):  # only a failed look-up raises AFAS's own error
            assert any(exc is e for e in delivery.look_up_errors), f"{exc!r} escaped a post"

    def parked(self) -> list[Delivery]:
        return [d for d in self.by_glet.values() if d.at is not None]

    @contextmanager
    def acting(self, what: str = "rules") -> Iterator[None]:
        self.healthy = False
        yield
        self.healthy = True
        STATS[what] += 1

    # -- rules ---------------------------------------------------------------------------------

    @initialize(
        third=st.sampled_from(
            [
                "none",
                "same job",
                "approval",
                "stale approval",
                "other client",
                "other administration",
            ]
        ),
        review=st.booleans(),
        land_late=st.booleans(),
    )
    def deliveries(self, third: str, review: bool, land_late: bool) -> None:
        """Two deliveries of the job (in review mode: with the approved fingerprint), and
        perhaps a third caller of the same journal run. ``land_late``: in the recovery, the
        requests still in flight land (if they still may) rather than being lost."""
        with self.acting():
            approval = Approval.CURRENT if review else Approval.NONE
            self.callers = [
                Caller("delivery 1", JOB, approval),
                Caller("delivery 2", JOB, approval),
            ]
            if third == "same job":
                self.callers.append(Caller("delivery 3", JOB, approval))
            elif third == "approval":
                self.callers.append(Caller("approval", APPROVAL, Approval.CURRENT))
            elif third == "stale approval":
                self.callers.append(Caller("stale approval", APPROVAL, Approval.STALE))
            elif third == "other client":
                self.callers.append(Caller("other client", OTHER_CLIENT))
            elif third == "other administration":
                self.other_target = self.make_other_target()
                if self.other_target is not None:
                    self.callers.append(Caller("elsewhere", ELSEWHERE, elsewhere=True))
            self.land_late = land_late

    @precondition(lambda self: len(self.running) < len(self.callers))
    @rule(pick=st.integers(0, 2))
    def deliver(self, pick: int) -> None:
        """A caller that is not under way starts (a queue (re)delivery, an admin's click)."""
        with self.acting():
            idle = [s for s in range(len(self.callers)) if s not in self.running]
            slot = idle[pick % len(idle)]
            self.start(self.callers[slot], slot)

    def _step(self, pick: int, go: Go, dies: bool, then: timedelta) -> None:
        with self.acting():
            parked = self.parked()
            self.resume(parked[pick % len(parked)], go, kill=dies)
            if then and self.clock_may_move():
                self.move_clock(then)

    def move_clock(self, by: timedelta) -> None:
        self.clock.now += by
        self.afas.expire(self.clock())

    def clock_may_move(self) -> bool:
        """Not while a delivery that noted itself in the journal run's index is writing its
        claim (or first post): another administration trusts a note for one lease, and a
        ledger write lands within seconds (storage time-outs), not a lease, after it starts.
        The code refuses to start that write more than ``MAX_RECORD_DELAY`` after the note."""
        return not any(d.at in ("insert", "save claim", "save post") for d in self.parked())

    @precondition(lambda self: not self.parked())
    @rule(by=st.sampled_from(STEPS_OF_TIME))
    def advance(self, by: timedelta) -> None:
        """Time passes with no delivery under way (while deliveries are, ``step`` and ``land``
        move it)."""
        with self.acting():
            self.move_clock(by)

    @precondition(lambda self: bool(self.afas.in_flight()))
    @rule(pick=st.integers(0, 3), then=time_passes)
    def land(self, pick: int, then: timedelta) -> None:
        """A request in flight lands now (those that never land are lost at the end of the
        quiet period (Profit), or in the recovery); then time passes."""
        with self.acting():
            flights = self.afas.in_flight()
            request = flights[pick % len(flights)]
            assert self.afas.may_land(request, self.clock())
            STATS["landed late"] += 1
            self.afas.land(request)
            if then and self.clock_may_move():
                self.move_clock(then)

    @precondition(lambda self: self.settled(self.run))
    @rule()
    def next_journal_run(self) -> None:
        """The current journal run is settled: the job goes on with the next one."""
        with self.acting():
            self.next_run()

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def safe(self) -> None:
        with self.acting("invariant checks"):
            self.check()

    def check(self) -> None:
        """At most one entry per journal run; the ledger never says booked unless AFAS holds
        that very entry (and stays booked); refused means AFAS holds nothing; partial means AFAS
        holds one partial entry; what a delivery was told is what AFAS holds."""
        for run in self.runs:
            assert len(self.afas.of_run(run)) <= 1, f"AFAS holds {self.afas.of_run(run)} of {run}"
            for target in self.targets():
                entries = [e for e in self.afas.of_run(run) if e.target == target.key]
                row = self.store.get(target.key, run)
                if row is not None:
                    if row.state.booked:
                        assert len(entries) == 1 and not entries[0].partial, (row, entries)
                        assert row.entry_number == entries[0].number, (row, entries)
                    if row.state is State.REFUSED:
                        assert not entries, f"the ledger says refused, AFAS holds {entries}"
                    if row.state is State.PARTIAL:
                        assert len(entries) == 1 and entries[0].partial, (row, entries)
                key = f"{target.key}/{run}"
                if key in self.booked_as:
                    assert row is not None and row.state.booked, (run, row)
                    assert row.entry_number == self.booked_as[key], (run, row)
                elif row is not None and row.state.booked:
                    self.booked_as[key] = row.entry_number
        for outcome in self.outcomes:
            if outcome.kind == "booked":
                entries = self.afas.of_run(outcome.run)
                assert [outcome.entry_number] == [e.number for e in entries], (outcome, entries)

    # -- the end: the faults stop ----------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.healthy:
                self.recover()
        finally:
            for delivery in list(self.by_glet.values()):
                if delivery.glet is not None and not delivery.glet.dead:
                    delivery.glet.throw(Killed())

    def recover(self) -> None:
        """No more faults: the requests in flight land (those that still may) or are lost, the
        deliveries under way go on, leases and quiet periods run out, and the job is delivered
        again: exactly one entry per journal run, and the ledger says booked (or partial, for a
        partial SB booking, which a person settles)."""
        for request in self.afas.in_flight():
            if self.land_late and self.afas.may_land(request, self.clock()):
                self.afas.land(request)
            else:
                request.state = "dropped"
        self.check()
        for _ in range(100):
            parked = self.parked()
            if not parked:
                break
            self.resume(parked[0], CALM)
            self.check()
        assert not self.parked(), "deliveries still under way after 100 calm steps"
        redeliveries = 0
        while True:
            self.move_clock(PAST_EVERYTHING)
            if self.settled(self.run):
                break
            # Another administration: a round may end with both finding the other about to book
            # (one settling its outstanding post, the other's fresh note); the next one books.
            rounds = 2 if self.other_target is None else 3
            assert redeliveries < rounds, f"not booked after {redeliveries} calm deliveries"
            redeliveries += 1
            kinds = []
            for caller in [Caller("redelivery", JOB)] + (
                [Caller("elsewhere again", ELSEWHERE, elsewhere=True)]
                if self.other_target is not None
                else []
            ):
                delivery = self.start(caller, None)
                for _ in range(100):
                    if delivery.glet is None or delivery.glet.dead:
                        break
                    self.resume(delivery, CALM)
                self.check()
                kinds.append(self.outcomes[-1].kind)
            # With another administration, one of the two may find the other holding the run
            # (or both, once: see ``rounds``).
            settled = ("booked", "BookingRefused", "BookingPartial")
            assert any(k in settled for k in kinds) or (
                self.other_target is not None and redeliveries < rounds
            ), (kinds, [self.store.get(t.key, self.run) for t in self.targets()])
            if "BookingRefused" in kinds:
                assert self.flavour == "sb"  # SB replays the refusal of the last generation
        STATS[f"calm redeliveries {redeliveries}"] += 1
        for run in self.runs:
            entries = self.afas.of_run(run)
            holding = [e.target for e in entries] or [self.target.key]
            row = self.store.get(holding[0], run)
            assert row is not None, run
            if row.state is State.PARTIAL:
                assert self.flavour == "sb" and len(entries) == 1 and entries[0].partial
                STATS["runs ended partial"] += 1
            else:
                assert row.state.booked and len(entries) == 1, (row, entries)
                assert row.entry_number == entries[0].number
                STATS["runs ended booked"] += 1


class ProfitBooking(BookingModel):
    flavour = "profit"

    def make_afas(self) -> AfasModel:
        return ProfitModel(self)

    def make_target(self) -> AnyBooker:
        client = cast(ProfitClient, self.afas)
        return ProfitBooker(client, ProfitTarget("12345", 1, "80"))

    def make_draft(self, n: int) -> Draft[Any]:
        return profit_draft(n)

    def clock_may_move(self) -> bool:
        """Not while a post is recorded, nor between that and sending it (see the module
        docstring and :func:`test_a_slow_ledger_write_of_a_post_shortens_the_quiet_period`)."""
        return not any(d.at in ("insert", "save claim", "save post", "post") for d in self.parked())

    @precondition(lambda self: bool(self.parked()))
    @rule(
        pick=st.integers(0, 2),
        post=post_faults(PROFIT_FAULTS),
        look_up=look_up_faults,
        dies=sometimes,
        then=time_passes,
    )
    def step(
        self, pick: int, post: PostFault, look_up: LookUpFault, dies: bool, then: timedelta
    ) -> None:
        """A parked delivery goes on to its next gate: a post meets ``post``, a look-up
        ``look_up``, the wait for a slow answer ends with the answer (``post`` ANSWER, if still
        in time) or a time-out. ``dies``: the host dies with the delivery parked where it is.
        ``then``: time passes (unless a post is being recorded or sent)."""
        self._step(pick, Go(post, look_up), dies, then)


class SbBookingModel(BookingModel):
    flavour = "sb"

    def make_afas(self) -> AfasModel:
        return SbModel(self)

    def make_target(self) -> AnyBooker:
        client = cast(SbClient, self.afas)
        return SbBooker(client, SbTarget("enyoi", SB_ADMINISTRATION))

    def make_draft(self, n: int) -> Draft[Any]:
        return sb_draft(n)

    def make_other_target(self) -> AnyBooker | None:
        client = cast(SbClient, self.afas)
        return SbBooker(client, SbTarget("enyoi", OTHER_SB_ADMINISTRATION))

    @precondition(lambda self: bool(self.parked()))
    @rule(
        pick=st.integers(0, 2),
        post=post_faults(SB_FAULTS),
        dies=sometimes,
        then=time_passes,
    )
    def step(self, pick: int, post: PostFault, dies: bool, then: timedelta) -> None:
        """A parked delivery goes on (or dies); a post meets ``post`` (SB is never looked up);
        then time passes."""
        self._step(pick, Go(post), dies, then)


MACHINES = [ProfitBooking, SbBookingModel]


def book(world: BookingModel, *script: Go, approved: str | None = None) -> Booked:
    """One delivery of the job's first journal run, straight through (no gates): its posts and
    look-ups meet ``script``."""
    world.script = list(script)
    run = world.runs[0]
    booked, _ = book_once(
        world.bookings,
        world.clock,
        world.target,
        world.drafts[run],
        run,
        JOB,
        approved=approved,
        policy=POLICY,
    )
    assert not world.script, f"faults left over: {world.script}"
    return booked


def ledger_row(world: BookingModel) -> Booking:
    row = world.row(world.runs[0])
    assert row is not None
    return row


def model_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.flavour)
def test_concurrent_deliveries_book_at_most_once_and_exactly_once_when_faults_stop(
    machine: type[BookingModel],
) -> None:
    run_state_machine_as_test(machine, settings=model_settings(EXAMPLES))


@pytest.mark.soak
@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.flavour)
def test_booking_model_soak(machine: type[BookingModel]) -> None:
    STATS.clear()
    started = time.perf_counter()
    run_state_machine_as_test(machine, settings=model_settings(SOAK_EXAMPLES))
    seconds = time.perf_counter() - started
    print(
        f"\nbooking model ({machine.flavour}): {STATS['examples']} examples, "
        f"{STATS['rules']} rules, {STATS['gates passed']} gates, {STATS['deliveries']} deliveries, "
        f"{STATS['posts']} posts in {seconds:.1f} s; {dict(sorted(STATS.items()))}"
    )


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.flavour)
def test_an_approval_of_an_entry_that_changed_since_never_sends_it(
    machine: type[BookingModel],
) -> None:
    """Review mode, the rule the model checks at every post, shown once straight: with the
    fingerprint of another entry approved, nothing is sent, neither as a first post nor to
    settle an outstanding one (Profit: the look-up is a read and may run; SB would resend)."""
    world = machine()
    with pytest.raises(NotApproved):
        book(world, approved=STALE)
    # A first post claims and records in one insert (ledger.first_post): nothing is written.
    assert world.afas.requests == [] and world.row(world.runs[0]) is None
    with pytest.raises(BookingUnsettled):
        book(world, Go(PostFault.LATE))  # the approved entry went out; no answer
    world.move_clock(PAST_EVERYTHING)
    with pytest.raises(NotApproved):
        book(world, approved=STALE)
    assert len(world.afas.requests) == 1 and ledger_row(world).state is State.UNKNOWN
    booked = book(world, approved=world.fingerprint(world.runs[0]))
    assert [e.number for e in world.afas.of_run(world.runs[0])] == [booked.entry_number]


# -- what the model found, each as the smallest story that shows it ------------------------------


def test_an_sb_replay_that_never_left_keeps_the_outstanding_post_and_books_no_second_entry() -> (
    None
):
    """Found by the model: SB booked the first post and its answer was lost; the replay that
    settles it failed before a connection was made (``never_sent``). That was classified as a
    refusal (``post_outcome``: REFUSED), so the ledger said ``refused`` while SB held the entry,
    and the next delivery posted a new generation (a new Tracking-Identifier): two entries."""
    world = SbBookingModel()
    with pytest.raises(BookingUnsettled):
        book(world, Go(PostFault.LOST_ANSWER))  # SB booked it; the answer was lost
    assert ledger_row(world).state is State.UNKNOWN and len(world.afas.of_run(world.runs[0])) == 1
    with pytest.raises(BookingUnsettled):
        book(world, Go(PostFault.NEVER_SENT))  # the replay never left the process
    assert ledger_row(world).state is State.UNKNOWN
    booked = book(world)  # the next replay answers the first answer
    assert [e.number for e in world.afas.of_run(world.runs[0])] == [booked.entry_number]
    assert ledger_row(world).state is State.BOOKED


def test_a_profit_post_that_never_left_is_tried_again_not_reported_as_refused() -> None:
    """The same classification on Profit: a post that never left was recorded as AFAS refusing
    the entry (the run failed, Loket heard "processing failed"). It never reached AFAS: the
    ledger forgets the post (``NotSent``) and the next delivery posts at once."""
    world = ProfitBooking()
    with pytest.raises(BookingUnsettled):
        book(world, Go(PostFault.NEVER_SENT))
    row = ledger_row(world)
    assert (row.state, row.posts, world.afas.of_run(world.runs[0])) == (State.CLAIMED, 0, [])
    booked = book(world)
    assert [e.number for e in world.afas.of_run(world.runs[0])] == [booked.entry_number]
    assert ledger_row(world).state is State.BOOKED


def step(world: BookingModel, post: PostFault = PostFault.ANSWER, *, pick: int = 0) -> None:
    """One gate of the ``pick``-th parked delivery, as the rule ``step`` does (Profit)."""
    assert isinstance(world, ProfitBooking)
    world.step(pick=pick, post=post, look_up=LookUpFault.OK, dies=False, then=timedelta(0))


def parked_at(world: BookingModel) -> list[tuple[int, str | None]]:
    return [(d.id, d.at) for d in world.parked()]


def step_until(world: BookingModel, gate: str, *, pick: int = 0) -> None:
    """Let the ``pick``-th parked delivery pass its gates until it waits at ``gate``."""
    for _ in range(20):
        if world.parked()[pick].at == gate:
            return
        step(world, pick=pick)
    raise AssertionError(f"never reached {gate}: {parked_at(world)}")


def test_a_look_up_that_outlasts_the_quiet_period_proves_nothing_about_what_landed_meanwhile() -> (
    None
):
    """Found by the model: a Profit post went unanswered at T0 and is still in flight. A minute
    before the quiet period ends a redelivery looks the voucher up; Profit is read, nothing
    there. The late post lands then (inside the quiet period, as AFAS's timeout allows); the
    look-up's answer arrives a minute later, when the quiet period has passed, and the delivery
    posted again: two entries. A look-up proves only what was absent when AFAS was read, so the
    quiet period must have passed when the look-up *started*."""
    world = ProfitBooking()
    world.deliveries(third="none", review=False, land_late=False)
    world.deliver(pick=0)
    step_until(world, "post")  # get, the run's index, claim, record the post
    step(world, PostFault.LATE)  # send it: AFAS keeps it, no answer
    step(world)  # record "unknown"
    step(world)  # release the claim
    assert world.outcomes[-1].kind == "BookingUnsettled" and world.afas.in_flight()
    world.advance(QUIET - timedelta(minutes=1))
    world.deliver(pick=0)
    step_until(world, "look-up answer")  # get, claim, the look-up: AFAS is read, nothing yet
    assert parked_at(world) == [(2, "look-up answer")]
    world.land(pick=0, then=timedelta(minutes=1))  # the late post lands; then a minute passes
    assert world.clock() == T0 + QUIET and len(world.afas.of_run(world.runs[0])) == 1
    while world.parked():
        step(world)  # the look-up answers "absent" when the quiet period has passed
    world.check()  # at most one entry
    assert world.outcomes[-1].kind == "QuietPeriod"
    world.recover()  # the next delivery finds the entry that landed


def test_a_slow_ledger_write_of_a_post_does_not_shorten_the_quiet_period() -> None:
    """Found by the model (and then held still in it, see ``ProfitBooking.clock_may_move``):
    the post's moment is taken before the ledger write that records it, and the post is sent
    after that write. Was: a write that took long (the Table Storage client retries) moved the
    recorded moment back before the real send; the quiet period, counted from it, ended early,
    and a second delivery of the job posted again: two entries. Now a post whose record took
    longer than ``MAX_RECORD_DELAY`` is not sent (the ledger says not sent)."""
    world = ProfitBooking()
    world.deliveries(third="none", review=False, land_late=False)
    world.deliver(pick=0)
    step_until(world, "save post")  # get, the run's index; claim + post's moment: T0
    assert parked_at(world) == [(1, "save post")]
    world.move_clock(QUIET)  # the write is slow (the model's rules never do this)
    while world.parked():
        step(world)  # recorded, found too late: not sent, released
    assert world.outcomes[-1].kind == "BookingSlow"
    assert world.afas.of_run(world.runs[0]) == [] and ledger_row(world).state is State.CLAIMED
    world.check()
    world.recover()  # the next delivery posts once
    assert len(world.afas.of_run(world.runs[0])) == 1
