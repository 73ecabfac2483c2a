"""Which journal runs a job considers: the nightly takes the runs Loket has ready (or whose export
failed), a rerun the runs whose payroll was approved in its window. When there is nothing, the
run overview says why, in the words of the manual's troubleshooting checklist."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime

from shared.clock import to_amsterdam
from shared.journal.models import JournalRun, JournalRunStatus
from shared.loket.client import LoketClient
from shared.loket.errors import LoketError
from shared.store.run_details import Level, LoketCheck, RunMessage
from shared.store.runs import RunType
from shared.sync import texts
from shared.sync.bookers import target_key
from shared.sync.deps import JobState, WorkerDeps

NIGHTLY_STATUSES = frozenset({JournalRunStatus.READY, JournalRunStatus.EXPORT_FAILED})
DONE_STATUSES = frozenset(
    {JournalRunStatus.EXPORTED, JournalRunStatus.NO_RESULTS, JournalRunStatus.REMOVED}
)


def select(deps: WorkerDeps, loket: LoketClient, state: JobState) -> Iterator[JournalRun]:
    all_runs = sorted(
        loket.list_journal_runs(state.config.loket_administration_id),
        key=lambda r: r.sequence_number,
    )
    deps.checkpoint("listed")
    if state.run.type is RunType.NIGHTLY:
        # Ready (or export failed) runs, plus those an earlier delivery of this job already
        # handled (Loket now says exported) so the counts of the run stay complete: recorded,
        # or booked and not recorded (that delivery died, and a client sharing the
        # administration met the booked row and told Loket).
        again = state.recorded | booked_by_this_job(deps, state)
        chosen = [r for r in all_runs if r.status in NIGHTLY_STATUSES or r.id in again]
    else:
        chosen = approved_in_window(loket, all_runs, state.run.approved_from, state.run.approved_to)
    if not chosen:
        diagnose(deps, loket, state, all_runs)
    yield from chosen


def booked_by_this_job(deps: WorkerDeps, state: JobState) -> frozenset[str]:
    """Journal runs the booking ledger holds as booked by this very job (office, client, run)."""
    if state.first_delivery:
        return frozenset()  # only a delivery of this job books as its holder: none came before
    key = target_key(state.config.target)
    rows = deps.bookings.of_client(key, state.job.office_id, state.config.client_id)
    return frozenset(
        b.loket_journal_run_id for b in rows if b.holder == state.holder and b.state.booked
    )


def approved_in_window(
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


def diagnose(
    deps: WorkerDeps, loket: LoketClient, state: JobState, all_runs: list[JournalRun]
) -> None:
    """Explain in Dutch why there is nothing to book."""
    config = state.config
    client = config.client_id
    level = Level.INFO
    if not all_runs:
        why = texts.no_journal_runs(
            client, config.loket_administration_name or config.loket_administration_id
        )
        level = Level.WARNING
    elif state.run.type is RunType.RERUN:
        why = texts.none_approved_in_window(client, state.run.approved_from, state.run.approved_to)
    else:
        waiting = Counter(r.status for r in all_runs if r.status not in DONE_STATUSES)
        if not waiting:
            why = texts.all_processed(client)
        else:
            why = texts.none_ready(client, waiting)
            level = Level.WARNING
    everything_done = level is Level.INFO and state.run.type is RunType.NIGHTLY
    deps.details.message(
        state.job.office_id,
        state.job.run_id,
        RunMessage(
            at=deps.clock(),
            level=level,
            text=why.text,
            hint=why.hint,
            client_id=client,
            code="nothing-to-book",
            # Nothing new because all is processed needs no checklist; anything else does.
            checks=() if everything_done else loket_checks(loket, all_runs),
        ),
        key="nothing-to-book",
    )


def loket_checks(loket: LoketClient, all_runs: list[JournalRun]) -> tuple[LoketCheck, ...]:
    """The manual's three green ticks (Verloning, Journaal, Loonaangifte) for the newest journal
    run of the administration, as far as the Loket API shows them, each with what to do."""
    latest = max(all_runs, key=lambda r: r.sequence_number) if all_runs else None
    if latest is None:
        payroll = LoketCheck(
            texts.CHECK_PAYROLL, "failed", texts.payroll_not_approved(None), texts.PAYROLL_TODO
        )
        journal = LoketCheck(
            texts.CHECK_JOURNAL, "failed", texts.JOURNAL_MISSING, texts.JOURNAL_PROFILE_TODO
        )
    else:
        period = latest.period.label.replace("-", " - ")
        try:
            approved = loket.get_payroll_run_approval(latest.payroll_run_id)
        except LoketError:
            approved = None
            payroll = LoketCheck(
                texts.CHECK_PAYROLL,
                "unknown",
                "Loket gaf de goedkeuring van de verloning nu niet.",
                texts.PAYROLL_TODO,
            )
        else:
            payroll = (
                LoketCheck(
                    texts.CHECK_PAYROLL,
                    "ok",
                    texts.payroll_approved(period, to_amsterdam(approved).date()),
                )
                if approved is not None
                else LoketCheck(
                    texts.CHECK_PAYROLL,
                    "failed",
                    texts.payroll_not_approved(period),
                    texts.PAYROLL_TODO,
                )
            )
        status = latest.status
        text = texts.journal_state(period, latest.sequence_number, status)
        if status.has_results:
            journal = LoketCheck(texts.CHECK_JOURNAL, "ok", text)
        elif status is JournalRunStatus.NO_RESULTS:
            journal = LoketCheck(
                texts.CHECK_JOURNAL,
                "failed",
                texts.JOURNAL_NO_RESULTS,
                texts.JOURNAL_NO_RESULTS_TODO,
            )
        elif status is JournalRunStatus.QUEUED:
            journal = LoketCheck(texts.CHECK_JOURNAL, "unknown", text, texts.JOURNAL_QUEUED_TODO)
        else:
            journal = LoketCheck(texts.CHECK_JOURNAL, "failed", text, texts.JOURNAL_FAILED_TODO)
    tax_return = LoketCheck(
        texts.CHECK_TAX_RETURN, "unknown", texts.TAX_RETURN_UNKNOWN, texts.TAX_RETURN_TODO
    )
    return (payroll, journal, tax_return)
