"""AFAS connections through the local Functions host (a subprocess), Azurite and the sandbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from devtools.azurite import free_port
from devtools.sandbox.afas import PROFIT_TOKEN, SB_ADMINISTRATION_ID, AfasSandbox, token_data
from shared.bootstrap import Services
from shared.settings import Settings
from shared.store.connections import ConnectionKey, ConnectionKind
from tests.support.afas_fixtures import sb_entry
from tests.support.api import admin_headers
from tests.support.localhost import LocalHostProcess, start_local_host


@pytest.fixture
def host(afas_env: dict[str, str], tmp_path: Path) -> Iterator[LocalHostProcess]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    process = start_local_host(
        {**afas_env, "PUBLIC_BASE_URL": public}, tmp_path, args=("--no-timers",), port=port
    )
    try:
        yield process
    finally:
        process.stop()


def test_sb_consent_round_trip_and_one_entry_per_tracking_identifier(
    host: LocalHostProcess,
    afas_sandbox: AfasSandbox,
    afas_env: dict[str, str],
    unique: Callable[[str], str],
) -> None:
    office = unique("office")
    started = requests.post(
        host.url("/api/connections/afas-sb/Enyoi"), headers=admin_headers(office), timeout=10
    )
    assert started.status_code == 200, started.text
    authorize = started.json()["authorizeUrl"]
    assert authorize.startswith(f"{afas_sandbox.url}/enyoi/app/auth?")
    assert "code_challenge_method=S256" in authorize
    assert f"redirect_uri={quote(host.base_url, safe='')}" in authorize

    consent = requests.get(authorize, allow_redirects=False, timeout=10)  # the user says "Ja"
    callback = consent.headers["Location"]
    assert callback.startswith(host.url("/api/oauth/afas-sb/callback?"))
    finished = requests.get(callback, allow_redirects=False, timeout=10)
    assert finished.status_code == 302 and finished.headers["Location"] == (
        f"{host.base_url}/#/connections?afas-sb=gekoppeld&omgeving=enyoi"
    )
    replay = requests.get(callback, allow_redirects=False, timeout=10)
    assert replay.status_code == 400 and "al gebruikt" in replay.text  # a Dutch page

    services = Services(Settings.from_env({**afas_env, "PUBLIC_BASE_URL": host.base_url}))
    key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    stored = services.connections.read_secrets(key)
    assert stored is not None and stored.access_token is not None and stored.refresh_token
    tracking = str(uuid.uuid4())
    with services.sb_client(office, "enyoi") as sb:
        for _ in range(3):  # a redelivered job resends the same entry
            sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), tracking)
    assert len([b for b in afas_sandbox.sb_bookings() if b.tracking_identifier == tracking]) == 1

    log = host.log_text()
    leaked = [
        s
        for s in (*afas_sandbox.issued_sb_tokens(), callback.split("code=")[1])
        if s.split("&")[0] in log
    ]
    assert not leaked, "a token, code or state reached the host log"


def test_profit_connection_through_the_host(
    host: LocalHostProcess, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    put = requests.put(
        host.url("/api/connections/afas-profit/O12345AA"),
        headers=admin_headers(office),
        data=json.dumps({"token": PROFIT_TOKEN, "active": True}),
        timeout=20,
    )
    assert put.status_code == 201, put.text
    assert put.json()["environmentName"] == "O12345AA"
    refused = requests.put(
        host.url("/api/connections/afas-profit/12345"),
        headers=admin_headers(office),
        json={"token": "C" * 64},
        timeout=20,
    )
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert "gebruikerstoken" in refused.json()["hint"]
    document = requests.get(host.url("/api/openapi.json"), timeout=10).json()
    assert "put" in document["paths"]["/api/connections/afas-profit/{environment}"]
    assert token_data("full") not in host.log_text() and "C" * 64 not in host.log_text()
