"""Fixtures for the Loket sandbox: a running sandbox, services pointed at it, a connected office.

Registered in tests/conftest.py (``pytest_plugins``). Use:

* ``loket_sandbox``: a fresh sandbox with ``default_scenario()`` (stopped after the test);
* ``start_loket``: a factory ``start_loket(scenario, **options)`` for your own scenario;
* ``loket_services``: ``Services`` on Azurite whose Loket settings point at ``loket_sandbox``;
* :func:`connect_loket`: runs the real consent (begin, authorize at the sandbox, callback
  service) for an office, without the host;
* :func:`fast_client`: a ``LoketClient`` with tiny backoffs whose sleeps are recorded.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.sandbox.loket import LoketSandbox, Scenario, default_scenario, start_loket_sandbox
from shared.bootstrap import Services
from shared.clock import Clock, utc_now
from shared.loket.client import LoketClient
from shared.loket.connect import begin_consent, complete_consent, loket_key
from shared.loket.oauth import ConnectionTokens
from shared.settings import Settings
from shared.store.connections import ConnectionKey


def loket_env(sandbox: LoketSandbox) -> dict[str, str]:
    return sandbox.env()


@pytest.fixture
def start_loket() -> Iterator[Callable[..., LoketSandbox]]:
    started: list[LoketSandbox] = []

    def start(scenario: Scenario | None = None, **options: Any) -> LoketSandbox:
        sandbox = start_loket_sandbox(scenario or default_scenario(), **options)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def loket_sandbox(start_loket: Callable[..., LoketSandbox]) -> LoketSandbox:
    return start_loket()


def services_for(env: dict[str, str], sandbox: LoketSandbox, clock: Clock = utc_now) -> Services:
    return Services(Settings.from_env({**env, **loket_env(sandbox)}), clock=clock)


@pytest.fixture
def loket_services(env: dict[str, str], loket_sandbox: LoketSandbox) -> Services:
    return services_for(env, loket_sandbox)


def authorize(url: str) -> dict[str, str]:
    """Follow the authorize URL like a browser whose user clicks "Toestaan"; answer the
    callback's query parameters. Uses http.client, which (unlike requests/urllib3) logs
    nothing: the browser's URLs are not our logs."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    assert answer.status == 302, answer.status
    query = parse_qs(urlsplit(answer.getheader("Location") or "").query)
    return {name: values[0] for name, values in query.items()}


def connect_loket(
    services: Services, office_id: str, user_id: str = "admin-user", user_name: str = ""
) -> ConnectionKey:
    """The real consent flow for ``office_id`` through the services (no host)."""
    redirect_uri = services.settings.redirect_uri("loket")
    url = begin_consent(
        services.consents,
        services.loket_oauth,
        office_id=office_id,
        user_id=user_id,
        user_name=user_name,
        redirect_uri=redirect_uri,
        now=services.clock(),
    )
    params = authorize(url)
    complete_consent(
        services.consents,
        services.loket_oauth,
        services.connections,
        state=params["state"],
        code=params.get("code"),
        error=params.get("error"),
        redirect_uri=redirect_uri,
        api_url=services.settings.loket_api_url,
        now=services.clock(),
    )
    return loket_key(office_id)


def fast_client(
    services: Services, office_id: str, sleeps: list[float] | None = None, **options: Any
) -> LoketClient:
    """A client for ``office_id`` with millisecond backoffs; sleeps are recorded, not slept."""
    recorded = sleeps if sleeps is not None else []
    settings: dict[str, Any] = {"backoff": 0.01, "max_backoff": 0.05, "sleep": recorded.append}
    settings.update(options)
    return LoketClient(
        services.settings.loket_api_url,
        ConnectionTokens(services.loket_tokens, loket_key(office_id)),
        **settings,
    )
