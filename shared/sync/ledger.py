"""The booking ledger as a small pure state machine: one row per (AFAS administration, Loket
journal run), every change a :func:`transition` of the row by an event. No I/O here: the
repository (:mod:`shared.store.bookings`) stores rows ETag-conditionally, the booking step
(:mod:`shared.sync.booking`) reads a row, asks :func:`plan` what to do, performs it and records
the event. The table in ``docs/reliability.md`` is this module's :data:`TRANSITIONS`.

States::

    (none) --claim--> claimed --post--> posted --booked--> booked --marked--> marked
                         ^                 |--refused--> refused --claim--> claimed
                         |                 |--unknown--> unknown --post (proven absent)--> posted
                         |                 |                     --booked (found)--> booked
                         |                 |--partial--> partial            (a human looks)
                         +--not sent-------+

The rules that make a second booking impossible to write:

* **Nothing is posted without a row that says so first.** ``post`` is recorded (ETag-conditional)
  before the request is sent, with the time of *this* post: two deliveries cannot both post, and
  the quiet period always counts from the last post.
* **Outcome unknown means look up, never post blind.** From ``unknown`` (or a ``posted`` row whose
  poster died) the only way to ``posted`` again is a look-up that proved the entry absent, and
  (unless AFAS had answered, so it was done with the request) only after the quiet period.
* **Only a refusal before processing reopens a run for a fresh post** (``refused``), and only a
  validation answer of AFAS that names the entry is one (:func:`shared.afas.errors.post_outcome`).
* **A live lease belongs to one holder**: a claim is taken over only when its lease ran out, or
  by the very same holder (the same job of the same office, client and run).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final


class State(StrEnum):
    CLAIMED = "claimed"  # a holder has the journal run; no post of this attempt is out
    POSTED = "posted"  # a post is going out (recorded before it is sent)
    UNKNOWN = "unknown"  # a post went out and its outcome is not settled
    BOOKED = "booked"  # AFAS has the entry (entry number known)
    MARKED = "marked"  # booked, and Loket has been told (MarkAsProcessed)
    REFUSED = "refused"  # AFAS refused the last post before processing it: nothing booked
    PARTIAL = "partial"  # AFAS SB booked part of it: a human must look; never posted again

    @property
    def booked(self) -> bool:
        return self in (State.BOOKED, State.MARKED)

    @property
    def outstanding(self) -> bool:
        """A post is out whose outcome nobody knows yet (only a look-up may settle it)."""
        return self in (State.POSTED, State.UNKNOWN)


class IllegalTransition(Exception):
    """An event that the row's state does not allow: a bug in the caller, never retried."""


@dataclass(frozen=True)
class Holder:
    """Who holds a claim. Two claims are the same holder only if every part is equal: the office,
    the client, and the job (``job`` is the sync run id for the worker, ``approval:<id>`` for an
    admin's approval), so one job never takes over another job's live claim."""

    office_id: str
    client_id: str
    job: str

    @classmethod
    def approval(cls, office_id: str, client_id: str, approval_id: str) -> Holder:
        """An admin's approval of one approval item (review mode)."""
        return cls(office_id, client_id, f"{APPROVAL_PREFIX}{approval_id}")

    @property
    def is_approval(self) -> bool:
        return self.job.startswith(APPROVAL_PREFIX)


APPROVAL_PREFIX: Final = "approval:"


@dataclass(frozen=True)
class Booking:
    """One ledger row: the facts a look-up needs are stored with it, never read from today's
    client configuration."""

    target: str  # ledger partition: ``profit|{env}|{UnId}`` or ``sb|{env}|{administrationId}``
    loket_journal_run_id: str
    state: State
    holder: Holder  # the last holder (its lease may have run out)
    lease_until: datetime | None
    administration: str = ""  # where the posts went (Profit UnId / SB administration id)
    journal: str = ""  # Profit: the journal of the last post (the look-up searches them all)
    reference: str = ""  # voucher number / Tracking-Identifier of the last post
    fingerprint: str = ""  # SHA-256 of the wire body of the last post
    generation: int = 0  # fresh attempts after a refusal (part of the SB Tracking-Identifier)
    posts: int = 0  # posts recorded in all
    last_post_at: datetime | None = None  # when the last post was recorded (sent just after)
    afas_finished: bool = False  # AFAS answered the last post (so it is done with it)
    entry_number: str = ""
    error: str = ""
    attempts: int = 1  # claims and take-overs
    booked_at: datetime | None = None
    marked_at: datetime | None = None
    etag: str = ""

    def lease_alive(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    def held_by_other(self, holder: Holder, now: datetime) -> bool:
        return self.lease_alive(now) and self.holder != holder


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Take the journal run (a fresh row, an expired or own claim, or a refused run)."""

    holder: Holder
    lease_until: datetime
    now: datetime


@dataclass(frozen=True)
class Post:
    """A post is about to be sent. ``proven_absent_at``: when a look-up that found nothing
    *started* (required when a post is outstanding: a look-up proves only what was absent when
    AFAS was read)."""

    now: datetime
    administration: str
    journal: str
    reference: str
    fingerprint: str
    quiet: timedelta | None  # how long AFAS may still book an unanswered post (None: never)
    proven_absent_at: datetime | None = None


@dataclass(frozen=True)
class Absent:
    """A look-up proved an outstanding post absent, past the quiet period (or AFAS had answered
    it): nothing is outstanding any more, and nothing is posted now (look-up only). ``now``: when
    that look-up started."""

    now: datetime
    quiet: timedelta | None


@dataclass(frozen=True)
class NotSent:
    """The post never left the process (no connection was made): as if it was not recorded."""


@dataclass(frozen=True)
class Spent:
    """A replay of an outstanding post (SB) was answered "could not read the request": the
    first request arrived cut off, nothing was booked under its reference, and SB answers that
    reference so for ever. The next post uses the next generation (a new reference)."""

    error: str
    now: datetime


@dataclass(frozen=True)
class Booked:
    """AFAS has the entry: the answer to the post, or a look-up that found it."""

    entry_number: str
    now: datetime


@dataclass(frozen=True)
class Refused:
    """AFAS refused the entry before processing it (a validation answer that names it)."""

    error: str
    now: datetime


@dataclass(frozen=True)
class Unknown:
    """The post's outcome is not settled. ``afas_finished``: AFAS answered (it is done with it)."""

    error: str
    afas_finished: bool
    now: datetime


@dataclass(frozen=True)
class Partial:
    """AFAS booked part of the entry (SB ``PartiallySucceeded``)."""

    error: str
    now: datetime


@dataclass(frozen=True)
class Marked:
    """Loket has been told the run is processed."""

    now: datetime


@dataclass(frozen=True)
class Release:
    """The holder leaves the row as it is (passing trouble, a wait): others may take it now."""

    now: datetime


Event = (
    Claim
    | Post
    | Absent
    | NotSent
    | Spent
    | Booked
    | Refused
    | Unknown
    | Partial
    | Marked
    | Release
)

# Which events each state allows (the rest raise IllegalTransition). Claim also needs the lease
# rule, Post from an outstanding post also needs the look-up and quiet rule (see transition).
TRANSITIONS: Final[dict[State | None, dict[type, State | None]]] = {
    None: {Claim: State.CLAIMED},
    State.CLAIMED: {Claim: State.CLAIMED, Post: State.POSTED, Release: State.CLAIMED},
    State.POSTED: {
        Claim: State.UNKNOWN,  # its poster died: what it sent is outstanding
        NotSent: State.CLAIMED,
        Booked: State.BOOKED,
        Refused: State.REFUSED,
        Unknown: State.UNKNOWN,
        Partial: State.PARTIAL,
    },
    State.UNKNOWN: {
        Claim: State.UNKNOWN,
        Post: State.POSTED,
        Absent: State.CLAIMED,
        Booked: State.BOOKED,
        Unknown: State.UNKNOWN,
        Release: State.UNKNOWN,
        # SB settles an unknown outcome by sending the same Tracking-Identifier again: its replayed
        # answer may be a refusal or a partial booking.
        Refused: State.REFUSED,
        Partial: State.PARTIAL,
        Spent: State.CLAIMED,  # the replayed answer proves nothing was booked under it
    },
    State.REFUSED: {Claim: State.CLAIMED},
    State.BOOKED: {Marked: State.MARKED},
    State.MARKED: {},
    State.PARTIAL: {},
}


def first_claim(target: str, loket_journal_run_id: str, claim: Claim) -> Booking:
    """The row a first claim inserts (the ``None`` line of :data:`TRANSITIONS`)."""
    return Booking(
        target=target,
        loket_journal_run_id=loket_journal_run_id,
        state=State.CLAIMED,
        holder=claim.holder,
        lease_until=claim.lease_until,
    )


def first_post(target: str, loket_journal_run_id: str, claim: Claim, post: Post) -> Booking:
    """The row a first claim that posts at once inserts: ``Claim`` then ``Post`` of the
    ``None`` line of :data:`TRANSITIONS`, recorded in one write (no row yet, so nothing can be
    outstanding, and the post is recorded before it is sent, as every post is)."""
    return transition(first_claim(target, loket_journal_run_id, claim), post)


def transition(row: Booking, event: Event) -> Booking:
    """The row after ``event``. Raises :class:`IllegalTransition` for an event its state (or the
    lease, look-up and quiet rules) does not allow."""
    state = row.state
    target = TRANSITIONS[state].get(type(event))
    if target is None:
        raise IllegalTransition(f"{type(event).__name__} in state {state}")
    match event:
        case Claim(holder, lease_until, now):
            if row.held_by_other(holder, now):
                raise IllegalTransition(
                    f"{row.state} is held by {row.holder} until {row.lease_until}"
                )
            afas_finished = row.afas_finished if row.state is not State.POSTED else False
            generation = row.generation + 1 if row.state is State.REFUSED else row.generation
            return replace(
                row,
                state=target,
                holder=holder,
                lease_until=lease_until,
                attempts=row.attempts + 1,
                afas_finished=afas_finished,
                generation=generation,
            )
        case Post():
            if row.state is State.UNKNOWN:
                _check_repost(row, event)
            return replace(
                row,
                state=State.POSTED,
                administration=event.administration,
                journal=event.journal,
                reference=event.reference,
                fingerprint=event.fingerprint,
                posts=row.posts + 1,
                last_post_at=event.now,
                afas_finished=False,
                error="",
            )
        case Absent(now, quiet):
            wait = quiet_until(row, quiet)
            if wait is not None and now < wait:
                raise IllegalTransition(f"AFAS may still book the unanswered post until {wait}")
            return replace(row, state=State.CLAIMED, lease_until=now)
        case NotSent():
            # The recorded post never left: the row is as before it, minus the outstanding post.
            # Only a CLAIMED row or a proven-absent UNKNOWN row can have been posting, and in
            # both no earlier post is outstanding, so CLAIMED is exact.
            return replace(row, state=State.CLAIMED, posts=row.posts - 1)
        case Spent(error, now):
            # Nothing is outstanding: the only post of this generation was never read by AFAS.
            return replace(
                row, state=State.CLAIMED, generation=row.generation + 1, error=error[:2000]
            )
        case Booked(entry_number, now):
            return replace(
                row, state=State.BOOKED, entry_number=entry_number, booked_at=now, error=""
            )
        case Refused(error, now) | Partial(error, now):
            return replace(row, state=target, error=error[:2000], lease_until=now)
        case Unknown(error, afas_finished, now):
            return replace(
                row, state=State.UNKNOWN, error=error[:2000], afas_finished=afas_finished
            )
        case Marked(now):
            return replace(row, state=State.MARKED, marked_at=now, lease_until=now)
        case Release(now):
            return replace(row, lease_until=now)
    raise IllegalTransition(f"{type(event).__name__} in state {state}")  # pragma: no cover


def _check_repost(row: Booking, post: Post) -> None:
    if post.proven_absent_at is None:
        raise IllegalTransition("a post is outstanding: look it up before posting again")
    wait = quiet_until(row, post.quiet)
    if wait is not None and post.proven_absent_at < wait:
        raise IllegalTransition(f"AFAS may still book the unanswered post until {wait}")


def quiet_until(row: Booking, quiet: timedelta | None) -> datetime | None:
    """Until when AFAS may still book the outstanding post of ``row`` (None: no such moment,
    posting again after a look-up that found nothing is safe at once). AFAS answered the last
    post, or the target replays (SB, ``quiet`` None): nothing can land later."""
    if quiet is None or row.afas_finished or row.last_post_at is None:
        return None
    return row.last_post_at + quiet


def may_be_in_afas(row: Booking, now: datetime) -> bool:
    """AFAS holds the entry of this row, or may (a post is out), or may soon (a live claim)."""
    if row.state is State.CLAIMED:
        return row.lease_alive(now)
    return row.state is not State.REFUSED


# -- what to do -------------------------------------------------------------------------------


class Step(StrEnum):
    DONE = "done"  # booked: nothing to post, finish the Loket part
    BUSY = "busy"  # another holder's live lease: leave it alone
    ATTENTION = "attention"  # partially booked: report it, never post
    POST = "post"  # no post is outstanding: claim and post
    LOOK_UP = "look-up"  # a post is outstanding: claim, look it up, and only then decide


def plan(row: Booking | None, holder: Holder, now: datetime) -> Step:
    """What a holder does with the journal run, given its ledger row."""
    if row is None:
        return Step.POST
    if row.state.booked:
        return Step.DONE
    if row.state is State.PARTIAL:
        return Step.ATTENTION
    if row.held_by_other(holder, now):
        return Step.BUSY
    if row.state.outstanding:
        return Step.LOOK_UP
    return Step.POST
