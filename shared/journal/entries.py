"""The AFAS entries Loonbrug books, independent of wire format.

``shared/afas`` turns these into FiEntries JSON (Profit) or a payroll journal entry (SB).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class ProfitLine:
    account: str  # AcNr, at most 16 characters
    description: str  # Ds, at most 255 characters
    debit: Decimal  # AmDe (two decimals)
    credit: Decimal  # AmCr (two decimals)
    # Allocation codes per axis (FiDimEntries DiC1..DiC5): ((1, "100"), (2, "PRJ7"))
    dimensions: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class ProfitEntry:
    """One FiEntries journal entry (one POST, one EnNo)."""

    year: int  # Year
    period: int  # Peri
    administration: int  # UnId
    journal: str  # JoCo
    voucher_number: str  # BpNr on every line
    entry_date: date  # EnDa
    voucher_date: date  # BpDa
    lines: tuple[ProfitLine, ...]
    # The entry's own description (the client's description template); not on the wire as a
    # field of its own: each line's Ds starts with it ("{description} - {account name}").
    description: str = ""

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0"))

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class SbLine:
    account: str  # LedgerAccountNumber
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True)
class SbEntry:
    """One ``POST /api/payrolljournalentry``. SB takes no cost centres, journal or period."""

    administration_id: str  # uuid
    description: str
    entry_date: date
    lines: tuple[SbLine, ...]

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0"))

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal("0"))
