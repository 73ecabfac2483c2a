"""What the sync needs from the outside world, as small bundles taken as an argument: ``ReviewDeps``
(what recording a journal run, approving and rejecting need; production:
``Services.review_deps``) and ``WorkerDeps`` (that plus the queue, for the worker; production:
``Services.worker_deps``); tests build their own. Plus what one delivery of a job knows about
itself (``JobState``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING

from shared.clients.model import ClientConfig
from shared.loket.client import LoketClient
from shared.store.audit_copies import AuditStore
from shared.store.bookings import BookingRepository
from shared.store.run_details import JournalRunOutcome
from shared.store.runs import Run
from shared.sync.bookers import AnyBooker
from shared.sync.booking import BookingPolicy
from shared.sync.ledger import Holder
from shared.sync.messages import SyncJob
from shared.sync.ports import ApprovalStore, ClientReader, RunDetailStore, RunStore

if TYPE_CHECKING:
    from shared.notify.service import Notifier


@dataclass
class ReviewDeps:
    """Booking a prepared entry, recording what became of it, telling Loket: what an admin's
    approve/reject and the worker's steps share. No queue: a review never sends a job again."""

    # the repositories behind the sync's small Protocols (shared/sync/ports.py); dict-backed
    # fakes in tests/support/fakes.py
    runs: RunStore
    details: RunDetailStore
    clients: ClientReader
    bookings: BookingRepository
    loket: Callable[[str], AbstractContextManager[LoketClient]]  # office -> client
    target: Callable[[ClientConfig], AnyBooker]
    clock: Callable[[], datetime]
    audit: AuditStore | None = None  # the audit copy of every journal run (Blob Storage)
    approvals: ApprovalStore | None = None  # review mode; None books as automatic
    notifier: Notifier | None = None  # e-mail notifications; None sends none
    booking: BookingPolicy = field(default_factory=BookingPolicy)
    # Fault-injection seam: called after each step of a journal run ("listed", "read",
    # "prechecked", "booked", "recorded", "marked"). Production passes nothing; the fault matrix
    # (tests/faults) raises here to kill the worker between two steps.
    checkpoint: Callable[[str], None] = field(default=lambda step: None)


@dataclass
class WorkerDeps(ReviewDeps):
    """The job's bundle: the review's parts plus the queue."""

    # Send the job again, visible after the given delay (seconds); None: plain queue retries.
    defer: Callable[[SyncJob, float], None] | None = None
    # Forget the office's connections kept in this process (ConnectionCache); True when some
    # were kept. None: nothing is kept.
    forget_connections: Callable[[str], bool] | None = None

    @classmethod
    def extending(
        cls,
        review: ReviewDeps,
        *,
        defer: Callable[[SyncJob, float], None] | None = None,
        forget_connections: Callable[[str], bool] | None = None,
    ) -> WorkerDeps:
        """The review's parts (the same objects, so the two never drift) plus the queue's."""
        parts = {part.name: getattr(review, part.name) for part in fields(ReviewDeps)}
        return cls(**parts, defer=defer, forget_connections=forget_connections)


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
