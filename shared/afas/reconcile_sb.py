"""Reading a client's year from AFAS SB for the Aansluiting (shared/reconciliation).

SB lists booked entries in ``GET /api/journalentries`` (openapi-6-0-0.json, operationId
``get_journalentries_1.1``), tagged "Financiele rapportage" only: a payroll app must be granted
that reporting group too (else 403, :class:`shared.afas.sb.SbEndpointNotGranted`). Calls per
client-year: the administration's accounting periods (their ids), its ledger accounts (ids ->
numbers), and the entries of the year's periods (one filter, paged).

ASSUMPTION [I]: the year is narrowed with ``AccountingPeriodId eq <uuid>`` terms joined by ``or``
(filtering.md documents ``eq`` and ``or``; period ids are unique, so no administration term is
needed). ASSUMPTION [I]: the ``Number`` of a journal entry is the ``instances[].Code`` the
payrolljournalentry answer gave (what the booking ledger keeps as the entry number). SB has no
journals: an entry not booked by Loonbrug counts only when every account it touches is one the
client's payroll uses (a hand import of the payroll journal); other entries are not payroll.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.afas.models import SbJournalLine, SbPeriod
from shared.afas.sb import SbClient
from shared.reconciliation.compare import AfasEntry, Totals


def year_filter(periods: Iterable[SbPeriod]) -> str:
    return " or ".join(f"AccountingPeriodId eq {p.id}" for p in periods)


def entries_of(
    lines: Iterable[SbJournalLine], periods: dict[str, SbPeriod], accounts: dict[str, str]
) -> list[AfasEntry]:
    grouped: dict[str, list[SbJournalLine]] = {}
    for line in lines:
        grouped.setdefault(line.header_id or line.number, []).append(line)
    out = []
    for group in grouped.values():
        first = group[0]
        period = periods.get(first.period_id)
        out.append(
            AfasEntry(
                entry_number=first.number or first.header_id,
                reference=first.number,
                journal="",
                year=period.year if period else 0,
                period=period.number if period else 0,
                totals=Totals.of(
                    (accounts.get(ln.account_id, ln.account_id), ln.debit, ln.credit)
                    for ln in group
                ),
                description=first.description,
            )
        )
    return out


class SbYearReader:
    """One client-year in one SB administration: periods and accounts read once."""

    def __init__(self, client: SbClient, administration_id: str) -> None:
        self._client = client
        self._administration = administration_id
        self._periods = {p.id: p for p in client.list_periods(administration_id) if p.id}
        self._accounts = {a.id: a.number for a in client.list_accounts(administration_id)}

    def read_year(self, year: int, payroll_accounts: set[str], ours: set[str]) -> list[AfasEntry]:
        """The year's entries that are payroll: Loonbrug's (``ours``: their numbers) and those
        touching only the client's payroll accounts."""
        chosen = [p for p in self._periods.values() if p.year == year]
        if not chosen:
            return []
        lines = self._client.list_journal_lines(year_filter(chosen))
        entries = entries_of(lines, self._periods, self._accounts)
        return [
            e
            for e in entries
            if e.reference in ours
            or (e.totals.accounts and set(e.totals.accounts) <= payroll_accounts)
        ]

    def locate(self, number: str) -> list[AfasEntry]:
        text = number.replace("'", "''")
        lines = self._client.list_journal_lines(f"Number eq '{text}'")
        return entries_of(lines, self._periods, self._accounts)
