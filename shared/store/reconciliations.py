"""What the weekly Aansluiting last reported per client-year, so it e-mails only new differences.

Table ``Reconciliations``, PartitionKey = office id, RowKey = ``{clientId}|{year}``: the keys of
the differences the office was told about (``Difference.key``), when it last checked and the
e-mail event that last told it (``reconciliation_sent``). A difference that disappears is
dropped, so it counts as new if it comes back. RowKey ``weekly``: how the office's last weekly
job ended (done, partial, failed), in Dutch, so a job that failed for good is visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from azure.data.tables import TableClient, UpdateMode

from shared.store.storage import Storage
from shared.store.tables import check_key, get_or_none, when

TABLE: Final = "Reconciliations"


@dataclass(frozen=True)
class Reported:
    keys: frozenset[str]
    checked_at: datetime | None = None
    reconciliation_sent: str = ""  # the notification event of the last e-mail about it


class ReconciliationRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def reported(self, office_id: str, client_id: str, year: int) -> Reported:
        entity = get_or_none(self._table, check_key(office_id), _row(client_id, year))
        if entity is None:
            return Reported(frozenset())
        return Reported(
            frozenset(json.loads(entity.get("keys", "[]"))),
            when(entity.get("checked_at")),
            str(entity.get("reconciliation_sent", "")),
        )

    def save(
        self,
        office_id: str,
        client_id: str,
        year: int,
        keys: set[str],
        *,
        now: datetime,
        sent: str = "",
    ) -> None:
        """What the office now knows. ``sent``: the e-mail event that told it (kept until the
        next e-mail; idempotent, a redelivered job writes the same)."""
        before = self.reported(office_id, client_id, year)
        self._table.upsert_entity(
            {
                "PartitionKey": check_key(office_id),
                "RowKey": _row(client_id, year),
                "keys": json.dumps(sorted(keys)),
                "checked_at": now,
                "reconciliation_sent": sent or before.reconciliation_sent,
            },
            mode=UpdateMode.REPLACE,
        )


@dataclass(frozen=True)
class WeeklyStatus:
    state: str  # done, partial (some clients failed), failed
    text: str  # Dutch, for the portal
    at: datetime | None


WEEKLY_ROW: Final = "weekly"


def save_weekly(storage: Storage, office_id: str, state: str, text: str, *, now: datetime) -> None:
    storage.table(TABLE).upsert_entity(
        {
            "PartitionKey": check_key(office_id),
            "RowKey": WEEKLY_ROW,
            "state": state,
            "text": text,
            "at": now,
        },
        mode=UpdateMode.REPLACE,
    )


def weekly_status(storage: Storage, office_id: str) -> WeeklyStatus | None:
    entity = get_or_none(storage.table(TABLE), check_key(office_id), WEEKLY_ROW)
    if entity is None:
        return None
    return WeeklyStatus(
        str(entity.get("state", "")), str(entity.get("text", "")), when(entity.get("at"))
    )


def _row(client_id: str, year: int) -> str:
    return f"{check_key(client_id)}|{year}"
