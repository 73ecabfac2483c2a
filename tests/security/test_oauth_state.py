"""OAuth state: forged, tampered, replayed, expired and cross-provider states are refused by both
callbacks (Loket and AFAS SB, one handler: shared/api/consent_callback.py) with a Dutch 400 page
(a browser lands there: never JSON, never a 500), store nothing, and never echo the code or the
state. In-process on the session Azurite with both sandboxes."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from devtools.azurite import Azurite
from shared.api.handlers import afas_connections, connections
from shared.api.operations import Operation
from shared.clock import utc_now
from shared.store.connections import ConnectionKey, ConnectionKind
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers
from tests.support.loket_fixtures import authorize
from tests.support.security_world import CapturingServices, SecurityWorld, security_world


@dataclass(frozen=True)
class Provider:
    name: str
    start: Operation
    callback: Operation
    route: dict[str, str]
    kind: ConnectionKind
    environment: str = ""


LOKET = Provider(
    "loket", connections.CONNECT_LOKET, connections.LOKET_CALLBACK, {}, ConnectionKind.LOKET
)
SB = Provider(
    "afas-sb",
    afas_connections.SB_CONNECT,
    afas_connections.SB_CALLBACK,
    {"environment": "enyoi"},
    ConnectionKind.AFAS_SB,
    "enyoi",
)
PROVIDERS = [pytest.param(LOKET, id="loket"), pytest.param(SB, id="afas-sb")]


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[SecurityWorld]:
    with security_world(azurite) as w:
        yield w


def consent(world: SecurityWorld, provider: Provider, office: str) -> dict[str, str]:
    """Start the consent as the office's admin and let the sandbox consent: the query the
    provider sends the browser back with (code + state)."""
    started = call(
        world.services, provider.start, headers=admin_headers(office), route=provider.route
    )
    assert started.status == 200, started.body
    return authorize(started.json()["authorizeUrl"])


def callback(
    world: SecurityWorld,
    provider: Provider,
    query: dict[str, str],
    services: CapturingServices | None = None,
) -> tuple[int, dict[str, object] | None, str]:
    """(status, {"detail": the page's Dutch text} for a refusal else None, the body)."""
    answer = call(services or world.services, provider.callback, query=query)
    text = answer.body.decode()
    # Neither the code nor the state is ever echoed, whatever the outcome.
    for name in ("code", "state"):
        if query.get(name):
            assert query[name] not in text
            assert query[name] not in json.dumps(dict(answer.headers))
    body: dict[str, object] | None = None
    if answer.status >= 400:
        assert answer.status == 400
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert answer.headers["Cache-Control"] == "no-store"
        assert '<html lang="nl">' in text and "Koppelen met " in text and "opnieuw" in text
        body = {"detail": html.unescape(text)}
    return answer.status, body, text


def stored(world: SecurityWorld, provider: Provider, office: str) -> str | None:
    """The ETag of the office's connection row (None: nothing stored)."""
    found = world.services.connections.get(
        ConnectionKey(office, provider.kind, provider.environment)
    )
    return found.etag if found else None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_forged_and_tampered_states_are_refused_and_leave_the_real_one_usable(
    world: SecurityWorld, provider: Provider, unique: Callable[[str], str]
) -> None:
    office = unique("oauth-")
    query = consent(world, provider, office)
    forged = {**query, "state": "x" * 43}
    tampered = {**query, "state": query["state"][:-1] + ("A" if query["state"][-1] != "A" else "B")}
    for attempt in (forged, tampered, {**query, "state": ""}, {"code": query["code"]}):
        status, body, _ = callback(world, provider, attempt)
        assert status == 400
        assert body is not None and "opnieuw" in str(body["detail"])
    assert stored(world, provider, office) is None
    # The genuine callback still works: a forged state does not spend the real one.
    status, _, _ = callback(world, provider, query)
    assert status == 302
    assert stored(world, provider, office) is not None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_replayed_callback_is_refused_and_changes_nothing(
    world: SecurityWorld, provider: Provider, unique: Callable[[str], str]
) -> None:
    office = unique("oauth-")
    query = consent(world, provider, office)
    assert callback(world, provider, query)[0] == 302
    etag = stored(world, provider, office)
    assert etag is not None
    status, body, _ = callback(world, provider, query)
    assert status == 400 and body is not None and "al gebruikt" in str(body["detail"])
    assert stored(world, provider, office) == etag


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_expired_state_is_refused_and_spent(
    world: SecurityWorld, provider: Provider, unique: Callable[[str], str]
) -> None:
    office = unique("oauth-")
    query = consent(world, provider, office)
    later = CapturingServices(
        world.services.settings, clock=lambda: utc_now() + timedelta(minutes=10, seconds=1)
    )
    status, body, _ = callback(world, provider, query, later)
    assert status == 400 and body is not None and "verlopen" in str(body["detail"])
    assert stored(world, provider, office) is None
    # Spent: even in time now, the same state does not work again.
    status, body, _ = callback(world, provider, query)
    assert status == 400 and body is not None and "al gebruikt" in str(body["detail"])
    assert stored(world, provider, office) is None


def test_a_state_only_works_at_the_callback_of_its_own_provider(
    world: SecurityWorld, unique: Callable[[str], str]
) -> None:
    office = unique("oauth-")
    loket = consent(world, LOKET, office)
    sb = consent(world, SB, office)
    assert callback(world, SB, loket)[0] == 400
    assert callback(world, LOKET, sb)[0] == 400
    assert stored(world, LOKET, office) is None and stored(world, SB, office) is None
    # Refused at the wrong door, so not spent: each still works at its own callback.
    assert callback(world, LOKET, loket)[0] == 302
    assert callback(world, SB, sb)[0] == 302


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_callback_without_state_shows_a_dutch_page(
    world: SecurityWorld, provider: Provider
) -> None:
    status, body, text = callback(world, provider, {"code": "some-code"})
    assert status == 400 and body is not None
    assert "mist de controlewaarde (state)" in str(body["detail"])
    assert "Naar Koppelingen" in text and "problem" not in text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_callback_with_an_unknown_state_shows_a_dutch_page(
    world: SecurityWorld, provider: Provider
) -> None:
    status, body, _ = callback(
        world, provider, {"state": "made-up-" + "x" * 40, "code": "code-made-up"}
    )
    assert status == 400 and body is not None
    assert "niet door Loonbrug gestart" in str(body["detail"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_access_denied_at_the_provider_goes_back_to_the_portal_saying_so_and_spends_the_state(
    world: SecurityWorld, provider: Provider, unique: Callable[[str], str]
) -> None:
    office = unique("oauth-")
    query = consent(world, provider, office)
    refused = {"state": query["state"], "error": "access_denied"}
    # Back to the portal, saying so (issue 17 item 7; issue 19: Loket alike)
    answer = call(world.services, provider.callback, query=refused)
    assert answer.status == 302
    location = answer.headers["Location"]
    assert location.startswith(world.services.settings.consent_landing_url().split("#")[0])
    assert f"{provider.name}=geweigerd" in location and query["state"] not in location
    assert stored(world, provider, office) is None
    status, _, _ = callback(world, provider, query)  # the code arrives after all: too late
    assert status == 400
    assert stored(world, provider, office) is None
