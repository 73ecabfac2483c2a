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
7. mark processed in Loket, ledger -> marked
8. a journal-run row and messages for the run overview

A worker killed between any two steps leaves a ledger row that the next delivery continues from;
two workers on the same job meet at the ledger claim (the second finds a live lease and lets the
message be retried later). Transient failures raise, so the queue redelivers (host.json
``visibilityTimeout`` / ``maxDequeueCount``); definitive ones are recorded and the message
completes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from shared import telemetry
from shared.afas.errors import AfasError, AfasRetriableError
from shared.clients.model import ClientConfig
from shared.clock import to_amsterdam
from shared.journal.findings import Finding, Severity
from shared.journal.models import JournalRun, JournalRunStatus
from shared.loket.client import LoketClient
from shared.loket.errors import LoketAuthError, LoketContractError, LoketError, LoketRetriableError
from shared.oauth.tokens import ConsentRequired, NotConnected
from shared.store.bookings import Booking, BookingLedger, BookingState
from shared.store.clients import ClientRepository
from shared.store.run_details import (
    JournalRunOutcome,
    JournalRunRecord,
    Level,
    RunDetailRepository,
    RunMessage,
)
from shared.store.runs import JobOutcome, Run, RunRepository, RunStatus, RunType
from shared.store.tables import ConcurrencyConflict
from shared.sync.messages import SyncJob
from shared.sync.targets import Booked, Target, source_for
from shared.telemetry import Event

log = logging.getLogger("loonbrug.sync")

CLAIM_LEASE = timedelta(minutes=15)
NIGHTLY_STATUSES = frozenset({JournalRunStatus.READY, JournalRunStatus.EXPORT_FAILED})


class RetryLater(Exception):
    """Something transient: let the queue deliver the message again. ``dutch`` says what, for
    the message the user sees if the retries run out."""

    def __init__(self, english: str, dutch: str) -> None:
        super().__init__(english)
        self.dutch = dutch


BUSY = "een andere verwerking was tegelijk met dezelfde journaalrun bezig"


@dataclass
class WorkerDeps:
    runs: RunRepository
    details: RunDetailRepository
    clients: ClientRepository
    bookings: BookingLedger
    loket: Callable[[str], AbstractContextManager[LoketClient]]  # office -> client
    target: Callable[[ClientConfig], Target]
    clock: Callable[[], datetime]


@dataclass
class JobState:
    """What one delivery of one job has done so far (counts, for the run)."""

    job: SyncJob
    run: Run
    config: ClientConfig
    dequeue_count: int = 1
    # Loket journal runs this run already recorded for this client (an earlier delivery).
    recorded: frozenset[str] = frozenset()
    counts: Counter[JournalRunOutcome] = field(default_factory=Counter)

    def may_take_over(self, booking: Booking) -> bool:
        """A redelivery of the same job may continue the claim its dead predecessor left."""
        return self.dequeue_count > 1 and booking.run_id == self.job.run_id


def process(deps: WorkerDeps, job: SyncJob, *, dequeue_count: int) -> None:
    """Handle one delivery of a sync job. Raises to have the message delivered again."""
    with telemetry.job_context(office_id=job.office_id, client_id=job.client_id, run_id=job.run_id):
        _process(deps, job, dequeue_count)


def _process(deps: WorkerDeps, job: SyncJob, dequeue_count: int) -> None:
    stored = deps.runs.get_job(job.office_id, job.run_id, job.client_id)
    run = deps.runs.get(job.office_id, job.run_id)
    if stored is None or run is None:
        log.error("sync job %s/%s has no job row; dropping it", job.run_id, job.client_id)
        return
    if stored.status.finished:
        log.info("sync job %s/%s already finished (redelivery)", job.run_id, job.client_id)
        return
    try:
        stored = deps.runs.start_job(stored, now=deps.clock())
    except ConcurrencyConflict:
        pass  # another delivery is (or was) on it too; the ledger keeps us apart
    try:
        outcome = _sync_client(deps, job, run, dequeue_count)
    except RetryLater as exc:
        log.warning("sync job %s/%s will be retried: %s", job.run_id, job.client_id, exc)
        deps.runs.note_job_error(stored, exc.dutch, now=deps.clock())
        raise
    _finish(deps, job, outcome)


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
        return _job_failure(
            deps,
            job,
            "consent",
            f"Klant {job.client_id} is niet gesynchroniseerd: de koppeling vraagt opnieuw "
            f"toestemming of ontbreekt. {reason}",
            "Koppel opnieuw via Koppelingen; daarna kunt u een rerun starten.",
            state,
        )
    except (LoketRetriableError, AfasRetriableError, ConcurrencyConflict) as exc:
        raise RetryLater(_english(exc), _dutch_transient(exc)) from exc
    except LoketContractError as exc:
        return _job_failure(
            deps,
            job,
            "loket-contract",
            f"Loket gaf een antwoord dat Loonbrug niet begrijpt: {exc.dutch}",
            "Probeer het later opnieuw; blijft dit gebeuren, neem dan contact op met de support.",
            state,
        )
    except LoketError as exc:
        return _job_failure(
            deps,
            job,
            "loket-error",
            f"Loket gaf een fout: {exc.dutch}",
            "Controleer de rechten van de Loket-gebruiker van de koppeling.",
            state,
        )
    except AfasError as exc:
        return _job_failure(
            deps, job, "afas-error", f"AFAS gaf een fout: {exc.detail}", exc.hint, state
        )
    return JobOutcome(
        imported=state.counts[JournalRunOutcome.IMPORTED],
        failed=state.counts[JournalRunOutcome.FAILED],
        skipped=state.counts[JournalRunOutcome.SKIPPED],
    )


def _job_failure(
    deps: WorkerDeps, job: SyncJob, code: str, text: str, hint: str, state: JobState | None = None
) -> JobOutcome:
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
    counts = state.counts if state else Counter()
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
    record = _Recorder(deps, state, target, journal_run)
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
    now = deps.clock()
    in_flight = booking is not None and booking.state in (BookingState.CLAIMED, BookingState.POSTED)
    if (
        booking is not None
        and in_flight
        and booking.lease_alive(now)
        and not state.may_take_over(booking)
    ):
        raise RetryLater(f"journal run {journal_run.id} is being booked by another worker", BUSY)

    lines = list(loket.iter_journal_run_lines(journal_run.id))
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
    source = source_for(config, journal_run, lines)
    draft = target.draft(source)
    findings = list(draft.findings)
    if draft.postable:
        findings += target.precheck(draft)
    blocking = [f for f in findings if f.severity is Severity.ERROR]
    if blocking:
        summary = "; ".join(f.text for f in blocking)
        _mark_failed_in_loket(loket, journal_run.id, f"Niet geboekt in AFAS: {summary}")
        record.failed(findings)
        return

    reference = target.reference(draft)
    recovering = False
    if booking is None:
        booking = deps.bookings.claim(
            target.key,
            journal_run.id,
            office_id=state.job.office_id,
            client_id=config.client_id,
            run_id=state.job.run_id,
            reference=reference,
            lease_until=now + CLAIM_LEASE,
        )
        if booking is None:  # another worker claimed it this very moment
            raise RetryLater(
                f"journal run {journal_run.id} was just claimed by another worker", BUSY
            )
    else:  # an expired claim, an unknown outcome, or an earlier failure: take it over
        recovering = booking.state in (BookingState.CLAIMED, BookingState.POSTED)
        booking = deps.bookings.reclaim(
            booking,
            run_id=state.job.run_id,
            client_id=config.client_id,
            lease_until=now + CLAIM_LEASE,
        )
    booking = deps.bookings.advance(booking, BookingState.POSTED, posted_at=deps.clock())
    try:
        booked = target.book(draft, check_first=recovering)
    except AfasRetriableError:
        raise  # outcome unknown or AFAS busy: the ledger stays "posted"; redelivery checks first
    except AfasError as exc:
        deps.bookings.advance(
            booking, BookingState.FAILED, error=exc.detail[:2000], lease_until=now
        )
        _mark_failed_in_loket(loket, journal_run.id, f"Niet geboekt in AFAS: {exc.detail}")
        record.failed(
            [
                *[f for f in findings if not f.blocks],
                Finding(
                    "afas-refused",
                    Severity.ERROR,
                    f"AFAS weigerde de journaalpost: {exc.detail}",
                    exc.hint,
                ),
            ]
        )
        return
    booking = deps.bookings.advance(
        booking, BookingState.BOOKED, entry_number=booked.entry_number, booked_at=deps.clock()
    )
    _mark_processed(deps, loket, booking, journal_run, target, booked)
    record.imported(booked, [f for f in findings if not f.blocks])


def _finish_booked(
    deps: WorkerDeps,
    loket: LoketClient,
    state: JobState,
    record: _Recorder,
    booking: Booking,
    journal_run: JournalRun,
) -> None:
    booked = Booked(booking.entry_number, booking.reference, recovered=True)
    if booking.state is BookingState.BOOKED:  # Loket was not told yet (a crash, or Loket down)
        _mark_processed(deps, loket, booking, journal_run, record.target, booked)
    if booking.run_id == state.job.run_id:
        record.imported(booked, [])  # the same run, delivered again: report as imported
    else:
        record.skipped(
            f"Al geboekt in AFAS (journaalpost {booking.entry_number}, boekstuk {booking.reference}); "
            "niet opnieuw geboekt.",
            code="already-booked",
            entry_number=booking.entry_number,
        )


def _mark_processed(
    deps: WorkerDeps,
    loket: LoketClient,
    booking: Booking,
    journal_run: JournalRun,
    target: Target,
    booked: Booked,
) -> None:
    loket.mark_processed(
        journal_run.id,
        f"Geboekt in AFAS {target.label}: journaalpost {booked.entry_number}, boekstuk {booked.reference}.",
    )
    try:
        deps.bookings.advance(booking, BookingState.MARKED, marked_at=deps.clock())
    except ConcurrencyConflict:
        pass  # another delivery marked it at the same moment


def _mark_failed_in_loket(loket: LoketClient, run_id: str, message: str) -> None:
    try:
        loket.mark_processing_failed(run_id, message[:1000])
    except LoketRetriableError:
        log.warning(
            "could not mark journal run %s as failed in Loket (will be retried next time)", run_id
        )


# -- recording ------------------------------------------------------------------------------


@dataclass
class _Recorder:
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
