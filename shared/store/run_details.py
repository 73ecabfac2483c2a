"""What a run did: one row per Loket journal run considered, and the run's messages.

Table ``RunDetails``, PartitionKey = ``{office}|{runId}``:

* ``jr|{clientId}|{loketJournalRunId}`` the journal run row (imported / failed / skipped)
* ``msg|{clientId or _}|{key}``       a message (Dutch text + hint). The key is deterministic per
  (client, journal run, kind), so a redelivered job rewrites its messages instead of doubling them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.store.storage import Storage
from shared.store.tables import MAX_TRANSACTION, check_key, key_part, when

TABLE: Final = "RunDetails"


class JournalRunOutcome(StrEnum):
    IMPORTED = "imported"
    FAILED = "failed"
    SKIPPED = "skipped"
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"  # an admin rejected it under Goedkeuren: prepared, never sent

    @property
    def dutch(self) -> str:
        return {
            "imported": "Geïmporteerd",
            "failed": "Mislukt",
            "skipped": "Overgeslagen",
            "awaiting_approval": "Wacht op goedkeuring",
            "rejected": "Afgewezen",
        }[self.value]


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class JournalRunRecord:
    client_id: str
    loket_journal_run_id: str
    payroll_run_id: str
    payroll_period: str  # "2020-3"
    sequence_number: int
    status: JournalRunOutcome
    environment: str  # AFAS environment (Profit number or SB name)
    sent_at: datetime | None = None
    entry_number: str | None = None
    reference: str = ""  # voucher number (Profit) or tracking identifier (SB)
    note: str = ""  # short Dutch summary


@dataclass(frozen=True)
class RunMessage:
    at: datetime
    level: Level
    text: str
    hint: str = ""
    client_id: str | None = None
    loket_journal_run_id: str | None = None
    code: str = ""
    checks: tuple[LoketCheck, ...] = ()  # the manual's checklist, when there was nothing to book


@dataclass(frozen=True)
class LoketCheck:
    """One of the manual's three checks in Loket (Verloning, Journaal, Loonaangifte): ``state``
    ok (green tick), failed, or unknown (Loonbrug cannot see it); ``todo``: what to do in Loket."""

    name: str
    state: str  # ok | failed | unknown
    text: str
    todo: str = ""


def _partition(office_id: str, run_id: str) -> str:
    return f"{check_key(office_id)}|{check_key(run_id)}"


class RunDetailRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def record(
        self,
        office_id: str,
        run_id: str,
        record: JournalRunRecord,
        messages: Sequence[tuple[RunMessage, str]] = (),
    ) -> None:
        """The journal-run row and its messages (message, key) in one entity-group transaction
        (one round trip; a row with more than 99 messages takes one more per 100)."""
        by_key: dict[str, dict[str, Any]] = {}  # one operation per row: the last one wins
        for entity in [
            _record_entity(office_id, run_id, record),
            *(_message_entity(office_id, run_id, m, key=k) for m, k in messages),
        ]:
            by_key.pop(entity["RowKey"], None)
            by_key[entity["RowKey"]] = entity
        entities = list(by_key.values())
        if len(entities) == 1:
            self._table.upsert_entity(entities[0], mode=UpdateMode.REPLACE)
            return
        for start in range(0, len(entities), MAX_TRANSACTION):
            self._table.submit_transaction(
                [
                    ("upsert", entity, {"mode": UpdateMode.REPLACE})
                    for entity in entities[start : start + MAX_TRANSACTION]
                ]
            )

    def message(self, office_id: str, run_id: str, message: RunMessage, *, key: str) -> None:
        """Store a message under a deterministic ``key`` (idempotent under redelivery)."""
        self._table.upsert_entity(
            _message_entity(office_id, run_id, message, key=key), mode=UpdateMode.REPLACE
        )

    def records(self, office_id: str, run_id: str) -> list[JournalRunRecord]:
        return [_record(e) for e in self._range(office_id, run_id, "jr|")]

    def records_for_client(
        self, office_id: str, run_id: str, client_id: str
    ) -> list[JournalRunRecord]:
        return [_record(e) for e in self._range(office_id, run_id, f"jr|{key_part(client_id)}|")]

    def history(
        self, office_id: str, client_id: str, loket_journal_run_id: str
    ) -> list[tuple[str, JournalRunRecord]]:
        """Every run of the office that recorded this journal run for this client, as (run id,
        row): one query over the office's partitions (the Aansluiting's "why never booked")."""
        office = check_key(office_id)
        entities = self._table.query_entities(
            "PartitionKey gt @start and PartitionKey lt @end and RowKey eq @rk",
            parameters={
                "start": f"{office}|",
                "end": f"{office}}}",
                "rk": check_key(f"jr|{key_part(client_id)}|{key_part(loket_journal_run_id)}"),
            },
        )
        return [(str(e["PartitionKey"]).partition("|")[2], _record(e)) for e in entities]

    def messages(self, office_id: str, run_id: str) -> list[RunMessage]:
        found = [_message(e) for e in self._range(office_id, run_id, "msg|")]
        return sorted(found, key=lambda m: m.at)

    def _range(self, office_id: str, run_id: str, prefix: str) -> list[TableEntity]:
        return list(
            self._table.query_entities(
                "PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
                parameters={
                    "pk": _partition(office_id, run_id),
                    "start": prefix,
                    "end": prefix[:-1] + "}",
                },
            )
        )


def _record_entity(office_id: str, run_id: str, record: JournalRunRecord) -> dict[str, Any]:
    return {
        "PartitionKey": _partition(office_id, run_id),
        "RowKey": check_key(
            f"jr|{key_part(record.client_id)}|{key_part(record.loket_journal_run_id)}"
        ),
        "client_id": record.client_id,
        "loket_journal_run_id": record.loket_journal_run_id,
        "payroll_run_id": record.payroll_run_id,
        "payroll_period": record.payroll_period,
        "sequence_number": record.sequence_number,
        "status": record.status.value,
        "environment": record.environment,
        "sent_at": record.sent_at or "",
        "entry_number": record.entry_number or "",
        "reference": record.reference,
        "note": record.note[:1000],
    }


def _message_entity(
    office_id: str, run_id: str, message: RunMessage, *, key: str
) -> dict[str, Any]:
    client = key_part(message.client_id) if message.client_id else "_"
    return {
        "PartitionKey": _partition(office_id, run_id),
        "RowKey": check_key(f"msg|{client}|{key_part(key)[:200]}"),
        "at": message.at,
        "level": message.level.value,
        "text": message.text[:4000],
        "hint": message.hint[:2000],
        "client_id": message.client_id or "",
        "loket_journal_run_id": message.loket_journal_run_id or "",
        "code": message.code,
        "checks": json.dumps(
            [[c.name, c.state, c.text, c.todo] for c in message.checks], ensure_ascii=False
        )
        if message.checks
        else "",
    }


def _record(e: TableEntity) -> JournalRunRecord:
    return JournalRunRecord(
        client_id=e["client_id"],
        loket_journal_run_id=e["loket_journal_run_id"],
        payroll_run_id=e.get("payroll_run_id", ""),
        payroll_period=e.get("payroll_period", ""),
        sequence_number=int(e.get("sequence_number", 0)),
        status=JournalRunOutcome(e["status"]),
        environment=e.get("environment", ""),
        sent_at=when(e.get("sent_at")),
        entry_number=e.get("entry_number") or None,
        reference=e.get("reference", ""),
        note=e.get("note", ""),
    )


def _message(e: TableEntity) -> RunMessage:
    at: Any = when(e.get("at"))
    return RunMessage(
        at=at,
        level=Level(e.get("level", "info")),
        text=e.get("text", ""),
        hint=e.get("hint", ""),
        client_id=e.get("client_id") or None,
        loket_journal_run_id=e.get("loket_journal_run_id") or None,
        code=e.get("code", ""),
        checks=_checks(e.get("checks")),
    )


def _checks(raw: Any) -> tuple[LoketCheck, ...]:
    if not raw:
        return ()
    try:
        return tuple(LoketCheck(*(str(part) for part in c[:4])) for c in json.loads(raw))
    except (ValueError, TypeError):
        return ()
