"""What becomes of one journal run, written down: the run overview's journal-run row and
messages (:class:`Recorder`), the audit copy, telemetry, notifications, and what Loket is told.
The worker's steps and the approvals both report through here, so a booked, refused or failed
journal run looks the same whoever booked it. The Dutch wording is in :mod:`shared.sync.texts`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from shared import telemetry
from shared.afas.errors import AfasError
from shared.clients.model import BookingMode, ClientConfig
from shared.journal.builder import Draft, EntryT
from shared.journal.findings import Finding, Severity
from shared.journal.models import JournalLine, JournalRun
from shared.loket.client import LoketClient
from shared.loket.errors import LoketRetriableError
from shared.store.approvals import ApprovalState, approval_id
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, Level, RunMessage
from shared.store.tables import ConcurrencyConflict
from shared.sync import texts
from shared.sync.audit import AuditScope, record_answer, record_prepared
from shared.sync.bookers import AnyBooker, Booked
from shared.sync.booking import tell_loket_booked
from shared.sync.deps import JobState, ReviewDeps
from shared.sync.ledger import Booking, State
from shared.telemetry import Event

log = logging.getLogger("loonbrug.sync")


@dataclass
class Recorder:
    """The journal-run row and messages of one journal run in the run overview."""

    deps: ReviewDeps
    state: JobState
    target: AnyBooker
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
        notes: Sequence[tuple[Level, str, str, str]] = (),
    ) -> None:
        """The row and its messages (level, code, text, hint): one transaction."""
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
            [self._note(*n) for n in notes],
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

    def _note(self, level: Level, code: str, text: str, hint: str = "") -> tuple[RunMessage, str]:
        run = self.journal_run
        return (
            RunMessage(
                at=self.deps.clock(),
                level=level,
                text=texts.about_run(run.period.label, run.sequence_number, text),
                hint=hint,
                client_id=self.state.config.client_id,
                loket_journal_run_id=run.id,
                code=code,
            ),
            f"{run.id}|{code}",
        )

    def say(self, level: Level, code: str, text: str, hint: str = "") -> None:
        note, key = self._note(level, code, text, hint)
        message(self.deps, self.state.job.office_id, self.state.job.run_id, note, key=key)

    def imported(self, booked: Booked, warnings: Sequence[Finding]) -> None:
        run = self.journal_run
        said = texts.imported(
            run.period.label,
            run.sequence_number,
            self.target.label,
            booked.entry_number,
            booked.reference,
        )
        self._row(
            JournalRunOutcome.IMPORTED,
            entry_number=booked.entry_number,
            reference=booked.reference,
            note=f"Journaalpost {booked.entry_number}",
            sent=True,
            notes=[(Level.INFO, "imported", said, ""), *_warnings(warnings)],
        )

    def awaiting(self, approval: str, warnings: Sequence[Finding]) -> None:
        run = self.journal_run
        said = texts.awaiting(run.period.label, run.sequence_number, self.target.label)
        self._row(
            JournalRunOutcome.AWAITING_APPROVAL,
            reference=approval,
            note=texts.AWAITING_NOTE,
            notes=[(Level.INFO, "awaiting-approval", said, texts.AWAITING_HINT),
                   *_warnings(warnings)],
        )  # fmt: skip

    def failed(self, findings: Sequence[Finding]) -> None:
        first = next((f for f in findings if f.blocks), None)
        self._row(
            JournalRunOutcome.FAILED,
            note=first.text if first else "",
            error_code=first.code if first else "unknown",
            notes=[
                (
                    Level.ERROR if f.blocks else Level.WARNING,
                    f"{f.code}|{f.account or ''}",
                    f.text,
                    f.hint,
                )
                for f in findings
            ],
        )

    def skipped(
        self, text: str, *, code: str, hint: str = "", entry_number: str | None = None
    ) -> None:
        self._row(
            JournalRunOutcome.SKIPPED,
            entry_number=entry_number,
            note=text,
            notes=[(Level.INFO, code, text, hint)],
        )


def _warnings(warnings: Sequence[Finding]) -> list[tuple[Level, str, str, str]]:
    return [(Level.WARNING, f.code, f.text, f.hint) for f in warnings]


def message(deps: ReviewDeps, office_id: str, run_id: str, note: RunMessage, *, key: str) -> None:
    deps.details.message(office_id, run_id, note, key=key)


def scope_of(state: JobState, journal_run: JournalRun) -> AuditScope:
    return AuditScope(state.job.office_id, state.job.run_id, journal_run.id, state.config.client_id)


def keep_prepared(
    deps: ReviewDeps,
    scope: AuditScope,
    config: ClientConfig,
    journal_run: JournalRun,
    lines: Sequence[JournalLine],
    draft: Draft[EntryT],
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
    mark_failed_in_loket(loket, journal_run.id, texts.loket_not_booked(summary))
    record.failed(findings)
    return summary


def mark_failed_in_loket(loket: LoketClient, run_id: str, text: str) -> None:
    try:
        loket.mark_processing_failed(run_id, text[:1000])
    except LoketRetriableError:
        log.warning(
            "could not mark journal run %s as failed in Loket (will be retried next time)", run_id
        )


def report_refused(
    deps: ReviewDeps,
    loket: LoketClient,
    record: Recorder,
    scope: AuditScope,
    journal_run: JournalRun,
    error: AfasError,
    warnings: Sequence[Finding],
) -> None:
    """AFAS refused the entry: Loket hears "processing failed", the audit copy keeps AFAS's
    answer, and the run's row says failed with AFAS's message and hint."""
    mark_failed_in_loket(loket, journal_run.id, texts.loket_not_booked(error.detail))
    if deps.audit is not None:
        record_answer(deps.audit, deps.clock, scope, outcome="refused", error=error.detail)
    refusal = Finding("afas-refused", Severity.ERROR, texts.afas_refused(error.detail), error.hint)
    # The journal is not checked before a post: a refusal about it is explained now, in the
    # pre-check's words (which journal, and what to do).
    explained = record.target.explain_refusal(error.detail)
    record.failed([*warnings, refusal, *explained])


def report_needs_attention(
    deps: ReviewDeps,
    record: Recorder,
    scope: AuditScope,
    code: str,
    text: str,
    hint: str,
) -> None:
    """A journal run nobody may book automatically any more (partially booked): the run's row
    says failed and why; Loket is not told anything (part of it is in AFAS)."""
    if deps.audit is not None:
        record_answer(deps.audit, deps.clock, scope, outcome="partial", error=text)
    record.failed([Finding(code, Severity.ERROR, text, hint)])


def report_booked(
    deps: ReviewDeps,
    loket: LoketClient,
    target: AnyBooker,
    record: Recorder,
    scope: AuditScope,
    journal_run: JournalRun,
    booking: Booking,
    booked: Booked,
    warnings: Sequence[Finding],
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


def report_already_booked(
    deps: ReviewDeps, state: JobState, record: Recorder, booking: Booking, journal_run: JournalRun
) -> None:
    """The row for a journal run the ledger already has as booked (recorded before Loket is
    told, as in the first delivery)."""
    booked = Booked(booking.entry_number, booking.reference, recovered=True)
    if booking.holder == state.holder:  # the same job, delivered again: report as imported
        if deps.audit is not None:
            record_answer(
                deps.audit,
                deps.clock,
                scope_of(state, journal_run),
                outcome="booked",
                entry_number=booking.entry_number,
                reference=booking.reference,
                recovered=True,
            )
        record.imported(booked, [])
    else:
        record.skipped(
            texts.already_booked(booking.entry_number, booking.reference),
            code="already-booked",
            entry_number=booking.entry_number,
        )


def report_ledger_booked(
    deps: ReviewDeps, loket: LoketClient, state: JobState, record: Recorder, booking: Booking
) -> None:
    """The ledger already says booked: the journal run's row (imported for the holder that
    booked it, already booked for anyone else), and Loket told if that was left undone (a
    crash, or Loket down). Never posts."""
    journal_run = record.journal_run
    report_already_booked(deps, state, record, booking, journal_run)
    if booking.state is State.BOOKED:
        booked = Booked(booking.entry_number, booking.reference, recovered=True)
        tell_loket_booked(
            deps.bookings, deps.clock, loket, booking, journal_run.id, record.target, booked
        )


def settle_approval(
    deps: ReviewDeps, config: ClientConfig, booking: Booking, loket_journal_run_id: str
) -> None:
    """An approval the worker finished (the admin's request died half way): mark it approved,
    but only when what was booked is what the admin approved.

    An approval item exists only for a client that was in review mode at some time
    (``ever_reviewed``: one switched out of review mode may have an approval half way, which
    the automatic nightly then books or looks up), and only an approval posts under an approval
    holder; a row someone took over (``attempts`` > 1) may have been an approval's before (the
    take-over replaced the holder; also for a client stored before ``ever_reviewed`` existed).
    Otherwise there is none half way, and the item is not read (one storage round trip per
    booked journal run, issue 18)."""
    if deps.approvals is None:
        return
    if (
        config.mode is not BookingMode.REVIEW
        and not config.ever_reviewed
        and not booking.holder.is_approval
        and booking.attempts <= 1
    ):
        return
    item = deps.approvals.get(config.office_id, approval_id(booking.target, loket_journal_run_id))
    if item is None or item.state is not ApprovalState.APPROVING:
        return
    if booking.fingerprint and booking.fingerprint != item.prepared.fingerprint:
        log.error("approval %s: booked fingerprint differs from the approved one", item.approval_id)
        return
    try:
        deps.approvals.move(
            item,
            ApprovalState.APPROVED,
            entry_number=booking.entry_number,
            marked_in_loket=True,
            lease_until="",
        )
    except ConcurrencyConflict:
        pass  # the approval finished it at the same moment
