"""The SB connections of an office: where each lives, its tokens, its client, and the Admin Center.

Rows in ``Connections`` (``shared.store.connections``), kind ``afas-sb``, RowKey
``afas-sb|{environment}``; ``details`` says what the row is:

* ``role=customer``: a customer environment whose own consent Loonbrug holds (the customer route
  of authentication.md). ``apiServer`` is its server: ``https://afas-sb.afasfocus.nl`` for an
  independent customer, ``https://<subdomain>.afasfocus.nl`` under an accountant (concepts.md).
  Rows from before the API server was stored have no ``apiServer``: ``AFAS_SB_URL`` applies.
* ``role=admin-center``: environment ``admin``, the accountant's Admin Center (one consent for
  all their customers). Its tokens read ``authentication/getscopes``.
* ``role=scope``: a customer environment reached through the Admin Center. Created when a user
  picks it (or a client configuration names it); it holds a copy of the Admin Center's refresh
  token, and its access token is a *scope token* (howto-payroll.md "Get scope token"): a
  ``refresh_token`` grant with that refresh token at ``{apiServer}/{scope}/app/token``. A new
  Admin Center consent hands its refresh token to every scope row of the same API server.

Every token is stored encrypted through :class:`ConnectionRepository` and refreshed through the
rotation-safe :class:`shared.oauth.tokens.TokenStore` (one refresh across all workers).

ASSUMPTION [I]: customer environment names are unique within one office (across API servers):
the row key is the environment name, as the booking ledger and client targets already use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from shared.afas.environment import (
    ADMIN_CENTER,
    SbLocation,
    parse_sb_environment,
    parse_sb_path,
    sb_default_location,
)
from shared.afas.errors import AfasError
from shared.afas.models import SbScope
from shared.afas.oauth import SbNotConfigured, SbOAuth
from shared.afas.sb import SbClient
from shared.clock import Clock
from shared.oauth.tokens import (
    ConsentRequired,
    NotConnected,
    TokenEndpointError,
    TokenSet,
    TokenStore,
)
from shared.store.connections import (
    Connection,
    ConnectionKey,
    ConnectionKind,
    ConnectionRepository,
    NewSecrets,
)
from shared.store.tables import ConcurrencyConflict

log = logging.getLogger("loonbrug.afas.sb")

Role = Literal["customer", "admin-center", "scope"]
ROLE_CUSTOMER: Final = "customer"
ROLE_ADMIN_CENTER: Final = "admin-center"
ROLE_SCOPE: Final = "scope"
EXPIRED: Final = datetime(1970, 1, 1, tzinfo=UTC)  # an access token that must be refreshed

REVOKED: Final = "AFAS SB heeft de toestemming ingetrokken of die is verlopen."
REVOKED_ADMIN: Final = (
    "Het Admin Center van AFAS SB heeft de toestemming ingetrokken of die is verlopen. Koppel het "
    "Admin Center opnieuw; daarna werken de klantomgevingen ervan weer."
)


def role_of(connection: Connection) -> Role:
    role = connection.details.get("role")
    if role == ROLE_SCOPE:
        return "scope"
    if role == ROLE_ADMIN_CENTER or connection.key.environment == ADMIN_CENTER:
        return "admin-center"
    return "customer"


@dataclass(frozen=True)
class SbEnvironmentChoice:
    """A customer environment the office can book into, for the portal's lists."""

    environment: str
    name: str
    api_server: str
    source: Literal["customer", "admin-center"]
    connected: bool  # a connection row exists (for an Admin Center scope: already in use)
    state: str | None  # the row's state when connected


@dataclass(frozen=True)
class SbEnvironments:
    environments: list[SbEnvironmentChoice]
    admin_center: Connection | None
    notice: str | None  # Dutch, when the Admin Center could not be read


class SbConnections:
    def __init__(
        self,
        connections: ConnectionRepository,
        oauth: Callable[[], SbOAuth],
        clock: Clock,
        *,
        default_template: str,
        client_options: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._connections = connections
        self._oauth = oauth  # raises SbNotConfigured without the SB OAuth client
        self._clock = clock
        self._template = default_template
        self._client_options = client_options or dict

    # -- keys and locations -------------------------------------------------------------------

    @staticmethod
    def key(office_id: str, environment: str) -> ConnectionKey:
        return ConnectionKey(office_id, ConnectionKind.AFAS_SB, parse_sb_path(environment))

    def location_of(self, connection: Connection | None, environment: str) -> SbLocation:
        """The row's API server, or ``AFAS_SB_URL``'s for a row without one (or no row)."""
        server = connection.details.get("apiServer") if connection is not None else None
        if server:
            return SbLocation(server.rstrip("/"), parse_sb_path(environment))
        return sb_default_location(self._template, parse_sb_path(environment))

    def location(self, office_id: str, environment: str) -> SbLocation:
        return self.location_of(
            self._connections.get(self.key(office_id, environment)), environment
        )

    # -- tokens and clients -------------------------------------------------------------------

    def tokens(self, connection: Connection | None, location: SbLocation) -> TokenStore:
        scope = connection is not None and role_of(connection) == "scope"
        return TokenStore(
            self._connections,
            self._oauth().endpoint(location, scope_token=scope),
            clock=self._clock,
            revoked_reason=REVOKED_ADMIN if scope or location.is_admin_center else REVOKED,
        )

    def client(self, office_id: str, environment: str, **options: Any) -> SbClient:
        """The client of an office's SB connection (a customer environment, or ``admin`` for the
        Admin Center). Reads the row once for its API server; a missing connection raises
        :class:`NotConnected` on the first call."""
        key = self.key(office_id, environment)
        connection = self._connections.get(key)
        location = self.location_of(connection, key.environment)
        return SbClient(
            location.url,
            self.tokens(connection, location),
            key,
            **{**self._client_options(), **options},
        )

    # -- consent --------------------------------------------------------------------------------

    def store_consent(
        self,
        office_id: str,
        location: SbLocation,
        tokens: TokenSet,
        *,
        by_user: str,
        by_name: str = "",
    ) -> Connection:
        """Keep the tokens of a finished consent (customer environment or Admin Center). A new
        Admin Center consent also renews the refresh token of its scope rows."""
        key = self.key(office_id, location.environment)
        role = ROLE_ADMIN_CENTER if location.is_admin_center else ROLE_CUSTOMER
        connection = self._connections.save(
            key,
            NewSecrets(
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                access_expires_at=tokens.expires_at,
            ),
            by_user=by_user,
            by_name=by_name,
            now=self._clock(),
            details={
                "environmentName": location.environment,
                "apiServer": location.api_server,
                "role": role,
            },
        )
        if location.is_admin_center and tokens.refresh_token is not None:
            self._renew_scopes(office_id, location.api_server, tokens)
        return connection

    def _renew_scopes(self, office_id: str, api_server: str, tokens: TokenSet) -> None:
        for connection in self._connections.for_office(office_id):
            if (
                connection.key.kind is not ConnectionKind.AFAS_SB
                or role_of(connection) != "scope"
                or connection.details.get("apiServer") != api_server
            ):
                continue
            try:
                self._connections.update(
                    connection,
                    secrets=NewSecrets(
                        refresh_token=tokens.refresh_token, access_expires_at=EXPIRED
                    ),
                    needs_reauthorization=False,
                    reason="",
                    updated_at=self._clock(),
                )
            except ConcurrencyConflict:
                # A worker refreshed meanwhile (with the old refresh token): try once more.
                current = self._connections.get(connection.key)
                if current is not None:
                    self._connections.update(
                        current,
                        secrets=NewSecrets(
                            refresh_token=tokens.refresh_token, access_expires_at=EXPIRED
                        ),
                        needs_reauthorization=False,
                        reason="",
                        updated_at=self._clock(),
                    )

    # -- the Admin Center ----------------------------------------------------------------------

    def admin_center(self, office_id: str) -> Connection | None:
        return self._connections.get(self.key(office_id, ADMIN_CENTER))

    def scopes(self, office_id: str) -> list[SbScope]:
        """The customer environments the office's Admin Center lists (getscopes). Raises
        :class:`NotConnected` without an Admin Center, :class:`ConsentRequired`, or an
        :class:`AfasError`."""
        with self.client(office_id, ADMIN_CENTER) as admin:
            return admin.list_scopes()

    def ensure_scope(
        self, office_id: str, environment: str, *, by_user: str, by_name: str = ""
    ) -> Connection | None:
        """The connection of ``environment``: the existing row, or a new scope row when the
        office's Admin Center lists it; None when neither. Raises like :meth:`scopes`."""
        key = self.key(office_id, parse_sb_environment(environment))
        existing = self._connections.get(key)
        if existing is not None:
            return existing
        admin = self._connections.read_secrets(self.key(office_id, ADMIN_CENTER))
        if admin is None or admin.refresh_token is None:
            return None
        if admin.connection.needs_reauthorization:
            raise ConsentRequired(admin.connection.key, admin.connection.reason or REVOKED_ADMIN)
        scope = next((s for s in self.scopes(office_id) if s.path == key.environment), None)
        if scope is None:
            return None
        server = self.location_of(admin.connection, ADMIN_CENTER).api_server
        log.info("afas-sb scope %s of office %s taken into use", key.environment, office_id)
        return self._connections.save(
            key,
            NewSecrets(refresh_token=admin.refresh_token),
            by_user=by_user,
            by_name=by_name,
            now=self._clock(),
            details={"environmentName": scope.name, "apiServer": server, "role": ROLE_SCOPE},
        )

    # -- what the portal lists ------------------------------------------------------------------

    def environments(self, office_id: str) -> SbEnvironments:
        rows = [
            c
            for c in self._connections.for_office(office_id)
            if c.key.kind is ConnectionKind.AFAS_SB
        ]
        admin = next((c for c in rows if role_of(c) == "admin-center"), None)
        choices: dict[str, SbEnvironmentChoice] = {}
        for c in rows:
            if role_of(c) == "admin-center":
                continue
            choices[c.key.environment] = SbEnvironmentChoice(
                environment=c.key.environment,
                name=c.details.get("environmentName") or c.key.environment,
                api_server=self.location_of(c, c.key.environment).api_server,
                source="admin-center" if role_of(c) == "scope" else "customer",
                connected=True,
                state=c.state.value,
            )
        notice = None
        if admin is not None:
            try:
                server = self.location_of(admin, ADMIN_CENTER).api_server
                for scope in self.scopes(office_id):
                    choices.setdefault(
                        scope.path,
                        SbEnvironmentChoice(
                            environment=scope.path,
                            name=scope.name,
                            api_server=server,
                            source="admin-center",
                            connected=False,
                            state=None,
                        ),
                    )
            except ConsentRequired:
                notice = (
                    "Het Admin Center van AFAS SB vraagt opnieuw toestemming; de klantomgevingen "
                    "ervan zijn nu niet op te halen. Koppel het Admin Center opnieuw."
                )
            except (AfasError, TokenEndpointError, NotConnected, SbNotConfigured) as exc:
                log.warning(
                    "afas-sb getscopes of office %s failed: %s", office_id, type(exc).__name__
                )
                notice = (
                    "De klantomgevingen van het Admin Center van AFAS SB zijn nu niet op te halen. "
                    "Probeer het over een paar minuten opnieuw, of typ de naam van de omgeving."
                )
        ordered = sorted(choices.values(), key=lambda c: (c.name.lower(), c.environment))
        return SbEnvironments(ordered, admin, notice)
