"""The repositories as the sync sees them: small Protocols with only the methods the worker,
the booking and review call (``ReviewDeps``/``WorkerDeps`` are typed with them).

Production passes the Azure repositories of ``shared/store`` (wired in ``shared.bootstrap``);
unit tests pass the dict-backed fakes of ``tests/support/fakes.py``. The booking ledger's port is
``shared.store.bookings.BookingRepository`` (already a Protocol).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.clients.model import ClientConfig
from shared.runs.model import JobOutcome
from shared.store.approvals import ApprovalItem, ApprovalState, Prepared
from shared.store.run_details import JournalRunRecord, RunMessage
from shared.store.runs import Job, Run


class RunStore(Protocol):
    """The runs and their jobs (``shared.store.runs.RunRepository``)."""

    def get(self, office_id: str, run_id: str) -> Run | None: ...

    def get_fixed(self, office_id: str, run_id: str) -> Run | None:
        """The run as first read (what never changes: type, client, window)."""
        ...

    def get_job(self, office_id: str, run_id: str, client_id: str) -> Job | None: ...

    def start_job(
        self, job: Job, *, now: datetime, holder: str = "", lease_until: datetime | None = None
    ) -> Job:
        """Count the attempt, take the job's lease; ConcurrencyConflict on a changed row."""
        ...

    def note_job_error(self, job: Job, error: str, *, now: datetime) -> None:
        """Remember why an attempt failed and release the job's lease."""
        ...

    def finish_job(
        self,
        office_id: str,
        run_id: str,
        client_id: str,
        outcome: JobOutcome,
        *,
        now: datetime,
        job: Job | None = None,
    ) -> Run | None:
        """Finish the job and count it in its run, atomically; None when it was finished."""
        ...

    def count_decision(self, office_id: str, run_id: str, outcome: str) -> None: ...


class RunDetailStore(Protocol):
    """A run's journal-run rows and messages (``shared.store.run_details.RunDetailRepository``)."""

    def record(
        self,
        office_id: str,
        run_id: str,
        record: JournalRunRecord,
        messages: Sequence[tuple[RunMessage, str]] = (),
    ) -> None: ...

    def message(self, office_id: str, run_id: str, message: RunMessage, *, key: str) -> None:
        """Store a message under a deterministic ``key`` (idempotent under redelivery)."""
        ...

    def records_for_client(
        self, office_id: str, run_id: str, client_id: str
    ) -> list[JournalRunRecord]: ...


class ClientReader(Protocol):
    """Reading client configurations (``shared.store.clients.ClientRepository``)."""

    def get(self, office_id: str, client_id: str) -> ClientConfig | None: ...

    def for_office(self, office_id: str) -> list[ClientConfig]: ...


class ApprovalStore(Protocol):
    """Review mode's items (``shared.store.approvals.ApprovalRepository``)."""

    def get(self, office_id: str, approval: str) -> ApprovalItem | None: ...

    def prepare(self, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        """Create the item, or refresh a pending/failed one whose entry changed."""
        ...

    def reopen(self, item: ApprovalItem, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        """An approved entry that changed before it was booked goes back to pending."""
        ...

    def move(self, item: ApprovalItem, state: ApprovalState, **changes: Any) -> ApprovalItem:
        """ETag-conditional change; ConcurrencyConflict when someone changed it first."""
        ...
