"""Review mode: an admin approves (books, exactly once) or rejects a prepared journal run.

Approve re-reads the journal run from Loket and builds the entry exactly as the worker does; it
books only when the entry is byte-for-byte the one that was prepared (the fingerprint of its wire
JSON), so what gets booked is what the admin saw. If Loket's lines (or the mapping, or the AFAS
facts) changed since, the item is refreshed to the new entry and stays pending (409): the admin
looks again. The booking itself goes through :func:`shared.sync.booking.book_once`, the same
ledger claim and exactly-once client path the nightly uses; afterwards Loket is told (processed),
and the outcome lands on the journal-run row of the run that prepared the item, with messages.

Approve twice, or approve racing reject: the item moves ``pending -> approving`` (or
``-> rejected``) with an ETag condition, so exactly one of them wins; the loser gets 409. Even a
second booking attempt would meet the ledger claim first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from shared.afas.errors import Disposition
from shared.failures import Failure, classify
from shared.journal.builder import Draft, EntryT
from shared.journal.findings import Finding
from shared.journal.models import JournalRunStatus, shown_period
from shared.loket.client import LoketClient
from shared.loket.errors import LoketError
from shared.oauth.tokens import ConsentRequired, NotConnected
from shared.store.approvals import ApprovalItem, ApprovalState, WarningNote
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, Level, RunMessage
from shared.store.tables import ConcurrencyConflict
from shared.sync import texts
from shared.sync.audit import AuditScope
from shared.sync.audit import fingerprint as audit_fingerprint
from shared.sync.bookers import AfasBooker, Booked, prepare
from shared.sync.booking import (
    BookingPartial,
    BookingRefused,
    CannotSettle,
    NotApproved,
    NotBooked,
    book_once,
)
from shared.sync.deps import JobState, ReviewDeps
from shared.sync.ledger import Booking, Holder
from shared.sync.messages import SyncJob
from shared.sync.outcomes import (
    Recorder,
    fail_on_blocking,
    keep_prepared,
    report_booked,
    report_ledger_booked,
    report_needs_attention,
    report_refused,
)

log = logging.getLogger("loonbrug.review")

APPROVAL_LEASE = timedelta(minutes=10)
BOOKABLE = frozenset({JournalRunStatus.READY, JournalRunStatus.EXPORT_FAILED})


class ReviewProblem(Exception):
    """Why an approval or rejection did not happen. ``kind``: not-found, conflict, changed,
    precondition, unavailable, consent. ``dutch``: for the problem detail."""

    def __init__(self, kind: str, dutch: str, hint: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.dutch = dutch
        self.hint = hint


@dataclass(frozen=True)
class Decision:
    item: ApprovalItem
    marked_in_loket: bool = False


def _take(deps: ReviewDeps, office_id: str, approval: str, if_match: str | None) -> ApprovalItem:
    assert deps.approvals is not None
    item = deps.approvals.get(office_id, approval)
    if item is None:
        raise ReviewProblem(
            "not-found", "Dit goedkeuringsitem bestaat niet (of hoort niet bij uw kantoor)."
        )
    if if_match and if_match.strip('"W/') != item.etag.strip('"W/'):
        raise ReviewProblem(
            "precondition",
            "Het item is gewijzigd sinds u het opvroeg. Vernieuw de lijst en beoordeel het opnieuw.",
        )
    now = deps.clock()
    taking_over = (
        item.state is ApprovalState.APPROVING
        and item.lease_until is not None
        and item.lease_until <= now
    )
    if item.state is not ApprovalState.PENDING and not taking_over:
        raise ReviewProblem("conflict", _state_text(item))
    return item


def _state_text(item: ApprovalItem) -> str:
    who = item.decided_by or "een beheerder"
    return {
        ApprovalState.APPROVING: f"Dit item wordt op dit moment goedgekeurd en geboekt door {who}.",
        ApprovalState.APPROVED: f"Dit item is al goedgekeurd door {who} en geboekt"
        + (f" (journaalpost {item.entry_number})." if item.entry_number else "."),
        ApprovalState.REJECTED: f"Dit item is al afgewezen door {who}: {item.reason}",
        ApprovalState.FAILED: "Het boeken van dit item is mislukt; de volgende nachtelijke run "
        "bereidt het opnieuw voor.",
        ApprovalState.PENDING: "Dit item wacht op goedkeuring.",
    }[item.state]


def approve(
    deps: ReviewDeps, office_id: str, approval: str, *, user: str, if_match: str | None = None
) -> Decision:
    assert deps.approvals is not None
    item = _take(deps, office_id, approval, if_match)
    now = deps.clock()
    try:
        item = deps.approvals.move(
            item,
            ApprovalState.APPROVING,
            decided_by=user,
            decided_at=now,
            lease_until=now + APPROVAL_LEASE,
        )
    except ConcurrencyConflict:
        current = deps.approvals.get(office_id, approval)
        raise ReviewProblem("conflict", _state_text(current) if current else "Conflict.") from None
    before = _row_status(deps, item)
    try:
        return _book(deps, item, user)
    except ReviewProblem as problem:
        if problem.kind in ("changed", "conflict", "consent") and not _post_out(deps, item):
            _back_to_pending(deps, item)
        raise
    finally:
        _count_decision(deps, item, before)


def _row_status(deps: ReviewDeps, item: ApprovalItem) -> JournalRunOutcome | None:
    """The status of the item's journal-run row in the run that prepared it."""
    p = item.prepared
    for record in deps.details.records_for_client(p.office_id, p.run_id, p.client_id):
        if record.loket_journal_run_id == p.loket_journal_run_id:
            return record.status
    return None


DECIDED = frozenset(
    {
        JournalRunOutcome.IMPORTED,
        JournalRunOutcome.FAILED,
        JournalRunOutcome.REJECTED,
        JournalRunOutcome.SKIPPED,  # already booked by another job (see _report)
    }
)


def _count_decision(deps: ReviewDeps, item: ApprovalItem, before: JournalRunOutcome | None) -> None:
    """The run's loonrun counts follow a decision: the row went from awaiting to decided. (A
    crash between the row and this count leaves the run's list count one loonrun behind; the
    run detail counts the rows themselves.)"""
    if before is not JournalRunOutcome.AWAITING_APPROVAL:
        return
    after = _row_status(deps, item)
    if after in DECIDED:
        assert after is not None
        deps.runs.count_decision(item.prepared.office_id, item.prepared.run_id, after.value)


def _post_out(deps: ReviewDeps, item: ApprovalItem) -> bool:
    """A post of the item's journal run is outstanding or booked: the item may no longer go
    back to pending or be rejected (the next nightly settles it with the approved entry)."""
    p = item.prepared
    row = deps.bookings.get(p.target_key, p.loket_journal_run_id)
    return row is not None and (row.state.outstanding or row.state.booked)


def _back_to_pending(deps: ReviewDeps, item: ApprovalItem) -> None:
    assert deps.approvals is not None
    current = deps.approvals.get(item.prepared.office_id, item.approval_id)
    if current is None or current.state is not ApprovalState.APPROVING:
        return
    try:
        deps.approvals.move(
            current, ApprovalState.PENDING, decided_by="", decided_at="", lease_until=""
        )
    except ConcurrencyConflict:
        pass


def _book(deps: ReviewDeps, item: ApprovalItem, user: str) -> Decision:
    assert deps.approvals is not None
    p = item.prepared
    config = deps.clients.get(p.office_id, p.client_id)
    if config is None:
        raise ReviewProblem("conflict", f"Client {p.client_id} bestaat niet meer.")
    run = deps.runs.get(p.office_id, p.run_id)
    if run is None:
        raise ReviewProblem("conflict", f"De run {p.run_id} van dit item bestaat niet meer.")
    try:
        target = deps.target(config)
        if target.key != p.target_key:
            raise ReviewProblem(
                "conflict",
                "De AFAS-administratie van deze client is gewijzigd sinds de voorbereiding.",
                "De volgende nachtelijke run bereidt de journaalpost voor de nieuwe administratie voor.",
            )
        with deps.loket(p.office_id) as loket:
            journal_run = loket.get_journal_run(
                p.loket_journal_run_id, administration_id=config.loket_administration_id
            )
            booking = deps.bookings.get(target.key, journal_run.id)
            if journal_run.status not in BOOKABLE and not (booking and booking.state.booked):
                raise ReviewProblem(
                    "conflict",
                    f"De journaalrun staat in Loket op '{journal_run.status.dutch}' en kan niet "
                    "meer worden geboekt.",
                )
            lines = list(loket.iter_journal_run_lines(journal_run.id))
            draft, findings = prepare(target, config, journal_run, lines)
            state = JobState(SyncJob(p.office_id, p.run_id, p.client_id), run, config)
            record = Recorder(deps, state, target, journal_run)
            scope = AuditScope(p.office_id, p.run_id, journal_run.id, p.client_id)
            holder = Holder.approval(p.office_id, p.client_id, item.approval_id)
            if (
                booking is not None
                and booking.state.booked
                and booking.holder != holder
                and booking.fingerprint
                and booking.fingerprint != p.fingerprint
                and audit_fingerprint(draft.entry) != booking.fingerprint
            ):
                # Booked by another job as an entry that is neither this item's nor today's:
                # the admin cannot be shown what AFAS holds, so nothing is approved.
                return _booked_as_another_entry(deps, loket, state, record, item, booking)
            blocked = any(f.blocks for f in findings)
            try:
                settled = blocked and _settled_before(deps, target, draft, journal_run.id, holder)
            except BookingRefused as refused:  # SB's replayed answer: nothing was booked
                warnings = [f for f in findings if not f.blocks]
                error = refused.error
                report_refused(deps, loket, record, scope, journal_run, error, warnings)
                return Decision(_finish(deps, item, ApprovalState.FAILED, reason=error.detail))
            except BookingPartial as partial:
                why = texts.partially_booked(partial.detail)
                report_needs_attention(deps, record, scope, "afas-partial", why.text, why.hint)
                return Decision(_finish(deps, item, ApprovalState.FAILED, reason=why.text))
            except CannotSettle as unsettled:
                why = texts.outstanding_unsettled(unsettled.reference)
                raise ReviewProblem("conflict", why.text, why.hint) from None
            if settled:
                # An earlier approval's post is in AFAS after all: booked, not failed.
                booking = deps.bookings.get(target.key, journal_run.id)
                assert booking is not None
                booked = Booked(booking.entry_number, booking.reference, recovered=True)
                _report(deps, loket, state, record, scope, booking, booked, [], holder, user)
                done = _finish(
                    deps,
                    item,
                    ApprovalState.APPROVED,
                    entry_number=booked.entry_number,
                    marked_in_loket=True,
                )
                return Decision(done, marked_in_loket=True)
            summary = fail_on_blocking(loket, record, journal_run, findings)
            if summary is not None:
                return Decision(_finish(deps, item, ApprovalState.FAILED, reason=summary))
            if audit_fingerprint(draft.entry) != p.fingerprint:
                keep_prepared(deps, scope, config, journal_run, lines, draft, findings)
                _refresh(deps, item, draft, findings)
                raise ReviewProblem(
                    "changed",
                    "De journaalpost is gewijzigd sinds de voorbereiding (andere regels in Loket "
                    "of een gewijzigde koppeling). Het item is bijgewerkt; bekijk het opnieuw.",
                )
            warnings = [f for f in findings if not f.blocks]
            try:
                booked, booking = book_once(
                    deps.bookings,
                    deps.clock,
                    target,
                    draft,
                    journal_run.id,
                    holder,
                    approved=p.fingerprint,
                    policy=deps.booking,
                )
            except NotApproved:
                raise ReviewProblem("changed", texts.CHANGED_SINCE_APPROVAL.text) from None
            except BookingRefused as refused:
                error = refused.error
                report_refused(deps, loket, record, scope, journal_run, error, warnings)
                return Decision(_finish(deps, item, ApprovalState.FAILED, reason=error.detail))
            except BookingPartial as partial:
                why = texts.partially_booked(partial.detail)
                report_needs_attention(deps, record, scope, "afas-partial", why.text, why.hint)
                return Decision(_finish(deps, item, ApprovalState.FAILED, reason=why.text))
            if booking.holder != holder and booking.fingerprint not in ("", p.fingerprint):
                # Booked meanwhile by another job as another entry (a race with the above).
                return _booked_as_another_entry(deps, loket, state, record, item, booking)
            _report(deps, loket, state, record, scope, booking, booked, warnings, holder, user)
            done = _finish(
                deps,
                item,
                ApprovalState.APPROVED,
                entry_number=booked.entry_number,
                marked_in_loket=True,
            )
            return Decision(done, marked_in_loket=True)
    except ReviewProblem:
        raise
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        raise _problem(item, exc, failure) from None


def _booked_as_another_entry(
    deps: ReviewDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    item: ApprovalItem,
    booking: Booking,
) -> Decision:
    """The journal run was booked by another job (the nightly of a client switched out of review
    mode) as an entry that is not the item's, and the mapping changed since: the item fails and
    says why (never "approved" as an entry AFAS does not hold); the item's run says already
    booked."""
    report_ledger_booked(deps, loket, state, record, booking)
    why = (
        f"Deze journaalrun is al geboekt (journaalpost {booking.entry_number}), met een andere "
        "journaalpost dan dit item toont (de koppeling is gewijzigd sinds die boeking); er is "
        "niets goedgekeurd en niets opnieuw geboekt."
    )
    return Decision(_finish(deps, item, ApprovalState.FAILED, reason=why))


def _report(
    deps: ReviewDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    scope: AuditScope,
    booking: Booking,
    booked: Booked,
    warnings: list[Finding],
    holder: Holder,
    user: str,
) -> None:
    """The approval's booking in the run overview. Booked by another holder (the nightly of a
    client switched out of review mode, or one carrying out this approval): that job reports it
    as imported in its run, so the run of this item says already booked (a journal run is
    imported in one run only), and Loket is told if that was left undone."""
    journal_run = record.journal_run
    if booking.holder == holder:
        report_booked(
            deps, loket, record.target, record, scope, journal_run, booking, booked, warnings,
            approved_by=user,
        )  # fmt: skip
        return
    report_ledger_booked(deps, loket, state, record, booking)


def _problem(item: ApprovalItem, exc: Exception, failure: Failure) -> ReviewProblem:
    """The one classification of failures, in the words of an approval."""
    if failure.disposition is Disposition.RECONSENT:
        return ReviewProblem(
            "consent", failure.dutch, "Koppel opnieuw via Koppelingen en keur daarna opnieuw goed."
        )
    if failure.transient or failure.disposition is Disposition.RETRY_LATER:
        log.warning("approval %s interrupted: %s", item.approval_id, type(exc).__name__)
        return ReviewProblem(
            "unavailable",
            "Loket of AFAS is tijdelijk niet bereikbaar of gaf geen zeker antwoord. Probeer het "
            "over een paar minuten opnieuw; er wordt nooit twee keer geboekt.",
        )
    return ReviewProblem("conflict", failure.dutch, failure.hint)


def _settled_before(
    deps: ReviewDeps,
    target: AfasBooker[EntryT],
    draft: Draft[EntryT],
    loket_journal_run_id: str,
    holder: Holder,
) -> bool:
    """A post of this journal run may be outstanding: look it up (never post). True when AFAS
    holds it (the ledger now says booked)."""
    try:
        book_once(
            deps.bookings,
            deps.clock,
            target,
            draft,
            loket_journal_run_id,
            holder,
            look_up_only=True,
            policy=deps.booking,
        )
    except NotBooked:
        return False
    return True


def _refresh(
    deps: ReviewDeps,
    item: ApprovalItem,
    draft: Draft[EntryT],
    findings: list[Finding],
) -> None:
    """Put the newly built entry on the item and make it pending again (the admin re-reviews)."""
    assert deps.approvals is not None
    _back_to_pending(deps, item)
    entry = draft.entry
    prepared = replace(
        item.prepared,
        fingerprint=audit_fingerprint(entry),
        total_debit=entry.total_debit,
        total_credit=entry.total_credit,
        line_count=len(entry.lines),
        warnings=tuple(WarningNote(f.code, f.text, f.hint) for f in findings if not f.blocks),
    )
    try:
        deps.approvals.prepare(prepared, now=deps.clock())
    except ConcurrencyConflict:
        pass


def _finish(
    deps: ReviewDeps, item: ApprovalItem, state: ApprovalState, **fields: object
) -> ApprovalItem:
    assert deps.approvals is not None
    current = deps.approvals.get(item.prepared.office_id, item.approval_id) or item
    try:
        return deps.approvals.move(current, state, lease_until="", **fields)
    except ConcurrencyConflict:
        return deps.approvals.get(item.prepared.office_id, item.approval_id) or item


def reject(
    deps: ReviewDeps,
    office_id: str,
    approval: str,
    *,
    user: str,
    reason: str,
    mark_failed: bool,
    if_match: str | None = None,
) -> Decision:
    assert deps.approvals is not None
    item = _take(deps, office_id, approval, if_match)
    if item.state is not ApprovalState.PENDING:
        raise ReviewProblem("conflict", _state_text(item))
    if _post_out(deps, item):
        raise ReviewProblem(
            "conflict",
            "Deze journaalrun is al naar AFAS verstuurd (na een eerdere goedkeuring) en kan niet "
            "meer worden afgewezen: Loonbrug zoekt de boeking op en maakt haar af.",
            "Controleer de journaalpost na de volgende nachtelijke run in AFAS.",
        )
    now = deps.clock()
    try:
        item = deps.approvals.move(
            item, ApprovalState.REJECTED, decided_by=user, decided_at=now, reason=reason[:1000]
        )
    except ConcurrencyConflict:
        current = deps.approvals.get(office_id, approval)
        raise ReviewProblem("conflict", _state_text(current) if current else "Conflict.") from None
    p = item.prepared
    before = _row_status(deps, item)
    marked = False
    if mark_failed:
        try:
            with deps.loket(office_id) as loket:
                loket.mark_processing_failed(
                    p.loket_journal_run_id, f"Afgewezen in Loonbrug door {user}: {reason}"[:1000]
                )
            marked = True
            item = deps.approvals.move(item, ApprovalState.REJECTED, marked_in_loket=True)
        except (ConsentRequired, NotConnected, LoketError) as exc:
            log.warning("rejection %s not marked in Loket: %s", approval, type(exc).__name__)
    _record_rejection(deps, item, user, reason, marked)
    _count_decision(deps, item, before)
    return Decision(item, marked_in_loket=marked)


def _record_rejection(
    deps: ReviewDeps, item: ApprovalItem, user: str, reason: str, marked: bool
) -> None:
    p = item.prepared
    note = f"Afgewezen door {user}: {reason}"
    deps.details.record(
        p.office_id,
        p.run_id,
        JournalRunRecord(
            client_id=p.client_id,
            loket_journal_run_id=p.loket_journal_run_id,
            payroll_run_id=p.payroll_run_id,
            payroll_period=p.payroll_period,
            sequence_number=p.sequence_number,
            status=JournalRunOutcome.REJECTED,
            environment=p.environment,
            reference=p.reference,
            note=note,
        ),
    )
    in_loket = (
        " In Loket staat de journaalrun nu op 'Exporteren mislukt'."
        if marked
        else " Loket is niet bijgewerkt."
    )
    deps.details.message(
        p.office_id,
        p.run_id,
        RunMessage(
            at=deps.clock(),
            level=Level.WARNING,
            text=f"Journaalpost van periode {shown_period(p.payroll_period)} (volgnr. {p.sequence_number}) "
            f"afgewezen door {user}: {reason}.{in_loket}",
            hint="Deze journaalrun wordt niet geboekt. Een nieuwe journaalrun in Loket wordt "
            "opnieuw ter goedkeuring voorbereid.",
            client_id=p.client_id,
            loket_journal_run_id=p.loket_journal_run_id,
            code="rejected",
        ),
        key=f"{p.loket_journal_run_id}|rejected",
    )
