"""The booking ledger's state machine, table-driven over every state × event, and its rules (no
Azurite: pure functions). The expected table is written out here, independently of
``shared.sync.ledger.TRANSITIONS``, so a change to the rules has to change both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.sync import ledger
from shared.sync.ledger import Booking, Holder, IllegalTransition, State, Step

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
QUIET = timedelta(minutes=4)
ME = Holder("office-a", "4711", "nightly-2026-12-05")
OTHER_CLIENT = Holder("office-a", "4712", "nightly-2026-12-05")  # same run id, another client
OTHER_OFFICE = Holder("office-b", "4711", "nightly-2026-12-05")  # same run id and client id


def row(
    state: State, *, holder: Holder = ME, lease: timedelta = timedelta(minutes=10), **kw: object
) -> Booking:
    base = Booking(
        target="profit|12345|1",
        loket_journal_run_id="run-1",
        state=state,
        holder=holder,
        lease_until=T0 + lease,
        administration="1",
        journal="80",
        reference="LB202503S1-ABCDEF12",
        fingerprint="a" * 64,
        posts=1 if state is not State.CLAIMED else 0,
        last_post_at=T0 - timedelta(minutes=1) if state is not State.CLAIMED else None,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def events() -> dict[str, ledger.Event]:
    return {
        "claim": ledger.Claim(ME, T0 + timedelta(minutes=15), T0),
        "post": ledger.Post(T0, "1", "80", "LB", "b" * 64, QUIET, proven_absent_at=T0),
        "not-sent": ledger.NotSent(),
        "booked": ledger.Booked("4711", T0),
        "refused": ledger.Refused("rekening bestaat niet", T0),
        "unknown": ledger.Unknown("time-out", False, T0),
        "partial": ledger.Partial("deels", T0),
        "marked": ledger.Marked(T0),
        "release": ledger.Release(T0),
        "absent": ledger.Absent(T0, QUIET),
        "spent": ledger.Spent("Invalid JSON request", T0),
    }


# state -> event -> the state after it (None: the event is refused). Posting again from
# "unknown" needs a look-up that proved the post absent, and the quiet period (here: past).
EXPECTED: dict[State, dict[str, State | None]] = {
    State.CLAIMED: {
        "claim": State.CLAIMED, "post": State.POSTED, "not-sent": None, "booked": None,
        "refused": None, "unknown": None, "partial": None, "marked": None,
        "release": State.CLAIMED, "absent": None, "spent": None,
    },
    State.POSTED: {
        "claim": State.UNKNOWN, "post": None, "not-sent": State.CLAIMED, "booked": State.BOOKED,
        "refused": State.REFUSED, "unknown": State.UNKNOWN, "partial": State.PARTIAL,
        "marked": None, "release": None, "absent": None, "spent": None,
    },
    State.UNKNOWN: {
        "claim": State.UNKNOWN, "post": State.POSTED, "not-sent": None, "booked": State.BOOKED,
        "refused": State.REFUSED, "unknown": State.UNKNOWN, "partial": State.PARTIAL,
        "marked": None, "release": State.UNKNOWN, "absent": State.CLAIMED,
        "spent": State.CLAIMED,
    },
    State.BOOKED: {
        "claim": None, "post": None, "not-sent": None, "booked": None, "refused": None,
        "unknown": None, "partial": None, "marked": State.MARKED, "release": None,
        "absent": None, "spent": None,
    },
    State.MARKED: dict.fromkeys(
        ["claim", "post", "not-sent", "booked", "refused", "unknown", "partial", "marked",
         "release", "absent", "spent"]
    ),
    State.REFUSED: {
        "claim": State.CLAIMED, "post": None, "not-sent": None, "booked": None, "refused": None,
        "unknown": None, "partial": None, "marked": None, "release": None, "absent": None,
        "spent": None,
    },
    State.PARTIAL: dict.fromkeys(
        ["claim", "post", "not-sent", "booked", "refused", "unknown", "partial", "marked",
         "release", "absent", "spent"]
    ),
}  # fmt: skip

CELLS = [(state, name) for state in State for name in events()]


@pytest.mark.parametrize(("state", "event"), CELLS, ids=[f"{s.value}-{e}" for s, e in CELLS])
def test_every_state_and_event(state: State, event: str) -> None:
    before = row(state, last_post_at=T0 - 2 * QUIET) if state.outstanding else row(state)
    expected = EXPECTED[state][event]
    if expected is None:
        with pytest.raises(IllegalTransition):
            ledger.transition(before, events()[event])
        return
    after = ledger.transition(before, events()[event])
    assert after.state is expected
    assert (after.target, after.loket_journal_run_id) == (
        before.target,
        before.loket_journal_run_id,
    )


def test_the_table_covers_every_state() -> None:
    assert set(EXPECTED) == set(State) == {s for s in ledger.TRANSITIONS if s is not None}


# -- the rules that make a second booking impossible ------------------------------------------


def test_a_post_records_its_own_moment_so_the_quiet_period_counts_from_the_last_post() -> None:
    """Scenario 3: post 1 answered 503, post 2 unanswered: the quiet period runs from post 2."""
    first = ledger.transition(row(State.CLAIMED), _post(T0))
    busy = ledger.transition(first, ledger.Unknown("503", True, T0))
    second = ledger.transition(busy, _post(T0 + timedelta(seconds=5)))
    lost = ledger.transition(second, ledger.Unknown("time-out", False, T0 + timedelta(seconds=7)))
    assert (lost.posts, lost.last_post_at) == (2, T0 + timedelta(seconds=5))
    assert ledger.quiet_until(lost, QUIET) == T0 + timedelta(seconds=5) + QUIET
    with pytest.raises(IllegalTransition, match="may still book"):
        ledger.transition(lost, _post(T0 + QUIET))  # past post 1's quiet period, not post 2's


def test_an_outstanding_post_is_never_followed_by_another_without_a_look_up() -> None:
    unknown = row(State.UNKNOWN, last_post_at=T0 - 2 * QUIET)
    with pytest.raises(IllegalTransition, match="look it up"):
        ledger.transition(unknown, replace(_post(T0), proven_absent_at=None))
    assert ledger.transition(unknown, _post(T0)).state is State.POSTED


def test_after_an_answer_from_afas_a_proven_absence_allows_the_next_post_at_once() -> None:
    answered = row(State.UNKNOWN, afas_finished=True, last_post_at=T0)
    assert ledger.quiet_until(answered, QUIET) is None
    assert ledger.transition(answered, _post(T0)).state is State.POSTED


def test_a_dead_posters_post_is_unknown_and_unanswered() -> None:
    dead = row(State.POSTED, lease=-timedelta(seconds=1), afas_finished=True)
    taken = ledger.transition(dead, ledger.Claim(ME, T0 + timedelta(minutes=15), T0))
    assert taken.state is State.UNKNOWN and not taken.afas_finished
    assert ledger.plan(taken, ME, T0) is Step.LOOK_UP


@pytest.mark.parametrize("stranger", [OTHER_CLIENT, OTHER_OFFICE], ids=["client", "office"])
def test_a_live_claim_is_never_taken_over_by_another_job_with_the_same_run_id(
    stranger: Holder,
) -> None:
    """Scenario 6: ``nightly-YYYY-MM-DD`` is shared by every client and office; two clients may
    book the same Loket run into the same administration. Only the very same holder continues."""
    live = row(State.POSTED)
    assert ledger.plan(live, stranger, T0) is Step.BUSY
    with pytest.raises(IllegalTransition, match="held by"):
        ledger.transition(live, ledger.Claim(stranger, T0 + timedelta(minutes=15), T0))
    assert ledger.plan(live, ME, T0) is Step.LOOK_UP  # its own job's next delivery continues
    expired = row(State.POSTED, lease=-timedelta(seconds=1))
    assert ledger.plan(expired, stranger, T0) is Step.LOOK_UP


def test_a_fresh_attempt_after_a_refusal_is_a_new_generation() -> None:
    refused = ledger.transition(
        ledger.transition(row(State.CLAIMED), _post(T0)), ledger.Refused("x", T0)
    )
    again = ledger.transition(refused, ledger.Claim(ME, T0 + timedelta(minutes=15), T0))
    assert (again.state, again.generation) == (State.CLAIMED, 1)
    assert ledger.plan(refused, ME, T0) is Step.POST  # nothing was booked: post again


def test_a_post_that_never_left_leaves_nothing_outstanding() -> None:
    posted = ledger.transition(row(State.CLAIMED), _post(T0))
    back = ledger.transition(posted, ledger.NotSent())
    assert (back.state, back.posts) == (State.CLAIMED, 0)
    assert ledger.plan(back, ME, T0) is Step.POST


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (None, Step.POST),
        (State.CLAIMED, Step.POST),
        (State.REFUSED, Step.POST),
        (State.POSTED, Step.LOOK_UP),
        (State.UNKNOWN, Step.LOOK_UP),
        (State.BOOKED, Step.DONE),
        (State.MARKED, Step.DONE),
        (State.PARTIAL, Step.ATTENTION),
    ],
)
def test_plan(state: State | None, step: Step) -> None:
    assert ledger.plan(None if state is None else row(state), ME, T0) is step


def _post(at: datetime) -> ledger.Post:
    return ledger.Post(at, "1", "80", "LB202503S1-ABCDEF12", "a" * 64, QUIET, proven_absent_at=at)


def test_a_proven_absence_within_the_quiet_period_is_refused() -> None:
    """Absent (look-up only, nothing posted) ends an outstanding post only when AFAS can no
    longer book it: after the quiet period, or when AFAS had answered."""
    fresh = row(State.UNKNOWN, last_post_at=T0 - timedelta(minutes=1))
    with pytest.raises(IllegalTransition, match="may still book"):
        ledger.transition(fresh, ledger.Absent(T0, QUIET))
    answered = row(State.UNKNOWN, last_post_at=T0, afas_finished=True)
    settled = ledger.transition(answered, ledger.Absent(T0, QUIET))
    assert settled.state is State.CLAIMED and not settled.lease_alive(T0)
    assert not ledger.may_be_in_afas(settled, T0)


@pytest.mark.parametrize(
    ("state", "lease", "may"),
    [
        (State.CLAIMED, timedelta(minutes=5), True),  # about to post
        (State.CLAIMED, -timedelta(seconds=1), False),
        (State.POSTED, -timedelta(seconds=1), True),
        (State.UNKNOWN, -timedelta(seconds=1), True),
        (State.BOOKED, -timedelta(seconds=1), True),
        (State.MARKED, -timedelta(seconds=1), True),
        (State.PARTIAL, -timedelta(seconds=1), True),
        (State.REFUSED, -timedelta(seconds=1), False),
    ],
)
def test_what_may_be_in_afas(state: State, lease: timedelta, may: bool) -> None:
    assert ledger.may_be_in_afas(row(state, lease=lease), T0) is may


def test_a_look_up_proves_absence_only_from_the_moment_it_started() -> None:
    """The model-based test's find: a look-up that started inside the quiet period and answered
    after it proves nothing about a post that landed in between."""
    lost = row(State.UNKNOWN, last_post_at=T0 - QUIET + timedelta(seconds=5))
    late_answer = replace(_post(T0 + timedelta(seconds=30)), proven_absent_at=T0)
    with pytest.raises(IllegalTransition, match="may still book"):
        ledger.transition(lost, late_answer)


def test_a_spent_reference_moves_on_to_the_next_generation_with_nothing_outstanding() -> None:
    """SB answered a replay "could not read the request": nothing is outstanding, and the next
    post carries the next generation (a new Tracking-Identifier)."""
    spent = ledger.transition(row(State.UNKNOWN, generation=2), events()["spent"])
    assert (spent.state, spent.generation, spent.state.outstanding) == (State.CLAIMED, 3, False)
