"""What Loket.nl gives us (employers, administrations, journal runs, lines), as typed values.

The Loket client parses its JSON into these; nothing here knows about HTTP. Amounts are
``Decimal``; moments are timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Final

# ``journalRunStatus.value`` as Loket shows it, per key (loket-api.md §3.4): the one table (the
# Loket sandbox answers with it too).
JOURNAL_RUN_STATUS_TEXT: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "Staat klaar voor journaliseren",
        1: "Geen journaal resultaten",
        2: "Fout bij aanmaken",
        3: "Verwijderd door gebruiker",
        4: "Journaal gereed",
        5: "Wordt geëxporteerd",
        6: "Exporteren mislukt",
        7: "Journaal geëxporteerd",
    }
)


class JournalRunStatus(IntEnum):
    """``journalRunStatus.key`` (loket-api.md §3.4)."""

    QUEUED = 0
    NO_RESULTS = 1
    CREATION_FAILED = 2
    REMOVED = 3
    READY = 4
    EXPORTING = 5
    EXPORT_FAILED = 6
    EXPORTED = 7

    @property
    def dutch(self) -> str:
        return JOURNAL_RUN_STATUS_TEXT[int(self)]

    @property
    def has_results(self) -> bool:
        return self >= JournalRunStatus.READY


class PeriodType(StrEnum):
    """``payrollPeriodType.key`` of a payroll administration: 1 monthly, 3 four-weekly, 4 weekly."""

    MONTHLY = "monthly"
    FOUR_WEEKLY = "four-weekly"
    WEEKLY = "weekly"
    UNKNOWN = "unknown"

    @classmethod
    def from_loket_key(cls, key: int | None) -> PeriodType:
        return {1: cls.MONTHLY, 3: cls.FOUR_WEEKLY, 4: cls.WEEKLY}.get(key or -1, cls.UNKNOWN)


@dataclass(frozen=True)
class Employer:
    id: str
    name: str
    number: str | None


@dataclass(frozen=True)
class PayrollAdministration:
    id: str
    employer_id: str
    name: str
    client_number: int | None
    period_type: PeriodType


@dataclass(frozen=True)
class PayrollPeriod:
    year: int
    number: int
    start: date
    end: date
    test_year: bool = False

    @property
    def label(self) -> str:
        """As the manual's run detail shows it: ``2020 - 3`` (API: ``2020-3``)."""
        return f"{self.year}-{self.number}"


@dataclass(frozen=True)
class JournalRun:
    id: str
    administration_id: str
    status: JournalRunStatus
    sequence_number: int
    payroll_run_id: str
    payroll_run_sequence: int
    period: PayrollPeriod
    requested_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class JournalLine:
    """One result line of a journal run (``/journalruns/{id}/results``)."""

    account: str
    account_description: str
    debit: Decimal
    credit: Decimal
    cost_center: str | None = None
    cost_center_description: str | None = None
    cost_unit: str | None = None
    cost_unit_description: str | None = None
    component: str | None = None


def shown_period(label: str) -> str:
    """A payroll period as every screen, message and e-mail writes it: ``2020 - 3`` (the
    manual's run detail); the API and stored rows keep ``2020-3``. Idempotent."""
    year, sep, number = label.partition("-")
    if sep and year.strip().isdigit() and number.strip().isdigit():
        return f"{year.strip()} - {number.strip()}"
    return label
