"""The composition root: builds clients and repositories lazily from Settings (no I/O at import).

``functions/`` asks :func:`get_services` for the process-wide instance; tests build a
:class:`Services` of their own with their settings (Azurite, sandbox URLs) and clock.
"""

from __future__ import annotations

import math
from functools import cached_property, lru_cache

import requests

from shared.afas.environment import (
    ProfitEnvironment,
    parse_sb_environment,
    profit_base_url,
)
from shared.afas.oauth import SbNotConfigured, SbOAuth
from shared.afas.profit import ProfitClient
from shared.afas.profit_connections import (
    ConnectionCache,
    stored_profit_client,
    stored_profit_connection,
)
from shared.afas.sb import SbClient
from shared.afas.sb_connections import SbConnections
from shared.approvals.service import ApprovalService
from shared.clients.model import ClientConfig
from shared.clients.service import ClientService
from shared.clock import Clock, bounded_wait, utc_now
from shared.connections.service import ProfitConnectionService
from shared.loket.client import LoketClient
from shared.loket.oauth import REVOKED_REASON, ConnectionTokens, LoketOAuth
from shared.notify.mailer import Mailer, mailer_from_settings
from shared.notify.service import Notifier
from shared.oauth.consent import ConsentStore
from shared.oauth.tokens import TokenStore
from shared.secret import Secret
from shared.settings import Settings, get_settings
from shared.store.approvals import ApprovalRepository
from shared.store.audit_copies import AuditStore
from shared.store.bookings import BookingLedger
from shared.store.clients import ClientRepository
from shared.store.connections import ConnectionKey, ConnectionKind, ConnectionRepository
from shared.store.crypto import SecretBox
from shared.store.notifications import NotificationRepository
from shared.store.run_details import RunDetailRepository
from shared.store.runs import RunRepository
from shared.store.storage import Storage, http_session
from shared.sync.administrations import booker_of
from shared.sync.bookers import AnyBooker, ChartCache
from shared.sync.client_bookings import ClientBookings
from shared.sync.deps import ReviewDeps, WorkerDeps
from shared.sync.messages import SYNC_QUEUE, SyncJob
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

    @cached_property
    def audit(self) -> AuditStore:
        return AuditStore(self.storage, retention_years=self.settings.audit_retention_years)

    @cached_property
    def approvals(self) -> ApprovalRepository:
        return ApprovalRepository(self.storage)

    @cached_property
    def notifications(self) -> NotificationRepository:
        return NotificationRepository(self.storage)

    @cached_property
    def mailer(self) -> Mailer | None:
        return mailer_from_settings(self.settings)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(
            notifications=self.notifications,
            runs=self.runs,
            details=self.run_details,
            clients=self.clients,
            connections=self.connections,
            mailer=self.mailer,
            portal=self.settings.portal_page_url,
            sender=self.settings.notify_sender,
            clock=self.clock,
        )

    def enqueue_sync_job(self, body: str) -> None:
        self.storage.queue(SYNC_QUEUE).send_message(body)

    def defer_sync_job(self, job: SyncJob, seconds: float) -> None:
        """The job again, invisible for ``seconds`` (whole seconds, at least one; never more
        than MAX_DEFER, and an inf/nan wait is none: every job comes back)."""
        delay = max(1, math.ceil(bounded_wait(seconds)))
        self.storage.queue(SYNC_QUEUE).send_message(job.to_json(), visibility_timeout=delay)

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
        return http_session()

    @cached_property
    def profit_session(self) -> requests.Session:
        """One pooled session to AFAS Profit, shared by the clients of every job (a job no
        longer opens a connection of its own)."""
        return http_session()

    def loket_client(self, office_id: str) -> LoketClient:
        """A Loket API client acting through the office's consent."""
        key = ConnectionKey(office_id, ConnectionKind.LOKET)
        return LoketClient(
            self.settings.loket_api_url,
            ConnectionTokens(self.loket_tokens, key),
            session=self.loket_session,
        )

    # -- AFAS -----------------------------------------------------------------------------------

    def new_profit_client(self, environment: ProfitEnvironment, token: Secret) -> ProfitClient:
        """A Profit client for a token that is not (yet) stored: the connection check."""
        return ProfitClient(
            profit_base_url(self.settings.afas_profit_url, environment),
            token,
            session=self.profit_session,
            integration_id=self.settings.afas_integration_id,
            environment=environment.number,
        )

    def profit_client(self, office_id: str, environment: str) -> ProfitClient:
        """The Profit client of an office's stored connection (NotConnected when none)."""
        return stored_profit_client(
            self.connections, self.new_profit_client, office_id, environment
        )

    def _profit_connection(self, office_id: str, environment: str) -> tuple[ProfitClient, str]:
        """The Profit client and its environment's stored name, from one connection read (kept
        60 s in this process: :class:`ConnectionCache`)."""
        return stored_profit_connection(
            self.profit_connection_cache, self.new_profit_client, office_id, environment
        )

    @cached_property
    def profit_connection_cache(self) -> ConnectionCache:
        cache = ConnectionCache(self.connections)
        self.connections.on_change.append(cache.forget)  # saved or changed here: forgotten
        return cache

    @cached_property
    def sb_oauth(self) -> SbOAuth:
        settings = self.settings
        if not settings.afas_sb_client_id or settings.afas_sb_client_secret is None:
            raise SbNotConfigured("AFAS_SB_CLIENT_ID and AFAS_SB_CLIENT_SECRET are not set")
        return SbOAuth(
            settings.afas_sb_url,
            client_id=settings.afas_sb_client_id,
            client_secret=settings.afas_sb_client_secret,
            redirect_uri=settings.redirect_uri("afas-sb"),
            clock=self.clock,
        )

    @cached_property
    def sb_connections(self) -> SbConnections:
        """The office's SB connections: API server per connection, Admin Center, scope tokens."""
        return SbConnections(
            self.connections,
            lambda: self.sb_oauth,
            self.clock,
            default_template=self.settings.afas_sb_url,
        )

    def sb_tokens(self, environment: str) -> TokenStore:
        """Tokens of an environment on the ``AFAS_SB_URL`` server (kept for older callers)."""
        return self.sb_connections.tokens(
            None, self.sb_oauth.default_location(parse_sb_environment(environment))
        )

    def sb_client(self, office_id: str, environment: str) -> SbClient:
        """The SB client of an office's connection, on the connection's own API server; tokens
        refresh before the 30-minute expiry. A missing connection raises :class:`NotConnected`
        on the first call."""
        return self.sb_connections.client(office_id, parse_sb_environment(environment))

    # -- client configurations and the sync ---------------------------------------------------
    def booker(self, config: ClientConfig) -> AnyBooker:
        """The AFAS side of a client: its administration behind one booking interface."""
        return booker_of(
            config,
            profit_connection=self._profit_connection,
            sb_client=self.sb_client,
            charts=self.charts,
        )

    @cached_property
    def charts(self) -> ChartCache:
        return ChartCache()

    @cached_property
    def profit_connection_service(self) -> ProfitConnectionService:
        return ProfitConnectionService(
            connections=self.connections, profit_client=self.new_profit_client, clock=self.clock
        )

    @cached_property
    def client_service(self) -> ClientService:
        return ClientService(
            clients=self.clients,
            connections=self.connections,
            loket=self.loket_client,
            booker=self.booker,
            clock=self.clock,
            unsettled=self.client_bookings.unsettled,
            sb_scope=self._sb_scope,
        )

    @cached_property
    def client_bookings(self) -> ClientBookings:
        """A client's journal runs as the booking sees them: the entry preview, the bookings
        that are not finished (handed to the client service as a callable)."""
        return ClientBookings(
            loket=self.loket_client, booker=self.booker, bookings=self.bookings, clock=self.clock
        )

    def _sb_scope(self, office_id: str, environment: str, user: str) -> object:
        return self.sb_connections.ensure_scope(office_id, environment, by_user=user)

    @cached_property
    def review_deps(self) -> ReviewDeps:
        """What approving or rejecting needs: the sync's parts without its queue."""
        return ReviewDeps(
            runs=self.runs,
            details=self.run_details,
            clients=self.clients,
            bookings=self.bookings,
            loket=self.loket_client,
            target=self.booker,
            clock=self.clock,
            audit=self.audit,
            approvals=self.approvals,
            notifier=self.notifier,
        )

    @cached_property
    def approval_service(self) -> ApprovalService:
        return ApprovalService(approvals=self.approvals, review=self.review_deps)

    @cached_property
    def worker_deps(self) -> WorkerDeps:
        return WorkerDeps.extending(
            self.review_deps,
            defer=self.defer_sync_job,
            forget_connections=self.profit_connection_cache.forget_office,
        )


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(get_settings())
