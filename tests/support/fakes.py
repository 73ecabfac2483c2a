"""Dict-backed fakes of our repositories, with the same contract as the Azure ones (the same
:class:`ConcurrencyConflict` on a stale ETag), so services, the booking step and the worker have
unit tests that need no Azurite. The Azure repositories keep their own integration tests.

Also the two outside systems in process, for what the services and the worker read: Loket
(:class:`FakeLoket`) and AFAS Profit (:class:`FakeProfit`, below a real ``ProfitBooker``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.afas.errors import AfasSystem, AfasValidationError
from shared.afas.models import Administration, Journal, Period, ProfitAccount
from shared.clients.model import ClientConfig
from shared.journal.entries import ProfitEntry
from shared.journal.models import (
    JournalLine,
    JournalRun,
    JournalRunStatus,
    PayrollAdministration,
)
from shared.loket.errors import LoketNotFound
from shared.runs.model import JobOutcome, JobStatus, RunStatus, RunType, count_finished_job
from shared.store.approvals import ApprovalItem, ApprovalState, Prepared
from shared.store.connections import Connection, ConnectionKey, NewSecrets, StoredSecrets
from shared.store.run_details import JournalRunRecord, RunMessage
from shared.store.runs import Job, Run
from shared.store.tables import ConcurrencyConflict
from shared.sync.ledger import Booking


class FakeBookings:
    """:class:`shared.store.bookings.BookingRepository` in a dict."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Booking] = {}
        self.index: dict[str, dict[str, datetime]] = {}
        self.writes = 0
        self._etags = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, target: str, loket_journal_run_id: str) -> Booking | None:
        with self._lock:
            return self.rows.get((target, loket_journal_run_id))

    def insert(self, row: Booking) -> Booking:
        key = (row.target, row.loket_journal_run_id)
        with self._lock:
            if key in self.rows:
                raise ConcurrencyConflict(f"booking {key} exists")
            stored = replace(row, etag=f"e{next(self._etags)}")
            self.rows[key] = stored
            self.writes += 1
            return stored

    def save(self, row: Booking) -> Booking:
        key = (row.target, row.loket_journal_run_id)
        with self._lock:
            current = self.rows.get(key)
            if current is None or current.etag != row.etag:
                raise ConcurrencyConflict(f"booking {key} changed")
            stored = replace(row, etag=f"e{next(self._etags)}")
            self.rows[key] = stored
            self.writes += 1
            return stored

    def note_target(self, loket_journal_run_id: str, target: str, now: datetime) -> None:
        with self._lock:
            self.index.setdefault(loket_journal_run_id, {})[target] = now

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        with self._lock:
            return dict(self.index.get(loket_journal_run_id, {}))

    def of_client(self, target: str, office_id: str, client_id: str) -> list[Booking]:
        with self._lock:
            return [
                row
                for (partition, _), row in self.rows.items()
                if partition == target
                and (row.holder.office_id, row.holder.client_id) == (office_id, client_id)
            ]


@dataclass
class ManualClock:
    """Aware UTC time that moves only when told to."""

    now: datetime = field(default_factory=lambda: datetime(2025, 4, 2, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# -- the client, connection and approval services' repositories (tests/unit/test_services.py) --


class _Etags:
    def __init__(self) -> None:
        self._next = itertools.count(1)

    def __call__(self) -> str:
        return f'W/"{next(self._next)}"'


class FakeClients:
    """:class:`shared.clients.service.ClientStore` in a dict (same ETag contract)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ClientConfig] = {}
        self._etag = _Etags()

    def get(self, office_id: str, client_id: str) -> ClientConfig | None:
        return self.rows.get((office_id, client_id))

    def save(
        self, config: ClientConfig, *, by_user: str, now: datetime, if_match: str | None = None
    ) -> tuple[ClientConfig, bool]:
        key = (config.office_id, config.client_id)
        current = self.rows.get(key)
        if if_match is not None and (current is None or current.etag != if_match):
            raise ConcurrencyConflict(f"client {key} changed")
        stored = replace(
            config,
            etag=self._etag(),
            created_at=current.created_at if current else now,
            updated_at=now,
            updated_by=by_user,
        )
        self.rows[key] = stored
        return stored, current is None

    def delete(self, office_id: str, client_id: str) -> bool:
        return self.rows.pop((office_id, client_id), None) is not None

    def for_office(self, office_id: str) -> list[ClientConfig]:
        return [c for (office, _), c in sorted(self.rows.items()) if office == office_id]


class FakeConnections:
    """:class:`shared.connections.service.ConnectionStore` in a dict (secrets kept plain)."""

    def __init__(self) -> None:
        self.rows: dict[ConnectionKey, tuple[Connection, NewSecrets]] = {}
        self.conflict_next_update = False
        self._etag = _Etags()

    def add(self, key: ConnectionKey, *, active: bool = True, reauthorize: bool = False) -> None:
        connection = self.save(key, NewSecrets(), by_user="seed", now=datetime.now(UTC))
        self.rows[key] = (
            replace(connection, active=active, needs_reauthorization=reauthorize),
            NewSecrets(),
        )

    def get(self, key: ConnectionKey) -> Connection | None:
        row = self.rows.get(key)
        return row[0] if row else None

    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None:
        row = self.rows.get(key)
        if row is None:
            return None
        connection, secrets = row
        return StoredSecrets(
            connection, secrets.access_token, secrets.refresh_token, secrets.afas_token
        )

    def save(
        self,
        key: ConnectionKey,
        secrets: NewSecrets,
        *,
        by_user: str,
        by_name: str = "",
        now: datetime,
        active: bool = True,
        details: dict[str, str] | None = None,
    ) -> Connection:
        connection = Connection(
            key=key,
            active=active,
            needs_reauthorization=False,
            reason="",
            connected_by=by_user,
            connected_by_name=by_name,
            connected_at=now,
            updated_at=now,
            access_expires_at=None,
            refresh_lease_until=None,
            details=dict(details or {}),
            etag=self._etag(),
        )
        self.rows[key] = (connection, secrets)
        return connection

    def update(self, connection: Connection, *, etag: str | None = None, **changes: Any) -> str:
        current, secrets = self.rows[connection.key]
        if self.conflict_next_update or current.etag != (etag or connection.etag):
            self.conflict_next_update = False
            raise ConcurrencyConflict(f"connection {connection.key} changed")
        changes.pop("secrets", None)
        updated = replace(current, **changes, etag=self._etag())
        self.rows[connection.key] = (updated, secrets)
        return updated.etag


class FakeApprovals:
    """:class:`shared.store.approvals.ApprovalRepository` in a dict (get, pending, move)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ApprovalItem] = {}
        self._etag = _Etags()

    def add(self, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        item = ApprovalItem(
            prepared.approval_id, prepared, ApprovalState.PENDING, now, etag=self._etag()
        )
        self.rows[(prepared.office_id, item.approval_id)] = item
        return item

    def get(self, office_id: str, approval: str) -> ApprovalItem | None:
        return self.rows.get((office_id, approval))

    def prepare(self, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        """As the repository: create, or refresh a pending/failed item whose entry changed; an
        item an admin decided on is returned as it is."""
        current = self.get(prepared.office_id, prepared.approval_id)
        if current is None:
            return self.add(prepared, now=now)
        stale = current.prepared.fingerprint != prepared.fingerprint
        if current.state is ApprovalState.FAILED or (
            current.state is ApprovalState.PENDING and stale
        ):
            return self.reopen(current, prepared, now=now)
        return current

    def reopen(self, item: ApprovalItem, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        moved = self.move(
            item, ApprovalState.PENDING, decided_by="", decided_at="", reason="", lease_until=""
        )
        key = (prepared.office_id, item.approval_id)
        self.rows[key] = replace(moved, prepared=prepared, prepared_at=now)
        return self.rows[key]

    def pending(self, office_id: str) -> list[ApprovalItem]:
        return [
            item
            for (office, _), item in sorted(self.rows.items())
            if office == office_id and item.state is ApprovalState.PENDING
        ]

    def move(self, item: ApprovalItem, state: ApprovalState, **changes: Any) -> ApprovalItem:
        key = (item.prepared.office_id, item.approval_id)
        current = self.rows.get(key)
        if current is None or current.etag != item.etag:
            raise ConcurrencyConflict(f"approval {key} changed")
        cleared: dict[str, Any] = {
            k: (None if v == "" and k in _APPROVAL_TIMES else v) for k, v in changes.items()
        }
        moved = replace(current, state=state, **cleared, etag=self._etag())
        self.rows[key] = moved
        return moved


_APPROVAL_TIMES = frozenset({"decided_at", "lease_until", "prepared_at"})


class FakeRunDetails:
    """The journal-run rows and messages of runs (what review records), in dicts."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str, str], JournalRunRecord] = {}
        self.messages: dict[tuple[str, str, str], RunMessage] = {}

    def record(
        self,
        office_id: str,
        run_id: str,
        record: JournalRunRecord,
        messages: Sequence[tuple[RunMessage, str]] = (),
    ) -> None:
        key = (office_id, run_id, record.client_id, record.loket_journal_run_id)
        self.records[key] = record
        for message, message_key in messages:
            self.message(office_id, run_id, message, key=message_key)

    def message(self, office_id: str, run_id: str, message: RunMessage, *, key: str) -> None:
        self.messages[(office_id, run_id, key)] = message

    def records_for_client(
        self, office_id: str, run_id: str, client_id: str
    ) -> list[JournalRunRecord]:
        return [
            r
            for (o, run, c, _), r in self.records.items()
            if (o, run, c) == (office_id, run_id, client_id)
        ]


class FakeRuns:
    """:class:`shared.sync.ports.RunStore` in dicts: runs, their jobs (ETag-conditional start,
    finished once, counted by the run model's rule) and the admins' decision counters."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], Run] = {}
        self.jobs: dict[tuple[str, str, str], Job] = {}
        self.decisions: list[tuple[str, str, str]] = []
        self._etag = _Etags()

    def add_run(
        self,
        office_id: str,
        run_id: str,
        client_ids: Sequence[str],
        *,
        now: datetime,
        type: RunType = RunType.NIGHTLY,
    ) -> Run:
        """A planned run with one pending job per client (what the planner writes)."""
        run = Run(
            office_id, run_id, type, None, now, "system", now.date(), None, None,
            RunStatus.RUNNING, True, len(client_ids), 0, 0, 0, 0, 0, f"ix|{run_id}", self._etag(),
        )  # fmt: skip
        self.runs[(office_id, run_id)] = run
        for client in client_ids:
            self.jobs[(office_id, run_id, client)] = Job(
                office_id, run_id, client, JobStatus.PENDING, True, 0, 0, 0, 0, "", now,
                self._etag(),
            )  # fmt: skip
        return run

    def get(self, office_id: str, run_id: str) -> Run | None:
        return self.runs.get((office_id, run_id))

    def get_fixed(self, office_id: str, run_id: str) -> Run | None:
        return self.get(office_id, run_id)

    def get_job(self, office_id: str, run_id: str, client_id: str) -> Job | None:
        return self.jobs.get((office_id, run_id, client_id))

    def _write_job(self, job: Job, **changes: Any) -> Job:
        key = (job.office_id, job.run_id, job.client_id)
        if self.jobs[key].etag != job.etag:
            raise ConcurrencyConflict(f"job {key} changed")
        self.jobs[key] = replace(self.jobs[key], **changes, etag=self._etag())
        return self.jobs[key]

    def start_job(
        self, job: Job, *, now: datetime, holder: str = "", lease_until: datetime | None = None
    ) -> Job:
        return self._write_job(
            job,
            status=JobStatus.RUNNING,
            attempts=job.attempts + 1,
            updated_at=now,
            holder=holder,
            lease_until=lease_until,
        )

    def note_job_error(self, job: Job, error: str, *, now: datetime) -> None:
        key = (job.office_id, job.run_id, job.client_id)
        self.jobs[key] = replace(
            self.jobs[key],
            last_error=error,
            updated_at=now,
            holder="",
            lease_until=None,
            etag=self._etag(),
        )

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
        stored = self.jobs.get((office_id, run_id, client_id))
        run = self.runs.get((office_id, run_id))
        if stored is None or run is None:
            raise LookupError(f"job {run_id}/{client_id} does not exist")
        if stored.status.finished:
            return None
        counted = count_finished_job(run.progress, outcome)
        self._write_job(
            stored,
            status=outcome.status,
            imported=outcome.imported,
            failed=outcome.failed,
            skipped=outcome.skipped,
            last_error=outcome.error,
            updated_at=now,
        )
        counters: dict[str, Any] = counted.counters()
        after = replace(run, status=counted.status, **counters, etag=self._etag())
        self.runs[(office_id, run_id)] = after
        return after

    def count_decision(self, office_id: str, run_id: str, outcome: str) -> None:
        self.decisions.append((office_id, run_id, outcome))
        run = self.runs.get((office_id, run_id))
        if run is not None:
            column = f"decided_{outcome}"
            self.runs[(office_id, run_id)] = replace(run, **{column: getattr(run, column) + 1})


# -- the outside systems in process ------------------------------------------------------------


@dataclass
class FakeLoket:
    """Loket.nl as the client service and the worker read it, from dicts (or failing): the
    office's consent is ``fake(office_id)`` (a context manager, as ``Services.loket_client``)."""

    administrations: dict[str, PayrollAdministration] = field(default_factory=dict)
    journal_runs: dict[str, JournalRun] = field(default_factory=dict)
    lines: dict[str, list[JournalLine]] = field(default_factory=dict)
    approved: dict[str, datetime] = field(default_factory=dict)  # payroll run -> approved at
    marked: list[tuple[str, str]] = field(default_factory=list)  # (journal run, message)
    fail: Exception | None = None
    reads: int = 0

    def add_run(self, run: JournalRun, lines: list[JournalLine]) -> None:
        self.journal_runs[run.id] = run
        self.lines[run.id] = lines

    def get_payroll_administration(self, administration_id: str) -> PayrollAdministration:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        if administration_id not in self.administrations:
            raise LoketNotFound("not visible", status=404)
        return self.administrations[administration_id]

    def list_journal_runs(self, administration_id: str) -> Iterator[JournalRun]:
        self.reads += 1
        if self.fail is not None:
            raise self.fail
        yield from (
            r for r in self.journal_runs.values() if r.administration_id == administration_id
        )

    def get_journal_run(self, run_id: str, *, administration_id: str) -> JournalRun:
        run = self.journal_runs.get(run_id)
        if run is None or run.administration_id != administration_id:
            raise LoketNotFound("not in this administration", status=404)
        return run

    def iter_journal_run_lines(self, run_id: str) -> Iterator[JournalLine]:
        yield from self.lines.get(run_id, [])

    def get_payroll_run_approval(self, payroll_run_id: str) -> datetime | None:
        return self.approved.get(payroll_run_id)

    def mark_processed(self, run_id: str, message: str) -> None:
        self.marked.append((run_id, message))
        self.journal_runs[run_id] = replace(
            self.journal_runs[run_id], status=JournalRunStatus.EXPORTED
        )

    def mark_processing_failed(self, run_id: str, message: str) -> None:
        self.journal_runs[run_id] = replace(
            self.journal_runs[run_id], status=JournalRunStatus.EXPORT_FAILED
        )

    @contextmanager
    def __call__(self, office_id: str) -> Iterator[FakeLoket]:
        yield self


@dataclass
class FakeProfit:
    """AFAS Profit's reads and FiEntries as a ``ProfitBooker`` calls them (in place of
    ``ProfitClient``): every post is booked under a new entry number, unless ``refuse`` holds
    AFAS's refusal text (then nothing is booked)."""

    accounts: list[ProfitAccount] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    administrations: list[Administration] = field(default_factory=list)
    journals: list[Journal] = field(default_factory=list)
    refuse: str = ""
    booked: dict[str, int] = field(default_factory=dict)  # voucher number -> entry number
    posts: list[ProfitEntry] = field(default_factory=list)  # every post that reached AFAS
    server_timeout: float = 900.0
    post_read_timeout: float = 120.0

    def list_accounts(self) -> Iterator[ProfitAccount]:
        yield from self.accounts

    def list_periods(self, administration: int, *, year: int | None = None) -> Iterator[Period]:
        yield from (
            p
            for p in self.periods
            if p.administration == administration and (year is None or p.year == year)
        )

    def list_allocation_assignments(
        self, administration: int, *, account: str | None = None
    ) -> Iterator[Any]:
        yield from ()

    def list_administrations(self) -> Iterator[Administration]:
        yield from self.administrations

    def list_journals(self, administration: int) -> Iterator[Journal]:
        yield from (j for j in self.journals if j.administration == administration)

    def post_entry(self, entry: ProfitEntry) -> int:
        self.posts.append(entry)
        if self.refuse:
            raise AfasValidationError(self.refuse, system=AfasSystem.PROFIT, status=500)
        number = 70001 + len(self.booked)
        self.booked[entry.voucher_number] = number
        return number

    def find_entry(self, administration: int, voucher_number: str) -> int | None:
        return self.booked.get(voucher_number)
