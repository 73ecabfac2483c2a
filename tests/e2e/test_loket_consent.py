"""The Loket connection through the local host (a subprocess), the sandbox and Azurite.

One host and one sandbox for the module (PUBLIC_BASE_URL is the host's own URL, so the callback
and the final redirect are real); every test uses its own office.
"""

from __future__ import annotations

import html
import http.client
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.azurite import Azurite, free_port
from devtools.sandbox.loket import LoketSandbox, default_scenario, start_loket_sandbox
from shared.bootstrap import Services
from shared.clock import utc_now
from shared.loket.oauth import REVOKED_REASON
from shared.settings import Settings
from tests.conftest import base_env
from tests.support.api import admin_headers, reader_headers
from tests.support.localhost import LocalHostProcess, start_local_host
from tests.support.loket_fixtures import loket_env

Unique = Callable[[str], str]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LoketSandbox]:
    running = start_loket_sandbox(default_scenario())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def host_env(azurite: Azurite, sandbox: LoketSandbox) -> dict[str, str]:
    port = free_port()
    return base_env(
        azurite.connection_string,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DEVHOST_PORT=str(port),
        **loket_env(sandbox),
    )


@pytest.fixture(scope="module")
def host(
    host_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalHostProcess]:
    running = start_local_host(
        host_env,
        tmp_path_factory.mktemp("loket-host"),
        args=("--no-timers",),
        port=int(host_env["DEVHOST_PORT"]),
    )
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def clean_sandbox(sandbox: LoketSandbox) -> None:
    sandbox.deny_consent = False
    sandbox.clear_faults()


@pytest.fixture
def services(host_env: dict[str, str]) -> Services:
    return Services(Settings.from_env(host_env))


def browser_get(url: str) -> tuple[int, str]:
    """A browser following one hop (http.client logs nothing); answers status and Location."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.getheader("Location") or ""
    finally:
        connection.close()


def start_consent(host: LocalHostProcess, office: str) -> str:
    answer = requests.post(
        host.url("/api/connections/loket"), headers=admin_headers(office), timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return str(answer.json()["authorizeUrl"])


def callback_url(authorize_url: str) -> str:
    status, location = browser_get(authorize_url)
    assert status == 302
    return location


def connect(host: LocalHostProcess, office: str) -> str:
    """The whole consent; answers the callback URL that was used."""
    callback = callback_url(start_consent(host, office))
    status, location = browser_get(callback)
    assert status == 302, status
    assert location == host.base_url + "/"
    return callback


def page(response: requests.Response) -> str:
    """The Dutch 400 page a browser sees at the callback (shared/api/consent_callback.py)."""
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    return html.unescape(response.text)


def problem(response: requests.Response, status: int, slug: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/" + slug), body
    return dict(body)


def loket_row(services: Services, office: str) -> dict[str, object] | None:
    rows = list(
        services.storage.table("Connections").query_entities(
            "PartitionKey eq @o", parameters={"o": office}
        )
    )
    return dict(rows[0]) if rows else None


def test_the_full_consent_round_trip_stores_encrypted_tokens(
    host: LocalHostProcess, sandbox: LoketSandbox, services: Services, unique: Unique
) -> None:
    office = unique("office")
    authorize_url = start_consent(host, office)
    parts = urlsplit(authorize_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == sandbox.url + "/authorize"
    assert query["client_id"] == sandbox.client_id
    assert query["redirect_uri"] == host.url("/api/oauth/loket/callback")
    assert (query["response_type"], query["scope"], query["code_challenge_method"]) == (
        "code",
        "all",
        "S256",
    )
    assert len(query["state"]) >= 43 and len(query["code_challenge"]) == 43

    callback = callback_url(authorize_url)
    assert callback.startswith(host.url("/api/oauth/loket/callback?"))
    status, location = browser_get(callback)
    assert (status, location) == (302, host.base_url + "/")

    row = loket_row(services, office)
    assert row is not None
    assert str(row["enc_access_token"]).startswith("v1.")
    assert str(row["enc_refresh_token"]).startswith("v1.")
    stored = " ".join(str(v) for v in row.values())
    assert not [s for s in sandbox.issued_secrets() if s in stored]
    assert query["state"] not in stored
    secrets = services.connections.read_secrets(services.connections.for_office(office)[0].key)
    assert secrets is not None and secrets.access_token is not None
    assert secrets.access_token.reveal() in sandbox.issued_secrets()

    listed = requests.get(host.url("/api/connections"), headers=reader_headers(office), timeout=10)
    assert listed.status_code == 200
    (loket,) = listed.json()["connections"]
    assert loket["kind"] == "loket" and loket["state"] == "connected" and loket["active"]
    assert loket["connectedBy"] == "admin-user" and loket["connectedAt"]
    assert loket["connectedByName"] == "Test Gebruiker"  # the principal's name, not its id
    assert loket["hint"] is None
    assert loket["details"]["apiUrl"] == sandbox.api_url

    seen = requests.get(
        host.url("/api/loket/payroll-administrations"), headers=reader_headers(office), timeout=10
    )
    assert seen.status_code == 200, seen.text
    employers = seen.json()["employers"]
    assert [e["name"] for e in employers] == [
        "Bakkerij De Korenschoof B.V.",
        "Installatiebedrijf Van Dijk B.V.",
    ]
    assert employers[0]["employerNumber"] == "1001"
    assert [
        (a["name"], a["clientNumber"], a["periodType"])
        for a in employers[0]["payrollAdministrations"]
    ] == [
        ("Korenschoof 4-wekers", 4712, "four-weekly"),
        ("Korenschoof maandloners", 4711, "monthly"),
    ]
    assert employers[1]["payrollAdministrations"][0]["id"] == (
        sandbox.scenario.employers[1].administrations[0].id
    )

    # Replaying the callback: the state is spent; nothing changes.
    before = loket_row(services, office)
    replay = requests.get(callback, allow_redirects=False, timeout=10)
    assert "al gebruikt" in page(replay)
    assert loket_row(services, office) == before


def test_access_denied_stores_nothing(
    host: LocalHostProcess, sandbox: LoketSandbox, services: Services, unique: Unique
) -> None:
    office = unique("office")
    sandbox.deny_consent = True
    callback = callback_url(start_consent(host, office))
    assert "error=access_denied" in callback
    denied = requests.get(callback, allow_redirects=False, timeout=10)
    assert denied.status_code == 302
    assert denied.headers["Location"] == host.base_url + "/#/connections?loket=geweigerd"
    assert loket_row(services, office) is None
    # The state was spent by the refusal too.
    again = requests.get(callback, allow_redirects=False, timeout=10)
    assert "al gebruikt" in page(again)


def test_expired_unknown_and_missing_state_are_refused(
    host: LocalHostProcess, host_env: dict[str, str], services: Services, unique: Unique
) -> None:
    office = unique("office")
    past = Services(Settings.from_env(host_env), clock=lambda: utc_now() - timedelta(minutes=11))
    old = past.consents.begin(provider="loket", office_id=office, user_id="u1", now=past.clock())
    callback = host.url("/api/oauth/loket/callback")
    expired = requests.get(
        callback, params={"state": old.state.reveal(), "code": "whatever"}, timeout=10
    )
    assert "verlopen" in page(expired)
    unknown = requests.get(callback, params={"state": "made-up", "code": "x"}, timeout=10)
    assert "niet door Loonbrug gestart" in page(unknown)
    missing = requests.get(callback, params={"code": "x"}, timeout=10)
    assert "mist de controlewaarde" in page(missing)
    assert loket_row(services, office) is None


def test_a_code_loket_refuses_stores_nothing(
    host: LocalHostProcess, services: Services, unique: Unique
) -> None:
    office = unique("office")
    callback = callback_url(start_consent(host, office))
    forged = callback.replace("code=code_", "code=forged_")
    refused = requests.get(forged, allow_redirects=False, timeout=10)
    assert refused.status_code == 302
    assert refused.headers["Location"] == host.base_url + "/#/connections?loket=mislukt"
    assert loket_row(services, office) is None


def test_revoked_consent_shows_reauthorize_with_the_hint(
    host: LocalHostProcess, sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect(host, office)
    sandbox.revoke_consent()
    seen = requests.get(
        host.url("/api/loket/payroll-administrations"), headers=reader_headers(office), timeout=10
    )
    body = problem(seen, 409, "loket-reauthorize")
    assert body["detail"] == REVOKED_REASON
    assert "Loket-gebruiker" in body["hint"]
    listed = requests.get(host.url("/api/connections"), headers=reader_headers(office), timeout=10)
    (loket,) = listed.json()["connections"]
    assert loket["state"] == "reauthorize"
    assert loket["reason"] == REVOKED_REASON
    assert "Koppel Loket opnieuw" in loket["hint"]
    # Connecting again repairs it.
    connect(host, office)
    listed = requests.get(host.url("/api/connections"), headers=reader_headers(office), timeout=10)
    assert listed.json()["connections"][0]["state"] == "connected"


def test_without_consent_the_listing_is_a_409_with_a_hint(
    host: LocalHostProcess, unique: Unique
) -> None:
    seen = requests.get(
        host.url("/api/loket/payroll-administrations"),
        headers=reader_headers(unique("office")),
        timeout=10,
    )
    body = problem(seen, 409, "loket-not-connected")
    assert "Koppelingen" in body["hint"]


def test_loket_trouble_is_a_problem_never_a_500(
    host: LocalHostProcess, sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect(host, office)
    sandbox.garbage("payroll_administrations", times=1)
    garbage = requests.get(
        host.url("/api/loket/payroll-administrations"), headers=reader_headers(office), timeout=30
    )
    problem(garbage, 502, "loket-contract-violation")
    sandbox.fail("employers", 403)
    forbidden = requests.get(
        host.url("/api/loket/payroll-administrations"), headers=reader_headers(office), timeout=30
    )
    assert "Raadplegen journaaloutput" in problem(forbidden, 502, "loket-forbidden")["detail"]


def test_disconnect_and_the_admin_routes_guard(
    host: LocalHostProcess, services: Services, unique: Unique
) -> None:
    office = unique("office")
    connect(host, office)
    loket = host.url("/api/connections/loket")
    problem(requests.post(loket, timeout=10), 401, "unauthenticated")
    problem(requests.delete(loket, timeout=10), 401, "unauthenticated")
    problem(requests.post(loket, headers=reader_headers(office), timeout=10), 403, "forbidden")
    problem(requests.delete(loket, headers=reader_headers(office), timeout=10), 403, "forbidden")
    problem(requests.get(host.url("/api/connections"), timeout=10), 401, "unauthenticated")
    assert loket_row(services, office) is not None
    gone = requests.delete(loket, headers=admin_headers(office), timeout=10)
    assert gone.status_code == 204
    assert loket_row(services, office) is None
    listed = requests.get(host.url("/api/connections"), headers=reader_headers(office), timeout=10)
    assert listed.json() == {"connections": []}
    assert requests.delete(loket, headers=admin_headers(office), timeout=10).status_code == 204


def test_the_host_log_holds_no_token_code_or_state(
    host: LocalHostProcess, sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect(host, office)
    sandbox.expire_access_tokens()  # forces a refresh through the host
    requests.get(
        host.url("/api/loket/payroll-administrations"), headers=reader_headers(office), timeout=10
    ).raise_for_status()
    host.wait_for_log(r"http GET loket/payroll-administrations -> 200")
    log = host.log_text()
    assert "oauth/loket/callback -> 302" in log
    states = {c.query["state"] for c in sandbox.recorded if c.route == "authorize"}
    secrets = sandbox.issued_secrets() | states
    assert len(secrets) > 10
    assert [s for s in secrets if s in log] == []
