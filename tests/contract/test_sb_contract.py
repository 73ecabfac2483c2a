"""AFAS SB contract: what Loonbrug sends and what the SB sandbox answers, against the schemas of
AFAS's published specification (openapi-6-0-0.json and the developer pages).

The schemas are fixtures under ``schemas/sb/`` (extracted by ``schemas/sb/extract.py``; the
README there names each file's source). One module-wide world runs the real flows over HTTP
against the sandbox, on Azurite: a customer consent on the default server and one under an
accountant's subdomain, an Admin Center consent with getscopes and a scope token, token
refreshes, every list read Loonbrug makes, bookings, a 401, a 403 and a refused entry. Every
request the sandbox captured is then validated with ``jsonschema`` against the published request
schema, and every answer against the published response schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft202012Validator, FormatChecker

from devtools.azurite import Azurite
from devtools.sandbox import afas_sb
from devtools.sandbox.afas import (
    ATLAS,
    BIERLING,
    BIERLING_ADMINISTRATION_ID,
    REPORTING_GROUP,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
    CapturedRequest,
    start_afas_sandbox,
)
from shared.afas import sb as sb_module
from shared.afas.errors import AfasValidationError
from shared.afas.sb import ACCEPT_VERSION, SbEndpointNotGranted
from shared.bootstrap import Services
from shared.journal.entries import SbLine
from shared.settings import Settings
from tests.conftest import base_env
from tests.contract.schemas.sb import extract
from tests.support.afas_fixtures import connect_sb, sb_entry
from tests.support.sb_fixtures import connect_admin_center, new_tracking, typed_consent

SCHEMAS = Path(__file__).parent / "schemas" / "sb"
FORMATS = FormatChecker()
OPERATIONS = {  # captured route -> fixture
    "app/token": "app_token.json",
    "authentication/getscopes": "getscopes.json",
    "api/administrations": "administrations.json",
    "api/ledgeraccounts": "ledgeraccounts.json",
    "api/accountingperiod": "accountingperiod.json",
    "api/payrolljournalentry": "payrolljournalentry.json",
}


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(), parse_float=Decimal)
    return data


def problems(schema: dict[str, Any], instance: Any, *, openapi: bool = True) -> list[str]:
    """Validation errors of ``instance`` (OpenAPI 3.0 schema objects are draft-4 JSON Schema;
    the schemas we wrote from the pages are 2020-12)."""
    cls = Draft4Validator if openapi else Draft202012Validator
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in cls(schema, format_checker=FORMATS).iter_errors(instance)
    ]


def parameter_schema(operation: dict[str, Any], where: str) -> dict[str, Any]:
    params = [p for p in operation["parameters"] if p["in"] == where]
    return {
        "type": "object",
        "properties": {
            (p["name"].lower() if where == "header" else p["name"]): p["schema"] for p in params
        },
        "required": [
            p["name"].lower() if where == "header" else p["name"] for p in params if p["required"]
        ],
    }


def typed_query(operation: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """Query values as the parameter types say (a query string carries text only)."""
    types = {p["name"]: p["schema"].get("type") for p in operation["parameters"]}
    out: dict[str, Any] = {}
    for name, value in query.items():
        out[name] = int(value) if types.get(name) == "integer" and value.isdigit() else value
    return out


@dataclass
class World:
    sandbox: AfasSandbox
    services: Services
    scope_tokens: set[tuple[str, str]]  # (server, environment) reached as Admin Center scopes

    @property
    def captured(self) -> list[CapturedRequest]:
        return self.sandbox.sb_captured()


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[World]:
    sandbox = start_afas_sandbox()
    try:
        env = {**base_env(azurite.connection_string), **sandbox.settings_env()}
        services = Services(Settings.from_env(env))
        office = "contract-" + new_tracking()[:8]
        # 1. An independent customer on AFAS_SB_URL: consent, every read, bookings, a refusal.
        connect_sb(services, office)
        with services.sb_client(office, "enyoi") as sb:
            list(sb.list_administrations())
            list(sb.list_accounts(SB_ADMINISTRATION_ID))
            with pytest.raises(SbEndpointNotGranted):  # 403: not in the payroll group
                list(sb.list_periods(SB_ADMINISTRATION_ID))
            sandbox.grant_sb(REPORTING_GROUP, "enyoi")
            list(sb.list_periods(SB_ADMINISTRATION_ID))
            tracking = new_tracking()
            sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), tracking)
            sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), tracking)  # repeat: first answer
            lines = (
                SbLine("9999", Decimal(10), Decimal(0)),
                SbLine("1600", Decimal(0), Decimal(10)),
            )
            with pytest.raises(AfasValidationError):  # 400 from SB
                sb.post_entry(sb_entry(SB_ADMINISTRATION_ID, lines=lines), new_tracking())
            sandbox.expire_sb_access_tokens()  # 401, then a refresh_token grant
            list(sb.list_administrations())
        # 2. The accountant's Admin Center: getscopes, a scope token, reads and a booking.
        admin_office = "contract-adm-" + new_tracking()[:8]
        connect_admin_center(services, admin_office, sandbox)
        assert {s.path for s in services.sb_connections.scopes(admin_office)} == {ATLAS, BIERLING}
        assert services.sb_connections.ensure_scope(admin_office, ATLAS, by_user="test")
        with services.sb_client(admin_office, ATLAS) as sb:
            (administration,) = sb.list_administrations()
            list(sb.list_accounts(administration.id))
            sb.post_entry(sb_entry(administration.id), new_tracking())
        # 3. A customer under the accountant's subdomain, typed as the concepts page shows it.
        customer_office = "contract-cus-" + new_tracking()[:8]
        started, done = typed_consent(
            services, customer_office, BIERLING, f"{sandbox.sb_server_url()}/{BIERLING}/"
        )
        assert started.status == 200 and done is not None and done.status == 302
        with services.sb_client(customer_office, BIERLING) as sb:
            list(sb.list_administrations())
            sb.post_entry(sb_entry(BIERLING_ADMINISTRATION_ID), new_tracking())
        yield World(sandbox, services, {(afas_sb.ACCOUNTANT, ATLAS)})
    finally:
        sandbox.stop()


# -- requests ---------------------------------------------------------------------------------------


def request_problems(world: World, request: CapturedRequest) -> list[str]:
    pages = fixture("authentication_pages.json")
    if request.route == "app/auth":
        return [f"GET app/auth ?{e}" for e in problems(pages["authorize"]["query"], request.query, openapi=False)]  # fmt: skip
    operation = fixture(OPERATIONS[request.route])
    found: list[str] = []
    if request.method != operation["method"]:
        found.append(f"{request.route}: method {request.method}, spec {operation['method']}")
    if request.route == "app/token":
        form = request.form()
        body = operation["requestBody"]
        found += problems(body["schema"], form)  # the OpenAPI's form fields and types
        grant = form.get("grant_type")
        if grant == "authorization_code":
            page = pages["codeGrant"]
        elif (request.server, request.environment) in world.scope_tokens:
            page = pages["scopeGrant"]
            if request.content_type != body["contentType"]:  # multipart/form-data
                found.append(f"scope token sent as {request.content_type}")
        else:
            page = pages["refreshGrant"]
        found += problems(page["form"], form, openapi=False)
        if "contentType" in page and request.content_type != page["contentType"]:
            found.append(f"{grant} sent as {request.content_type}, page: {page['contentType']}")
        return [f"app/token: {p}" for p in found]
    query = typed_query(operation, request.query)
    found += problems(parameter_schema(operation, "query"), query)
    found += problems(parameter_schema(operation, "header"), request.headers)
    if not request.headers.get("authorization", "").startswith("Bearer "):
        found.append("no bearer token")
    if "skip" in query or "take" in query:
        pagination = fixture("pagination_page.json")
        if "sortField" not in query:
            found.append("skip/take without sortField (openapi-6-0-0.json)")
        if "sort" not in query:
            found.append("skip/take without sort (pagination.md)")
        else:
            found += problems(pagination["sort"], query["sort"], openapi=False)
    if operation["requestBody"] is not None:
        if request.content_type != operation["requestBody"]["contentType"]:
            found.append(f"body sent as {request.content_type}")
        found += problems(
            operation["requestBody"]["schema"], json.loads(request.body, parse_float=Decimal)
        )
    return [f"{request.method} {request.route}: {p}" for p in found]


def test_every_request_loonbrug_sends_matches_the_published_schema(world: World) -> None:
    seen = {(r.method, r.route) for r in world.captured}
    assert seen >= {
        ("GET", "app/auth"),
        ("POST", "app/token"),
        ("POST", "authentication/getscopes"),
        ("GET", "api/administrations"),
        ("GET", "api/ledgeraccounts"),
        ("GET", "api/accountingperiod"),
        ("POST", "api/payrolljournalentry"),
    }, seen
    grants = {r.form().get("grant_type") for r in world.captured if r.route == "app/token"}
    assert grants == {"authorization_code", "refresh_token"}
    assert any(
        (r.server, r.environment) in world.scope_tokens
        for r in world.captured
        if r.route == "app/token"
    )
    found = [p for r in world.captured for p in request_problems(world, r)]
    assert not found, "\n".join(found)


def test_the_payroll_entry_carries_a_uuid_tracking_identifier_and_the_spec_example_validates(
    world: World,
) -> None:
    operation = fixture("payrolljournalentry.json")
    posts = [r for r in world.captured if r.route == "api/payrolljournalentry"]
    assert posts and all(FORMATS.conforms(r.headers["tracking-identifier"], "uuid") for r in posts)
    for example in operation["requestBody"]["examples"].values():  # the schema is the real one
        assert problems(operation["requestBody"]["schema"], example) == []
    bad = {**operation["requestBody"]["examples"]["Loonjournaalpost"], "AdministrationId": "1"}
    assert problems(operation["requestBody"]["schema"], bad)  # the validator does check


# -- answers ----------------------------------------------------------------------------------------


def answer_problems(request: CapturedRequest) -> list[str]:
    if request.route == "app/auth":
        return [] if request.status == 302 else [f"app/auth answered {request.status}"]
    body = json.loads(request.response_body, parse_float=Decimal) if request.response_body else None
    where = f"{request.method} {request.route} -> {request.status}"
    if request.route == "app/token":
        if request.status != 200:
            return []  # OAuth errors (RFC 6749 §5.2); no schema published
        schema = fixture("app_token.json")["responses"]["200"]["schema"]
        return [f"{where}: {p}" for p in problems(schema, body)]
    if request.status in (400, 401, 403):
        schema = fixture("errors.json")[str(request.status)]["schema"]
        return [f"{where}: {p}" for p in problems(schema, body)]
    responses = fixture(OPERATIONS[request.route])["responses"]
    if str(request.status) not in responses:
        return [f"{where}: status not in the spec"]
    return [f"{where}: {p}" for p in problems(responses[str(request.status)]["schema"], body)]


def test_every_sandbox_answer_matches_the_published_schema(world: World) -> None:
    statuses = {(r.route, r.status) for r in world.captured}
    assert {("api/accountingperiod", 403), ("api/accountingperiod", 200)} <= statuses
    assert ("api/payrolljournalentry", 400) in statuses
    assert any(status == 401 for _, status in statuses)
    found = [p for r in world.captured for p in answer_problems(r)]
    assert not found, "\n".join(found)


def test_sandbox_lists_are_shaped_as_the_spec_examples(world: World) -> None:
    """Default answers are the spec's examples: the same fields, PeriodNumber written as 1.0,
    AccountingYear a string, the Content-Version header."""
    for route, name in OPERATIONS.items():
        if not route.startswith("api/") or route == "api/payrolljournalentry":
            continue
        (example,) = fixture(name)["responses"]["200"]["examples"].values()
        answers = [r for r in world.captured if r.route == route and r.status == 200]
        assert answers, route
        rows = json.loads(answers[-1].response_body, parse_float=Decimal)
        assert rows and {frozenset(row) for row in rows} == {frozenset(example[0])}, route
        assert answers[-1].response_headers.get("Content-Version"), route
    period = next(
        r for r in world.captured if r.route == "api/accountingperiod" and r.status == 200
    )
    assert b'"PeriodNumber":1.0' in period.response_body
    assert b'"AccountingYear":"20' in period.response_body
    post = next(
        r for r in world.captured if r.route == "api/payrolljournalentry" and r.status == 200
    )
    (success,) = fixture("payrolljournalentry.json")["responses"]["200"]["examples"].values()
    assert set(json.loads(post.response_body)) == set(success)
    scopes = next(r for r in world.captured if r.route == "authentication/getscopes")
    listed = json.loads(scopes.response_body)
    assert listed[0] == {"Name": "Beheer", "Description": "", "Path": "admin"}  # the spec's example
    forbidden = next(r for r in world.captured if r.status == 403)
    (example403,) = fixture("errors.json")["403"]["examples"].values()
    answer = json.loads(forbidden.response_body)
    assert answer["Message"] == example403["Message"]
    assert answer["AdditionalInfo"] == example403["AdditionalInfo"]


# -- facts the code keeps in tables -------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in OPERATIONS if r.startswith("api/")])
def test_endpoint_groups_are_the_spec_tags(route: str) -> None:
    tags = frozenset(fixture(OPERATIONS[route])["tags"])
    assert sb_module.ENDPOINT_GROUPS[route] == tags
    assert afas_sb.ENDPOINT_GROUPS[route.removeprefix("api/")] == tags
    # troubleshooting.md: a payroll app is granted Loonjournaalpost; only the period read is
    # outside it, which is why the pre-check treats that read as optional.
    assert sb_module.in_payroll_group(route) == (route != "api/accountingperiod")


@pytest.mark.parametrize("route", [r for r in OPERATIONS if r.startswith("api/")])
def test_accept_version_is_the_spec_example(route: str) -> None:
    (header,) = [
        p for p in fixture(OPERATIONS[route])["parameters"] if p["name"] == "Accept-Version"
    ]
    assert header["required"] is True
    assert ACCEPT_VERSION[route] == header["example"]
    assert fixture(OPERATIONS[route])["deprecated"] is False  # not the deprecated singular ones


def test_the_fixtures_are_what_the_published_spec_says() -> None:
    """Re-extract from the spec (when it is on this machine): a changed spec fails here."""
    if not (extract.DEFAULT_SPEC_DIR / extract.SPEC).exists():
        pytest.skip(f"the published spec is not at {extract.DEFAULT_SPEC_DIR}")
    for name, content in extract.extract(extract.DEFAULT_SPEC_DIR).items():
        assert (SCHEMAS / name).read_text() == extract.render(content), name
