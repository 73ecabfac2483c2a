"""The steps of one journal run, in order, one function each (:func:`book_journal_run` runs
them). Every step is idempotent: a delivery that dies between two steps leaves the ledger and
the run overview in a state the next delivery continues from.

1. :func:`skip_test_year` — a test year is never booked
2. :func:`finish_if_booked` — the ledger says booked: finish what is left (tell Loket), report
3. :func:`read_lines` — read the lines (a run exported by someone else, or empty, stops here)
4. :func:`prepare_entry` — build the entry, pre-check it, keep the audit copy
5. :func:`stop_if_blocked` — blocking findings: failed, with hints; Loket "processing failed"
6. :func:`review_gate` — review mode: prepare the approval item, or book only what was approved
7. :func:`book` — book it at most once (:func:`shared.sync.booking.book_once`)
8. report: the journal-run row and messages, before Loket hears of it (a run Loket calls
   exported is found again only through that row), then Loket "processed", ledger ``marked``

What a step cannot settle it raises (:mod:`shared.failures` says what the job does about it).
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.clients.model import BookingMode
from shared.journal.builder import Draft, EntryT
from shared.journal.entries import ProfitEntry, SbEntry
from shared.journal.findings import Finding, Severity
from shared.journal.models import JournalLine, JournalRun, JournalRunStatus
from shared.loket.client import LoketClient
from shared.runs.model import RunType
from shared.store.approvals import ApprovalItem, ApprovalState, Prepared, WarningNote
from shared.store.run_details import Level
from shared.store.tables import ConcurrencyConflict
from shared.sync import ledger, texts
from shared.sync.audit import fingerprint as wire_fingerprint
from shared.sync.bookers import AfasBooker, AnyBooker, Booked, prepare
from shared.sync.booking import (
    UNREAD,
    BookedElsewhere,
    BookingBusy,
    BookingPartial,
    BookingRefused,
    CannotSettle,
    NotApproved,
    NotBooked,
    Unread,
    book_once,
)
from shared.sync.deps import JobState, WorkerDeps
from shared.sync.ledger import Booking
from shared.sync.outcomes import (
    Recorder,
    fail_on_blocking,
    keep_prepared,
    report_booked,
    report_ledger_booked,
    report_needs_attention,
    report_refused,
    scope_of,
    settle_approval,
)

__all__ = ["book_journal_run", "entry_description"]


def book_journal_run(
    deps: WorkerDeps,
    loket: LoketClient,
    target: AnyBooker,
    state: JobState,
    journal_run: JournalRun,
) -> None:
    record = Recorder(deps, state, target, journal_run)
    if skip_test_year(record):
        return
    booking = deps.bookings.get(target.key, journal_run.id)
    if finish_if_booked(deps, loket, state, record, booking):
        return
    if ledger.plan(booking, state.holder, deps.clock()) is ledger.Step.BUSY:
        raise BookingBusy(f"journal run {journal_run.id} is being booked by another holder")
    lines = read_lines(deps, loket, state, record, booking)
    if lines is None:
        return
    draft, findings = prepare_entry(deps, target, state, journal_run, lines)
    if any(f.blocks for f in findings) and settle_outstanding(
        deps, loket, state, record, draft, findings
    ):
        return
    if stop_if_blocked(loket, record, findings):
        return
    warnings = [f for f in findings if not f.blocks]
    approved: str | None = None
    if state.config.mode is BookingMode.REVIEW and deps.approvals is not None:
        approved = review_gate(deps, state, record, draft, warnings)
        if approved is None:
            return
    book(deps, loket, state, record, draft, warnings, approved, booking)


def skip_test_year(record: Recorder) -> bool:
    if not record.journal_run.period.test_year:
        return False
    record.skipped(texts.TEST_YEAR.text, code="test-year", hint=texts.TEST_YEAR.hint)
    return True


def finish_if_booked(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    booking: Booking | None,
) -> bool:
    """The ledger says booked: report it, tell Loket if that was left undone, never post."""
    if booking is None or not booking.state.booked:
        return False
    report_ledger_booked(deps, loket, state, record, booking)
    settle_approval(deps, state.config, booking, record.journal_run.id)
    return True


def read_lines(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    booking: Booking | None,
) -> list[JournalLine] | None:
    """The journal run's lines, or None when there is nothing to book (reported)."""
    journal_run = record.journal_run
    exported_elsewhere = (
        state.run.type is RunType.RERUN
        and journal_run.status is JournalRunStatus.EXPORTED
        and booking is None
    )
    lines = list(loket.iter_journal_run_lines(journal_run.id))
    deps.checkpoint("read")
    if exported_elsewhere and lines:
        why = texts.EXPORTED_ELSEWHERE
        record.skipped(why.text, code="exported-elsewhere", hint=why.hint)
        return None
    if not lines:
        # Ready but empty: nothing to book. Recorded first (once Loket says exported, only the
        # row finds it again), then Loket is told it is dealt with, or it returns every night.
        record.skipped(texts.NO_LINES.text, code="no-lines", hint=texts.NO_LINES.hint)
        if not exported_elsewhere:
            loket.mark_processed(journal_run.id, texts.LOKET_NO_LINES)
        return None
    return lines


def prepare_entry(
    deps: WorkerDeps,
    target: AfasBooker[EntryT],
    state: JobState,
    journal_run: JournalRun,
    lines: Sequence[JournalLine],
) -> tuple[Draft[EntryT], list[Finding]]:
    draft, findings = prepare(target, state.config, journal_run, lines)
    deps.checkpoint("prechecked")
    scope = scope_of(state, journal_run)
    keep_prepared(deps, scope, state.config, journal_run, lines, draft, findings)
    return draft, findings


def settle_outstanding(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    draft: Draft[EntryT],
    findings: list[Finding],
) -> bool:
    """Before a pre-check that now blocks fails the run: a post of it may be outstanding (the
    period was closed after the entry landed). Look it up, never post. True when that settled
    the run (booked, or AFAS's own refusal, or an outcome that cannot be settled now: each
    reported); False when nothing is outstanding (the blocking findings decide)."""
    scope = scope_of(state, record.journal_run)
    try:
        booked, booking = book_once(
            deps.bookings,
            deps.clock,
            record.target,
            draft,
            record.journal_run.id,
            state.holder,
            look_up_only=True,
            policy=deps.booking,
        )
    except NotBooked:
        return False
    except BookingRefused as refused:  # SB's replayed answer
        warnings = [f for f in findings if not f.blocks]
        report_refused(deps, loket, record, scope, record.journal_run, refused.error, warnings)
        return True
    except BookingPartial as partial:
        why = texts.partially_booked(partial.detail)
        report_needs_attention(deps, record, scope, "afas-partial", why.text, why.hint)
        return True
    except CannotSettle as unsettled:
        # A post is out and the entry changed since: not sent, not failed in Loket (AFAS may
        # hold the first one); the run says so, and comes back every night until it is settled.
        why = texts.outstanding_unsettled(unsettled.reference)
        record.failed([*findings, Finding("outcome-unknown", Severity.ERROR, why.text, why.hint)])
        return True
    report_booking(deps, loket, state, record, booking, booked, [])
    return True


def stop_if_blocked(loket: LoketClient, record: Recorder, findings: list[Finding]) -> bool:
    return fail_on_blocking(loket, record, record.journal_run, findings) is not None


def review_gate(
    deps: WorkerDeps,
    state: JobState,
    record: Recorder,
    draft: Draft[EntryT],
    warnings: list[Finding],
) -> str | None:
    """Review mode: prepare (or refresh) the approval item and stop, unless an admin approved
    it: then answer the fingerprint that was approved (the only entry that may be booked)."""
    assert deps.approvals is not None
    prepared = prepared_item(state, record.target, record.journal_run, draft, warnings)
    try:
        item = deps.approvals.prepare(prepared, now=deps.clock())
    except ConcurrencyConflict as exc:
        raise BookingBusy("approval item changed while preparing it") from exc
    if item.state in (ApprovalState.PENDING, ApprovalState.FAILED):
        record.awaiting(item.approval_id, warnings)
        return None
    if item.state is ApprovalState.REJECTED:
        why = texts.rejected(item.decided_by or "een beheerder", item.reason)
        record.skipped(why.text, code="rejected", hint=why.hint)
        return None
    return item.prepared.fingerprint  # approving / approved: the admin said yes to this one


def book(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    draft: Draft[EntryT],
    warnings: list[Finding],
    approved: str | None,
    known: Booking | Unread | None = UNREAD,
) -> None:
    """``known``: the ledger row read at the start of this journal run (not read again)."""
    target, journal_run = record.target, record.journal_run
    scope = scope_of(state, journal_run)
    try:
        booked, booking = book_once(
            deps.bookings,
            deps.clock,
            target,
            draft,
            journal_run.id,
            state.holder,
            approved=approved,
            policy=deps.booking,
            known=known,
        )
    except BookingRefused as refused:
        report_refused(deps, loket, record, scope, journal_run, refused.error, warnings)
        return
    except BookingPartial as partial:
        why = texts.partially_booked(partial.detail)
        report_needs_attention(deps, record, scope, "afas-partial", why.text, why.hint)
        return
    except NotApproved:
        reopen_approval(deps, state, record, draft, warnings)
        return
    except BookedElsewhere as elsewhere:
        why = booked_elsewhere_text(elsewhere, state)
        finding = Finding("booked-elsewhere", Severity.ERROR, why.text, why.hint)
        record.failed([*warnings, finding])  # Loket is not told: it is (or may be) booked
        return
    report_booking(deps, loket, state, record, booking, booked, warnings)


def report_booking(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    booking: Booking,
    booked: Booked,
    warnings: list[Finding],
) -> None:
    """What :func:`book_once` answered, in the run overview (and then Loket)."""
    if booking.holder != state.holder:
        # Booked meanwhile by another holder (a client sharing the administration, another run,
        # an approval): theirs to report as imported; this job reports it as already booked.
        finish_if_booked(deps, loket, state, record, booking)
        return
    deps.checkpoint("booked")
    scope = scope_of(state, record.journal_run)
    report_booked(
        deps, loket, record.target, record, scope, record.journal_run, booking, booked, warnings
    )
    settle_approval(deps, state.config, booking, record.journal_run.id)


def booked_elsewhere_text(elsewhere: BookedElsewhere, state: JobState) -> texts.Text:
    """Name the other administration only to its own office."""
    row = elsewhere.row
    if row is None:  # only the other's fresh note: nothing is booked there (yet)
        return texts.being_booked_elsewhere()
    mine = row is not None and row.holder.office_id == state.job.office_id
    where = elsewhere.target.split("|", 1)[-1].replace("|", " / ") if mine else None
    return texts.booked_elsewhere(where, row.reference if mine else "")


def reopen_approval(
    deps: WorkerDeps,
    state: JobState,
    record: Recorder,
    draft: Draft[EntryT],
    warnings: list[Finding],
) -> None:
    """The entry changed after an admin approved it, before it was booked: nothing was sent; the
    item goes back to pending with the new entry, and says why."""
    assert deps.approvals is not None
    prepared = prepared_item(state, record.target, record.journal_run, draft, warnings)
    item: ApprovalItem | None = deps.approvals.get(state.job.office_id, prepared.approval_id)
    if item is not None and item.state is ApprovalState.APPROVING:
        try:
            item = deps.approvals.reopen(item, prepared, now=deps.clock())
        except ConcurrencyConflict as exc:
            raise BookingBusy("approval item changed while reopening it") from exc
    record.say(
        Level.WARNING,
        "changed-since-approval",
        texts.CHANGED_SINCE_APPROVAL.text,
        texts.CHANGED_SINCE_APPROVAL.hint,
    )
    record.awaiting(prepared.approval_id, warnings)


def prepared_item(
    state: JobState,
    target: AfasBooker[EntryT],
    journal_run: JournalRun,
    draft: Draft[EntryT],
    warnings: Sequence[Finding],
) -> Prepared:
    entry = draft.entry
    return Prepared(
        office_id=state.job.office_id,
        client_id=state.config.client_id,
        target_key=target.key,
        target_label=target.label,
        environment=target.environment,
        loket_journal_run_id=journal_run.id,
        payroll_run_id=journal_run.payroll_run_id,
        payroll_period=journal_run.period.label,
        sequence_number=journal_run.sequence_number,
        run_id=state.job.run_id,
        reference=target.reference(draft, journal_run.id, 0),
        fingerprint=wire_fingerprint(entry),
        total_debit=entry.total_debit,
        total_credit=entry.total_credit,
        line_count=len(entry.lines),
        description=entry_description(entry),
        warnings=tuple(WarningNote(f.code, f.text, f.hint) for f in warnings),
    )


def entry_description(entry: ProfitEntry | SbEntry) -> str:
    """The entry's own description (not its first line's, which adds an account name)."""
    return entry.description
