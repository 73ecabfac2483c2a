"""Storing and switching an office's AFAS Profit connection (the token is checked first).

A token is stored only after one cheap read (``/metainfo``) proved it works in the environment
and its App Connector is complete; re-activating a connection checks the stored token again.
Refusals are :mod:`shared.connections.errors`; the HTTP handler says them as problems.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.afas.environment import ProfitEnvironment, parse_profit_environment
from shared.afas.errors import (
    AfasAuthError,
    AfasConnectorNotAuthorized,
    AfasError,
    AfasNotFound,
    AfasRetriableError,
    known_error,
)
from shared.afas.models import MetaInfo
from shared.connections.errors import (
    AfasFailed,
    AfasUnreachable,
    ChangedMeanwhile,
    Refusal,
    TokenRefused,
    TokenRequired,
)
from shared.secret import Secret
from shared.store.connections import (
    Connection,
    ConnectionKey,
    ConnectionKind,
    NewSecrets,
    StoredSecrets,
)
from shared.store.tables import ConcurrencyConflict

log = logging.getLogger("loonbrug.connections")


class ConnectionStore(Protocol):
    """What the service reads and writes of connections (``ConnectionRepository``; a dict in
    tests/unit)."""

    def get(self, key: ConnectionKey) -> Connection | None: ...

    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None: ...

    def save(
        self,
        key: ConnectionKey,
        secrets: NewSecrets,
        *,
        by_user: str,
        by_name: str = "",
        now: datetime,
        active: bool = True,
        details: dict[str, str] | None = None,
    ) -> Connection: ...

    def update(self, connection: Connection, *, etag: str | None = None, **changes: Any) -> str: ...


class TokenCheck(Protocol):
    """A Profit client that can prove a token (``ProfitClient.check_token``)."""

    def check_token(self) -> MetaInfo: ...


@dataclass(frozen=True)
class Stored:
    connection: Connection
    created: bool


@dataclass
class ProfitConnectionService:
    """An office's AFAS Profit connections: connect with a token, switch on and off."""

    connections: ConnectionStore
    # A client for a token that is not (yet) stored: the check before storing.
    profit_client: Callable[[ProfitEnvironment, Secret], AbstractContextManager[TokenCheck]]
    clock: Callable[[], datetime]

    def connect(
        self,
        office_id: str,
        environment: ProfitEnvironment,
        token: Secret,
        *,
        active: bool,
        user: str,
        user_name: str = "",
    ) -> Stored:
        """Check ``token`` against the environment and store it (encrypted).

        :raises TokenRefused, AfasUnreachable, AfasFailed: the check failed; nothing stored.
        """
        key = ConnectionKey(office_id, ConnectionKind.AFAS_PROFIT, environment.number)
        existing = self.connections.get(key)
        name = environment.name or (existing.details.get("environmentName") if existing else None)
        if name and not environment.name:
            environment = parse_profit_environment(environment.number, name)
        meta = self.check(environment, token)
        connection = self.connections.save(
            key,
            NewSecrets(afas_token=token),
            by_user=user,
            by_name=user_name,
            now=self.clock(),
            active=active,
            details=details_of(environment, meta),
        )
        log.info(
            "afas-profit connection of office %s environment %s stored (active=%s)",
            key.office_id, key.environment, active,
        )  # fmt: skip
        return Stored(connection, created=existing is None)

    def switch(self, office_id: str, environment: ProfitEnvironment, *, active: bool) -> Connection:
        """Switch a stored connection on or off; switching on checks the stored token again.

        :raises TokenRequired: there is no stored token for this environment.
        :raises TokenRefused, AfasUnreachable, AfasFailed: re-activating, the check failed.
        :raises ChangedMeanwhile: the row changed at the same moment.
        """
        key = ConnectionKey(office_id, ConnectionKind.AFAS_PROFIT, environment.number)
        stored = self.connections.read_secrets(key)
        if stored is None or stored.afas_token is None:
            raise TokenRequired(key.environment)
        connection = stored.connection
        details = dict(connection.details)
        if environment.name:
            details["environmentName"] = environment.name
        if active:  # re-activating: the stored token must still work
            known = parse_profit_environment(key.environment, details.get("environmentName"))
            details.update(details_of(known, self.check(known, stored.afas_token)))
        try:
            self.connections.update(
                connection,
                active=active,
                needs_reauthorization=False,
                reason="",
                details=details,
                updated_at=self.clock(),
            )
        except ConcurrencyConflict:
            raise ChangedMeanwhile(key.environment) from None
        updated = self.connections.get(key)
        assert updated is not None
        return updated

    def check(self, environment: ProfitEnvironment, token: Secret) -> MetaInfo:
        """The cheap read that proves a token; what AFAS says, as a refusal."""
        where = environment.name or environment.number
        try:
            with self.profit_client(environment, token) as client:
                return client.check_token()
        except AfasConnectorNotAuthorized as error:
            raise TokenRefused(
                Refusal.CONNECTOR_MISSING,
                f"De token werkt, maar de App connector in AFAS Profit ({where}) geeft geen "
                f"toegang tot alles wat Loonbrug nodig heeft. {error.message}",
                known_error("connector-not-authorized").hint,
            ) from None
        except AfasAuthError as error:
            hint = (
                known_error("access-denied").hint
                if error.status == 403
                else known_error("token-invalid").hint
                + f" Controleer ook dat de token bij omgeving {where} hoort."
            )
            raise TokenRefused(
                Refusal.TOKEN_REFUSED, f"AFAS Profit-omgeving {where} weigert deze token.", hint
            ) from None
        except AfasNotFound:
            raise TokenRefused(
                Refusal.ENVIRONMENT_NOT_FOUND,
                f"AFAS Profit-omgeving {environment.number} is niet gevonden.",
                "Controleer het omgevingsnummer: dat zijn de 5 cijfers uit de omgevingsnaam "
                "(O12345AA → 12345), te vinden in Profit onder Algemeen › Omgeving › Beheer › "
                "Informatie (deelnemersnummer).",
            ) from None
        except AfasRetriableError as error:
            raise AfasUnreachable(error.retry_after) from None
        except AfasError as error:
            log.warning("afas-profit token check failed: %s", error)
            raise AfasFailed(error.detail, error.hint) from None


def details_of(environment: ProfitEnvironment, meta: MetaInfo) -> dict[str, str]:
    """What a connection row shows of its environment and token (no secrets)."""
    details = {"environmentType": environment.kind.value}
    name = environment.name or meta.environment_id
    if name:
        details["environmentName"] = name.upper()
    if meta.token_expiry is not None:
        details["tokenExpiry"] = meta.token_expiry.isoformat()
    if meta.app_name:
        details["appConnector"] = meta.app_name
    return details
