"""What the timer and the queue triggers call. Plain functions over Services."""

from __future__ import annotations

import logging

from shared.bootstrap import Services
from shared.sync.messages import MalformedMessage, SyncJob

log = logging.getLogger("loonbrug.sync")


def nightly_tick(services: Services, *, past_due: bool) -> None:
    now = services.clock()
    log.info("nightly tick at %s (past due: %s)", now.isoformat(), past_due)


def process_job_message(services: Services, body: bytes, *, dequeue_count: int) -> None:
    try:
        job = SyncJob.from_json(body)
    except MalformedMessage as exc:
        # Completing the message is deliberate: a malformed message never becomes valid by retrying.
        log.error("rejected malformed sync message: %s", exc.reason, extra={"reason": exc.reason})
        return
    log.info(
        "sync job received for client %s in run %s (attempt %d)",
        job.client_id,
        job.run_id,
        dequeue_count,
        extra={"officeId": job.office_id, "runId": job.run_id, "clientId": job.client_id},
    )


def process_poison_message(services: Services, body: bytes, *, dequeue_count: int) -> None:
    try:
        job = SyncJob.from_json(body)
    except MalformedMessage as exc:
        log.error("poison queue holds a malformed message: %s", exc.reason)
        return
    log.error(
        "sync job for client %s in run %s exhausted its retries",
        job.client_id,
        job.run_id,
        extra={"officeId": job.office_id, "runId": job.run_id, "clientId": job.client_id},
    )
