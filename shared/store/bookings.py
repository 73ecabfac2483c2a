"""The booking ledger's storage: table ``Bookings``, one row per (AFAS administration, Loket
journal run). PartitionKey = the target administration (``profit|{env}|{UnId}`` or
``sb|{env}|{administrationId}``), RowKey = the Loket journal run id.

A second kind of row, PartitionKey ``run|{Loket journal run id}``, RowKey = an administration,
notes every administration that set out to book a journal run: the ledger is kept per
administration, and this index is how a booking in one administration sees another one's
(a client moved or re-created elsewhere while a booking was unfinished).

The rules live in :mod:`shared.sync.ledger` (a pure state machine); this module only stores
rows: one conditional insert for the first claim, every later change a whole-row write that is
conditional on the ETag the writer read (:class:`ConcurrencyConflict` otherwise). The same
contract is implemented by a dict-backed fake in the unit tests (``tests/support/fakes.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.store.storage import Storage
from shared.store.tables import (
    ConcurrencyConflict,
    check_key,
    etag_of,
    get_or_none,
    key_part,
    key_value,
    update_if_unchanged,
    when,
)
from shared.sync.ledger import Booking, Holder, State

TABLE: Final = "Bookings"


class BookingRepository(Protocol):
    def get(self, target: str, loket_journal_run_id: str) -> Booking | None: ...

    def insert(self, row: Booking) -> Booking:
        """Store a first claim; :class:`ConcurrencyConflict` when a row exists already."""
        ...

    def save(self, row: Booking) -> Booking:
        """Replace the row if it still has ``row.etag``; :class:`ConcurrencyConflict` otherwise.
        Returns the row with its new ETag."""
        ...

    def of_client(self, target: str, office_id: str, client_id: str) -> list[Booking]:
        """The rows of one administration whose last holder was this client of this office."""
        ...

    def note_target(self, loket_journal_run_id: str, target: str, now: datetime) -> None:
        """Remember that ``target`` is about to book this Loket journal run, and when: the
        moment of the latest attempt (a later attempt moves it on)."""
        ...

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        """Every administration that ever set out to book this Loket journal run, and when."""
        ...


class BookingLedger:
    """:class:`BookingRepository` on Azure Table Storage."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def get(self, target: str, loket_journal_run_id: str) -> Booking | None:
        entity = get_or_none(self._table, _key(target), _key(loket_journal_run_id))
        return to_booking(entity) if entity is not None else None

    def insert(self, row: Booking) -> Booking:
        try:
            result = self._table.create_entity(to_entity(row))
        except ResourceExistsError:
            raise ConcurrencyConflict(
                f"booking {row.target}/{row.loket_journal_run_id} exists"
            ) from None
        return _with_etag(row, result)

    def save(self, row: Booking) -> Booking:
        etag = update_if_unchanged(self._table, to_entity(row), row.etag, mode=UpdateMode.REPLACE)
        return _replace_etag(row, etag)

    def note_target(self, loket_journal_run_id: str, target: str, now: datetime) -> None:
        self._table.upsert_entity(
            {
                "PartitionKey": _run_partition(loket_journal_run_id),
                "RowKey": _key(target),
                "noted_at": now,
            },
            mode=UpdateMode.REPLACE,
        )

    def targets_of(self, loket_journal_run_id: str) -> dict[str, datetime]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": _run_partition(loket_journal_run_id)}
        )
        return {
            key_value(e["RowKey"]): when(e.get("noted_at")) or datetime.min.replace(tzinfo=UTC)
            for e in entities
        }

    def of_client(self, target: str, office_id: str, client_id: str) -> list[Booking]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk and office_id eq @office and client_id eq @client",
            parameters={"pk": _key(target), "office": office_id, "client": client_id},
        )
        return [to_booking(e) for e in entities]

    def of_office(self, target: str, office_id: str) -> list[Booking]:
        """The rows of one administration whose last holder was any client of this office."""
        entities = self._table.query_entities(
            "PartitionKey eq @pk and office_id eq @office",
            parameters={"pk": check_key(target), "office": office_id},
        )
        return [to_booking(e) for e in entities]


def _run_partition(loket_journal_run_id: str) -> str:
    """The index of which administrations set out to book a Loket journal run (a GUID, so the
    partition never meets an administration's ``profit|…``/``sb|…`` partition)."""
    return check_key(f"run|{key_part(loket_journal_run_id)}")


def _key(value: str) -> str:
    """A ledger key from outside data (administration partition, Loket journal run id)."""
    return check_key(key_part(value))


def _with_etag(row: Booking, result: Any) -> Booking:
    etag = result.get("etag") if isinstance(result, dict) else None
    return _replace_etag(row, str(etag or ""))


def _replace_etag(row: Booking, etag: str) -> Booking:
    return replace(row, etag=etag)


def to_entity(row: Booking) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": _key(row.target),
        "RowKey": _key(row.loket_journal_run_id),
        "state": row.state.value,
        "office_id": row.holder.office_id,
        "client_id": row.holder.client_id,
        "run_id": row.holder.job,
        "administration": row.administration,
        "journal": row.journal,
        "reference": row.reference,
        "fingerprint": row.fingerprint,
        "generation": row.generation,
        "posts": row.posts,
        "afas_finished": row.afas_finished,
        "entry_number": row.entry_number,
        "error": row.error,
        "attempts": row.attempts,
    }
    for name in ("lease_until", "last_post_at", "booked_at", "marked_at"):  # Tables keep no None
        value = getattr(row, name)
        if value is not None:
            entity[name] = value
    return entity


def to_booking(e: TableEntity) -> Booking:
    state, afas_finished = _state(e)
    return Booking(
        target=key_value(e["PartitionKey"]),
        loket_journal_run_id=key_value(e["RowKey"]),
        state=state,
        holder=Holder(e.get("office_id", ""), e.get("client_id", ""), e.get("run_id", "")),
        lease_until=when(e.get("lease_until")),
        administration=str(e.get("administration", "")),
        journal=str(e.get("journal", "")),
        reference=e.get("reference", ""),
        fingerprint=e.get("fingerprint", ""),
        generation=int(e.get("generation", 0)),
        posts=int(e.get("posts", 0)),
        # Rows written before the ledger kept it said "posted_at" for the last post.
        last_post_at=when(e.get("last_post_at") or e.get("posted_at")),
        afas_finished=afas_finished,
        entry_number=e.get("entry_number", ""),
        error=e.get("error", ""),
        attempts=int(e.get("attempts", 1)),
        booked_at=when(e.get("booked_at")),
        marked_at=when(e.get("marked_at")),
        etag=etag_of(e),
    )


def _state(e: TableEntity) -> tuple[State, bool]:
    raw = e.get("state", "")
    if raw == "failed":
        # Written before the ledger told a refusal from an unknown outcome: a failed row may hide
        # a booked entry (an empty 201, a failing look-up), so it is looked up before any post.
        return State.UNKNOWN, False
    return State(raw), bool(e.get("afas_finished", False))
