"""Connections, consent states and the rotation-safe token store on real Azurite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.bootstrap import Services
from shared.oauth.consent import InvalidState, StateProblem, pkce_challenge
from shared.oauth.tokens import ConsentRequired, InvalidGrant, TokenSet, TokenStore
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionKind, ConnectionState, NewSecrets

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class RotatingEndpoint:
    """A token endpoint that rotates refresh tokens and revokes on reuse (as Loket is assumed to)."""

    def __init__(self, first_refresh: str) -> None:
        self.valid = {first_refresh}
        self.spent: set[str] = set()
        self.calls = 0
        self.lock = threading.Lock()

    def refresh(self, refresh_token: Secret) -> TokenSet:
        with self.lock:
            self.calls += 1
            value = refresh_token.reveal()
            if value in self.spent or value not in self.valid:
                self.valid.clear()  # reuse detection: the whole family is revoked
                raise InvalidGrant("invalid_grant")
            self.valid.discard(value)
            self.spent.add(value)
            new = f"refresh-{self.calls}"
            self.valid.add(new)
        return TokenSet(Secret(f"access-{self.calls}"), NOW + timedelta(hours=1), Secret(new))


def connect(services: Services, office: str, *, expires: datetime) -> ConnectionKey:
    key = ConnectionKey(office, ConnectionKind.LOKET)
    services.connections.save(
        key,
        NewSecrets(Secret("access-0"), Secret("refresh-0"), expires),
        by_user="u1",
        now=NOW,
    )
    return key


def test_secrets_are_ciphertext_at_rest(services: Services, unique: Callable[[str], str]) -> None:
    key = connect(services, unique("office"), expires=NOW + timedelta(hours=1))
    raw = services.storage.table("Connections").get_entity(key.office_id, key.row_key)
    stored = " ".join(str(v) for v in raw.values())
    assert "access-0" not in stored and "refresh-0" not in stored
    assert raw["enc_refresh_token"].startswith("v1.")
    secrets = services.connections.read_secrets(key)
    assert secrets is not None and secrets.refresh_token == Secret("refresh-0")
    assert "refresh-0" not in repr(secrets)
    assert services.connections.get(key).state is ConnectionState.CONNECTED  # type: ignore[union-attr]


def test_sixteen_threads_on_an_expired_token_cause_exactly_one_refresh(
    services: Services, unique: Callable[[str], str]
) -> None:
    key = connect(services, unique("office"), expires=NOW - timedelta(minutes=1))
    endpoint = RotatingEndpoint("refresh-0")
    store = TokenStore(services.connections, endpoint, clock=lambda: NOW)
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(store.access_token(key).reveal())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert endpoint.calls == 1
    assert results == ["access-1"] * 16
    assert endpoint.spent == {"refresh-0"}  # the rotated token was sent once, never reused
    stored = services.connections.read_secrets(key)
    assert stored is not None and stored.refresh_token == Secret("refresh-1")


def test_revoked_consent_turns_the_connection_to_reauthorize(
    services: Services, unique: Callable[[str], str]
) -> None:
    key = connect(services, unique("office"), expires=NOW - timedelta(minutes=1))
    endpoint = RotatingEndpoint("something-else")
    store = TokenStore(
        services.connections,
        endpoint,
        clock=lambda: NOW,
        revoked_reason="Loket heeft de toestemming ingetrokken.",
    )
    with pytest.raises(ConsentRequired) as caught:
        store.access_token(key)
    assert "ingetrokken" in caught.value.reason
    connection = services.connections.get(key)
    assert connection is not None and connection.state is ConnectionState.REAUTHORIZE
    with pytest.raises(ConsentRequired):  # no second call to the endpoint
        store.access_token(key)
    assert endpoint.calls == 1


def test_a_valid_token_is_used_without_refresh(
    services: Services, unique: Callable[[str], str]
) -> None:
    key = connect(services, unique("office"), expires=NOW + timedelta(minutes=30))
    endpoint = RotatingEndpoint("refresh-0")
    store = TokenStore(services.connections, endpoint, clock=lambda: NOW)
    assert store.access_token(key) == Secret("access-0")
    assert endpoint.calls == 0
    # A 401 with that token forces one refresh; a second caller with the same stale token reuses it.
    assert store.refresh_after_rejection(key, Secret("access-0")) == Secret("access-1")
    assert store.refresh_after_rejection(key, Secret("access-0")) == Secret("access-1")
    assert endpoint.calls == 1


def test_consent_state_is_single_use_bound_and_expires(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    start = services.consents.begin(provider="loket", office_id=office, user_id="u1", now=NOW)
    assert len(start.code_challenge) == 43 and start.code_challenge == pkce_challenge(
        start.code_verifier
    )
    with pytest.raises(InvalidState) as wrong_provider:
        services.consents.consume(provider="afas-sb", state=start.state.reveal(), now=NOW)
    assert wrong_provider.value.problem is StateProblem.UNKNOWN
    request = services.consents.consume(provider="loket", state=start.state.reveal(), now=NOW)
    assert (request.office_id, request.user_id) == (office, "u1")
    assert request.code_verifier == start.code_verifier
    with pytest.raises(InvalidState) as replay:
        services.consents.consume(provider="loket", state=start.state.reveal(), now=NOW)
    assert replay.value.problem is StateProblem.USED

    late = services.consents.begin(provider="loket", office_id=office, user_id="u1", now=NOW)
    with pytest.raises(InvalidState) as expired:
        services.consents.consume(
            provider="loket", state=late.state.reveal(), now=NOW + timedelta(minutes=11)
        )
    assert expired.value.problem is StateProblem.EXPIRED
    with pytest.raises(InvalidState) as forged:
        services.consents.consume(provider="loket", state="forged-state", now=NOW)
    assert forged.value.problem is StateProblem.UNKNOWN
