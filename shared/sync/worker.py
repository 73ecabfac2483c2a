"""The sync worker: one queue message = one client in one run. Every step is idempotent.

For each journal run to consider (nightly: ready or export-failed; rerun: payroll approved in the
window), in sequence order:

1. test year -> skipped (never booked)
2. booking ledger says booked -> finish what is left (tell Loket) and report it, never post again
3. read the lines, build the entry, pre-check against the ledger facts
4. blocking findings -> failed: messages with hints, Loket marked "processing failed"
5. claim the run in the booking ledger (one conditional insert, with a lease)
6. post through the exactly-once client (Profit: voucher check when the outcome is unknown or a
   claim is recovered; SB: the Tracking-Identifier), ledger -> booked with the entry number
7. a journal-run row and messages for the run overview (before Loket hears of it: a run Loket
   calls exported is found again only through this row)
8. mark processed in Loket, ledger -> marked

A worker killed between any two steps leaves a ledger row that the next delivery continues from;
two workers on the same job meet at the ledger claim (the second finds a live lease and lets the
message be retried later). Transient failures raise, so the queue redelivers (host.json
``visibilityTimeout`` / ``maxDequeueCount``); definitive ones are recorded and the message
completes.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from shared import telemetry
from shared.afas.errors import AfasError, AfasRetriableError
from shared.clients.model import BookingMode, ClientConfig
from shared.clock import to_amsterdam
from shared.journal.builder import Draft
from shared.journal.entries import ProfitEntry, SbEntry
from shared.journal.findings import Finding, Severity
from shared.journal.models import JournalLine, JournalRun, JournalRunStatus
from shared.loket.client import LoketClient
from shared.loket.errors import LoketAuthError, LoketContractError, LoketError, LoketRetriableError
from shared.oauth.tokens import ConsentRequired, NotConnected
from shared.store.approvals import (
    ApprovalRepository,
    ApprovalState,
    Prepared,
    WarningNote,
    approval_id,
)
from shared.store.audit import AuditStore
from shared.store.bookings import Booking, BookingLedger, BookingState
from shared.store.clients import ClientRepository
from shared.store.run_details import (
    JournalRunOutcome,
    JournalRunRecord,
    Level,
    RunDetailRepository,
    RunMessage,
)
from shared.store.runs import Job, JobOutcome, Run, RunRepository, RunStatus, RunType
from shared.store.tables import ConcurrencyConflict
from shared.sync.audit import AuditScope, record_answer, record_prepared
from shared.sync.audit import fingerprint as audit_fingerprint
from shared.sync.booking import (
    CLAIM_LEASE,
    BookingBusy,
    BookingRefused,
    Claimant,
    book_once,
    in_flight_elsewhere,
    tell_loket_booked,
)
from shared.sync.messages import SyncJob
from shared.sync.targets import Booked, Target, prepare
from shared.telemetry import Event

if TYPE_CHECKING:
    from shared.notify.service import Notifier

log = logging.getLogger("loonbrug.sync")

__all__ = ["CLAIM_LEASE", "RetryLater", "WorkerDeps", "fail_exhausted", "process"]
NIGHTLY_STATUSES = frozenset({JournalRunStatus.READY, JournalRunStatus.EXPORT_FAILED})


class RetryLater(Exception):
    """Something transient: let the queue deliver the message again. ``dutch`` says what, for
    the message the user sees if the retries run out."""

    def __init__(self, english: str, dutch: str, *, defer: float | None = None) -> None:
        super().__init__(english)
        self.dutch = dutch
        self.defer = defer  # seconds: come back then with a fresh message (no retry spent)


BUSY = "een andere verwerking was tegelijk met dezelfde journaalrun bezig"
# How long a delivery holds its job: host.json functionTimeout (10 minutes) and a margin, so a
# live delivery never loses the job to a duplicate message; a dead one's own message (same id)
# takes it over at once.
JOB_LEASE = timedelta(minutes=11)
# A job waiting out AFAS's quiet period (an unanswered Profit post) is deferred, not retried, at
# most this many deliveries in all; after that its retries run out as usual (a visible failure).
MAX_DEFERRED_ATTEMPTS = 10
START_TRIES = 3  # reads of a job row that changed while a delivery tried to take it


@dataclass
class WorkerDeps:
    runs: RunRepository
    details: RunDetailRepository
    clients: ClientRepository
    bookings: BookingLedger
    loket: Callable[[str], AbstractContextManager[LoketClient]]  # office -> client
    target: Callable[[ClientConfig], Target]
    clock: Callable[[], datetime]
    audit: AuditStore | None = None  # the audit copy of every journal run (Blob Storage)
    approvals: ApprovalRepository | None = None  # review mode; None books as automatic
    notifier: Notifier | None = None  # e-mail notifications; None sends none
    # Send the job again, visible after the given delay (seconds); None: plain queue retries.
    defer: Callable[[SyncJob, float], None] | None = None
    # Fault-injection seam: called after each step of a journal run ("listed", "read",
    # "prechecked", "booked", "recorded", "marked"). Production passes nothing; the fault matrix
    # (tests/faults) raises here to kill the worker between two steps.
    checkpoint: Callable[[str], None] = field(default=lambda step: None)


@dataclass
class JobState:
    """What one delivery of one job has done so far (counts, for the run)."""

    job: SyncJob
    run: Run
    config: ClientConfig
    dequeue_count: int = 1  # which delivery of the job this is (of any of its messages)
    # Loket journal runs this run already recorded for this client (an earlier delivery).
    recorded: frozenset[str] = frozenset()
    counts: Counter[JournalRunOutcome] = field(default_factory=Counter)

    def may_take_over(self, booking: Booking) -> bool:
        """A redelivery of the same job may continue the claim its dead predecessor left."""
        return self.dequeue_count > 1 and booking.run_id == self.job.run_id


def process(deps: WorkerDeps, job: SyncJob, *, dequeue_count: int, message_id: str = "") -> None:
    """Handle one delivery of a sync job. Raises to have the message delivered again.

    ``message_id`` is the queue message's id (the same on every delivery of that message): a
    redelivery of the message whose delivery died holding the job may take it over at once."""
    with telemetry.job_context(office_id=job.office_id, client_id=job.client_id, run_id=job.run_id):
        _process(deps, job, dequeue_count, message_id or f"delivery-{uuid.uuid4().hex}")


def _process(deps: WorkerDeps, job: SyncJob, dequeue_count: int, holder: str) -> None:
    stored = deps.runs.get_job(job.office_id, job.run_id, job.client_id)
    run = deps.runs.get(job.office_id, job.run_id)
    if stored is None or run is None:
        log.error("sync job %s/%s has no job row; dropping it", job.run_id, job.client_id)
        return
    started = _start(deps, job, stored, holder)
    if started is None:
        return
    stored = started
    try:
        # A later delivery of the job: a redelivered message, or a fresh (deferred) one after an
        # earlier attempt. The job lease makes it the only one working on the job.
        outcome = _sync_client(deps, job, run, max(dequeue_count, stored.attempts))
    except RetryLater as exc:
        deps.runs.note_job_error(stored, exc.dutch, now=deps.clock())  # releases the job
        deferrable = exc.defer is not None and stored.attempts < MAX_DEFERRED_ATTEMPTS
        if deferrable and deps.defer is not None and exc.defer is not None:
            log.warning(
                "sync job %s/%s deferred %.0f s: %s", job.run_id, job.client_id, exc.defer, exc
            )
            deps.defer(job, exc.defer)
            return  # this message is done; the deferred one carries the job on
        log.warning("sync job %s/%s will be retried: %s", job.run_id, job.client_id, exc)
        raise
    _finish(deps, job, outcome)


def _start(deps: WorkerDeps, job: SyncJob, stored: Job, holder: str) -> Job | None:
    """Take the job for this delivery, or None when there is nothing for it to do.

    The job row also changes under other writers (the planner marks it enqueued right after
    sending the message), so a conflicting write is read again and decided anew, never taken
    as "someone else has it": dropping the message then would lose the job."""
    for _ in range(START_TRIES):
        if stored.status.finished:
            log.info("sync job %s/%s already finished (redelivery)", job.run_id, job.client_id)
            return None
        now = deps.clock()
        if stored.held_by_other(holder, now):
            # A duplicate message of a job another delivery is working on: that delivery
            # finishes the job (or, if it dies, its own message comes back and takes over). Two
            # deliveries of one job at once would each count only what they saw.
            log.info(
                "sync job %s/%s is being worked on; duplicate dropped", job.run_id, job.client_id
            )
            return None
        try:
            return deps.runs.start_job(stored, now=now, holder=holder, lease_until=now + JOB_LEASE)
        except ConcurrencyConflict:
            again = deps.runs.get_job(job.office_id, job.run_id, job.client_id)
            if again is None:
                return None
            stored = again
    # Still changing under us: let the queue deliver the message again.
    raise RetryLater(f"job row of {job.run_id}/{job.client_id} kept changing", BUSY)


def _finish(deps: WorkerDeps, job: SyncJob, outcome: JobOutcome) -> None:
    after = deps.runs.finish_job(
        job.office_id, job.run_id, job.client_id, outcome, now=deps.clock()
    )
    if after is None:
        return
    telemetry.emit_event(
        Event.JOB_COMPLETED,
        outcome="failed" if outcome.job_failed else "succeeded",
        imported=outcome.imported,
        failed=outcome.failed,
        skipped=outcome.skipped,
    )
    if after.status is not RunStatus.RUNNING and after.type is RunType.NIGHTLY:
        emit_run_completed(after)
        if deps.notifier is not None:
            deps.notifier.nightly_finished(after)


def emit_run_completed(run: Run) -> None:
    """The event the "no successful nightly in 26 hours" alert reads."""
    telemetry.emit_event(
        Event.NIGHTLY_COMPLETED,
        office_id=run.office_id,
        run_id=run.run_id,
        run_type=run.type.value,
        outcome="succeeded" if run.status is RunStatus.DONE else "failed",
        jobs_total=run.jobs_total,
        jobs_failed=run.jobs_failed,
        imported=run.imported,
        failed=run.failed,
        skipped=run.skipped,
    )


def fail_exhausted(deps: WorkerDeps, job: SyncJob) -> None:
    """The poison path: the job used all its deliveries. Record it as failed, visibly."""
    with telemetry.job_context(office_id=job.office_id, client_id=job.client_id, run_id=job.run_id):
        _fail_exhausted(deps, job)


def _fail_exhausted(deps: WorkerDeps, job: SyncJob) -> None:
    stored = deps.runs.get_job(job.office_id, job.run_id, job.client_id)
    if stored is None or stored.status.finished:
        return
    reason = stored.last_error or "onbekende oorzaak"
    telemetry.emit_event(
        Event.POISON, reason=reason[:200], dequeue_count=stored.attempts, level=logging.ERROR
    )
    _message(
        deps,
        job.office_id,
        job.run_id,
        RunMessage(
            at=deps.clock(),
            level=Level.ERROR,
            client_id=job.client_id,
            code="job-exhausted",
            text=f"De synchronisatie van klant {job.client_id} is na {stored.attempts} pogingen "
            f"gestopt: {reason}.",
            hint="Dit is meestal een tijdelijke storing bij Loket of AFAS. Start later een rerun "
            "voor deze klant; wat al geboekt is, wordt niet nog eens geboekt.",
        ),
        key="job-exhausted",
    )
    # What earlier deliveries did stays counted; the job itself is the failure.
    done = Counter(
        r.status for r in deps.details.records_for_client(job.office_id, job.run_id, job.client_id)
    )
    outcome = JobOutcome(
        imported=done[JournalRunOutcome.IMPORTED],
        failed=done[JournalRunOutcome.FAILED],
        skipped=done[JournalRunOutcome.SKIPPED],
        error="exhausted",
    )
    _finish(deps, job, outcome)


# -- one client -----------------------------------------------------------------------------


def _sync_client(deps: WorkerDeps, job: SyncJob, run: Run, dequeue_count: int) -> JobOutcome:
    config = deps.clients.get(job.office_id, job.client_id)
    if config is None:
        return _job_failure(
            deps,
            job,
            "client-missing",
            f"Klantconfiguratie {job.client_id} bestaat niet meer.",
            "Is de klant verwijderd? Dan valt er niets te doen.",
        )
    recorded = frozenset(
        r.loket_journal_run_id
        for r in deps.details.records_for_client(job.office_id, job.run_id, job.client_id)
    )
    state = JobState(job, run, config, dequeue_count, recorded)
    try:
        target = deps.target(config)
        with deps.loket(job.office_id) as loket:
            for journal_run in _select(deps, loket, state):
                _one_journal_run(deps, loket, target, state, journal_run)
    except (ConsentRequired, NotConnected, LoketAuthError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "dutch", None) or str(exc)
        if deps.notifier is not None:
            deps.notifier.check_connections(job.office_id)
        return _job_failure(
            deps,
            job,
            "consent",
            f"Klant {job.client_id} is niet gesynchroniseerd: de koppeling vraagt opnieuw "
            f"toestemming of ontbreekt. {reason}",
            "Koppel opnieuw via Koppelingen; daarna kunt u een rerun starten.",
        )
    except (LoketRetriableError, AfasRetriableError, ConcurrencyConflict) as exc:
        defer = exc.retry_after if isinstance(exc, AfasError) and exc.quiet_period else None
        raise RetryLater(_english(exc), _dutch_transient(exc), defer=defer) from exc
    except LoketContractError as exc:
        return _job_failure(
            deps,
            job,
            "loket-contract",
            f"Loket gaf een antwoord dat Loonbrug niet begrijpt: {exc.dutch}",
            "Probeer het later opnieuw; blijft dit gebeuren, neem dan contact op met de support.",
        )
    except LoketError as exc:
        return _job_failure(
            deps,
            job,
            "loket-error",
            f"Loket gaf een fout: {exc.dutch}",
            "Controleer de rechten van de Loket-gebruiker van de koppeling.",
        )
    except AfasError as exc:
        return _job_failure(deps, job, "afas-error", f"AFAS gaf een fout: {exc.detail}", exc.hint)
    return JobOutcome(
        imported=state.counts[JournalRunOutcome.IMPORTED],
        failed=state.counts[JournalRunOutcome.FAILED],
        skipped=state.counts[JournalRunOutcome.SKIPPED],
    )


def _job_failure(deps: WorkerDeps, job: SyncJob, code: str, text: str, hint: str) -> JobOutcome:
    _message(
        deps,
        job.office_id,
        job.run_id,
        RunMessage(
            at=deps.clock(),
            level=Level.ERROR,
            text=text,
            hint=hint,
            client_id=job.client_id,
            code=code,
        ),
        key=code,
    )
    # What every delivery of this job recorded (an earlier, killed one may have booked runs
    # this delivery never got to), plus the job itself as one failure.
    counts = Counter(
        r.status for r in deps.details.records_for_client(job.office_id, job.run_id, job.client_id)
    )
    return JobOutcome(
        imported=counts[JournalRunOutcome.IMPORTED],
        failed=counts[JournalRunOutcome.FAILED] + 1,
        skipped=counts[JournalRunOutcome.SKIPPED],
        error=code,
    )


# -- which journal runs ---------------------------------------------------------------------


def _select(deps: WorkerDeps, loket: LoketClient, state: JobState) -> Iterator[JournalRun]:
    all_runs = sorted(
        loket.list_journal_runs(state.config.loket_administration_id),
        key=lambda r: r.sequence_number,
    )
    deps.checkpoint("listed")
    if state.run.type is RunType.NIGHTLY:
        # Ready (or export failed) runs, plus those an earlier delivery of this job already
        # handled (Loket now says exported) so the counts of the run stay complete.
        chosen = [r for r in all_runs if r.status in NIGHTLY_STATUSES or r.id in state.recorded]
    else:
        chosen = _approved_in_window(
            loket, all_runs, state.run.approved_from, state.run.approved_to
        )
    if not chosen:
        _diagnose(deps, state, all_runs)
    yield from chosen


def _approved_in_window(
    loket: LoketClient, runs: list[JournalRun], start: date | None, end: date | None
) -> list[JournalRun]:
    approvals: dict[str, datetime | None] = {}
    chosen = []
    for run in runs:
        if not run.status.has_results:
            continue
        if run.payroll_run_id not in approvals:
            approvals[run.payroll_run_id] = loket.get_payroll_run_approval(run.payroll_run_id)
        approved = approvals[run.payroll_run_id]
        if approved is None:
            continue
        day = to_amsterdam(approved).date()
        if (start is None or day >= start) and (end is None or day <= end):
            chosen.append(run)
    return chosen


def _diagnose(deps: WorkerDeps, state: JobState, all_runs: list[JournalRun]) -> None:
    """Explain in Dutch why there is nothing to book (the manual's troubleshooting checklist)."""
    client = state.config.client_id
    if not all_runs:
        text = (
            f"Loket heeft geen enkele journaalrun voor klant {client} "
            f"({state.config.loket_administration_name or state.config.loket_administration_id})."
        )
        hint = (
            "Gebruikelijke oorzaken: de verloning van de periode is nog niet goedgekeurd; de "
            "loonadministratie gebruikt nog de oude Journaalmodule of Journaal Basis (938) in "
            "plaats van het journaalprofiel (Journaliseren, 940); of de Loket-gebruiker van de "
            "koppeling mist het recht 'Raadplegen journaaloutput'. Controleer in Loket dat bij "
            "Verloning, Journaal en Loonaangifte een groen vinkje staat."
        )
        level = Level.WARNING
    elif state.run.type is RunType.RERUN:
        window = f"{state.run.approved_from:%d-%m-%Y} t/m {state.run.approved_to:%d-%m-%Y}"
        text = f"Voor klant {client} is geen journaalrun met een verloning goedgekeurd tussen {window}."
        hint = "Kies een ander venster bij 'Datum goedgekeurd vanaf/tot'."
        level = Level.INFO
    else:
        waiting = Counter(
            r.status
            for r in all_runs
            if r.status
            not in (
                JournalRunStatus.EXPORTED,
                JournalRunStatus.NO_RESULTS,
                JournalRunStatus.REMOVED,
            )
        )
        if not waiting:
            text = f"Geen nieuwe journaalruns voor klant {client}: alles is al verwerkt."
            hint = ""
            level = Level.INFO
        else:
            listed = ", ".join(f"{n}× '{status.dutch}'" for status, n in sorted(waiting.items()))
            text = (
                f"Klant {client} heeft journaalruns, maar geen enkele staat op 'Journaal gereed': "
                f"{listed}."
            )
            hint = (
                "Een journaalrun die nog 'klaar staat voor journaliseren' wordt vanzelf gereed; "
                "bij 'Fout bij aanmaken' moet de run in Loket opnieuw worden aangemaakt."
            )
            level = Level.WARNING
    _message(
        deps,
        state.job.office_id,
        state.job.run_id,
        RunMessage(
            at=deps.clock(),
            level=level,
            text=text,
            hint=hint,
            client_id=client,
            code="nothing-to-book",
        ),
        key="nothing-to-book",
    )


# -- one journal run ------------------------------------------------------------------------


def _one_journal_run(
    deps: WorkerDeps, loket: LoketClient, target: Target, state: JobState, journal_run: JournalRun
) -> None:
    record = Recorder(deps, state, target, journal_run)
    if journal_run.period.test_year:
        record.skipped(
            "Testjaar: deze journaalrun wordt nooit geboekt.",
            code="test-year",
            hint="Testjaren in Loket zijn voor proefberekeningen.",
        )
        return
    booking = deps.bookings.get(target.key, journal_run.id)
    if booking is not None and booking.state.booked:
        _finish_booked(deps, loket, state, record, booking, journal_run)
        return
    exported_elsewhere = (
        state.run.type is RunType.RERUN
        and journal_run.status is JournalRunStatus.EXPORTED
        and booking is None
    )
    claimant = Claimant(
        state.job.office_id, state.config.client_id, state.job.run_id, state.may_take_over
    )
    if in_flight_elsewhere(booking, claimant, deps.clock()):
        raise RetryLater(f"journal run {journal_run.id} is being booked by another worker", BUSY)

    lines = list(loket.iter_journal_run_lines(journal_run.id))
    deps.checkpoint("read")
    if exported_elsewhere and lines:
        record.skipped(
            "Deze journaalrun staat in Loket al op 'Journaal geëxporteerd' en is niet door Loonbrug "
            "geboekt; hij wordt niet nog eens geboekt.",
            code="exported-elsewhere",
            hint="Controleer in AFAS of de journaalpost er staat. Ontbreekt hij, zet de run in Loket "
            "dan terug en start opnieuw.",
        )
        return
    if not lines:
        # Ready but empty: nothing to book. Tell Loket it is dealt with, or it returns nightly.
        if not exported_elsewhere:
            loket.mark_processed(journal_run.id, "Geen regels om te boeken; niets geboekt in AFAS.")
        record.skipped(
            "De journaalrun heeft geen regels; er is niets geboekt.",
            code="no-lines",
            hint="Controleer in Loket of het journaalprofiel looncomponenten koppelt.",
        )
        return
    config = state.config
    draft, findings = prepare(target, config, journal_run, lines)
    deps.checkpoint("prechecked")
    scope = AuditScope(state.job.office_id, state.job.run_id, journal_run.id, config.client_id)
    fingerprint = audit_fingerprint(draft.entry)
    keep_prepared(deps, scope, config, journal_run, lines, draft, findings)
    if fail_on_blocking(loket, record, journal_run, findings) is not None:
        return
    warnings = [f for f in findings if not f.blocks]
    if (
        config.mode is BookingMode.REVIEW
        and deps.approvals is not None
        and not _review_allows_booking(deps, state, record, target, draft, fingerprint, warnings)
    ):
        return
    claimant = Claimant(
        state.job.office_id, config.client_id, state.job.run_id, state.may_take_over
    )
    try:
        booked, booking = book_once(
            deps.bookings, deps.clock, target, draft, journal_run.id, claimant, booking
        )
    except BookingBusy as exc:
        raise RetryLater(str(exc), BUSY) from exc
    except BookingRefused as refused:
        report_refused(deps, loket, record, scope, journal_run, refused.error, warnings)
        return
    deps.checkpoint("booked")
    report_booked(deps, loket, target, record, scope, journal_run, booking, booked, warnings)
    _settle_approval(deps, state.job.office_id, target.key, journal_run.id, booked)


def _review_allows_booking(
    deps: WorkerDeps,
    state: JobState,
    record: Recorder,
    target: Target,
    draft: Draft[ProfitEntry] | Draft[SbEntry],
    fingerprint: str,
    warnings: list[Finding],
) -> bool:
    """Review mode: prepare (or refresh) the approval item and stop, unless an admin already
    approved it (then the worker finishes the booking an approval left half done)."""
    assert deps.approvals is not None
    journal_run = record.journal_run
    entry = draft.entry
    description = (
        entry.lines[0].description
        if isinstance(entry, ProfitEntry) and entry.lines
        else getattr(entry, "description", "")
    )
    prepared = Prepared(
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
        reference=target.reference(draft),
        fingerprint=fingerprint,
        total_debit=entry.total_debit,
        total_credit=entry.total_credit,
        line_count=len(entry.lines),
        description=description,
        warnings=tuple(WarningNote(f.code, f.text, f.hint) for f in warnings),
    )
    try:
        item = deps.approvals.prepare(prepared, now=deps.clock())
    except ConcurrencyConflict as exc:
        raise RetryLater("approval item changed while preparing it", BUSY) from exc
    if item.state in (ApprovalState.PENDING, ApprovalState.FAILED):
        record.awaiting(item.approval_id, warnings)
        return False
    if item.state is ApprovalState.REJECTED:
        who = item.decided_by or "een beheerder"
        record.skipped(
            f"Afgewezen door {who}: {item.reason}. Deze journaalrun wordt niet geboekt.",
            code="rejected",
            hint="Maak in Loket zo nodig een nieuwe journaalrun aan; die wordt opnieuw "
            "ter goedkeuring voorbereid.",
        )
        return False
    return True  # approving / approved: the admin said yes


def _settle_approval(
    deps: WorkerDeps, office_id: str, target_key: str, loket_journal_run_id: str, booked: Booked
) -> None:
    """An approval the worker finished (the admin's request died half way): mark it approved."""
    if deps.approvals is None:
        return
    item = deps.approvals.get(office_id, approval_id(target_key, loket_journal_run_id))
    if item is None or item.state is not ApprovalState.APPROVING:
        return
    try:
        deps.approvals.move(
            item,
            ApprovalState.APPROVED,
            entry_number=booked.entry_number,
            marked_in_loket=True,
            lease_until="",
        )
    except ConcurrencyConflict:
        pass  # the approval finished it at the same moment


def _finish_booked(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: Recorder,
    booking: Booking,
    journal_run: JournalRun,
) -> None:
    booked = Booked(booking.entry_number, booking.reference, recovered=True)
    _report_booked(deps, state, record, booking, journal_run)
    if booking.state is BookingState.BOOKED:  # Loket was not told yet (a crash, or Loket down)
        tell_loket_booked(
            deps.bookings, deps.clock, loket, booking, journal_run.id, record.target, booked
        )
    _settle_approval(deps, state.job.office_id, record.target.key, journal_run.id, booked)


def _report_booked(
    deps: WorkerDeps,
    state: JobState,
    record: Recorder,
    booking: Booking,
    journal_run: JournalRun,
) -> None:
    """The row for a journal run the ledger already has as booked (recorded before Loket is
    told, as in the first delivery)."""
    booked = Booked(booking.entry_number, booking.reference, recovered=True)
    if booking.run_id == state.job.run_id:
        if deps.audit is not None:
            scope = AuditScope(
                state.job.office_id, state.job.run_id, journal_run.id, state.config.client_id
            )
            record_answer(
                deps.audit,
                deps.clock,
                scope,
                outcome="booked",
                entry_number=booking.entry_number,
                reference=booking.reference,
                recovered=True,
            )
        record.imported(booked, [])  # the same run, delivered again: report as imported
    else:
        record.skipped(
            f"Al geboekt in AFAS (journaalpost {booking.entry_number}, boekstuk {booking.reference}); "
            "niet opnieuw geboekt.",
            code="already-booked",
            entry_number=booking.entry_number,
        )


def report_refused(
    deps: WorkerDeps,
    loket: LoketClient,
    record: Recorder,
    scope: AuditScope,
    journal_run: JournalRun,
    error: AfasError,
    warnings: list[Finding],
) -> None:
    """AFAS refused the entry: Loket hears "processing failed", the audit copy keeps AFAS's
    answer, and the run's row says failed with AFAS's message and hint."""
    mark_failed_in_loket(loket, journal_run.id, f"Niet geboekt in AFAS: {error.detail}")
    if deps.audit is not None:
        record_answer(deps.audit, deps.clock, scope, outcome="refused", error=error.detail)
    refusal = Finding(
        "afas-refused", Severity.ERROR, f"AFAS weigerde de journaalpost: {error.detail}", error.hint
    )
    record.failed([*warnings, refusal])


def report_booked(
    deps: WorkerDeps,
    loket: LoketClient,
    target: Target,
    record: Recorder,
    scope: AuditScope,
    journal_run: JournalRun,
    booking: Booking,
    booked: Booked,
    warnings: list[Finding],
    *,
    approved_by: str = "",
) -> None:
    """AFAS booked the entry: the audit copy keeps its answer, the run's row says imported, and
    only then is Loket told. Once Loket says "exported" the nightly no longer lists the run as
    ready, so a redelivery finds it only through that row (and then finishes the Loket part)."""
    if deps.audit is not None:
        record_answer(
            deps.audit,
            deps.clock,
            scope,
            outcome="booked",
            entry_number=booked.entry_number,
            reference=booked.reference,
            recovered=booked.recovered,
            approved_by=approved_by,
        )
    record.imported(booked, warnings)
    deps.checkpoint("recorded")
    tell_loket_booked(deps.bookings, deps.clock, loket, booking, journal_run.id, target, booked)
    deps.checkpoint("marked")


def keep_prepared(
    deps: WorkerDeps,
    scope: AuditScope,
    config: ClientConfig,
    journal_run: JournalRun,
    lines: Sequence[JournalLine],
    draft: Draft[ProfitEntry] | Draft[SbEntry],
    findings: Sequence[Finding],
) -> None:
    """The audit copy of what Loket returned and what was built from it (if audit is on)."""
    if deps.audit is not None:
        record_prepared(
            deps.audit,
            deps.clock,
            scope,
            journal_run=journal_run,
            lines=lines,
            entry=draft.entry,
            findings=findings,
            cost_center_axis=config.mapping.cost_center_axis,
        )


def fail_on_blocking(
    loket: LoketClient, record: Recorder, journal_run: JournalRun, findings: list[Finding]
) -> str | None:
    """Blocking pre-check findings: the journal run fails, in Loket and in the run overview.
    Answers the summary of what blocks, or None when nothing does."""
    blocking = [f for f in findings if f.blocks]
    if not blocking:
        return None
    summary = "; ".join(f.text for f in blocking)
    mark_failed_in_loket(loket, journal_run.id, f"Niet geboekt in AFAS: {summary}")
    record.failed(findings)
    return summary


def mark_failed_in_loket(loket: LoketClient, run_id: str, message: str) -> None:
    try:
        loket.mark_processing_failed(run_id, message[:1000])
    except LoketRetriableError:
        log.warning(
            "could not mark journal run %s as failed in Loket (will be retried next time)", run_id
        )


# -- recording ------------------------------------------------------------------------------


@dataclass
class Recorder:
    deps: WorkerDeps
    state: JobState
    target: Target
    journal_run: JournalRun

    def _row(
        self,
        status: JournalRunOutcome,
        *,
        entry_number: str | None = None,
        reference: str = "",
        note: str = "",
        sent: bool = False,
        error_code: str = "",
    ) -> None:
        self.state.counts[status] += 1
        if status is not JournalRunOutcome.AWAITING_APPROVAL:
            self._telemetry(status, error_code)
        self.deps.details.record(
            self.state.job.office_id,
            self.state.job.run_id,
            JournalRunRecord(
                client_id=self.state.config.client_id,
                loket_journal_run_id=self.journal_run.id,
                payroll_run_id=self.journal_run.payroll_run_id,
                payroll_period=self.journal_run.period.label,
                sequence_number=self.journal_run.sequence_number,
                status=status,
                environment=self.target.environment,
                sent_at=self.deps.clock() if sent else None,
                entry_number=entry_number,
                reference=reference,
                note=note,
            ),
        )

        if status is JournalRunOutcome.FAILED and self.deps.notifier is not None:
            self.deps.notifier.journal_run_failed(
                self.state.job.office_id,
                self.state.job.run_id,
                self.state.config.client_id,
                self.journal_run,
                note,
            )

    def _telemetry(self, status: JournalRunOutcome, error_code: str) -> None:
        kind = "afas-profit" if self.target.key.startswith("profit|") else "afas-sb"
        telemetry.count_journal_run(status.value, target=kind)  # type: ignore[arg-type]
        event = {
            JournalRunOutcome.IMPORTED: Event.JOURNAL_RUN_IMPORTED,
            JournalRunOutcome.FAILED: Event.JOURNAL_RUN_FAILED,
        }.get(status, Event.JOURNAL_RUN_SKIPPED)
        source = "afas" if error_code.startswith("afas") else ("precheck" if error_code else None)
        telemetry.emit_event(
            event,
            target=kind,
            environment=self.target.environment,
            error_source=source,
            error_code=error_code or None,
            level=logging.WARNING if status is JournalRunOutcome.FAILED else logging.INFO,
        )

    def _say(self, level: Level, code: str, text: str, hint: str = "") -> None:
        run = self.journal_run
        if not text.startswith("Journaalpost van periode"):
            text = f"Periode {run.period.label} (volgnr. {run.sequence_number}): {text}"
        _message(
            self.deps,
            self.state.job.office_id,
            self.state.job.run_id,
            RunMessage(
                at=self.deps.clock(),
                level=level,
                text=text,
                hint=hint,
                client_id=self.state.config.client_id,
                loket_journal_run_id=self.journal_run.id,
                code=code,
            ),
            key=f"{self.journal_run.id}|{code}",
        )

    def imported(self, booked: Booked, warnings: list[Finding]) -> None:
        period = self.journal_run.period.label
        self._row(
            JournalRunOutcome.IMPORTED,
            entry_number=booked.entry_number,
            reference=booked.reference,
            note=f"Journaalpost {booked.entry_number}",
            sent=True,
        )
        self._say(
            Level.INFO,
            "imported",
            f"Journaalpost van periode {period} (volgnr. {self.journal_run.sequence_number}) "
            f"geïmporteerd in {self.target.label}: journaalpost {booked.entry_number}, "
            f"boekstuk {booked.reference}.",
        )
        for finding in warnings:
            self._say(Level.WARNING, finding.code, finding.text, finding.hint)

    def awaiting(self, approval: str, warnings: list[Finding]) -> None:
        period = self.journal_run.period.label
        self._row(
            JournalRunOutcome.AWAITING_APPROVAL,
            reference=approval,
            note="Voorbereid; wacht op goedkeuring door een beheerder.",
        )
        self._say(
            Level.INFO,
            "awaiting-approval",
            f"Journaalpost van periode {period} (volgnr. {self.journal_run.sequence_number}) "
            f"is voorbereid voor {self.target.label} en wacht op goedkeuring.",
            "Een beheerder keurt de journaalpost goed of af onder Goedkeuren.",
        )
        for finding in warnings:
            self._say(Level.WARNING, finding.code, finding.text, finding.hint)

    def failed(self, findings: list[Finding]) -> None:
        first = next((f for f in findings if f.blocks), None)
        self._row(
            JournalRunOutcome.FAILED,
            note=first.text if first else "",
            error_code=first.code if first else "unknown",
        )
        for finding in findings:
            level = Level.ERROR if finding.blocks else Level.WARNING
            self._say(level, f"{finding.code}|{finding.account or ''}", finding.text, finding.hint)

    def skipped(
        self, text: str, *, code: str, hint: str = "", entry_number: str | None = None
    ) -> None:
        self._row(JournalRunOutcome.SKIPPED, entry_number=entry_number, note=text)
        self._say(Level.INFO, code, text, hint)


def _message(
    deps: WorkerDeps, office_id: str, run_id: str, message: RunMessage, *, key: str
) -> None:
    deps.details.message(office_id, run_id, message, key=key)


def _dutch_transient(exc: Exception) -> str:
    if isinstance(exc, LoketRetriableError):
        return "Loket.nl was niet bereikbaar of gaf een tijdelijke fout"
    if isinstance(exc, AfasRetriableError):
        return "AFAS was niet bereikbaar, bezig (onderhoud of vergrendeling) of gaf geen antwoord"
    return BUSY


def _english(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
