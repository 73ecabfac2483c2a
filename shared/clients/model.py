"""The client configuration aggregate (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from shared.journal.mapping import JournalMapping
from shared.store.connections import ConnectionKey, ConnectionKind


class BookingMode(StrEnum):
    AUTOMATIC = "automatic"  # the nightly books what passes the pre-check
    REVIEW = "review"  # the nightly prepares; an admin approves before booking


@dataclass(frozen=True)
class ProfitTarget:
    environment: str  # 5-digit environment (participant) number
    administration: int  # UnId
    journal: str  # JoCo

    kind = ConnectionKind.AFAS_PROFIT

    def connection(self, office_id: str) -> ConnectionKey:
        return ConnectionKey(office_id, ConnectionKind.AFAS_PROFIT, self.environment)

    @property
    def label(self) -> str:
        return f"administratie {self.administration}, dagboek {self.journal}"

    @property
    def administration_key(self) -> str:
        """The AFAS administration booked into (its booking-ledger partition); the journal is
        not part of it."""
        return f"profit|{self.environment}|{self.administration}"


@dataclass(frozen=True)
class SbTarget:
    environment: str  # SB customer environment name
    administration_id: str  # uuid

    kind = ConnectionKind.AFAS_SB

    def connection(self, office_id: str) -> ConnectionKey:
        return ConnectionKey(office_id, ConnectionKind.AFAS_SB, self.environment)

    @property
    def label(self) -> str:
        return f"administratie {self.administration_id}"

    @property
    def administration_key(self) -> str:
        """The AFAS administration booked into (its booking-ledger partition)."""
        return f"sb|{self.environment}|{self.administration_id}"


Target = ProfitTarget | SbTarget


@dataclass(frozen=True)
class Rounding:
    """Book a small difference (at most ``max_difference``) on ``account`` instead of refusing."""

    account: str
    max_difference: Decimal


@dataclass(frozen=True)
class ClientConfig:
    office_id: str
    client_id: str
    loket_administration_id: str
    target: Target
    include_in_sync: bool = True
    mode: BookingMode = BookingMode.AUTOMATIC
    mapping: JournalMapping = field(default_factory=JournalMapping)
    rounding: Rounding | None = None
    name: str = ""
    # What Loket said about the administration when the configuration was saved (for overviews).
    loket_administration_name: str = ""
    loket_client_number: int | None = None
    loket_employer_name: str = ""
    period_type: str = "unknown"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str = ""
    # The client was in review mode at some time (kept by the store, never cleared): approval
    # items of it may exist, also one an admin's approval left half way before a switch out of
    # review mode (the worker settles those: shared.sync.outcomes.settle_approval).
    ever_reviewed: bool = False
    etag: str = ""
