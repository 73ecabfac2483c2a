"""AFAS SB on the accountant's own host and through the Admin Center (issue 16): the API server
per connection (typed URL, App Center landing page), its validation, the Admin Center's scopes
and scope tokens, the portal's lists, the optional period read and stable paging. Real Azurite,
the AFAS sandbox over HTTP, the handlers in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.sandbox.afas import (
    ACCOUNTANT,
    ATLAS,
    ATLAS_ADMINISTRATION_ID,
    BIERLING,
    BIERLING_ADMINISTRATION_ID,
    REPORTING_GROUP,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
)
from shared.afas.sb import SbClient
from shared.api.handlers import afas_connections as afas
from shared.api.http import ApiResponse
from shared.bootstrap import Services
from shared.clients.model import SbTarget
from shared.journal.entries import SbEntry, SbLine
from shared.journal.precheck import PERIOD_CHECK_SKIPPED
from shared.oauth.tokens import ConsentRequired
from shared.settings import Settings
from shared.store.connections import ConnectionKey, ConnectionKind, ConnectionState
from shared.sync.bookers import SbBooker
from tests.support.afas_fixtures import call, connect_sb, sb_entry
from tests.support.api import admin_headers, reader_headers
from tests.support.sb_fixtures import (
    connect_admin_center,
    landing_consent,
    new_tracking,
    typed_consent,
)


def key(office: str, environment: str) -> ConnectionKey:
    return ConnectionKey(office, ConnectionKind.AFAS_SB, environment)


def outcome(location: str) -> dict[str, str]:
    """The portal outcome a callback put in the address (``…#/connections?afas-sb=…``)."""
    fragment = urlsplit(location).fragment
    return {k: v[0] for k, v in parse_qs(fragment.partition("?")[2]).items()}


# -- the API server of a customer under an accountant -------------------------------------------


def test_a_typed_accountant_url_connects_that_server_and_books_there(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    server = afas_sandbox.sb_server_url(ACCOUNTANT)
    started, done = typed_consent(afas_services, office, "Atlas", f"{server}/atlas/")
    assert started.status == 200, started.body
    assert started.json()["authorizeUrl"].startswith(f"{server}/atlas/app/auth?")
    assert done is not None and done.status == 302
    assert done.headers["Location"].startswith("http://127.0.0.1:7071/#/connections?")
    assert outcome(done.headers["Location"]) == {"afas-sb": "gekoppeld", "omgeving": "atlas"}
    connection = afas_services.connections.get(key(office, ATLAS))
    assert connection is not None and connection.details["apiServer"] == server
    assert connection.details["role"] == "customer"
    with afas_services.sb_client(office, ATLAS) as sb:
        assert [a.id for a in sb.list_administrations()] == [ATLAS_ADMINISTRATION_ID]
        sb.post_entry(sb_entry(ATLAS_ADMINISTRATION_ID), new_tracking())
    assert len(afas_sandbox.sb_bookings(ATLAS, ACCOUNTANT)) == 1
    assert afas_sandbox.count(f"/~{ACCOUNTANT}/atlas/api/payrolljournalentry") == 1
    assert afas_sandbox.count("/atlas/api/") == afas_sandbox.count(f"/~{ACCOUNTANT}/atlas/api/")


def test_the_api_server_alone_as_the_contract_names_it(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    started, done = typed_consent(
        afas_services, office, BIERLING, afas_sandbox.sb_server_url(ACCOUNTANT)
    )
    assert started.status == 200 and done is not None and done.status == 302
    connection = afas_services.connections.get(key(office, BIERLING))
    assert connection is not None
    assert connection.details["apiServer"] == afas_sandbox.sb_server_url(ACCOUNTANT)


@pytest.mark.parametrize(
    ("api_server", "words"),
    [
        ("https://evil.example.com/atlas/", "geen server van AFAS SB"),
        ("https://afasfocus.nl/atlas/", "geen server van AFAS SB"),  # * is one label
        ("https://a.b.afasfocus.nl/atlas/", "geen server van AFAS SB"),
        ("http://beers.afasfocus.nl/atlas/", "alleen bereikbaar via https"),
        ("https://beers.afasfocus.nl/bierling/", "hoort bij omgeving bierling"),
        ("https://beers.afasfocus.nl/x/atlas/", "te veel delen"),
        ("https://user@beers.afasfocus.nl/atlas/", "gebruikersnaam"),
        ("https://beers.afasfocus.nl/atlas/?x=1", "?-deel"),
        ("ftp://beers.afasfocus.nl/atlas/", "https://"),
        ("beers", "geen geldig webadres"),
    ],
)
def test_a_typed_url_outside_the_allowed_hosts_is_a_dutch_422(
    afas_services: Services, unique: Callable[[str], str], api_server: str, words: str
) -> None:
    office = unique("office")
    started, done = typed_consent(afas_services, office, ATLAS, api_server)
    assert started.status == 422 and done is None
    assert started.headers["Content-Type"] == "application/problem+json"
    problem = started.json()
    assert words in problem["detail"], problem["detail"]
    assert problem["errors"][0]["field"] == "apiServer"
    assert afas_services.connections.for_office(office) == []


def test_allowed_hosts_come_from_the_setting(
    afas_env: dict[str, str], afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    production_like = Services(
        Settings.from_env({**afas_env, "AFAS_SB_ALLOWED_HOSTS": "*.afasfocus.nl"})
    )
    office = unique("office")
    started, _ = typed_consent(
        production_like, office, ATLAS, afas_sandbox.sb_server_url(ACCOUNTANT) + "/atlas/"
    )
    assert (
        started.status == 422 and "127.0.0.1 is geen server van AFAS SB" in started.json()["detail"]
    )
    only_beers = Services(
        Settings.from_env({**afas_env, "AFAS_SB_ALLOWED_HOSTS": "beers.afasfocus.nl"})
    )
    started, _ = typed_consent(only_beers, office, ATLAS, "https://other.afasfocus.nl/atlas/")
    assert started.status == 422
    started = call(
        only_beers,
        afas.SB_CONNECT,
        headers=admin_headers(office),
        route={"environment": ATLAS},
        body=json.dumps({"apiServer": "https://beers.afasfocus.nl/atlas/"}).encode(),
    )
    assert started.status == 200
    assert started.json()["authorizeUrl"].startswith("https://beers.afasfocus.nl/atlas/app/auth?")


def test_http_is_for_loopback_in_development_only(
    afas_env: dict[str, str], afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    env = {
        **afas_env,
        "LOONBRUG_ENVIRONMENT": "production",
        "TOKEN_ENCRYPTION_KEY": afas_env["TOKEN_ENCRYPTION_KEY"],
    }
    from shared.afas.environment import InputError, parse_sb_url

    settings = Settings.from_env(env)
    with pytest.raises(InputError, match="https"):
        parse_sb_url(
            afas_sandbox.sb_server_url() + "/atlas/",
            allowed_hosts=settings.afas_sb_allowed_hosts,
            development=settings.is_development,
        )


def test_the_old_body_less_post_keeps_the_default_server(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)  # POST without a body, as before
    connection = afas_services.connections.get(key(office, "enyoi"))
    assert connection is not None and connection.details["apiServer"] == afas_sandbox.url
    # A row stored before API servers were kept (no apiServer) still reaches AFAS_SB_URL.
    afas_services.connections.update(connection, details={"environmentName": "enyoi"})
    with afas_services.sb_client(office, "enyoi") as sb:
        assert [a.id for a in sb.list_administrations()] == [SB_ADMINISTRATION_ID]


def test_admin_is_not_a_customer_environment_without_its_server(
    afas_services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    answer = call(
        afas_services,
        afas.SB_CONNECT,
        headers=admin_headers(office),
        route={"environment": "admin"},
    )
    assert answer.status == 422 and "Admin Center" in answer.json()["detail"]


# -- the App Center landing page -----------------------------------------------------------------


def test_the_landing_page_connects_and_returns_to_the_portal_with_the_outcome(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    base = f"{afas_sandbox.sb_server_url(ACCOUNTANT)}/atlas/"
    landed, done = landing_consent(afas_services, office, base)
    assert landed.status == 302
    assert landed.headers["Location"].startswith(
        f"{afas_sandbox.sb_server_url(ACCOUNTANT)}/atlas/app/auth?"
    )
    assert done is not None and done.status == 302
    assert done.headers["Location"].startswith("http://127.0.0.1:7071/#/connections?")
    assert outcome(done.headers["Location"]) == {"afas-sb": "gekoppeld", "omgeving": "atlas"}
    connection = afas_services.connections.get(key(office, ATLAS))
    assert connection is not None and connection.state is ConnectionState.CONNECTED


def test_a_refused_landing_consent_returns_to_the_portal_saying_so(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    afas_sandbox.sb_deny_consent = True
    _, done = landing_consent(afas_services, office, f"{afas_sandbox.sb_server_url()}/atlas/")
    assert done is not None and done.status == 302
    assert outcome(done.headers["Location"]) == {"afas-sb": "geweigerd", "omgeving": "atlas"}
    assert afas_services.connections.for_office(office) == []


def test_an_unusable_landing_address_is_422_or_the_portal_for_a_browser(
    afas_services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    landed, _ = landing_consent(
        afas_services, office, "https://evil.example.com/atlas/", accept="application/json"
    )
    assert landed.status == 422 and "geen server van AFAS SB" in landed.json()["detail"]
    landed, _ = landing_consent(afas_services, office, "https://evil.example.com/atlas/")
    assert landed.status == 302 and outcome(landed.headers["Location"]) == {"afas-sb": "adres"}
    missing = call(afas_services, afas.SB_LANDING, headers=admin_headers(office), query={})
    assert missing.status == 422
    reader = call(
        afas_services,
        afas.SB_LANDING,
        headers=reader_headers(office),
        query={"afasBaseUrl": "https://beers.afasfocus.nl/atlas/"},
    )
    assert reader.status == 403  # a signed-in admin only


def test_the_landing_page_takes_the_admin_center_with_portal_outcome(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    _, done = landing_consent(afas_services, office, f"{afas_sandbox.sb_server_url()}/admin/")
    assert done is not None and outcome(done.headers["Location"])["afas-sb"] == "gekoppeld"
    admin = afas_services.connections.get(key(office, "admin"))
    assert admin is not None and admin.details["role"] == "admin-center"


# -- the Admin Center ------------------------------------------------------------------------------


def environments(services: Services, office: str, *, reader: bool = False) -> dict[str, Any]:
    headers = reader_headers(office) if reader else admin_headers(office)
    answer = call(services, afas.SB_ENVIRONMENTS, headers=headers)
    assert answer.status == 200, answer.body
    body: dict[str, Any] = answer.json()
    return body


def administrations(
    services: Services, office: str, environment: str, *, reader: bool = False
) -> ApiResponse:
    headers = reader_headers(office) if reader else admin_headers(office)
    return call(
        services, afas.SB_ADMINISTRATIONS, headers=headers, route={"environment": environment}
    )


def test_an_admin_center_lists_its_customers_by_name_and_books_into_two(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_admin_center(afas_services, office, afas_sandbox)
    listed = environments(afas_services, office, reader=True)
    assert listed["adminCenter"] == {
        "apiServer": afas_sandbox.sb_server_url(ACCOUNTANT),
        "state": "connected",
    }
    assert [
        (e["environment"], e["name"], e["source"], e["connected"]) for e in listed["environments"]
    ] == [
        ("atlas", "Atlas Interior B.V.", "admin-center", False),
        ("bierling", "Bierling Organ Builders", "admin-center", False),
    ]
    # A reader may not take an environment into use; an admin may (a scope row, its own token).
    assert administrations(afas_services, office, ATLAS, reader=True).status == 404
    assert afas_services.connections.get(key(office, ATLAS)) is None
    for environment, administration in (
        (ATLAS, ATLAS_ADMINISTRATION_ID),
        (BIERLING, BIERLING_ADMINISTRATION_ID),
    ):
        answer = administrations(afas_services, office, environment)
        assert answer.status == 200, answer.body
        assert answer.json()["administrations"][0]["id"] == administration
        scope = afas_services.connections.get(key(office, environment))
        assert scope is not None and scope.details["role"] == "scope"
    assert (
        administrations(afas_services, office, ATLAS, reader=True).json()["name"]
        == "Atlas Interior B.V."
    )
    scope_posts = [
        r for r in afas_sandbox.sb_captured("app/token") if r.environment in (ATLAS, BIERLING)
    ]
    assert len(scope_posts) == 2 and {r.content_type for r in scope_posts} == {
        "multipart/form-data"
    }
    assert {r.form()["grant_type"] for r in scope_posts} == {"refresh_token"}
    for environment, administration in (
        (ATLAS, ATLAS_ADMINISTRATION_ID),
        (BIERLING, BIERLING_ADMINISTRATION_ID),
    ):
        with afas_services.sb_client(office, environment) as sb:
            sb.post_entry(sb_entry(administration), new_tracking())
        assert len(afas_sandbox.sb_bookings(environment, ACCOUNTANT)) == 1
    listed = environments(afas_services, office)
    assert all(e["connected"] for e in listed["environments"])


def test_scope_tokens_are_refreshed_with_the_admin_centers_refresh_token(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_admin_center(afas_services, office, afas_sandbox)
    assert administrations(afas_services, office, ATLAS).status == 200
    admin = afas_services.connections.read_secrets(key(office, "admin"))
    scope = afas_services.connections.read_secrets(key(office, ATLAS))
    assert admin is not None and scope is not None
    assert scope.refresh_token == admin.refresh_token and scope.access_token != admin.access_token
    afas_sandbox.expire_sb_access_tokens()
    with afas_services.sb_client(office, ATLAS) as sb:  # 401 -> a new scope token
        assert list(sb.list_administrations())
    again = [r for r in afas_sandbox.sb_captured("app/token") if r.environment == ATLAS]
    assert len(again) == 2 and again[-1].content_type == "multipart/form-data"


def test_a_revoked_admin_center_asks_consent_and_a_new_consent_revives_its_scopes(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_admin_center(afas_services, office, afas_sandbox)
    assert administrations(afas_services, office, ATLAS).status == 200
    afas_sandbox.expire_sb_access_tokens()
    afas_sandbox.revoke_sb_refresh_tokens()
    with afas_services.sb_client(office, ATLAS) as sb, pytest.raises(ConsentRequired) as caught:
        list(sb.list_administrations())
    assert "Admin Center" in caught.value.reason
    assert administrations(afas_services, office, ATLAS).status == 409
    listed = environments(afas_services, office)
    assert listed["environments"][0]["state"] == "reauthorize"
    connect_admin_center(afas_services, office, afas_sandbox)  # the accountant consents again
    scope = afas_services.connections.get(key(office, ATLAS))
    assert scope is not None and scope.state is ConnectionState.CONNECTED
    with afas_services.sb_client(office, ATLAS) as sb:
        assert [a.id for a in sb.list_administrations()] == [ATLAS_ADMINISTRATION_ID]


def test_getscopes_falls_back_to_get_as_authentication_md_writes_it(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_admin_center(afas_services, office, afas_sandbox)
    afas_sandbox.sb_getscopes_get_only = True
    assert [s.path for s in afas_services.sb_connections.scopes(office)] == [ATLAS, BIERLING]
    methods = [r.method for r in afas_sandbox.sb_captured("authentication/getscopes")]
    assert methods == ["POST", "GET"]


def test_expires_in_as_the_pages_write_it(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    afas_sandbox.sb_expires_in_as_text = True  # "1800" (authentication.md), not 1800 (schema)
    office = unique("office")
    connect_sb(afas_services, office)
    stored = afas_services.connections.get(key(office, "enyoi"))
    assert stored is not None and stored.access_expires_at is not None
    left = stored.access_expires_at - afas_services.clock()
    assert 1790 <= left.total_seconds() <= 1800


# -- reads: stable paging and the optional period read ------------------------------------------


def test_every_page_is_sorted_so_no_row_is_skipped_or_repeated(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)
    administration = afas_sandbox.sb_environment("enyoi").administrations[SB_ADMINISTRATION_ID]
    for n in range(7):
        administration.add_account(f"80{n:02d}", f"Extra {n}")
    expected = set(administration.accounts)
    connection = afas_services.connections.get(key(office, "enyoi"))
    location = afas_services.sb_connections.location_of(connection, "enyoi")
    client = SbClient(
        location.url,
        afas_services.sb_connections.tokens(connection, location),
        key(office, "enyoi"),
        page_size=2,
    )
    with client:
        numbers = [a.number for a in client.list_accounts(SB_ADMINISTRATION_ID)]
    assert sorted(numbers) == sorted(expected) and len(numbers) == len(expected)
    assert afas_sandbox.sb_unsorted_pages == 0
    pages = afas_sandbox.sb_captured("api/ledgeraccounts")
    assert len(pages) == len(expected) // 2 + 1
    assert all(
        p.query["sortField"] == "Id ascending" and p.query["sort"] == "Id Ascending" for p in pages
    )


def test_without_the_reporting_group_the_period_check_is_skipped_and_said_once(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    from dataclasses import replace

    from shared.journal.builder import Draft
    from shared.journal.periods import BookingPeriod, PeriodRule

    office = unique("office")
    connect_sb(afas_services, office)
    entry = SbEntry(
        administration_id=SB_ADMINISTRATION_ID,
        description="Loonjournaalpost 2025-3",
        entry_date=date(2025, 3, 31),
        lines=(
            SbLine("4000", Decimal("10"), Decimal("0")),
            SbLine("1600", Decimal("0"), Decimal("10")),
        ),
    )
    draft = Draft(
        entry=entry,
        period=BookingPeriod(2025, 3, date(2025, 3, 31), PeriodRule.PAYROLL_PERIOD),
        findings=(),
    )
    with afas_services.sb_client(office, "enyoi") as sb:
        target = SbBooker(sb, SbTarget("enyoi", SB_ADMINISTRATION_ID))
        first = target.precheck(draft)
        second = target.precheck(draft)
        assert target.check() == []
    assert [f.code for f in first] == [PERIOD_CHECK_SKIPPED] and not first[0].blocks
    assert "niet vooraf gecontroleerd" in first[0].text
    assert second == []  # once per job
    assert afas_sandbox.count("accountingperiod") == 1  # read once, refused once, not retried
    afas_sandbox.grant_sb(REPORTING_GROUP, "enyoi")
    with afas_services.sb_client(office, "enyoi") as sb:
        granted = SbBooker(sb, SbTarget("enyoi", SB_ADMINISTRATION_ID))
        assert granted.precheck(draft) == []
        outside = replace(draft, entry=replace(entry, entry_date=date(2031, 1, 31)))
        assert [f.code for f in granted.precheck(outside)] == ["period-missing"]


def test_an_app_without_the_payroll_group_is_told_so_not_that_its_token_is_refused(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)
    afas_sandbox.sb_environment("enyoi").granted.clear()  # activated without Loonjournaalpost
    with afas_services.sb_client(office, "enyoi") as sb:
        target = SbBooker(sb, SbTarget("enyoi", SB_ADMINISTRATION_ID))
        ((field, text),) = target.check()
    assert field == "target.environment" and "endpointgroep Loonjournaalpost" in text
    connection = afas_services.connections.get(key(office, "enyoi"))
    assert connection is not None and connection.state is ConnectionState.CONNECTED


def test_an_unknown_environment_is_refused_before_the_browser_leaves(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Issue 17 item 7: a name (or address) the SB server does not know is a 422 beside the
    field, not AFAS's raw error page; nothing is connected."""
    office = unique("office")
    typo = call(
        afas_services,
        afas.SB_CONNECT,
        headers=admin_headers(office),
        route={"environment": "enyoii"},
    )
    assert typo.status == 422, typo.body
    problem = typo.json()
    assert problem["errors"][0]["field"] == "environment"
    assert "AFAS SB kent omgeving enyoii niet" in problem["detail"] and problem["hint"]
    server = afas_sandbox.sb_server_url(ACCOUNTANT)
    started, _ = typed_consent(afas_services, office, "atlass", f"{server}/atlass/")
    assert started.status == 422 and started.json()["errors"][0]["field"] == "apiServer"
    assert afas_services.connections.for_office(office) == []
    # The known one still starts at once.
    started, done = typed_consent(afas_services, office, ATLAS, f"{server}/atlas/")
    assert started.status == 200 and done is not None and done.status == 302
