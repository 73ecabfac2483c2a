"""What the AFAS clients return: small frozen dataclasses, amounts as ``Decimal``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

# -- Profit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetaInfo:
    """``GET /MetaInfo``: the connectors this token's App Connector allows, and token info.

    Published shape (Mutaties.json ``/MetaInfo`` 200): ``updateConnectors[]`` and
    ``getConnectors[]`` of ``{id, description}``; ``info`` ``{envid, appName, group,
    tokenExpiry}``, all strings (the published example answers ``"tokenExpiry": "0"``).
    """

    update_connectors: frozenset[str]
    get_connectors: frozenset[str]
    environment_id: str | None = None  # info.envid, e.g. "A123456AC"
    app_name: str | None = None
    token_expiry: datetime | None = None  # None: no expiry stated ("0", empty) or unreadable
    # Dutch notes for the user (e.g. an unreadable tokenExpiry); never a reason to refuse.
    warnings: tuple[str, ...] = ()


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

    @property
    def is_memorial(self) -> bool:
        """A memoriaal (the journal payroll entries belong in).

        ASSUMPTION [I]: ``Profit_Journals`` publishes ``JournalType`` as a code without its code
        table; we take ``M`` (as Profit abbreviates "Memoriaal") or a description that says
        "memoriaal" to mean a memorial journal. Only the order of the portal's list depends on it.
        """
        return (self.type or "").strip().upper() == "M" or "memoriaal" in self.description.lower()


@dataclass(frozen=True)
class ProfitAccount:
    """A ``Profit_Accounts`` row. ``DimAx1..5`` and ``ToProject`` are codes (strings) as published."""

    number: str
    description: str
    blocked: bool
    # Position n (1..5) -> the code in DimAx{n} ("Verbijzonderingsas n code"), filled ones only:
    # FiDimEntries must then carry DiC{n} (howto-finance-mutation.md).
    axes: Mapping[int, str] = field(default_factory=dict, hash=False)
    to_project: str = ""  # ToProject ("Doorboeken projecten code"), as AFAS sends it
    requires_project: bool = False  # read from ``to_project`` (see profit.requires_project)

    @property
    def required_axes(self) -> tuple[int, ...]:
        """Axes n whose DimAx{n} is filled: FiDimEntries must carry DiC{n}."""
        return tuple(sorted(self.axes))


@dataclass(frozen=True)
class AllocationAssignment:
    """A ``Profit_Allocation_Assigments`` row: code ``code`` may be booked on ``account`` on the
    allocation axis whose code is ``axis`` (``DimAx``, a string as published)."""

    administration: int
    account: str
    axis: str
    code: str
    description: str = ""


@dataclass(frozen=True)
class Period:
    """A ``Profit_periods_per_administration`` row ("Blocked periods per administration"). Only
    ``blocked`` says a period is closed; a period without a row is not known to be closed."""

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


# -- SB -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SbAdministration:
    id: str  # uuid
    description: str


@dataclass(frozen=True)
class SbAccount:
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
    id: str = ""  # the period's uuid (journalentries' AccountingPeriodId)


@dataclass(frozen=True)
class SbJournalLine:
    """A line of a booked entry, from ``GET /api/journalentries`` (the Aansluiting)."""

    administration_id: str
    header_id: str
    number: str  # the entry's number (``Number``)
    period_id: str  # AccountingPeriodId
    account_id: str  # LedgerAccountId
    debit: Decimal
    credit: Decimal
    posting_date: date | None
    description: str


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
