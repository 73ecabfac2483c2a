"""Notification settings per office, and one row per notification event (sent at most once).

Table ``Notifications``, PartitionKey = office id:

* ``settings``       recipients and which notifications the office wants
* ``ev|{event key}`` one notification event, claimed before sending. The key is deterministic
  per event (``summary|{runId}``, ``failed|{runId}|{client}|{journal run}``,
  ``reauth|{connection}|{since}``), so a redelivered job or a second tick finds the claim.

A claim is a conditional insert with a short lease (state ``sending``), then ``sent``. If the
process dies between claiming and sending, the claim's lease runs out and the next attempt for
the same event (a sweep on the hourly tick for summaries and re-authorisations) takes it over
with an ETag condition. The one crash window left is *after* the mail service accepted the
message and *before* ``sent`` was written: then the mail goes out a second time, with the same
deterministic Message-ID, which mail clients use to show it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.store.storage import Storage
from shared.store.tables import (
    ConcurrencyConflict,
    check_key,
    etag_of,
    get_or_none,
    key_part,
    update_if_unchanged,
    when,
)

TABLE: Final = "Notifications"
SEND_LEASE: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class NotificationSettings:
    recipients: tuple[str, ...] = ()
    morning_summary: bool = True
    reauthorization: bool = True
    journal_run_failed: bool = True
    updated_at: datetime | None = None
    updated_by: str = ""
    etag: str = ""

    def wants(self, kind: str) -> bool:
        return bool(self.recipients) and {
            "summary": self.morning_summary,
            "reauth": self.reauthorization,
            "failed": self.journal_run_failed,
            # The weekly Aansluiting: new differences between Loket and AFAS are bookings that
            # went wrong too, so they follow the "journal run failed" choice.
            "reconciliation": self.journal_run_failed,
        }.get(kind, False)


@dataclass(frozen=True)
class Claim:
    office_id: str
    key: str
    etag: str


@dataclass(frozen=True)
class SentEvent:
    key: str
    state: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    sent_at: datetime | None
    attempts: int


class NotificationRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    # -- settings ---------------------------------------------------------------------------
    def settings(self, office_id: str) -> NotificationSettings | None:
        entity = get_or_none(self._table, check_key(office_id), "settings")
        if entity is None:
            return None
        return NotificationSettings(
            recipients=tuple(r for r in str(entity.get("recipients", "")).split(",") if r),
            morning_summary=bool(entity.get("morning_summary", True)),
            reauthorization=bool(entity.get("reauthorization", True)),
            journal_run_failed=bool(entity.get("journal_run_failed", True)),
            updated_at=when(entity.get("updated_at")),
            updated_by=entity.get("updated_by", ""),
            etag=etag_of(entity),
        )

    def save_settings(
        self, office_id: str, value: NotificationSettings, *, now: datetime, user: str
    ) -> NotificationSettings:
        self._table.upsert_entity(
            {
                "PartitionKey": check_key(office_id),
                "RowKey": "settings",
                "recipients": ",".join(value.recipients),
                "morning_summary": value.morning_summary,
                "reauthorization": value.reauthorization,
                "journal_run_failed": value.journal_run_failed,
                "updated_at": now,
                "updated_by": user,
            },
            mode=UpdateMode.REPLACE,
        )
        saved = self.settings(office_id)
        assert saved is not None
        return saved

    # -- events -----------------------------------------------------------------------------
    def claim(self, office_id: str, key: str, *, now: datetime) -> Claim | None:
        """Claim the event for sending; None when it was sent or someone holds a live claim."""
        row = _event_row(key)
        try:
            result = self._table.create_entity(
                {
                    "PartitionKey": check_key(office_id),
                    "RowKey": row,
                    "state": "sending",
                    "lease_until": now + SEND_LEASE,
                    "attempts": 1,
                }
            )
            return Claim(office_id, key, str(result["etag"]))
        except ResourceExistsError:
            pass
        entity = get_or_none(self._table, office_id, row)
        if entity is None or entity.get("state") == "sent":
            return None
        lease = when(entity.get("lease_until"))
        if lease is not None and lease > now:
            return None
        try:
            etag = update_if_unchanged(
                self._table,
                {
                    "PartitionKey": office_id,
                    "RowKey": row,
                    "state": "sending",
                    "lease_until": now + SEND_LEASE,
                    "attempts": int(entity.get("attempts", 0)) + 1,
                },
                etag_of(entity),
            )
        except ConcurrencyConflict:
            return None
        return Claim(office_id, key, etag)

    def sent(
        self,
        claim: Claim,
        *,
        now: datetime,
        recipients: tuple[str, ...],
        subject: str,
        message_id: str,
    ) -> None:
        self._table.update_entity(
            {
                "PartitionKey": claim.office_id,
                "RowKey": _event_row(claim.key),
                "state": "sent",
                "sent_at": now,
                "recipients": ",".join(recipients),
                "subject": subject[:1000],
                "message_id": message_id,
            },
            mode=UpdateMode.MERGE,
        )

    def release(self, claim: Claim, *, now: datetime, error: str) -> None:
        """Sending failed: let the next attempt (sweep, redelivery) try again at once."""
        self._table.update_entity(
            {
                "PartitionKey": claim.office_id,
                "RowKey": _event_row(claim.key),
                "state": "failed",
                "lease_until": now,
                "error": error[:1000],
            },
            mode=UpdateMode.MERGE,
        )

    def event(self, office_id: str, key: str) -> SentEvent | None:
        entity = get_or_none(self._table, check_key(office_id), _event_row(key))
        return _event(entity) if entity is not None else None


def _event(e: TableEntity) -> SentEvent:
    raw: Any = e.get("recipients", "")
    return SentEvent(
        key=str(e["RowKey"])[3:],
        state=e.get("state", ""),
        recipients=tuple(r for r in str(raw).split(",") if r),
        subject=e.get("subject", ""),
        message_id=e.get("message_id", ""),
        sent_at=when(e.get("sent_at")),
        attempts=int(e.get("attempts", 0)),
    )


def _event_row(key: str) -> str:
    """The row of one event: its key names outside data (a Loket journal run id), escaped."""
    return check_key(f"ev|{key_part(key)[:480]}")
