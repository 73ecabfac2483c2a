"""Dict-backed fakes of our repositories, with the same contract as the Azure ones (the same
:class:`ConcurrencyConflict` on a stale ETag), so services and the booking step have unit tests
that need no Azurite. The Azure repositories keep their own integration tests."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clients.model import ClientConfig
from shared.store.approvals import ApprovalItem, ApprovalState, Prepared
from shared.store.connections import Connection, ConnectionKey, NewSecrets, StoredSecrets
from shared.store.run_details import JournalRunRecord, RunMessage
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

    def record(self, office_id: str, run_id: str, record: JournalRunRecord) -> None:
        key = (office_id, run_id, record.client_id, record.loket_journal_run_id)
        self.records[key] = record

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
    """The runs' decision counters (what review counts)."""

    def __init__(self) -> None:
        self.decisions: list[tuple[str, str, str]] = []

    def count_decision(self, office_id: str, run_id: str, outcome: str) -> None:
        self.decisions.append((office_id, run_id, outcome))
