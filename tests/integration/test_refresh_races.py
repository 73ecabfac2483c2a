"""Issue 15, scenario 5: a token refresh that loses its conditional write never overwrites a newer
consent. Real parts: Azurite, the Loket and AFAS SB sandboxes as token endpoints, the real consent
flows (Loket callback service, SB consent + callback handlers) and the real forget.

The provider's answer is held (:class:`HeldAnswer`) until the test lets it go: the sandbox has
already processed the refresh (rotated, or refused) when the re-consent is written, as happens when
Loket's answer is slow to reach a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

import pytest

from devtools.sandbox.afas import AfasSandbox
from devtools.sandbox.loket import LoketSandbox
from shared.bootstrap import Services
from shared.loket.connect import forget
from shared.oauth.tokens import (
    ConsentRequired,
    NotConnected,
    TokenEndpoint,
    TokenSet,
    TokenStore,
)
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionKind, StoredSecrets
from tests.support.afas_fixtures import connect_sb
from tests.support.loket_fixtures import connect_loket

T = TypeVar("T")
WAIT = 30.0


class HeldAnswer:
    """A token endpoint in front of a real one: the first refresh reaches the provider at once
    (``before_provider=False``) or only when let go (``True``); its answer (tokens or error)
    reaches the caller only when the test lets it go. Later refreshes pass straight through."""

    def __init__(self, real: TokenEndpoint, *, before_provider: bool = False) -> None:
        self._real = real
        self._before_provider = before_provider
        self.answered = threading.Event()  # the first call is in (and past the provider, unless
        self.go = threading.Event()  # before_provider)
        self.calls = 0
        self._lock = threading.Lock()

    def refresh(self, refresh_token: Secret) -> TokenSet:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if not first:
            return self._real.refresh(refresh_token)
        try:
            if self._before_provider:
                self.answered.set()
                assert self.go.wait(WAIT), "the test never let the held refresh go"
            return self._real.refresh(refresh_token)
        finally:
            if not self._before_provider:
                self.answered.set()
                assert self.go.wait(WAIT), "the test never let the held answer go"


class Background(Generic[T]):
    """Runs ``call`` in a thread; :meth:`outcome` is its result or raises its exception."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._result: list[T] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._result.append(call())
        except BaseException as exc:  # handed to the test thread
            self._error.append(exc)

    def outcome(self) -> T:
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the refresh did not finish"
        if self._error:
            raise self._error[0]
        return self._result[0]


def expire_access_token(services: Services, key: ConnectionKey) -> StoredSecrets:
    """The stored access token is about to expire (the next use refreshes it)."""
    stored = services.connections.read_secrets(key)
    assert stored is not None
    services.connections.update(
        stored.connection, access_expires_at=services.clock() - timedelta(minutes=1)
    )
    again = services.connections.read_secrets(key)
    assert again is not None
    return again


def secrets(services: Services, key: ConnectionKey) -> StoredSecrets:
    stored = services.connections.read_secrets(key)
    assert stored is not None
    return stored


def test_scenario_5_a_reconsent_during_a_slow_loket_refresh_is_kept(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Callable[[str], str]
) -> None:
    services = loket_services
    office = unique("office")
    key = connect_loket(services, office, user_id="old-loket-user")
    old = expire_access_token(services, key)
    held = HeldAnswer(services.loket_oauth)
    store = TokenStore(services.connections, held, clock=services.clock)

    refresh = Background(lambda: store.access_token(key))
    assert held.answered.wait(WAIT)
    assert loket_sandbox.refresh_grants == 1  # Loket rotated the old chain; its answer is slow
    connect_loket(services, office, user_id="new-admin")  # the admin consents again meanwhile
    consented = secrets(services, key)
    assert consented.connection.consent_id != old.connection.consent_id
    held.go.set()

    assert refresh.outcome() == consented.access_token  # the caller gets the new chain's token
    row = secrets(services, key)
    assert row.refresh_token == consented.refresh_token
    assert row.access_token == consented.access_token
    assert row.connection.consent_id == consented.connection.consent_id
    assert row.connection.connected_by == "new-admin"
    assert not row.connection.needs_reauthorization and row.connection.reason is None
    assert held.calls == 1  # the new consent's token was valid: nothing refreshed for it


def test_scenario_5_a_reconsent_during_a_slow_sb_refresh_is_kept(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    services = afas_services
    office = unique("office")
    connect_sb(services, office)
    key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    old = expire_access_token(services, key)
    held = HeldAnswer(services.sb_oauth.endpoint("enyoi"))
    store = TokenStore(services.connections, held, clock=services.clock)

    refresh = Background(lambda: store.access_token(key))
    assert held.answered.wait(WAIT)
    assert afas_sandbox.sb_grants["refresh_token"] == 1
    connect_sb(services, office)  # a new SB consent meanwhile
    consented = secrets(services, key)
    assert consented.refresh_token != old.refresh_token
    held.go.set()

    assert refresh.outcome() == consented.access_token
    row = secrets(services, key)
    assert row.refresh_token == consented.refresh_token
    assert row.access_token == consented.access_token
    assert row.connection.consent_id == consented.connection.consent_id
    assert not row.connection.needs_reauthorization


def test_scenario_5_a_connection_forgotten_during_a_refresh_stays_forgotten(
    loket_services: Services, unique: Callable[[str], str]
) -> None:
    services = loket_services
    office = unique("office")
    key = connect_loket(services, office)
    expire_access_token(services, key)
    held = HeldAnswer(services.loket_oauth)
    store = TokenStore(services.connections, held, clock=services.clock)

    refresh = Background(lambda: store.access_token(key))
    assert held.answered.wait(WAIT)
    assert forget(services.connections, office)
    held.go.set()

    with pytest.raises(NotConnected):
        refresh.outcome()  # no access token of a connection the office forgot
    assert services.connections.read_secrets(key) is None


def test_scenario_5_a_reauthorize_mark_during_a_refresh_is_kept(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Callable[[str], str]
) -> None:
    """Our refresh outlived its lease; a second worker took the lease and sent the same (already
    spent) refresh token: Loket's reuse detection revoked the whole chain, ours included, and the
    second worker marked the connection reauthorize. Our late answer must not undo that mark."""
    services = loket_services
    office = unique("office")
    key = connect_loket(services, office)
    expire_access_token(services, key)
    held = HeldAnswer(services.loket_oauth)
    slow = TokenStore(services.connections, held, clock=services.clock, lease=timedelta(0))
    second = TokenStore(services.connections, services.loket_oauth, clock=services.clock)

    refresh = Background(lambda: slow.access_token(key))
    assert held.answered.wait(WAIT)
    with pytest.raises(ConsentRequired):
        second.access_token(key)
    assert loket_sandbox.reuse_detected == 1
    marked = secrets(services, key)
    assert marked.connection.needs_reauthorization
    held.go.set()

    with pytest.raises(ConsentRequired):
        refresh.outcome()
    row = secrets(services, key)
    assert row.connection.needs_reauthorization
    assert row.connection.reason == marked.connection.reason
    assert row.refresh_token == marked.refresh_token  # the revoked chain's tokens were not written


def test_scenario_5_an_old_chain_refused_during_a_reconsent_gives_the_new_token(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Callable[[str], str]
) -> None:
    """Loket refuses the old chain (consent withdrawn) while the admin consents again: the caller
    gets the new consent's token, and the new consent is not marked reauthorize."""
    services = loket_services
    office = unique("office")
    key = connect_loket(services, office, user_id="old-loket-user")
    expire_access_token(services, key)
    loket_sandbox.revoke_consent()
    held = HeldAnswer(services.loket_oauth)
    store = TokenStore(services.connections, held, clock=services.clock)

    refresh = Background(lambda: store.access_token(key))
    assert held.answered.wait(WAIT)  # Loket answered invalid_grant; the answer is slow
    connect_loket(services, office, user_id="new-admin")
    consented = secrets(services, key)
    held.go.set()

    assert refresh.outcome() == consented.access_token
    row = secrets(services, key)
    assert not row.connection.needs_reauthorization
    assert row.refresh_token == consented.refresh_token


def test_scenario_5_a_refresh_that_outlived_its_lease_in_the_same_chain_keeps_its_rotation(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Callable[[str], str]
) -> None:
    """Same consent, only the lease was overtaken: a second worker claimed it but had not yet sent
    anything. The slow refresh still stores its rotated tokens (the only valid refresh token
    there is); the second worker, whose spent token Loket refuses, adopts them instead of
    reporting a lost consent."""
    services = loket_services
    office = unique("office")
    key = connect_loket(services, office)
    expire_access_token(services, key)
    held = HeldAnswer(services.loket_oauth)
    slow = TokenStore(services.connections, held, clock=services.clock, lease=timedelta(0))
    second_held = HeldAnswer(services.loket_oauth, before_provider=True)
    second = TokenStore(services.connections, second_held, clock=services.clock)

    refresh = Background(lambda: slow.access_token(key))
    assert held.answered.wait(WAIT)
    overtaker = Background(lambda: second.access_token(key))
    assert second_held.answered.wait(WAIT)  # the lease is the second worker's now
    held.go.set()
    token = refresh.outcome()
    rotated = secrets(services, key)
    assert rotated.access_token == token and not rotated.connection.needs_reauthorization
    second_held.go.set()

    assert overtaker.outcome() == token
    row = secrets(services, key)
    assert row.refresh_token == rotated.refresh_token and row.access_token == token
    assert not row.connection.needs_reauthorization
    assert loket_sandbox.refresh_grants == 1
