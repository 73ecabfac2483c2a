"""Access tokens from rotating refresh tokens, safe under many concurrent workers.

Loket.nl rotates the refresh token on every refresh and treats the old one as spent
(loket-api.md §1.2); AFAS SB tokens live 30 minutes. Both go through :class:`TokenStore`:

1. Read the connection row (and its ETag). A valid access token (more than ``refresh_margin``
   left) is used as is.
2. Otherwise claim a short refresh lease on the row with an ETag-conditional write. Exactly one
   worker wins; the others wait (bounded, jittered) until the winner has stored the new tokens,
   then use them. A rotated refresh token is therefore sent to the provider once, never twice.
3. The winner calls the token endpoint, then immediately stores the new access *and* refresh
   token (encrypted) under the lease's ETag, releasing the lease in the same write.
4. ``invalid_grant`` (consent revoked, refresh token expired or reused) marks the connection
   ``reauthorize`` with a Dutch reason, and callers get :class:`ConsentRequired`.
5. Every write after the endpoint answered goes through :meth:`TokenStore._settle`: it lands only
   on the consent chain the spent refresh token came from. A refresh that outlived its lease
   re-reads the row; while it is the same consent (``consent_id``, set anew by every consent),
   still holds the refresh token we sent and is not marked, our outcome is written. Otherwise
   (a re-consent, a forget, a reauthorize mark, another worker's rotation) nothing is written and
   the caller adopts what the row holds: the winner's tokens, :class:`ConsentRequired` or
   :class:`NotConnected` (issue 15, scenario 5).

Crash between the provider's answer and our write (documented, unavoidable without provider-side
idempotency): the new refresh token is lost with the process. The lease expires after
``lease`` seconds; the next worker refreshes with the stored (already rotated) refresh token, the
provider answers ``invalid_grant``, and the connection turns to ``reauthorize`` with the hint to
connect again. Nothing is booked with a stale identity and nothing retries in a loop.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from shared import telemetry
from shared.clock import Clock
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionRepository, NewSecrets, StoredSecrets
from shared.store.tables import ConcurrencyConflict
from shared.telemetry import Event

log = logging.getLogger("loonbrug.oauth")

# Table Storage drops None on merge, so a released lease is a moment long past.
NO_LEASE: Final = datetime(1970, 1, 1, tzinfo=UTC)
REAUTHORIZE_HINT: Final = "Koppel opnieuw via Koppelingen › Opnieuw verbinden."


@dataclass(frozen=True)
class TokenSet:
    access_token: Secret = field(repr=False)
    expires_at: datetime
    refresh_token: Secret | None = field(default=None, repr=False)


class InvalidGrant(Exception):
    """The provider refused the refresh token or code (``invalid_grant``): consent is gone."""


class TokenEndpointError(Exception):
    """The token endpoint failed in a way that may pass (timeout, 5xx, 429)."""


class TokenEndpoint(Protocol):
    def refresh(self, refresh_token: Secret) -> TokenSet: ...


class ConsentRequired(Exception):
    """The connection needs a new consent. ``reason`` is Dutch, for the user."""

    def __init__(self, key: ConnectionKey, reason: str) -> None:
        super().__init__(f"{key.kind.value} connection of office {key.office_id} needs consent")
        self.key = key
        self.reason = reason


class NotConnected(Exception):
    def __init__(self, key: ConnectionKey) -> None:
        super().__init__(f"no {key.kind.value} connection for office {key.office_id}")
        self.key = key


class TokenStore:
    def __init__(
        self,
        connections: ConnectionRepository,
        endpoint: TokenEndpoint,
        *,
        clock: Clock,
        refresh_margin: timedelta = timedelta(minutes=2),
        # Longer than the slowest refresh (a Loket refresh with its 429/503 retries takes up to
        # ~95 s): a lease overtaken mid-refresh makes the next worker resend a spent token.
        lease: timedelta = timedelta(seconds=120),
        wait_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        revoked_reason: str = "De toestemming is ingetrokken of verlopen.",
        memory: timedelta = timedelta(seconds=60),
    ) -> None:
        self._connections = connections
        self._endpoint = endpoint
        self._clock = clock
        self._margin = refresh_margin
        self._lease = lease
        self._wait_timeout = wait_timeout
        self._sleep = sleep
        self._revoked_reason = revoked_reason
        self.refreshes = 0  # how many token-endpoint calls this store made (for tests/bench)
        # A token read from storage is reused in this process for at most ``memory`` (and never
        # past its refresh margin): saves a table read per API call without outliving a
        # revocation for long (a forgotten or re-consented connection is seen within a minute).
        self._memory = memory
        self._remembered: dict[ConnectionKey, tuple[Secret, datetime, datetime]] = {}
        self._memory_lock = threading.Lock()

    def access_token(self, key: ConnectionKey) -> Secret:
        """A valid access token, refreshing (once, across all workers) when it is about to expire."""
        now = self._clock()
        with self._memory_lock:
            remembered = self._remembered.get(key)
        if remembered is not None:
            token, until, expires = remembered
            if now < until and now + self._margin < expires:
                return token
        return self._get(key, stale=None)

    def _remember(self, key: ConnectionKey, token: Secret, expires: datetime | None) -> None:
        if expires is None or self._memory <= timedelta(0):
            return
        with self._memory_lock:
            self._remembered[key] = (token, self._clock() + self._memory, expires)

    def forget(self, key: ConnectionKey) -> None:
        with self._memory_lock:
            self._remembered.pop(key, None)

    def refresh_after_rejection(self, key: ConnectionKey, rejected: Secret) -> Secret:
        """The API refused ``rejected`` with 401 although it looked valid: refresh unless another
        worker already replaced it."""
        return self._get(key, stale=rejected)

    def _get(self, key: ConnectionKey, stale: Secret | None) -> Secret:
        if stale is not None:
            self.forget(key)
        deadline = time.monotonic() + self._wait_timeout
        while True:
            stored = self._connections.read_secrets(key)
            if stored is None:
                raise NotConnected(key)
            conn = stored.connection
            if conn.needs_reauthorization:
                raise ConsentRequired(key, conn.reason or self._revoked_reason)
            now = self._clock()
            if self._usable(stored, now) and stored.access_token != stale:
                assert stored.access_token is not None
                self._remember(key, stored.access_token, conn.access_expires_at)
                return stored.access_token
            superseded = False
            lease_until = conn.refresh_lease_until
            if lease_until is None or lease_until <= now:
                claimed = self._claim(stored, now)
                if claimed is not None:
                    token = self._refresh(stored, claimed)
                    if token is not None:
                        return token
                    # The row left our consent chain while we refreshed: read it again and adopt
                    # what is there (a new consent's tokens, reauthorize, or nothing).
                    superseded = True
            if time.monotonic() > deadline:
                raise TokenEndpointError(
                    f"waited {self._wait_timeout:.0f} s for another worker's token refresh"
                )
            if not superseded:
                self._sleep(random.uniform(0.03, 0.12))  # noqa: S311 - jitter, not crypto

    def _usable(self, stored: StoredSecrets, now: datetime) -> bool:
        expires = stored.connection.access_expires_at
        return (
            stored.access_token is not None and expires is not None and now + self._margin < expires
        )

    def _claim(self, stored: StoredSecrets, now: datetime) -> str | None:
        try:
            return self._connections.update(
                stored.connection,
                refresh_lease_until=now + self._lease,
                refresh_lease_id=uuid.uuid4().hex,
            )
        except ConcurrencyConflict:
            return None

    def _refresh(self, stored: StoredSecrets, lease_etag: str) -> Secret | None:
        """Spend ``stored``'s refresh token under our lease. ``None``: the row no longer belongs to
        that consent chain (see :meth:`_settle`); nothing was written, the caller looks again."""
        conn = stored.connection
        if stored.refresh_token is None:
            if self._mark_reauthorize(
                stored, lease_etag, "Er is geen vernieuwingstoken opgeslagen."
            ):
                raise ConsentRequired(conn.key, self._revoked_reason)
            return None
        self.refreshes += 1
        try:
            tokens = self._endpoint.refresh(stored.refresh_token)
        except InvalidGrant:
            log.warning(
                "%s consent of office %s was refused on refresh", conn.key.kind, conn.key.office_id
            )
            if self._mark_reauthorize(stored, lease_etag, self._revoked_reason):
                raise ConsentRequired(conn.key, self._revoked_reason) from None
            return None
        except Exception:
            self._release(stored, lease_etag)
            raise
        secrets = NewSecrets(
            access_token=tokens.access_token,
            # Providers that do not rotate (AFAS SB) answer without a refresh token: keep ours.
            refresh_token=tokens.refresh_token or stored.refresh_token,
            access_expires_at=tokens.expires_at,
        )
        if not self._settle(
            stored,
            lease_etag,
            secrets=secrets,
            refresh_lease_until=NO_LEASE,
            updated_at=self._clock(),
        ):
            log.warning(
                "%s token refresh of office %s was overtaken by a new consent, a forget or a "
                "reauthorize; its tokens are dropped",
                conn.key.kind, conn.key.office_id,
            )  # fmt: skip
            return None
        self._remember(conn.key, tokens.access_token, tokens.expires_at)
        return tokens.access_token

    def _settle(self, spent: StoredSecrets, lease_etag: str, **changes: Any) -> bool:
        """Write the outcome of spending ``spent``'s refresh token, but only onto that chain.

        The one door for every write after the token endpoint answered. Under our lease the write
        is conditional on the lease's ETag. If that lost (the refresh outlived its lease, or
        someone wrote the row meanwhile), the row is read again and the outcome is still written
        only while the row is the chain we spent from: same consent (``consent_id``), still
        holding the very refresh token we sent, not marked reauthorize. Otherwise the row belongs
        to a newer consent, was forgotten or marked, or another worker already rotated it: what
        we hold belongs to the old chain, so nothing is written and ``False`` is returned.
        """
        key = spent.connection.key
        etag = lease_etag
        for _ in range(_SETTLE_TRIES):
            try:
                self._connections.update(spent.connection, etag=etag, **changes)
            except ConcurrencyConflict:
                current = self._connections.read_secrets(key)
                if current is None or not _same_chain(spent, current):
                    return False
                log.warning("token refresh of office %s outlived its lease", key.office_id)
                etag = current.connection.etag
            else:
                return True
        return False

    def _release(self, stored: StoredSecrets, lease_etag: str) -> None:
        try:
            self._connections.update(
                stored.connection, etag=lease_etag, refresh_lease_until=NO_LEASE
            )
        except ConcurrencyConflict:
            pass  # someone else wrote the row since: there is no lease of ours left to release

    def _mark_reauthorize(self, stored: StoredSecrets, lease_etag: str, reason: str) -> bool:
        """Mark the chain of ``stored`` reauthorize; ``False`` when the row has left that chain."""
        key = stored.connection.key
        marked = self._settle(
            stored,
            lease_etag,
            needs_reauthorization=True,
            reason=reason,
            refresh_lease_until=NO_LEASE,
            updated_at=self._clock(),
        )
        if marked:
            telemetry.emit_event(
                Event.REAUTHORIZE,
                office_id=key.office_id,
                provider=key.kind.value,
                environment=key.environment or None,
                level=logging.WARNING,
            )
        return marked


_SETTLE_TRIES: Final = 5


def _same_chain(spent: StoredSecrets, current: StoredSecrets) -> bool:
    """``current`` is still the consent chain whose refresh token ``spent`` sent to the provider."""
    return (
        current.connection.consent_id == spent.connection.consent_id
        and current.refresh_token == spent.refresh_token
        and not current.connection.needs_reauthorization
    )
