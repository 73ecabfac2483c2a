"""What a client configuration's pages read from the booking side: the entry a Loket journal run
would become (the preview, books nothing) and the bookings of a client that are not finished.

The client service (``shared.clients.service``) never imports the sync: it is handed
:meth:`ClientBookings.unsettled` as a callable by the composition root, and the API handler asks
:meth:`ClientBookings.preview` itself. So ``shared.sync`` -> ``shared.clients`` is the one edge.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clients.model import ClientConfig
from shared.journal.builder import Draft
from shared.journal.findings import Finding
from shared.journal.models import JournalRun
from shared.loket.client import LoketClient
from shared.store.bookings import BookingRepository
from shared.sync.bookers import AnyBooker, prepare, target_key
from shared.sync.ledger import Booking, State, may_be_in_afas


@dataclass(frozen=True)
class Preview:
    """The entry a Loket journal run would become, and what the booking ledger holds for it."""

    run: JournalRun
    draft: Draft[Any]  # Draft[ProfitEntry] or Draft[SbEntry]: the client's booker says which
    findings: list[Finding]
    booking: Booking | None  # the ledger row of this run in the client's administration
    reference: str  # the ledger's reference, else what a first post would carry


@dataclass
class ClientBookings:
    """A client's journal runs as the booking sees them, without booking anything."""

    loket: Callable[[str], AbstractContextManager[LoketClient]]  # office -> client
    booker: Callable[[ClientConfig], AnyBooker]
    bookings: BookingRepository
    clock: Callable[[], datetime]

    def preview(self, config: ClientConfig, loket_journal_run_id: str) -> Preview:
        """The entry of one Loket journal run of this client, pre-checked; books nothing.

        :raises LoketNotFound: the run is not in the client's payroll administration.
        """
        with self.loket(config.office_id) as loket:
            # Only a run of this client's payroll administration (LoketNotFound otherwise): the
            # client reads the run from that administration's listing, never by id alone.
            run = loket.get_journal_run(
                loket_journal_run_id, administration_id=config.loket_administration_id
            )
            lines = list(loket.iter_journal_run_lines(run.id))
        booker = self.booker(config)
        draft, findings = prepare(booker, config, run, lines)
        booking = self.bookings.get(booker.key, run.id)
        reference = (
            booking.reference
            if booking is not None and booking.reference
            else booker.reference(draft, run.id, 0)
        )
        return Preview(run, draft, findings, booking, reference)

    def unsettled(self, config: ClientConfig) -> list[str]:
        """The references ("" when none yet) of this client's bookings in its current AFAS
        administration that are not finished: a post is out or being sent, booked but Loket not
        yet told, or partly booked. Such a booking would not be seen from another
        administration, which could book the same journal run again there."""
        now = self.clock()
        return [
            row.reference
            for row in self.bookings.of_client(
                target_key(config.target), config.office_id, config.client_id
            )
            if row.state is not State.MARKED and may_be_in_afas(row, now)
        ]
