"""What goes into the audit copy of one journal run (layout: shared/store/audit_copies.py).

:func:`record_prepared` keeps what Loket returned and what Loonbrug built and will send, before
anything is posted; :func:`record_answer` keeps AFAS's answer (or the refusal). Both are
idempotent: a redelivery writes the same bytes again, which is a no-op.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from shared.afas import wire
from shared.afas.profit import fi_entries_payload
from shared.afas.sb import payroll_entry_payload
from shared.journal.entries import ProfitEntry, SbEntry
from shared.journal.findings import Finding
from shared.journal.models import JournalLine, JournalRun
from shared.store import audit_copies
from shared.store.audit_copies import CANONICAL_JSON as _CANONICAL
from shared.store.audit_copies import JSON_TYPE, AuditStore, canonical_json


def wire_body(entry: ProfitEntry | SbEntry) -> bytes:
    """The exact JSON body Loonbrug posts to AFAS for ``entry``."""
    if isinstance(entry, ProfitEntry):
        return wire.dumps(fi_entries_payload(entry))
    return wire.dumps(payroll_entry_payload(entry))


def fingerprint(entry: ProfitEntry | SbEntry) -> str:
    """SHA-256 of the wire body: two preparations are the same entry iff this is equal."""
    return hashlib.sha256(wire_body(entry)).hexdigest()


def journal_run_doc(run: JournalRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "payrollAdministrationId": run.administration_id,
        "status": int(run.status),
        "statusText": run.status.dutch,
        "sequenceNumber": run.sequence_number,
        "payrollRunId": run.payroll_run_id,
        "payrollRunSequence": run.payroll_run_sequence,
        "period": {
            "year": run.period.year,
            "number": run.period.number,
            "start": run.period.start.isoformat(),
            "end": run.period.end.isoformat(),
            "testYear": run.period.test_year,
        },
        "requestedAt": run.requested_at.isoformat() if run.requested_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
    }


def line_doc(ln: JournalLine) -> dict[str, Any]:
    return {
        "account": ln.account,
        "accountDescription": ln.account_description,
        "debit": str(ln.debit),
        "credit": str(ln.credit),
        "costCenter": ln.cost_center,
        "costCenterDescription": ln.cost_center_description,
        "costUnit": ln.cost_unit,
        "costUnitDescription": ln.cost_unit_description,
        "component": ln.component,
    }


def lines_doc(lines: Sequence[JournalLine]) -> dict[str, Any]:
    return {"count": len(lines), "lines": [line_doc(ln) for ln in lines]}


def lines_json(lines: Sequence[JournalLine]) -> bytes:
    """``canonical_json(lines_doc(lines))``, byte for byte, made one line at a time: the whole
    document as Python objects (and the indenting encoder's chunks of it, a few per field) is
    never in memory at once, which was the peak of a 10,000-line job."""
    if not lines:
        return canonical_json(lines_doc(lines))
    # canonical_json indents by one space per level; a line sits two levels deep.
    items = [_line_json(ln) for ln in lines]
    head = json.dumps(len(lines))
    return ('{\n "count": ' + head + ',\n "lines": [\n' + ",\n".join(items) + "\n ]\n}").encode()


# A line's fields as canonical_json writes them: sorted keys, one per row, three spaces deep.
_LINE_KEYS: Final = tuple(sorted(line_doc(JournalLine("", "", Decimal(0), Decimal(0)))))
_string: Callable[[str], str] = json.encoder.encode_basestring


def _scalar_json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _string(value)
    return json.dumps(value, **_CANONICAL)  # not expected in a line: as canonical_json would


def _line_json(ln: JournalLine) -> str:
    """``json.dumps(line_doc(ln), **CANONICAL_JSON)`` two levels deep, byte for byte
    (tests/unit/test_audit_lines.py), with json's C string encoder instead of the indenting
    encoder's pure-Python path (~3 ms of CPU per 40-line job, issue 18)."""
    doc = line_doc(ln)
    fields = ",\n".join(f"   {_string(key)}: {_scalar_json(doc[key])}" for key in _LINE_KEYS)
    return "  {\n" + fields + "\n  }"


def entry_doc(entry: ProfitEntry | SbEntry, *, cost_center_axis: int) -> dict[str, Any]:
    """The entry in Loonbrug's own terms (the CSV export is made from this)."""
    if isinstance(entry, ProfitEntry):
        return {
            "target": "afas-profit",
            "reference": entry.voucher_number,
            "year": entry.year,
            "period": entry.period,
            "administration": entry.administration,
            "journal": entry.journal,
            "entryDate": entry.entry_date.isoformat(),
            "voucherDate": entry.voucher_date.isoformat(),
            "costCenterAxis": cost_center_axis,
            "totalDebit": str(entry.total_debit),
            "totalCredit": str(entry.total_credit),
            "lines": [
                {
                    "account": ln.account,
                    "description": ln.description,
                    "debit": str(ln.debit),
                    "credit": str(ln.credit),
                    "dimensions": {str(axis): code for axis, code in ln.dimensions},
                }
                for ln in entry.lines
            ],
        }
    return {
        "target": "afas-sb",
        # The Tracking-Identifier is chosen per post by the booking ledger: see afas-answer.json.
        "administrationId": entry.administration_id,
        "description": entry.description,
        "entryDate": entry.entry_date.isoformat(),
        "totalDebit": str(entry.total_debit),
        "totalCredit": str(entry.total_credit),
        "lines": [
            {
                "account": ln.account,
                "description": entry.description,
                "debit": str(ln.debit),
                "credit": str(ln.credit),
                "dimensions": {},
            }
            for ln in entry.lines
        ],
    }


def findings_doc(findings: Sequence[Finding]) -> dict[str, Any]:
    return {
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "text": f.text,
                "hint": f.hint,
                "account": f.account,
            }
            for f in findings
        ]
    }


@dataclass(frozen=True)
class AuditScope:
    """Where one journal run's documents go."""

    office_id: str
    run_id: str
    loket_journal_run_id: str
    client_id: str


def record_prepared(
    store: AuditStore,
    clock: Callable[[], datetime],
    scope: AuditScope,
    *,
    journal_run: JournalRun,
    lines: Sequence[JournalLine],
    entry: ProfitEntry | SbEntry,
    findings: Sequence[Finding],
    cost_center_axis: int,
) -> str:
    """Keep the Loket side, the entry and the request. Returns the entry's fingerprint."""
    now = clock()
    body = wire_body(entry)
    documents = [
        (name, value if isinstance(value, bytes) else canonical_json(value), JSON_TYPE)
        for name, value in (
            (audit_copies.LOKET_RUN, journal_run_doc(journal_run)),
            (audit_copies.LOKET_LINES, lines_json(lines)),
            (audit_copies.ENTRY, entry_doc(entry, cost_center_axis=cost_center_axis)),
            (audit_copies.AFAS_REQUEST, body),
            (audit_copies.FINDINGS, findings_doc(findings)),
        )
    ]
    store.write_many(
        office_id=scope.office_id,
        run_id=scope.run_id,
        loket_journal_run_id=scope.loket_journal_run_id,
        client_id=scope.client_id,
        documents=documents,
        now=now,
    )
    return hashlib.sha256(body).hexdigest()


def record_answer(
    store: AuditStore,
    clock: Callable[[], datetime],
    scope: AuditScope,
    *,
    outcome: str,
    entry_number: str | None = None,
    reference: str = "",
    error: str = "",
    recovered: bool = False,
    approved_by: str = "",
) -> None:
    """Keep AFAS's answer: ``booked`` with the entry number, or ``refused`` with the error.
    The first answer kept for a journal run in a run stands (a redelivery adds nothing)."""
    answer: dict[str, Any] = {"outcome": outcome, "reference": reference}
    if entry_number is not None:
        answer["entryNumber"] = entry_number
    if error:
        answer["error"] = error
    if recovered:
        answer["recovered"] = True  # found in AFAS after an unknown outcome, not posted again
    if approved_by:
        answer["approvedBy"] = approved_by
    # Written without a read first: the blob and its index row are created only if absent, so
    # the first answer kept stands (``first_stands``: other bytes are not kept as a variant).
    store.write_many(
        office_id=scope.office_id,
        run_id=scope.run_id,
        loket_journal_run_id=scope.loket_journal_run_id,
        client_id=scope.client_id,
        documents=[(audit_copies.AFAS_RESPONSE, canonical_json(answer), JSON_TYPE)],
        now=clock(),
        first_stands=True,
    )
