"""Reading a client's year from AFAS Profit for the Aansluiting (shared/reconciliation).

Read-only, and cheap on purpose (fair use, get-connector-geblokkeerd.md): one paged read of
``Profit_Transactions`` filtered to the administration, the journal and the year (Mutaties.json
``/connectors/Profit_Transactions``: ``UnitId``, ``JournalId``, ``Year`` are row fields, and
get-connector.md "Filtering" filters on any of them), ordered by ``EntryNo, SeqNo``; pages of
:data:`PAGE_SIZE` rows (get-connector.md "Skip and take": columns x rows < 150,000; 18 columns).
Only a voucher Loonbrug booked that this read does not hold is looked up once more, across
journals and years (``UnitId`` + ``VoucherNo``), to tell "gone" from "moved".

Per cost centre: the same read goes to ``Profit_Transactions_Allocated`` (Mutaties.json: the
same row fields plus ``DimAx1..5``, ``Type``, ``Collect_On``, ``Omschrijving``), so a line's
totals key is account + its code on the client's cost-centre axis (``compare.ledger_key``).
ASSUMPTION [I]: ``DimAx{n}`` holds the line's allocation code on axis n; read in one place,
``shared.afas.profit.allocation_of``. When AFAS refuses that connector (it is not in Loonbrug's
required set: 401 as published, or the 500 "not authorized" text) the year is read from
``Profit_Transactions`` per ledger account, and :class:`Basis` says so with what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from shared.afas.errors import AfasAuthError, AfasConnectorNotAuthorized
from shared.afas.models import BookedLine
from shared.afas.profit import TRANSACTIONS_ALLOCATED, Filter, ProfitClient
from shared.reconciliation.compare import AfasEntry, Basis, Totals, ledger_key

PAGE_SIZE: Final = 1000
CONNECTOR: Final = "Profit_Transactions"
# profit_voucher_number (shared/journal/identifiers.py): LB{year}{period:02}S{seq}-{8 hex}, or
# LB-{24 hex} for absurd sequence numbers.
_LOONBRUG_VOUCHER: Final = re.compile(r"^LB(\d{6}S\d+-[0-9A-F]{8}|-[0-9A-F]{24})\Z", re.IGNORECASE)


def is_loonbrug_voucher(voucher: str) -> bool:
    """Whether a voucher number has the form Loonbrug gives its entries (any client)."""
    return bool(_LOONBRUG_VOUCHER.match(voucher.strip()))


PER_ALLOCATION_TEXT: Final = (
    "Vergeleken per grootboekrekening en kostenplaats (as {axis} in AFAS), tot op de cent."
)
REFUSED_TEXT: Final = (
    "Vergeleken per grootboekrekening: AFAS Profit gaf geen toegang tot de verbijzonderde "
    "boekingen (GetConnector Profit_Transactions_Allocated), dus kostenplaatsen zijn niet "
    "vergeleken."
)
REFUSED_HINT: Final = (
    "Voeg de GetConnector Profit_Transactions_Allocated toe aan de App Connector van Loonbrug in "
    "AFAS Profit; dan vergelijkt Loonbrug ook per kostenplaats."
)
NO_COST_CENTRES_TEXT: Final = (
    "Vergeleken per grootboekrekening: de koppeling van deze client geeft geen kostenplaatsen "
    "door aan AFAS."
)


def entries_of(lines: Iterable[BookedLine], axis: int | None = None) -> list[AfasEntry]:
    """Lines grouped into entries (``EntryNo``); the entry's voucher is its first line's.
    ``axis``: key the totals by account and the line's code on that allocation axis."""
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
                totals=Totals.of(
                    (
                        ledger_key(ln.account, dict(ln.allocation).get(axis, "") if axis else ""),
                        ln.debit,
                        ln.credit,
                    )
                    for ln in group
                ),
                description=first.description,
                by_loonbrug=is_loonbrug_voucher(voucher),
            )
        )
    return out


def read_year(
    client: ProfitClient,
    administration: int,
    journals: Sequence[str],
    year: int,
    *,
    cost_centre_axis: int | None = None,
) -> tuple[list[AfasEntry], Basis]:
    """Every entry of ``journals`` in ``year`` of ``administration``: one paged read per journal;
    per cost centre (``cost_centre_axis``) when AFAS grants ``Profit_Transactions_Allocated``."""
    if cost_centre_axis is None:
        return entries_of(_lines(client, administration, journals, year, CONNECTOR)), Basis(
            False, NO_COST_CENTRES_TEXT
        )
    try:
        lines = _lines(client, administration, journals, year, TRANSACTIONS_ALLOCATED)
    except (AfasAuthError, AfasConnectorNotAuthorized):
        # Refused (or a bad token: then the read below fails the same way and says so).
        lines = _lines(client, administration, journals, year, CONNECTOR)
        return entries_of(lines), Basis(False, REFUSED_TEXT, REFUSED_HINT)
    basis = Basis(True, PER_ALLOCATION_TEXT.format(axis=cost_centre_axis))
    return entries_of(lines, cost_centre_axis), basis


def _lines(
    client: ProfitClient, administration: int, journals: Sequence[str], year: int, connector: str
) -> list[BookedLine]:
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
                connector=connector,
            )
        )
    return lines


def locate(client: ProfitClient, administration: int, voucher: str) -> list[AfasEntry]:
    """Where a voucher is booked in the administration, any journal or year."""
    return entries_of(client.find_booked_lines(administration, voucher))
