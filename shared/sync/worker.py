"""The sync worker: one queue message = one job = one client in one run. This module is the
job's life: take it (a lease, so one delivery works on it at a time), run the steps of each
journal run it selects (:mod:`shared.sync.selection`, :mod:`shared.sync.steps`), decide what a
failure means (:func:`shared.failures.classify`: come back later, or fail visibly), finish it
(counted in its run), and the poison path when the queue gives up.

Transient failures raise :class:`RetryLater`, so the queue redelivers (host.json
``visibilityTimeout`` / ``maxDequeueCount``), or defer the job with a fresh message when the
moment to come back is known; definitive ones are recorded with a Dutch message and the message
completes.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import timedelta

from shared import telemetry
from shared.afas.errors import Disposition
from shared.failures import BUSY, Failure, classify
from shared.store.run_details import JournalRunOutcome, Level, RunMessage
from shared.store.runs import Job, JobOutcome, Run, RunStatus, RunType
from shared.store.tables import ConcurrencyConflict
from shared.sync import texts
from shared.sync.bookers import for_run
from shared.sync.deps import JobState, WorkerDeps
from shared.sync.messages import SyncJob
from shared.sync.outcomes import message
from shared.sync.selection import select
from shared.sync.steps import book_journal_run
from shared.telemetry import Event

log = logging.getLogger("loonbrug.sync")

__all__ = ["RetryLater", "WorkerDeps", "emit_run_completed", "fail_exhausted", "process"]


class RetryLater(Exception):
    """Something transient: let the queue deliver the message again. ``dutch`` says what, for
    the message the user sees if the retries run out."""

    def __init__(self, english: str, dutch: str, *, defer: float | None = None) -> None:
        super().__init__(english)
        self.dutch = dutch
        self.defer = defer  # seconds: come back then with a fresh message (no retry spent)


# How long a delivery holds its job: host.json functionTimeout (10 minutes) and a margin, so a
# live delivery never loses the job to a duplicate message; a dead one's own message (same id)
# takes it over at once.
JOB_LEASE = timedelta(minutes=11)
# A job waiting out AFAS's quiet period (an unanswered Profit post) is deferred, not retried, at
# most this many deliveries in all; after that its retries run out as usual (a visible failure).
MAX_DEFERRED_ATTEMPTS = 10
START_TRIES = 3  # reads of a job row that changed while a delivery tried to take it


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
    started = start_job(deps, job, stored, holder)
    if started is None:
        return
    stored = started
    try:
        # A later delivery of the job: a redelivered message, or a fresh (deferred) one after an
        # earlier attempt. The job lease makes it the only one working on the job.
        outcome = _sync_client(deps, job, run, first=stored.attempts == 1)
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
    _finish(deps, job, outcome, stored)


def start_job(deps: WorkerDeps, job: SyncJob, stored: Job, holder: str) -> Job | None:
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


def _finish(
    deps: WorkerDeps, job: SyncJob, outcome: JobOutcome, started: Job | None = None
) -> None:
    after = deps.runs.finish_job(
        job.office_id, job.run_id, job.client_id, outcome, now=deps.clock(), job=started
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
    why = texts.job_exhausted(job.client_id, stored.attempts, reason)
    message(
        deps,
        job.office_id,
        job.run_id,
        RunMessage(
            at=deps.clock(),
            level=Level.ERROR,
            client_id=job.client_id,
            code="job-exhausted",
            text=why.text,
            hint=why.hint,
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
        awaiting=done[JournalRunOutcome.AWAITING_APPROVAL],
        error="exhausted",
    )
    _finish(deps, job, outcome)


# -- one client -----------------------------------------------------------------------------


def _sync_client(deps: WorkerDeps, job: SyncJob, run: Run, *, first: bool = False) -> JobOutcome:
    """``first``: this delivery is the job's first start, so no earlier delivery recorded or
    booked anything for it (every delivery counts its start on the job row): the reads that
    find an earlier delivery's work are left out."""
    config = deps.clients.get(job.office_id, job.client_id)
    if config is None:
        return _job_failure(
            deps,
            job,
            Failure(
                Disposition.REFUSED,
                "client-missing",
                texts.client_missing(job.client_id),
                texts.CLIENT_MISSING_HINT,
            ),
        )
    recorded = (
        frozenset()
        if first
        else frozenset(
            r.loket_journal_run_id
            for r in deps.details.records_for_client(job.office_id, job.run_id, job.client_id)
        )
    )
    state = JobState(job, run, config, recorded, first_delivery=first)
    try:
        target = for_run(deps.target(config), job.office_id, job.run_id)
        with deps.loket(job.office_id) as loket:
            for journal_run in select(deps, loket, state):
                book_journal_run(deps, loket, target, state, journal_run)
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise  # a bug: the queue retries, the poison path makes it visible
        if failure.transient or failure.disposition is Disposition.RETRY_LATER:
            defer = failure.retry_after if failure.defer else None
            raise RetryLater(_english(exc), failure.dutch, defer=defer) from exc
        if failure.disposition is Disposition.RECONSENT and deps.notifier is not None:
            deps.notifier.check_connections(job.office_id)
        return _job_failure(deps, job, failure)
    return JobOutcome(
        imported=state.counts[JournalRunOutcome.IMPORTED],
        failed=state.counts[JournalRunOutcome.FAILED],
        skipped=state.counts[JournalRunOutcome.SKIPPED],
        awaiting=state.counts[JournalRunOutcome.AWAITING_APPROVAL],
    )


def _job_failure(deps: WorkerDeps, job: SyncJob, failure: Failure) -> JobOutcome:
    text = failure.dutch
    if failure.disposition is Disposition.RECONSENT:
        text = texts.not_synchronised(job.client_id, failure.dutch)
    message(
        deps,
        job.office_id,
        job.run_id,
        RunMessage(
            at=deps.clock(),
            level=Level.ERROR,
            text=text,
            hint=failure.hint,
            client_id=job.client_id,
            code=failure.code,
        ),
        key=failure.code,
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
        awaiting=counts[JournalRunOutcome.AWAITING_APPROVAL],
        error=failure.code,
    )


def _english(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
