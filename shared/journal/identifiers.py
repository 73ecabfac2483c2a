"""Deterministic references that make AFAS bookings traceable and idempotent (contract §4).

* Profit: the voucher number (``BpNr``, at most 32 characters) of every line of the entry.
* SB: the ``Tracking-Identifier`` header (a UUID) of the POST.

The voucher number is derived only from the Loket journal run and the target administration, so
a redelivery, a retry or a rerun computes the same value and our look-up finds the same booking.
SB replays the first answer to a Tracking-Identifier, errors included, so its identifier also
covers the entry's content and the attempt: it changes exactly when the content changes or a
fresh attempt follows a refusal, and never between deliveries of the same attempt.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Final

from shared.journal.models import JournalRun

MAX_VOUCHER: Final = 32
_NAMESPACE: Final = uuid.UUID("6b1f6f0e-3a8c-5d0e-9c7e-4c6f6f6e6272")  # "Loonbrug" namespace


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest().upper()


def profit_voucher_number(run: JournalRun, *, environment: str, administration: int) -> str:
    """``LB{year}{period:02}S{seq}-{8 hex}``: readable for the accountant, unique per target.

    The hash covers the Loket journal run id and the target (environment + administration), so the
    same run booked into two administrations gets two numbers and one run never gets two.
    """
    head = f"LB{run.period.year}{run.period.number:02d}S{run.sequence_number}"
    tail = _digest(run.id, environment.upper(), str(administration))[:8]
    voucher = f"{head}-{tail}"
    if len(voucher) > MAX_VOUCHER:  # absurd sequence numbers: keep the unique part
        voucher = f"LB-{_digest(run.id, environment.upper(), str(administration))[:24]}"
    return voucher


def sb_tracking_identifier(
    run_id: str, *, environment: str, administration_id: str, fingerprint: str, generation: int
) -> str:
    """A UUIDv5 of the Loket journal run, the SB administration, the entry's content (the
    fingerprint of its wire body) and the attempt (``generation``: how many definitive refusals
    came before)."""
    name = f"{run_id}|{environment.lower()}|{administration_id.lower()}|{fingerprint}|{generation}"
    return str(uuid.uuid5(_NAMESPACE, name))
