"""What the timer and the queue triggers call. Plain functions over Services."""

from __future__ import annotations

import logging

from shared import telemetry
from shared.bootstrap import Services
from shared.runs.model import RunStatus
from shared.sync import worker
from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE, MalformedMessage, SyncJob

log = logging.getLogger("loonbrug.sync")


def nightly_tick(services: Services, *, past_due: bool) -> None:
    """Plan (or finish planning) the nightly of every office; report the queue depths."""
    now = services.clock()
    log.info("nightly tick at %s (past due: %s)", now.isoformat(), past_due)
    runs = services.planner.nightly(local_hour=services.settings.nightly_local_hour)
    for run in runs:
        if run.planned and run.status is not RunStatus.RUNNING and run.jobs_total == 0:
            worker.emit_run_completed(run)  # nothing to do (e.g. Loket needs consent): say so
    for queue in (SYNC_QUEUE, SYNC_POISON_QUEUE):
        try:
            depth = services.storage.queue(queue).get_queue_properties().approximate_message_count
        except Exception as exc:  # a metric must never fail the tick
            log.warning("could not read the depth of queue %s: %s", queue, type(exc).__name__)
            continue
        telemetry.record_queue_depth(queue, depth or 0)
    # Summaries and re-authorisation mails whose moment was missed (idempotent per event).
    services.notifier.sweep()
    log.info("nightly tick planned %d run(s)", len(runs))


def _parse(body: bytes, where: str) -> SyncJob | None:
    try:
        return SyncJob.from_json(body)
    except MalformedMessage as exc:
        # Completing the message is deliberate: a malformed message never becomes valid by retrying.
        log.error(
            "rejected malformed %s message: %s", where, exc.reason, extra={"reason": exc.reason}
        )
        return None


def process_job_message(
    services: Services, body: bytes, *, dequeue_count: int, message_id: str = ""
) -> None:
    job = _parse(body, "sync")
    if job is None:
        return
    log.info(
        "sync job received for client %s in run %s (attempt %d)",
        job.client_id,
        job.run_id,
        dequeue_count,
        extra={"officeId": job.office_id, "runId": job.run_id, "clientId": job.client_id},
    )
    worker.process(services.worker_deps, job, dequeue_count=dequeue_count, message_id=message_id)


def process_poison_message(services: Services, body: bytes, *, dequeue_count: int) -> None:
    job = _parse(body, "poison")
    if job is None:
        return
    log.error("sync job for client %s in run %s exhausted its retries", job.client_id, job.run_id)
    worker.fail_exhausted(services.worker_deps, job)
