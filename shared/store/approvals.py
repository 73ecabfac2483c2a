"""Journal runs prepared in review mode, waiting for an admin to approve or reject them.

Table ``Approvals``, PartitionKey = office id, RowKey = the approval id: deterministic per
(AFAS administration, Loket journal run), so a redelivery or the next nightly finds the same item
and never creates a second one. The prepared entry itself (lines, entry, wire JSON, findings)
is in the audit copy of the run that prepared it (``run_id``); the row keeps a summary, the
warnings and the entry's fingerprint (SHA-256 of the wire JSON).

States (ETag-conditional, so approve twice or approve racing reject decide once)::

    pending -> approving -> approved          (booked, exactly once, through the ledger)
                         -> failed            (AFAS refused or the pre-check now blocks)
                         -> pending           (the entry changed before it was booked: only
                                               the fingerprint an admin approved is booked)
    pending -> rejected                       (with a reason)
    failed  -> pending                        (the next nightly prepares it again)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableEntity

from shared.store.storage import Storage
from shared.store.tables import check_key, etag_of, get_or_none, update_if_unchanged, when

TABLE: Final = "Approvals"


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVING = "approving"
    APPROVED = "approved"
    REJECTED = "rejected"
    FAILED = "failed"


def approval_id(target_key: str, loket_journal_run_id: str) -> str:
    """Deterministic per (target administration, Loket journal run)."""
    return hashlib.sha256(f"{target_key}|{loket_journal_run_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class WarningNote:
    code: str
    text: str
    hint: str


@dataclass(frozen=True)
class Prepared:
    """What the worker prepared (the content of an approval item)."""

    office_id: str
    client_id: str
    target_key: str
    target_label: str
    environment: str
    loket_journal_run_id: str
    payroll_run_id: str
    payroll_period: str
    sequence_number: int
    run_id: str  # the run whose journal-run row and audit copy hold this preparation
    reference: str
    fingerprint: str
    total_debit: Decimal
    total_credit: Decimal
    line_count: int
    description: str
    warnings: tuple[WarningNote, ...] = ()

    @property
    def approval_id(self) -> str:
        return approval_id(self.target_key, self.loket_journal_run_id)


@dataclass(frozen=True)
class ApprovalItem:
    approval_id: str
    prepared: Prepared
    state: ApprovalState
    prepared_at: datetime | None
    decided_by: str = ""
    decided_at: datetime | None = None
    reason: str = ""
    lease_until: datetime | None = None
    entry_number: str = ""
    marked_in_loket: bool = False
    etag: str = field(default="", compare=False)


class ApprovalRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def get(self, office_id: str, approval: str) -> ApprovalItem | None:
        try:
            entity = get_or_none(self._table, check_key(office_id), check_key(approval))
        except ValueError:
            return None
        return _item(entity) if entity is not None else None

    def pending(self, office_id: str) -> list[ApprovalItem]:
        entities = self._table.query_entities(
            "PartitionKey eq @pk and state eq @state",
            parameters={"pk": check_key(office_id), "state": ApprovalState.PENDING.value},
        )
        items = [_item(e) for e in entities]
        return sorted(items, key=lambda i: (i.prepared.client_id, i.prepared.sequence_number))

    def prepare(self, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        """Create the item, or refresh a pending/failed one whose entry changed. An item an
        admin decided on (approving, approved, rejected) is returned as it is."""
        key = prepared.approval_id
        try:
            self._table.create_entity(
                {
                    "PartitionKey": check_key(prepared.office_id),
                    "RowKey": key,
                    **_fields(prepared),
                    "state": ApprovalState.PENDING.value,
                    "prepared_at": now,
                }
            )
        except ResourceExistsError:
            current = self.get(prepared.office_id, key)
            assert current is not None
            stale = current.prepared.fingerprint != prepared.fingerprint
            if current.state is ApprovalState.FAILED or (
                current.state is ApprovalState.PENDING and stale
            ):
                return self.move(
                    current,
                    ApprovalState.PENDING,
                    **_fields(prepared),
                    prepared_at=now,
                    decided_by="",
                    decided_at="",
                    reason="",
                )
            return current
        created = self.get(prepared.office_id, key)
        assert created is not None
        return created

    def reopen(self, item: ApprovalItem, prepared: Prepared, *, now: datetime) -> ApprovalItem:
        """An approved entry that changed before it was booked goes back to pending with its new
        content (ETag-conditional): only the entry an admin approved is ever booked."""
        return self.move(
            item,
            ApprovalState.PENDING,
            **_fields(prepared),
            prepared_at=now,
            decided_by="",
            decided_at="",
            reason="",
            lease_until="",
        )

    def move(self, item: ApprovalItem, state: ApprovalState, **changes: Any) -> ApprovalItem:
        """ETag-conditional change; raises ConcurrencyConflict when someone changed it first."""
        update_if_unchanged(
            self._table,
            {
                "PartitionKey": item.prepared.office_id,
                "RowKey": item.approval_id,
                "state": state.value,
                **changes,
            },
            item.etag,
        )
        current = self.get(item.prepared.office_id, item.approval_id)
        assert current is not None
        return current


def _fields(p: Prepared) -> dict[str, Any]:
    warnings = [{"code": w.code, "text": w.text, "hint": w.hint} for w in p.warnings]
    text = json.dumps(warnings, ensure_ascii=False)
    while len(text) > 30_000 and warnings:  # a table property holds 64 KiB (32k characters)
        warnings.pop()
        text = json.dumps(warnings, ensure_ascii=False)
    return {
        "client_id": p.client_id,
        "target_key": p.target_key,
        "target_label": p.target_label,
        "environment": p.environment,
        "loket_journal_run_id": p.loket_journal_run_id,
        "payroll_run_id": p.payroll_run_id,
        "payroll_period": p.payroll_period,
        "sequence_number": p.sequence_number,
        "run_id": p.run_id,
        "reference": p.reference,
        "fingerprint": p.fingerprint,
        "total_debit": str(p.total_debit),
        "total_credit": str(p.total_credit),
        "line_count": p.line_count,
        "description": p.description[:1000],
        "warnings": text,
    }


def _item(e: TableEntity) -> ApprovalItem:
    warnings = tuple(
        WarningNote(w.get("code", ""), w.get("text", ""), w.get("hint", ""))
        for w in json.loads(e.get("warnings") or "[]")
    )
    prepared = Prepared(
        office_id=e["PartitionKey"],
        client_id=e.get("client_id", ""),
        target_key=e.get("target_key", ""),
        target_label=e.get("target_label", ""),
        environment=e.get("environment", ""),
        loket_journal_run_id=e.get("loket_journal_run_id", ""),
        payroll_run_id=e.get("payroll_run_id", ""),
        payroll_period=e.get("payroll_period", ""),
        sequence_number=int(e.get("sequence_number", 0)),
        run_id=e.get("run_id", ""),
        reference=e.get("reference", ""),
        fingerprint=e.get("fingerprint", ""),
        total_debit=Decimal(e.get("total_debit") or "0"),
        total_credit=Decimal(e.get("total_credit") or "0"),
        line_count=int(e.get("line_count", 0)),
        description=e.get("description", ""),
        warnings=warnings,
    )
    return ApprovalItem(
        approval_id=e["RowKey"],
        prepared=prepared,
        state=ApprovalState(e["state"]),
        prepared_at=when(e.get("prepared_at")),
        decided_by=e.get("decided_by", ""),
        decided_at=when(e.get("decided_at")),
        reason=e.get("reason", ""),
        lease_until=when(e.get("lease_until")),
        entry_number=e.get("entry_number", ""),
        marked_in_loket=bool(e.get("marked_in_loket")),
        etag=etag_of(e),
    )
