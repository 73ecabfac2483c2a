"""The Profit client of an office's stored connection (beside :mod:`shared.afas.sb_connections`,
which does the same for AFAS SB). ``shared/bootstrap.py`` only wires it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from shared.afas.environment import ProfitEnvironment, parse_profit_environment
from shared.afas.profit import ProfitClient
from shared.oauth.tokens import NotConnected
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionKind, StoredSecrets


class SecretReader(Protocol):
    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None: ...


def stored_profit_connection(
    connections: SecretReader,
    new_client: Callable[[ProfitEnvironment, Secret], ProfitClient],
    office_id: str,
    environment: str,
) -> tuple[ProfitClient, str]:
    """The Profit client of an office's stored connection (``environment``: number or name) and
    the environment's stored name, from one read of the connection row (a sync job reads it once).

    Raises :class:`shared.oauth.tokens.NotConnected` when there is none. An inactive
    connection still gives a client; the sync decides what "inactive" skips.
    """
    parsed = parse_profit_environment(environment)
    key = ConnectionKey(office_id, ConnectionKind.AFAS_PROFIT, parsed.number)
    stored = connections.read_secrets(key)
    if stored is None or stored.afas_token is None:
        raise NotConnected(key)
    stored_name = stored.connection.details.get("environmentName", "")
    name = stored_name or parsed.name
    client = new_client(parse_profit_environment(parsed.number, name), stored.afas_token)
    return client, stored_name


def stored_profit_client(
    connections: SecretReader,
    new_client: Callable[[ProfitEnvironment, Secret], ProfitClient],
    office_id: str,
    environment: str,
) -> ProfitClient:
    """The Profit client of an office's stored connection (see :func:`stored_profit_connection`)."""
    return stored_profit_connection(connections, new_client, office_id, environment)[0]
