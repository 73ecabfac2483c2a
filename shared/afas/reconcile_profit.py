"""Reading a client's year from AFAS Profit for the Aansluiting (shared/reconciliation).

Read-only, and cheap on purpose (fair use, get-connector-geblokkeerd.md): one paged read of
``Profit_Transactions`` filtered to the administration, the journal and the year (Mutaties.json
``/connectors/Profit_Transactions``: ``UnitId``, ``JournalId``, ``Year`` are row fields, and
get-connector.md "Filtering" filters on any of them), ordered by ``EntryNo, SeqNo``; pages of
:data:`PAGE_SIZE` rows (get-connector.md "Skip and take": columns x rows < 150,000; 18 columns).
Only a voucher Loonbrug booked that this read does not hold is looked up once more, across
journals and years (``UnitId`` + ``VoucherNo``), to tell "gone" from "moved".

``Profit_Transactions`` publishes no allocation (cost centre) fields, so Profit is compared per
ledger account; the cost centres stay visible in the audit copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from shared.afas.models import BookedLine
from shared.afas.profit import Filter, ProfitClient
from shared.reconciliation.compare import AfasEntry, Totals

PAGE_SIZE: Final = 1000
CONNECTOR: Final = "Profit_Transactions"
# profit_voucher_number (shared/journal/identifiers.py): LB{year}{period:02}S{seq}-{8 hex}, or
# LB-{24 hex} for absurd sequence numbers.
_LOONBRUG_VOUCHER: Final = re.compile(r"^LB(\d{6}S\d+-[0-9A-F]{8}|-[0-9A-F]{24})\Z", re.IGNORECASE)


def is_loonbrug_voucher(voucher: str) -> bool:
    """Whether a voucher number has the form Loonbrug gives its entries (any client)."""
    return bool(_LOONBRUG_VOUCHER.match(voucher.strip()))


def entries_of(lines: Iterable[BookedLine]) -> list[AfasEntry]:
    """Lines grouped into entries (``EntryNo``); the entry's voucher is its first line's."""
    grouped: dict[int, list[BookedLine]] = {}
    for line in lines:
        grouped.setdefault(line.entry_number, []).append(line)
    out = []
    for number, group in sorted(grouped.items()):
        first = group[0]
        voucher = next((ln.voucher_number for ln in group if ln.voucher_number), "")
        out.append(
            AfasEntry(
                entry_number=str(number),
                reference=voucher,
                journal=first.journal,
                year=first.year or 0,
                period=first.period or 0,
                totals=Totals.of((ln.account, ln.debit, ln.credit) for ln in group),
                description=first.description,
                by_loonbrug=is_loonbrug_voucher(voucher),
            )
        )
    return out


def read_year(
    client: ProfitClient, administration: int, journals: Sequence[str], year: int
) -> list[AfasEntry]:
    """Every entry of ``journals`` in ``year`` of ``administration``: one paged read per journal."""
    lines: list[BookedLine] = []
    for journal in dict.fromkeys(journals):
        lines.extend(
            client.booked_lines(
                [
                    Filter("UnitId", str(administration)),
                    Filter("JournalId", journal),
                    Filter("Year", str(year)),
                ],
                page_size=PAGE_SIZE,
            )
        )
    return entries_of(lines)


def locate(client: ProfitClient, administration: int, voucher: str) -> list[AfasEntry]:
    """Where a voucher is booked in the administration, any journal or year."""
    return entries_of(client.find_booked_lines(administration, voucher))
