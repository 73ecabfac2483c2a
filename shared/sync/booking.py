"""The booking step, once: claim the Loket journal run in the booking ledger, post it through the
exactly-once AFAS client, move the ledger forward. The nightly worker and an admin's approval
(review mode) both book through :func:`book_once`, so both have the same guarantees:

* at most one booking per (AFAS administration, Loket journal run): the ledger claim is one
  conditional insert, every later change ETag-conditional;
* a claim with a live lease belongs to someone else (:class:`BookingBusy`);
* an expired ``claimed``/``posted`` claim is recovered by asking AFAS first (``check_first``);
* a Profit post whose outcome is unknown is not repeated within the target's ``repost_quiet``
  period after it was sent (AFAS may still book it): until then a retry only looks it up;
* AFAS refusing the entry moves the ledger to ``failed`` (:class:`BookingRefused`); passing
  trouble (:class:`AfasRetriableError`) leaves it ``posted`` for the next attempt to settle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.afas.errors import AfasError, AfasRetriableError
from shared.journal.builder import Draft
from shared.journal.entries import ProfitEntry, SbEntry
from shared.loket.client import LoketClient
from shared.store.bookings import Booking, BookingLedger, BookingState
from shared.store.tables import ConcurrencyConflict
from shared.sync.targets import Booked, Target

log = logging.getLogger("loonbrug.sync")

CLAIM_LEASE = timedelta(minutes=15)


class BookingBusy(Exception):
    """Another worker (or approval) holds a live claim on this journal run; try again later."""


class BookingRefused(Exception):
    """AFAS refused the entry for good; the ledger says ``failed``."""

    def __init__(self, error: AfasError) -> None:
        super().__init__(error.detail)
        self.error = error


@dataclass(frozen=True)
class Claimant:
    """Who books: for the ledger row (office, client, the run that records the outcome)."""

    office_id: str
    client_id: str
    run_id: str
    # May this claimant continue a claim with a live lease (its own earlier, dead attempt)?
    may_take_over: Callable[[Booking], bool] = lambda booking: False


def in_flight_elsewhere(booking: Booking | None, claimant: Claimant, now: datetime) -> bool:
    """A live claim someone else holds: leave the journal run alone."""
    return (
        booking is not None
        and booking.state in (BookingState.CLAIMED, BookingState.POSTED)
        and booking.lease_alive(now)
        and not claimant.may_take_over(booking)
    )


def book_once(
    bookings: BookingLedger,
    clock: Callable[[], datetime],
    target: Target,
    draft: Draft[ProfitEntry] | Draft[SbEntry],
    loket_journal_run_id: str,
    claimant: Claimant,
    booking: Booking | None,
) -> tuple[Booked, Booking]:
    """Book ``draft`` exactly once. ``booking`` is the ledger row as the caller last read it.

    Returns what AFAS booked and the ledger row (``booked``). Raises :class:`BookingBusy`,
    :class:`BookingRefused`, or :class:`AfasRetriableError` (outcome unknown / AFAS busy)."""
    now = clock()
    if booking is not None and booking.state.booked:
        return Booked(booking.entry_number, booking.reference, recovered=True), booking
    if in_flight_elsewhere(booking, claimant, now):
        raise BookingBusy(f"journal run {loket_journal_run_id} is being booked by another worker")
    recovering = False
    may_post = not _unknown_post_may_still_land(booking, target, now)
    if booking is None:
        claimed = bookings.claim(
            target.key,
            loket_journal_run_id,
            office_id=claimant.office_id,
            client_id=claimant.client_id,
            run_id=claimant.run_id,
            reference=target.reference(draft),
            lease_until=now + CLAIM_LEASE,
        )
        if claimed is None:  # another worker claimed it this very moment
            raise BookingBusy(
                f"journal run {loket_journal_run_id} was just claimed by another worker"
            )
        booking = claimed
    else:  # an expired claim, an unknown outcome, or an earlier failure: take it over
        recovering = booking.state in (BookingState.CLAIMED, BookingState.POSTED)
        booking = bookings.reclaim(
            booking,
            run_id=claimant.run_id,
            client_id=claimant.client_id,
            lease_until=now + CLAIM_LEASE,
        )
    if may_post:
        booking = bookings.advance(booking, BookingState.POSTED, posted_at=clock())
    try:
        booked = target.book(draft, check_first=recovering, may_post=may_post)
    except AfasRetriableError as exc:
        if not may_post and booking.posted_at is not None and target.repost_quiet is not None:
            # Only looked up, not found: AFAS may still book the unanswered post. Say when a
            # new post becomes safe, so the worker can come back then (not burn its retries).
            quiet_ends = booking.posted_at + target.repost_quiet
            exc.retry_after = max(1.0, (quiet_ends - now).total_seconds())
            exc.quiet_period = True
        if exc.nothing_booked:  # AFAS answered (busy) and the voucher is absent: no post can land
            bookings.advance(booking, BookingState.CLAIMED, lease_until=now)
        raise  # outcome unknown or AFAS busy: the ledger stays "posted"; the next attempt checks
    except AfasError as exc:
        bookings.advance(booking, BookingState.FAILED, error=exc.detail[:2000], lease_until=now)
        raise BookingRefused(exc) from exc
    booking = bookings.advance(
        booking, BookingState.BOOKED, entry_number=booked.entry_number, booked_at=clock()
    )
    return booked, booking


def _unknown_post_may_still_land(booking: Booking | None, target: Target, now: datetime) -> bool:
    """An earlier post went out without a settled outcome so recently that AFAS may still be
    booking it: look it up, but do not post again yet (the message comes back later)."""
    quiet = target.repost_quiet
    return (
        quiet is not None
        and booking is not None
        and booking.state is BookingState.POSTED
        and booking.posted_at is not None
        and now - booking.posted_at < quiet
    )


def tell_loket_booked(
    bookings: BookingLedger,
    clock: Callable[[], datetime],
    loket: LoketClient,
    booking: Booking,
    loket_journal_run_id: str,
    target: Target,
    booked: Booked,
) -> None:
    """MarkAsProcessed in Loket, then ledger -> marked."""
    loket.mark_processed(
        loket_journal_run_id,
        f"Geboekt in AFAS {target.label}: journaalpost {booked.entry_number}, boekstuk {booked.reference}.",
    )
    try:
        bookings.advance(booking, BookingState.MARKED, marked_at=clock())
    except ConcurrencyConflict:
        pass  # another delivery marked it at the same moment
