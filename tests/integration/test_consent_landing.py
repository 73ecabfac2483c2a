"""Where the OAuth callbacks land: ``{PUBLIC_BASE_URL}/`` by default (contract §3), the portal's
Koppelingen screen when ``PORTAL_URL`` is set (in Azure ``/`` is the Functions default page).
Real Azurite and both sandboxes over HTTP; the callbacks run in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devtools.sandbox.afas import AfasSandbox
from devtools.sandbox.loket import LoketSandbox
from shared.api.handlers import afas_connections, connections
from shared.bootstrap import Services
from shared.settings import Settings
from tests.support.afas_fixtures import call, sb_consent
from tests.support.api import admin_headers
from tests.support.loket_fixtures import authorize

PORTAL = "https://loonbrug.example.nl/api/portal/"


def services_with(env: dict[str, str], **extra: str) -> Services:
    return Services(Settings.from_env({**env, **extra}))


def loket_landing(services: Services, office: str) -> str:
    started = call(services, connections.CONNECT_LOKET, headers=admin_headers(office))
    assert started.status == 200, started.body
    params = authorize(started.json()["authorizeUrl"])
    done = call(services, connections.LOKET_CALLBACK, query=params)
    assert done.status == 302, done.body
    return done.headers["Location"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "http://127.0.0.1:7071/"),
        ({"PORTAL_URL": PORTAL}, PORTAL + "#/connections"),
        ({"PORTAL_URL": "https://loonbrug.example.nl/api/portal"}, PORTAL + "#/connections"),
    ],
)
def test_both_callbacks_land_on_the_portal_url(
    afas_env: dict[str, str],
    afas_sandbox: AfasSandbox,
    loket_sandbox: LoketSandbox,
    unique: Callable[[str], str],
    extra: dict[str, str],
    expected: str,
) -> None:
    services = services_with({**afas_env, **loket_sandbox.env()}, **extra)
    office = unique("office")
    assert loket_landing(services, office) == expected
    done, _ = sb_consent(services, office)
    # AFAS SB: the same page, with the outcome in its address (issue 17 item 7)
    sb_expected = (expected if "#" in expected else expected + "#/connections") + (
        "?afas-sb=gekoppeld&omgeving=enyoi"
    )
    assert done.status == 302 and done.headers["Location"] == sb_expected
    kinds = {c.key.kind.value for c in services.connections.for_office(office)}
    assert kinds == {"loket", "afas-sb"}


@pytest.mark.parametrize("state", ["\ud800", "é" * 3, "x" * 513])
def test_a_callback_whose_state_is_no_state_of_ours_gets_the_dutch_page_not_a_500(
    afas_env: dict[str, str], loket_sandbox: LoketSandbox, state: str
) -> None:
    """attack2: an odd query string (a state that cannot be UTF-8 encoded, e.g. a lone
    surrogate from a sloppy decoder) reached the state's hash and answered 500."""
    services = services_with({**afas_env, **loket_sandbox.env()})
    for operation in (connections.LOKET_CALLBACK, afas_connections.SB_CALLBACK):
        done = call(services, operation, query={"state": state, "code": "c"})
        assert done.status == 400 and b"Start het koppelen opnieuw" in done.body, operation.path
