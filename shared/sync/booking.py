"""The booking step, in one place: book one entry into AFAS at most once, driven by the booking
ledger (:mod:`shared.sync.ledger`). The nightly worker and an admin's approval (review mode) both
book through :func:`book_once`, so both have the same guarantees.

One call:

1. reads the ledger row and asks :func:`~shared.sync.ledger.plan` what to do: already booked →
   done; another holder's live lease → :class:`BookingBusy`; partially booked →
   :class:`BookingPartial`;
2. claims the row (one conditional insert, or an ETag-conditional take-over);
3. when a post is outstanding, settles it first: Profit is looked up by (administration, voucher)
   across journals (a look-up that fails raises its error and changes nothing); SB is asked again
   with the same Tracking-Identifier, which replays the first answer. Absent, and AFAS may still
   book the unanswered post → :class:`QuietPeriod` (come back when it has passed);
4. records the post in the ledger (with its time, reference, journal and fingerprint) and only
   then sends it; a review-mode caller posts only the fingerprint the admin approved;
5. records what came back, classified by :func:`shared.afas.errors.post_outcome`: booked;
   refused before processing (:class:`BookingRefused`); partially booked; outcome unknown
   (:class:`BookingUnsettled`; when AFAS answered busy, a pause and back to step 3; when it
   answered success without saying as what, straight back to step 3's look-up).

Every change of the row is ETag-conditional, so two deliveries never both post; a worker killed
anywhere leaves a row from which the next one continues (``docs/reliability.md``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Final, Generic

from shared.afas.errors import (
    AfasError,
    Disposition,
    post_outcome,
    read_disposition,
)
from shared.journal.builder import Draft, EntryT
from shared.loket.client import LoketClient
from shared.store.bookings import BookingRepository
from shared.store.tables import ConcurrencyConflict
from shared.sync import ledger
from shared.sync.audit import fingerprint as wire_fingerprint
from shared.sync.bookers import AfasBooker, AnyBooker, Booked
from shared.sync.ledger import Booking, Holder, State, Step

log = logging.getLogger("loonbrug.sync")

__all__ = [
    "BookedElsewhere",
    "BookingBusy",
    "BookingPartial",
    "BookingPolicy",
    "BookingRefused",
    "BookingSlow",
    "BookingUnsettled",
    "CannotSettle",
    "NotApproved",
    "NotBooked",
    "QuietPeriod",
    "book_once",
    "tell_loket_booked",
]


@dataclass(frozen=True)
class BookingPolicy:
    lease: timedelta = timedelta(minutes=15)  # how long a claim keeps others out
    posts_per_call: int = 3  # posts one call may send after AFAS answered "busy"
    settle_pause: float = 2.0  # seconds between a busy answer and the look-up before the next post
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


class BookingBusy(Exception):
    """Another worker (or approval) holds a live claim on this journal run; try again later."""


class BookingSlow(BookingBusy):
    """This attempt itself was held up (a slow write or read, a frozen process) between noting
    itself, or recording its post, and sending it: nothing was sent; try again later."""


class BookingRefused(Exception):
    """AFAS refused the entry before processing it; the ledger says ``refused``."""

    def __init__(self, error: AfasError) -> None:
        super().__init__(error.detail)
        self.error = error


class BookingPartial(Exception):
    """AFAS booked part of the entry; the ledger says ``partial`` and nothing is posted again."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BookingUnsettled(Exception):
    """A post went out (or was about to) and its outcome is not settled: come back later. The
    next attempt looks it up before anything is posted again."""

    def __init__(self, error: AfasError) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = error.retry_after


class QuietPeriod(Exception):
    """An unanswered post is not in AFAS (yet), and AFAS may still book it: nothing may be posted
    until ``retry_after`` seconds have passed."""

    def __init__(self, reference: str, retry_after: float) -> None:
        super().__init__(f"{reference}: unanswered post may still land for {retry_after:.0f} s")
        self.reference = reference
        self.retry_after = retry_after


class NotBooked(Exception):
    """A look-up-only call (``look_up_only``): AFAS does not hold the entry, and nothing was
    posted."""


class BookedElsewhere(Exception):
    """Another AFAS administration holds this Loket journal run (or may: a post is out there, or
    a claim is live). Nothing is posted here; a person decides."""

    def __init__(self, target: str, row: Booking | None) -> None:
        super().__init__(f"journal run is booked (or being booked) in {target}")
        self.target = target
        self.row = row


class CannotSettle(Exception):
    """A look-up-only call for SB, where the only look-up is the post itself: the entry built now
    is not the one that was posted (or cannot be sent at all), so it is not sent, and the
    outstanding post stays outstanding. Nothing may be told to Loket."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"{reference}: the outstanding post cannot be settled with this entry")
        self.reference = reference


class NotApproved(Exception):
    """Review mode: the entry built now is not the one the admin approved (``fingerprint``)."""

    def __init__(self, fingerprint: str) -> None:
        super().__init__("the entry differs from the approved one")
        self.fingerprint = fingerprint


MAX_ROUNDS = 8
# A post is sent only this soon after the moment its ledger write recorded (a slow write would
# otherwise shorten the quiet period, which counts from that moment). Well inside the read
# timeout's margin that the quiet period adds to AFAS's own 900 s.
MAX_RECORD_DELAY = timedelta(
    seconds=30
)  # conflicting writes and busy answers together; each round re-reads the row


class Unread:
    """No row passed: :func:`book_once` reads it."""


UNREAD: Final = Unread()


def book_once(
    bookings: BookingRepository,
    clock: Callable[[], datetime],
    target: AfasBooker[EntryT],
    draft: Draft[EntryT],
    loket_journal_run_id: str,
    holder: Holder,
    *,
    approved: str | None = None,
    look_up_only: bool = False,
    policy: BookingPolicy = BookingPolicy(),
    known: Booking | Unread | None = UNREAD,
) -> tuple[Booked, Booking]:
    """Book ``draft`` at most once; answers what AFAS holds and the ledger row (``booked``).

    ``known``: the ledger row as the caller read it moments ago (None: there was none), used
    instead of reading it again. Safe when stale: every write is ETag-conditional (a claim on
    a row that changed meanwhile conflicts, and the row is read again and decided anew), and a
    row's states only move forward (a row that said booked is booked).

    ``approved``: review mode, the fingerprint the admin approved; nothing else is sent.
    ``look_up_only``: only settle a post that is outstanding (an entry that may not be posted,
    e.g. its pre-check now blocks): :class:`NotBooked` when AFAS does not hold it.
    Raises :class:`BookingBusy`, :class:`BookingRefused`, :class:`BookingPartial`,
    :class:`BookingUnsettled`, :class:`QuietPeriod`, :class:`NotApproved`, the :class:`AfasError`
    of a failed look-up, or :class:`ConcurrencyConflict`; none of them leaves a second booking
    possible."""
    attempt = _Attempt(
        bookings, clock, target, draft, loket_journal_run_id, holder, policy, look_up_only
    )
    return attempt.run(approved, known)


@dataclass
class _Attempt(Generic[EntryT]):
    bookings: BookingRepository
    clock: Callable[[], datetime]
    target: AfasBooker[EntryT]
    draft: Draft[EntryT]
    run_id: str
    holder: Holder
    policy: BookingPolicy
    look_up_only: bool = False
    posts: int = 0
    # When this round noted itself in the journal run's index (a fresh post only): another
    # administration trusts the note for one lease, so the claim and the recorded post must
    # land soon after it, not merely be checked soon after it.
    noted: datetime | None = None

    @cached_property
    def fingerprint(self) -> str:
        return wire_fingerprint(self.draft.entry)  # the draft is fixed for the attempt

    def run(self, approved: str | None, known: Booking | Unread | None) -> tuple[Booked, Booking]:
        row = (
            self.bookings.get(self.target.key, self.run_id) if isinstance(known, Unread) else known
        )
        for _ in range(MAX_ROUNDS):
            step = ledger.plan(row, self.holder, self.clock())
            if step is Step.DONE:
                assert row is not None
                return Booked(row.entry_number, row.reference, recovered=True), row
            if step is Step.BUSY:
                raise BookingBusy(f"journal run {self.run_id} is being booked by another holder")
            if step is Step.ATTENTION:
                assert row is not None
                raise BookingPartial(row.error)
            if self.look_up_only and step is Step.POST:
                raise NotBooked(self.run_id)  # nothing outstanding to settle
            self.noted = None
            if step is Step.POST:
                try:
                    noted = self.noted = self._not_elsewhere()
                    if self.clock() - noted > MAX_RECORD_DELAY:
                        # Another administration trusts our note for one lease only: a claim
                        # written much later than it could land after theirs was checked.
                        raise BookingSlow(f"checking {self.run_id} elsewhere took too long")
                except (BookedElsewhere, BookingSlow):
                    if row is not None and row.lease_alive(self.clock()):
                        # Our own claim (a redelivery, a round after Spent) with nothing out:
                        # let go of it, or the other administration waits for it in vain.
                        self._release(row)
                    raise
            if row is None:
                # No row yet: claim and record the post in one insert (ledger.first_post).
                try:
                    row, moment, reference = self._insert_posted(approved)
                except ConcurrencyConflict:
                    row = self.bookings.get(self.target.key, self.run_id)  # decide anew
                    continue
                try:
                    return self._send_recorded(row, moment, reference)
                except _Again as again:
                    row = again.row
                    continue
            try:
                row = self._claim(row)
            except ConcurrencyConflict:
                row = self.bookings.get(self.target.key, self.run_id)  # decide anew
                continue
            try:
                return self._settle_and_post(row, approved)
            except _Again as again:
                row = again.row
        raise ConcurrencyConflict(f"journal run {self.run_id}: the booking kept changing")

    # -- the steps ---------------------------------------------------------------------------

    def _not_elsewhere(self) -> datetime:
        """The ledger is kept per AFAS administration. Before a fresh post, note this one in the
        journal run's index and make sure no other administration holds (or may hold, or is
        about to post) the same Loket journal run: a client moved or re-created elsewhere while
        a booking was unfinished must not book it a second time. Answers the moment noted."""
        now = self.clock()
        # Every attempt notes its moment before it reads the others (the note is refreshed, not
        # kept from the first attempt): of two attempts in two administrations at once, the one
        # that reads second sees the other's fresh note, whatever that one's row still says.
        self.bookings.note_target(self.run_id, self.target.key, now)
        for other, noted in sorted(self.bookings.targets_of(self.run_id).items()):
            if other == self.target.key:
                continue
            row = self.bookings.get(other, self.run_id)
            if row is not None and ledger.may_be_in_afas(row, now):
                raise BookedElsewhere(other, row)
            # Noted after its row last moved (a refused or proven-absent row, or none yet):
            # someone is about to claim it there.
            about_to = row is None or row.lease_until is None or noted >= row.lease_until
            if about_to and now - noted < self.policy.lease:
                raise BookedElsewhere(other, None)
        return now

    def _claim(self, row: Booking | None) -> Booking:
        now = self.clock()
        claim = ledger.Claim(self.holder, now + self.policy.lease, now)
        if row is None:
            return self.bookings.insert(ledger.first_claim(self.target.key, self.run_id, claim))
        return self.bookings.save(ledger.transition(row, claim))

    def _insert_posted(self, approved: str | None) -> tuple[Booking, datetime, str]:
        """The first claim and its post in one conditional insert (nothing is written when the
        entry is not the approved one); :class:`ConcurrencyConflict` when a row exists."""
        if approved is not None and self.fingerprint != approved:
            raise NotApproved(self.fingerprint)
        reference = self.target.reference(self.draft, self.run_id, 0)
        moment = self.clock()
        claim = ledger.Claim(self.holder, moment + self.policy.lease, moment)
        post = self._post_event(moment, reference)
        row = self.bookings.insert(ledger.first_post(self.target.key, self.run_id, claim, post))
        return row, moment, reference

    def _post_event(
        self, moment: datetime, reference: str, proven_absent_at: datetime | None = None
    ) -> ledger.Post:
        """The ledger's record of the post about to go out to this administration."""
        return ledger.Post(
            now=moment,
            administration=self.target.administration,
            journal=self.target.journal,
            reference=reference,
            fingerprint=self.fingerprint,
            quiet=self.target.quiet,
            proven_absent_at=proven_absent_at,
        )

    def _settle_and_post(self, row: Booking, approved: str | None) -> tuple[Booked, Booking]:
        proven_absent_at: datetime | None = None
        if row.state.outstanding:
            if self.target.replays:
                return self._replay(row, approved)
            # A look-up proves only what was absent when AFAS was read, so it counts from its
            # start: a post landing while the answer was on its way is not ruled out.
            started = self.clock()
            found = self._look_up(row)
            if found is not None:
                row = self.bookings.save(ledger.transition(row, ledger.Booked(found, self.clock())))
                return Booked(found, row.reference, recovered=True), row
            proven_absent_at = started
            wait = ledger.quiet_until(row, self.target.quiet)
            if wait is not None and started < wait:
                self._release(row)
                raise QuietPeriod(row.reference, max(1.0, (wait - started).total_seconds()))
        if self.look_up_only:
            if proven_absent_at is not None:  # past the quiet period: nothing is outstanding
                row = self.bookings.save(
                    ledger.transition(row, ledger.Absent(proven_absent_at, self.target.quiet))
                )
            self._release(row)
            raise NotBooked(self.run_id)
        self._check_approved(row, approved)
        reference = self.target.reference(self.draft, self.run_id, row.generation)
        moment = self.clock()
        row = self.bookings.save(
            ledger.transition(row, self._post_event(moment, reference, proven_absent_at))
        )
        return self._send_recorded(row, moment, reference)

    def _send_recorded(
        self, row: Booking, moment: datetime, reference: str
    ) -> tuple[Booked, Booking]:
        """Send the post the ledger recorded at ``moment``."""
        now = self.clock()
        late = now - moment > MAX_RECORD_DELAY
        # A fresh post: its claim and post landed soon enough after the note that every other
        # administration that checked meanwhile saw the note (or the claim). A claim written
        # later (a slow write, a frozen process) may have landed after another one booked.
        late_after_note = self.noted is not None and now - self.noted > MAX_RECORD_DELAY
        if late or late_after_note:
            # The quiet period counts from the recorded moment; a post sent much later than
            # that would shorten it. Not sent: the ledger says so, and the next attempt posts.
            row = self.bookings.save(ledger.transition(row, ledger.NotSent()))
            self._release(row)
            raise BookingSlow(f"recording the post of {self.run_id} took too long; not sent")
        return self._send(row, reference)

    def _look_up(self, row: Booking) -> str | None:
        """Profit: is the outstanding post in AFAS? A failed look-up changes nothing."""
        try:
            return self.target.look_up(row)
        except AfasError:
            self._release(row)
            raise

    def _replay(self, row: Booking, approved: str | None) -> tuple[Booked, Booking]:
        """SB: the same Tracking-Identifier again; SB answers what it answered the first time
        (or books this request, if the first never arrived)."""
        self._check_approved(row, approved)
        if self.look_up_only and row.fingerprint and row.fingerprint != self.fingerprint:
            # Settling by sending is only safe with the very entry that was posted: a different
            # one would be booked if the first never arrived.
            self._release(row)
            raise CannotSettle(row.reference)
        return self._send(row, row.reference)

    def _send(self, row: Booking, reference: str) -> tuple[Booked, Booking]:
        self.posts += 1
        try:
            entry_number = self.target.post(self.draft, reference)
        except AfasError as error:
            row = self._record_failure(row, error)
            raise _Again(row) from error
        row = self.bookings.save(ledger.transition(row, ledger.Booked(entry_number, self.clock())))
        return Booked(entry_number, reference, recovered=False), row

    def _record_failure(self, row: Booking, error: AfasError) -> Booking:
        """Record what the post's failure means; raise unless another round should follow."""
        now = self.clock()
        if error.local:  # our own check refused it: it never left the process
            if row.state is State.POSTED:
                row = self.bookings.save(ledger.transition(row, ledger.NotSent()))
                self._release(row)
                raise BookingRefused(error) from error  # nothing is outstanding
            self._release(row)  # a replay of an outstanding post: that post stays outstanding
            raise CannotSettle(row.reference) from error
        outcome = post_outcome(error)
        if outcome.reference_spent and row.state is State.UNKNOWN:
            # A replay (SB) answered that AFAS could not read the request: the first post was
            # cut off on its way, nothing was booked under its Tracking-Identifier, and every
            # repeat gets this answer. Post once more under the next generation (next round).
            return self.bookings.save(ledger.transition(row, ledger.Spent(error.detail, now)))
        if outcome.disposition in (Disposition.RETRY_NOW, Disposition.RETRY_LATER):
            if row.state is State.POSTED:  # it never left the process
                row = self.bookings.save(ledger.transition(row, ledger.NotSent()))
            self._release(row)
            raise BookingUnsettled(error) from error
        if outcome.disposition is Disposition.REFUSED:
            self.bookings.save(ledger.transition(row, ledger.Refused(error.detail, now)))
            raise BookingRefused(error) from error
        if outcome.disposition is Disposition.PARTIAL:
            self.bookings.save(ledger.transition(row, ledger.Partial(error.detail, now)))
            raise BookingPartial(error.detail) from error
        row = self.bookings.save(
            ledger.transition(row, ledger.Unknown(error.detail, outcome.afas_finished, now))
        )
        if error.success_unreadable and self.posts <= self.policy.posts_per_call:
            # AFAS said it booked but not as what: look it up at once (the next round). If it is
            # not there (yet), the quiet period keeps the next post out.
            return row
        busy = outcome.afas_finished and read_disposition(error) is Disposition.RETRY_NOW
        if busy and self.posts < self.policy.posts_per_call:
            # AFAS answered "busy" (lock, 429, 503): it is done with the request. Look it up
            # after a pause and post again if it is absent (the next round).
            self.policy.sleep(error.retry_after or self.policy.settle_pause * self.posts)
            return row
        self._release(row)
        raise BookingUnsettled(error) from error

    def _check_approved(self, row: Booking, approved: str | None) -> None:
        if approved is not None and self.fingerprint != approved:
            self._release(row)
            raise NotApproved(self.fingerprint)

    def _release(self, row: Booking) -> None:
        try:
            self.bookings.save(ledger.transition(row, ledger.Release(self.clock())))
        except (ConcurrencyConflict, ledger.IllegalTransition):
            pass  # someone else has moved it on; the lease runs out by itself


class _Again(Exception):
    """Go round once more with this row (AFAS answered busy; a look-up comes first)."""

    def __init__(self, row: Booking) -> None:
        super().__init__("again")
        self.row = row


def tell_loket_booked(
    bookings: BookingRepository,
    clock: Callable[[], datetime],
    loket: LoketClient,
    booking: Booking,
    loket_journal_run_id: str,
    target: AnyBooker,
    booked: Booked,
) -> None:
    """MarkAsProcessed in Loket, then ledger -> marked."""
    loket.mark_processed(
        loket_journal_run_id,
        f"Geboekt in AFAS {target.label}: journaalpost {booked.entry_number}, boekstuk {booked.reference}.",
    )
    if booking.state is State.BOOKED:
        try:
            bookings.save(ledger.transition(booking, ledger.Marked(clock())))
        except ConcurrencyConflict:
            pass  # another delivery marked it at the same moment
