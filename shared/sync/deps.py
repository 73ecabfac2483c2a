"""What the sync needs from the outside world, as one small bundle the worker, the steps of a
journal run and the approvals take as an argument (production: ``Services.worker_deps``; tests
build their own), plus what one delivery of a job knows about itself."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from shared.clients.model import ClientConfig
from shared.loket.client import LoketClient
from shared.store.approvals import ApprovalRepository
from shared.store.audit_copies import AuditStore
from shared.store.bookings import BookingRepository
from shared.store.clients import ClientRepository
from shared.store.run_details import JournalRunOutcome, RunDetailRepository
from shared.store.runs import Run, RunRepository
from shared.sync.bookers import AfasBooker
from shared.sync.booking import BookingPolicy
from shared.sync.ledger import Holder
from shared.sync.messages import SyncJob

if TYPE_CHECKING:
    from shared.notify.service import Notifier


@dataclass
class WorkerDeps:
    runs: RunRepository
    details: RunDetailRepository
    clients: ClientRepository
    bookings: BookingRepository
    loket: Callable[[str], AbstractContextManager[LoketClient]]  # office -> client
    target: Callable[[ClientConfig], AfasBooker]
    clock: Callable[[], datetime]
    audit: AuditStore | None = None  # the audit copy of every journal run (Blob Storage)
    approvals: ApprovalRepository | None = None  # review mode; None books as automatic
    notifier: Notifier | None = None  # e-mail notifications; None sends none
    # Send the job again, visible after the given delay (seconds); None: plain queue retries.
    defer: Callable[[SyncJob, float], None] | None = None
    booking: BookingPolicy = field(default_factory=BookingPolicy)
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
    # Loket journal runs this run already recorded for this client (an earlier delivery).
    recorded: frozenset[str] = frozenset()
    counts: Counter[JournalRunOutcome] = field(default_factory=Counter)
    # The job's first delivery: nothing of it was recorded or booked before (no earlier start).
    first_delivery: bool = False

    @property
    def holder(self) -> Holder:
        """Who holds this job's booking claims: the job of this office, client and run. The job
        lease makes one delivery at a time that holder, so a delivery may continue the claim a
        dead delivery of the same job left."""
        return Holder(self.job.office_id, self.config.client_id, self.job.run_id)
