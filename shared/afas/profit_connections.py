"""The Profit client of an office's stored connection (beside :mod:`shared.afas.sb_connections`,
which does the same for AFAS SB). ``shared/bootstrap.py`` only wires it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from shared.afas.environment import ProfitEnvironment, parse_profit_environment
from shared.afas.profit import ProfitClient
from shared.oauth.tokens import NotConnected
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionKind, StoredSecrets


class SecretReader(Protocol):
    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None: ...


class ConnectionCache:
    """The Profit connections a worker process read, kept ``ttl`` (60 s) in memory: every job
    of a nightly needs its client's connection, and most jobs of an office share a few.

    Correctness first. A change made in this process (save, consent, deactivation, delete: the
    repository's ``on_change``) forgets the office's entries at once. A change made in another
    instance reaches this one within ``ttl``: until then a job may still use the previous token
    or a connection deactivated meanwhile, never longer than 60 s after the change. A job that
    AFAS refuses with a cached token is retried once with a fresh read
    (:func:`shared.sync.worker` ``forget_connections``), so a token replaced in another
    instance does not fail a job. Only found connections are kept (a missing one is read
    again every time)."""

    def __init__(
        self,
        reader: SecretReader,
        ttl: timedelta = timedelta(seconds=60),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._ttl = ttl.total_seconds()
        self._clock = clock
        self._kept: dict[ConnectionKey, tuple[float, StoredSecrets]] = {}
        self._served: set[ConnectionKey] = set()  # kept entries answered from memory
        # Changes seen per office: a read that a change overtook (it read the row before the
        # change was written and finished after it was forgotten) is answered but not kept.
        self._changes: dict[str, int] = {}
        self._lock = threading.Lock()

    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None:
        now = self._clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self._ttl:
                self._served.add(key)
                return kept[1]
            changes = self._changes.get(key.office_id, 0)
        stored = self._reader.read_secrets(key)
        with self._lock:
            self._served.discard(key)
            if self._changes.get(key.office_id, 0) != changes:
                return stored  # changed while it was read: maybe the old row, never kept
            if stored is None:
                self._kept.pop(key, None)
            else:
                if len(self._kept) >= 10_000:
                    self._kept.clear()
                    self._served.clear()
                self._kept[key] = (now, stored)
        return stored

    def forget(self, key: ConnectionKey) -> None:
        """A connection changed (in this process): forget its office's entries."""
        self.forget_office(key.office_id)

    def forget_office(self, office_id: str) -> bool:
        """Forget the office's entries; True when one of them had been answered from memory
        (a job may have used a connection older than its row)."""
        with self._lock:
            if len(self._changes) >= 10_000:
                self._changes.clear()  # a read in flight then keeps at most one stale minute
            self._changes[office_id] = self._changes.get(office_id, 0) + 1
            keys = [k for k in self._kept if k.office_id == office_id]
            served = any(k in self._served for k in keys)
            for k in keys:
                del self._kept[k]
                self._served.discard(k)
        return served


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
