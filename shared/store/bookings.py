"""The booking ledger: at most one booking of a Loket journal run per AFAS administration.

Table ``Bookings``: PartitionKey = the target administration (``profit|{env}|{UnId}`` or
``sb|{env}|{administrationId}``), RowKey = the Loket journal run id. The claim is one conditional
insert; every later state change is ETag-conditional and only moves forward:

    claimed -> posted -> booked -> marked          (marked: Loket knows it is processed)
    claimed -> failed                              (pre-check or AFAS refused; may be retried)

A claim carries a lease. A worker that finds a live lease leaves the run alone (someone else is
booking it); a worker that finds an expired ``claimed``/``posted`` lease recovers it by asking
AFAS whether the voucher / tracking identifier is booked before anything is posted again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableEntity

from shared.store.storage import Storage
from shared.store.tables import check_key, etag_of, get_or_none, update_if_unchanged, when

TABLE: Final = "Bookings"


class BookingState(StrEnum):
    CLAIMED = "claimed"
    POSTED = "posted"  # the POST went out; its outcome may be unknown
    BOOKED = "booked"  # AFAS has the entry (entry number known)
    MARKED = "marked"  # and Loket has been told (MarkAsProcessed)
    FAILED = "failed"  # not booked; the reason is in ``error``

    @property
    def booked(self) -> bool:
        return self in (BookingState.BOOKED, BookingState.MARKED)


@dataclass(frozen=True)
class Booking:
    target: str
    loket_journal_run_id: str
    state: BookingState
    office_id: str
    client_id: str
    run_id: str  # the sync run that last worked on it
    reference: str  # voucher number / tracking identifier
    entry_number: str
    lease_until: datetime | None
    booked_at: datetime | None
    posted_at: datetime | None  # when the last post went out (its outcome may be unknown)
    error: str
    attempts: int
    etag: str

    def lease_alive(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now


class BookingLedger:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def get(self, target: str, loket_journal_run_id: str) -> Booking | None:
        entity = get_or_none(self._table, check_key(target), check_key(loket_journal_run_id))
        return _booking(entity) if entity is not None else None

    def claim(
        self,
        target: str,
        loket_journal_run_id: str,
        *,
        office_id: str,
        client_id: str,
        run_id: str,
        reference: str,
        lease_until: datetime,
    ) -> Booking | None:
        """Insert a fresh claim. None when a booking row already exists (read it and decide)."""
        try:
            self._table.create_entity(
                {
                    "PartitionKey": check_key(target),
                    "RowKey": check_key(loket_journal_run_id),
                    "state": BookingState.CLAIMED.value,
                    "office_id": office_id,
                    "client_id": client_id,
                    "run_id": run_id,
                    "reference": reference,
                    "entry_number": "",
                    "lease_until": lease_until,
                    "error": "",
                    "attempts": 1,
                }
            )
        except ResourceExistsError:
            return None
        return self.get(target, loket_journal_run_id)

    def advance(self, booking: Booking, state: BookingState, **fields: Any) -> Booking:
        """ETag-conditional move to ``state``; raises ConcurrencyConflict when it changed."""
        entity = {
            "PartitionKey": booking.target,
            "RowKey": booking.loket_journal_run_id,
            "state": state.value,
            **fields,
        }
        etag = update_if_unchanged(self._table, entity, booking.etag)
        # The row is what we just wrote: no need to read it back.
        known = {k: v for k, v in fields.items() if k in _BOOKING_FIELDS}
        return replace(booking, state=state, etag=etag, **known)

    def reclaim(
        self, booking: Booking, *, run_id: str, client_id: str, lease_until: datetime
    ) -> Booking:
        """Take over an expired or failed claim (ETag-conditional)."""
        return self.advance(
            booking,
            booking.state if booking.state is not BookingState.FAILED else BookingState.CLAIMED,
            run_id=run_id,
            client_id=client_id,
            lease_until=lease_until,
            attempts=booking.attempts + 1,
        )


_BOOKING_FIELDS: Final = frozenset(f.name for f in fields(Booking)) - {"target", "etag"}


def _booking(e: TableEntity) -> Booking:
    return Booking(
        target=e["PartitionKey"],
        loket_journal_run_id=e["RowKey"],
        state=BookingState(e["state"]),
        office_id=e.get("office_id", ""),
        client_id=e.get("client_id", ""),
        run_id=e.get("run_id", ""),
        reference=e.get("reference", ""),
        entry_number=e.get("entry_number", ""),
        lease_until=when(e.get("lease_until")),
        booked_at=when(e.get("booked_at")),
        posted_at=when(e.get("posted_at")),
        error=e.get("error", ""),
        attempts=int(e.get("attempts", 0)),
        etag=etag_of(e),
    )
