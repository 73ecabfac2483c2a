"""The composition root: builds clients and repositories lazily from Settings (no I/O at import).

``functions/`` asks :func:`get_services` for the process-wide instance; tests build a
:class:`Services` of their own with their settings (Azurite, sandbox URLs) and clock.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

import requests

from shared.clock import Clock, utc_now
from shared.loket.client import LoketClient
from shared.loket.oauth import REVOKED_REASON, ConnectionTokens, LoketOAuth
from shared.oauth.consent import ConsentStore
from shared.oauth.tokens import TokenStore
from shared.settings import Settings, get_settings
from shared.store.bookings import BookingLedger
from shared.store.clients import ClientRepository
from shared.store.connections import ConnectionKey, ConnectionKind, ConnectionRepository
from shared.store.crypto import SecretBox
from shared.store.run_details import RunDetailRepository
from shared.store.runs import RunRepository
from shared.store.storage import Storage
from shared.sync.messages import SYNC_QUEUE
from shared.sync.planner import Planner


class Services:
    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings.storage)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.settings.encryption_keys)

    @cached_property
    def connections(self) -> ConnectionRepository:
        return ConnectionRepository(self.storage, self.secret_box)

    @cached_property
    def consents(self) -> ConsentStore:
        return ConsentStore(self.storage, self.secret_box)

    @cached_property
    def clients(self) -> ClientRepository:
        return ClientRepository(self.storage)

    @cached_property
    def runs(self) -> RunRepository:
        return RunRepository(self.storage)

    @cached_property
    def run_details(self) -> RunDetailRepository:
        return RunDetailRepository(self.storage)

    @cached_property
    def bookings(self) -> BookingLedger:
        return BookingLedger(self.storage)

    def enqueue_sync_job(self, body: str) -> None:
        self.storage.queue(SYNC_QUEUE).send_message(body)

    @cached_property
    def planner(self) -> Planner:
        return Planner(
            runs=self.runs,
            details=self.run_details,
            clients=self.clients,
            connections=self.connections,
            send=self.enqueue_sync_job,
            clock=self.clock,
        )

    # -- Loket.nl -----------------------------------------------------------------------------
    @property
    def loket_configured(self) -> bool:
        return bool(self.settings.loket_client_id)

    @cached_property
    def loket_oauth(self) -> LoketOAuth:
        """The Loket token endpoint and authorize-URL builder (LOKET_AUTH_URL, client)."""
        return LoketOAuth(
            self.settings.loket_auth_url,
            self.settings.loket_client_id or "",
            self.settings.loket_client_secret,
            clock=self.clock,
        )

    @cached_property
    def loket_tokens(self) -> TokenStore:
        """Rotation-safe Loket tokens of every office (one refresh across all workers)."""
        return TokenStore(
            self.connections, self.loket_oauth, clock=self.clock, revoked_reason=REVOKED_REASON
        )

    @cached_property
    def loket_session(self) -> requests.Session:
        """One pooled session to the Loket API, shared by the per-office clients."""
        return requests.Session()

    def loket_client(self, office_id: str) -> LoketClient:
        """A Loket API client acting through the office's consent."""
        key = ConnectionKey(office_id, ConnectionKind.LOKET)
        return LoketClient(
            self.settings.loket_api_url,
            ConnectionTokens(self.loket_tokens, key),
            session=self.loket_session,
        )


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(get_settings())
