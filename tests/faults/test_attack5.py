"""Attacks on the money path after issue 18's changes (a helper's brief: book one journal run
twice, or lose one). Scenarios that found no defect and had no test of their own are pinned
here; each is named after its scenario."""

from __future__ import annotations

import threading
from collections.abc import Callable

from devtools.sandbox.afas import SB_ADMINISTRATION_ID, AfasSandbox
from shared.afas.sb import SbClient
from shared.bootstrap import Services
from shared.store.connections import ConnectionKey, ConnectionKind
from shared.sync.booking import BookingBusy
from shared.sync.ledger import Holder
from tests.support.afas_fixtures import FAST_RETRY, Booker, connect_sb, sb_entry

SB_POST = "api/payrolljournalentry"


def _sb_client(services: Services, office: str) -> SbClient:
    key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    connection = services.connections.get(key)
    assert connection is not None
    location = services.sb_connections.location_of(connection, "enyoi")
    tokens = services.sb_connections.tokens(connection, location)
    return SbClient(location.url, tokens, key, retry=FAST_RETRY)


def test_two_admins_approving_one_sb_journal_run_at_once_book_it_once(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Two approvals (or an approval and the nightly of a client switched out of review mode)
    of one SB journal run at the same moment, each with its own SB client, one ledger: one
    post; the other stands back while the first is in flight, and a later attempt reads the
    booking from the ledger (no second Tracking-Identifier is ever sent)."""
    office = unique("office")
    connect_sb(afas_services, office)
    first = Booker(_sb_client(afas_services, office), environment="enyoi")
    second = Booker(_sb_client(afas_services, office), environment="enyoi")
    second.bookings, second.clock = first.bookings, first.clock
    entry = sb_entry(SB_ADMINISTRATION_ID, description=f"Loonjournaalpost {unique('twice')}")
    run_id = unique("run")
    posts = afas_sandbox.count(SB_POST, "POST")
    afas_sandbox.slow(SB_POST, seconds=0.5)
    outcomes: dict[str, object] = {}

    def approve(name: str, booker: Booker) -> None:
        try:
            outcomes[name] = booker.book(entry, run_id=run_id, holder=Holder("o", "c", name))
        except BookingBusy as busy:
            outcomes[name] = busy

    threads = [
        threading.Thread(target=approve, args=(name, booker))
        for name, booker in (("approval:anna", first), ("approval:bert", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(type(o).__name__ for o in outcomes.values()) == ["Booked", "BookingBusy"]
    assert afas_sandbox.count(SB_POST, "POST") == posts + 1
    again = first.book(entry, run_id=run_id, holder=Holder("o", "c", "nightly"))
    assert again.recovered
    administration = afas_sandbox.sb_environment("enyoi").administrations[SB_ADMINISTRATION_ID]
    kept = [b for b in administration.bookings if b.description == entry.description]
    assert len(kept) == 1 and kept[0].tracking_identifier == again.reference
    assert afas_sandbox.count(SB_POST, "POST") == posts + 1
