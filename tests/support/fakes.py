"""Dict-backed fakes of our repositories, with the same contract as the Azure ones (the same
:class:`ConcurrencyConflict` on a stale ETag), so services and the booking step have unit tests
that need no Azurite. The Azure repositories keep their own integration tests."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

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
            self.index.setdefault(loket_journal_run_id, {}).setdefault(target, now)

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
