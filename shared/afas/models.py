"""What the AFAS clients return: small frozen dataclasses, amounts as ``Decimal``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

# -- Profit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaInfo:
    """``GET /metainfo``: the connectors this token's App Connector allows, and token info."""

    update_connectors: frozenset[str]
    get_connectors: frozenset[str]
    environment_id: str | None = None  # info.envid, e.g. "O12345AA"
    app_name: str | None = None
    token_expiry: datetime | None = None


@dataclass(frozen=True)
class Administration:
    number: int  # AdminId = UnId
    name: str


@dataclass(frozen=True)
class Journal:
    administration: int
    code: str  # JournalId = JoCo
    description: str
    blocked: bool
    type: str | None  # JournalType (dagboeksoort code; which code is "memoriaal" is not documented)


@dataclass(frozen=True)
class LedgerAccount:
    number: str
    description: str
    blocked: bool
    required_axes: tuple[int, ...]  # axes n whose DimAx{n} is filled: FiDimEntries DiC{n} needed
    requires_project: bool  # ToProject


@dataclass(frozen=True)
class AllocationAssignment:
    administration: int
    account: str
    axis: int
    code: str
    description: str = ""


@dataclass(frozen=True)
class Period:
    administration: int
    year: int
    period: int
    start: date
    end: date
    blocked: bool


@dataclass(frozen=True)
class BookedLine:
    """A line of a booked entry, from ``Profit_Transactions``."""

    administration: int
    entry_number: int
    sequence: int | None
    journal: str
    year: int | None
    period: int | None
    account: str
    debit: Decimal
    credit: Decimal
    voucher_number: str
    description: str


@dataclass(frozen=True)
class ProfitBooking:
    """The outcome of :meth:`ProfitClient.book_entry`.

    ``recovered`` is True when the entry was already in Profit (an earlier attempt booked it), so
    this call did not post it again.
    """

    entry_number: int
    recovered: bool


# -- SB -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SbAdministration:
    id: str  # uuid
    description: str


@dataclass(frozen=True)
class SbLedgerAccount:
    number: str
    id: str
    description: str
    administration_id: str


@dataclass(frozen=True)
class SbPeriod:
    administration_id: str
    year: int
    number: int
    start: date
    end: date


@dataclass(frozen=True)
class SbScope:
    """A customer environment an Admin Center lists (getscopes: ``Path``, ``Name``)."""

    path: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class SbBooking:
    tracking_identifier: str
    instance_ids: tuple[str, ...]
    codes: tuple[str, ...]
