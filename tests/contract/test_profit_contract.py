"""AFAS's published Profit specification (Mutaties.json, extracted to ``schemas/profit/``) is the
contract: every request our ProfitClient sends validates against its published request schema,
and every answer of the Profit sandbox against its published response schema (``jsonschema``).

The requests and answers are the sandbox's own log (``AfasSandbox.profit_log``) of a real run:
the connection check, every GetConnector read (with paging and filters), the pre-check facts, a
booking (lookup + post), a booking found again, a refused booking (500), a connector missing from
the App Connector (401) and maintenance (503).
"""

from __future__ import annotations

import ast
import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from devtools.sandbox.afas import (
    CONNECTOR_FIELDS,
    PROFIT_NUMBER,
    PROFIT_TOKEN,
    PROFIT_TOKEN_WITHOUT_TRANSACTIONS,
    AfasSandbox,
    ProfitExchange,
)
from shared.afas.environment import parse_profit_environment, profit_base_url, profit_token
from shared.afas.errors import AfasAuthError, AfasRetriableError, AfasValidationError
from shared.afas.profit import (
    REQUIRED_GET_CONNECTORS,
    REQUIRED_UPDATE_CONNECTORS,
    Filter,
    ProfitClient,
)
from shared.api.handlers import afas_connections as afas
from shared.bootstrap import Services
from shared.clients.model import ProfitTarget
from shared.settings import Settings
from shared.sync.bookers import ProfitBooker
from tests.contract import extract_profit_schemas as extractor
from tests.contract.profit_spec import (
    SCHEMAS,
    SPECS,
    Operation,
    by_name,
    coerce,
    fi_entries_lines_fields,
    fi_entries_request_schema,
    operations,
    problems,
    query_items,
    rows_schema,
    shape,
)
from tests.support.afas_fixtures import FAST_RETRY, Booker, call, profit_entry
from tests.support.api import admin_headers

INTEGRATION_ID = "12345_678900"
PROFIT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "afas" / "profit.py"


def contract_client(
    sandbox: AfasSandbox, token: str = PROFIT_TOKEN, integration_id: str | None = INTEGRATION_ID
) -> ProfitClient:
    return ProfitClient(
        profit_base_url(sandbox.profit_url_template, parse_profit_environment("O12345AA")),
        profit_token(token),
        timeout=(2.0, 5.0),
        post_timeout=(2.0, 5.0),
        retry=FAST_RETRY,
        integration_id=integration_id,
    )


def exercise(sandbox: AfasSandbox, unique: Callable[[str], str]) -> list[ProfitExchange]:
    """Every Profit call Loonbrug makes, once or more; answers the sandbox's log of them."""
    client = contract_client(sandbox)
    client.check_token()
    list(client.list_administrations())
    list(client.list_journals(1))
    list(client.list_accounts())
    list(client.list_allocation_assignments(1))
    list(client.list_allocation_assignments(1, account="4100"))
    list(client.list_periods(1, year=2025))
    pages = client.iter_pages(
        "Profit_periods_per_administration",
        order_by=["-Year", "Period"],
        filters=[Filter("Unit", "1")],
        page_size=25,
    )
    assert len(list(pages)) == 3  # skip/take paging: 60 rows in pages of 25
    ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, 1, "80")).facts((2025,))
    voucher = unique("LB-")
    booked = Booker(client).book(profit_entry(voucher))  # the booking step's post: 201
    assert str(client.find_entry(1, voucher)) == booked.entry_number  # the look-up
    with pytest.raises(AfasValidationError):  # 500: an unknown journal
        client.post_entry(profit_entry(unique("LB-"), journal="99"))
    with pytest.raises(AfasAuthError):  # 401: Profit_Transactions not in the App Connector
        contract_client(sandbox, PROFIT_TOKEN_WITHOUT_TRANSACTIONS).find_booked_lines(1, "x")
    sandbox.maintenance = 3600
    with pytest.raises(AfasRetriableError):  # 503 with retry_after
        client.check_token()
    sandbox.maintenance = None
    return list(sandbox.profit_log)


def published(exchange: ProfitExchange) -> Operation:
    key = (exchange.method, exchange.endpoint)
    assert key in operations(), f"{key} is not a published operation Loonbrug may call"
    return operations()[key]


# -- (a) requests --------------------------------------------------------------------------------


def request_problems(exchange: ProfitExchange) -> list[str]:
    operation = published(exchange)
    found: list[str] = []
    query = operation.parameters("query")
    for name, raw in exchange.request.query.items():
        if name not in query:
            found.append(f"query parameter {name} is not published")
            continue
        for item in query_items(name, raw):
            found += [f"{name}={item}{p}" for p in problems(query[name], coerce(item, query[name]))]
    for name in ("filterfieldids", "orderbyfieldids"):
        for field in query_items("filterfieldids", exchange.request.query.get(name, "")):
            if field and field.lstrip("-") not in operation.row_fields:
                found.append(f"{name}: {field} is not a published field")
    headers = operation.parameters("header")
    for name, schema in headers.items():
        value = exchange.header(name)
        if value:
            found += [f"header {name}{p}" for p in problems(schema, value)]
    scheme = operation.security["AfasToken"]
    authorization = exchange.header(scheme["name"])
    prefix, _, encoded = authorization.partition(" ")
    token = base64.b64decode(encoded).decode() if encoded else ""
    if prefix != "AfasToken" or not re.fullmatch(r"<token><version>1</version><data>\w+</data></token>", token):  # fmt: skip
        found.append("Authorization is not 'AfasToken ' + Base64 of the token XML")
    if exchange.method == "POST":
        body = json.loads(exchange.request.body)
        found += [f"body{p}" for p in problems(fi_entries_request_schema(), body)]
    return found


def test_every_request_validates_against_its_published_schema(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    log = exercise(afas_sandbox, unique)
    assert len(log) >= 18  # every operation, several pages, a booking and its look-up
    found = {f"{x.method} {x.request.path}?{x.request.raw_query}": request_problems(x) for x in log}
    assert {request: p for request, p in found.items() if p} == {}


def test_every_operation_loonbrug_calls_is_in_the_contract(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    called = {(x.method, x.endpoint) for x in exercise(afas_sandbox, unique)}
    assert called == set(operations())
    needed = {
        f"/connectors/{name}" for name in REQUIRED_GET_CONNECTORS | REQUIRED_UPDATE_CONNECTORS
    }
    assert {path for _, path in operations()} == needed | {"/MetaInfo"}


def test_a_request_breaking_the_published_schema_is_caught(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """The validation has teeth: an EnNo given as text, a string amount and an unpublished query
    parameter are each reported."""
    exercise(afas_sandbox, unique)
    post = next(x for x in afas_sandbox.profit_log if x.method == "POST")
    body = json.loads(post.request.body)
    line = body["FiEntryPar"]["Element"]["Objects"][0]["FiEntries"]["Element"][0]["Fields"]
    line.update(EnNo="1", AmDe="100")
    assert len(problems(fi_entries_request_schema(), body)) == 2
    get = next(x for x in afas_sandbox.profit_log if "Profit_Journals" in x.endpoint)
    get.request.query["sort"] = "JournalId"
    get.request.query["operatortypes"] = "1,99"
    assert len(request_problems(get)) == 2


# -- (b) answers ---------------------------------------------------------------------------------


def answer_problems(exchange: ProfitExchange) -> list[str]:
    operation = published(exchange)
    status = exchange.response.status
    if status not in operation.statuses:
        return [f"HTTP {status} is not a published answer of {operation.name}"]
    schema = operation.response_schema(status)
    if schema is None:  # published without a body (401: Content-Length 0)
        return [] if not exchange.response.body else [f"HTTP {status} has a body"]
    if status == 200 and operation.path.startswith("/connectors/"):
        schema = rows_schema(operation)
    return problems(schema, exchange.json())


def test_every_sandbox_answer_validates_against_its_published_schema(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    log = exercise(afas_sandbox, unique)
    assert {x.response.status for x in log} == {200, 201, 401, 500, 503}
    found = {f"{x.method} {x.request.path} -> {x.response.status}": answer_problems(x) for x in log}
    assert {answer: p for answer, p in found.items() if p} == {}


def test_the_sandbox_answers_as_the_published_examples(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    log = exercise(afas_sandbox, unique)
    metainfo = next(x for x in log if x.endpoint == "/MetaInfo" and x.response.status == 200)
    example = by_name("get-MetaInfo").response_example(200)
    assert shape(metainfo.json()) == shape(example)
    assert metainfo.json()["info"]["tokenExpiry"] == example["info"]["tokenExpiry"] == "0"
    created = next(x for x in log if x.response.status == 201)
    assert shape(created.json()) == shape(by_name("post-FiEntries").response_example(201))
    assert set(created.json()["results"]["FiEntries"]) == {"EnNo", "UnId", "InID"}


def test_sandbox_rows_have_exactly_the_published_fields(afas_sandbox: AfasSandbox) -> None:
    for name, fields in CONNECTOR_FIELDS.items():
        assert set(fields) == by_name(f"get-{name}").row_fields, name
    client = contract_client(afas_sandbox)
    list(client.list_accounts())
    list(client.list_allocation_assignments(1))
    list(client.list_periods(1))
    for exchange in afas_sandbox.profit_log:
        rows = exchange.json()["rows"]
        assert rows and all(set(row) == published(exchange).row_fields for row in rows)


def test_every_field_the_client_reads_is_published() -> None:
    """The row fields profit.py reads (``_int/_text/_bool/_date(row, "…")``, ``row.get("…")``
    and the ``DimAx{n}`` family) all exist in a published GetConnector answer."""
    published_fields = set().union(
        *(op.row_fields for op in operations().values() if op.path.startswith("/connectors/Profit"))
    )
    read: set[str] = {f"DimAx{n}" for n in range(1, 6)}
    for node in ast.walk(ast.parse(PROFIT_SOURCE.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or len(node.args) < 1:
            continue
        func = node.func
        reader = isinstance(func, ast.Name) and func.id in ("_int", "_text", "_bool", "_date")
        getter = (
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and isinstance(func.value, ast.Name)
            and func.value.id == "row"
        )
        key = node.args[1] if reader and len(node.args) > 1 else node.args[0] if getter else None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            read.add(key.value)
    assert len(read) > 20
    assert read - published_fields == set()


# -- the published texts and the fixtures --------------------------------------------------------


def test_the_fixtures_are_valid_draft4_schemas() -> None:
    for operation in operations().values():
        for status in operation.statuses:
            schema = operation.response_schema(status)
            if schema is not None:
                Draft4Validator.check_schema(schema)
    Draft4Validator.check_schema(by_name("post-FiEntries").request_schema())


def test_the_contradictions_we_tolerate_are_still_in_the_published_text() -> None:
    """If AFAS fixes its document, these fail and the tolerance in profit_spec.py can go."""
    fi_entries = by_name("post-FiEntries")
    assert "EnNo" in fi_entries_lines_fields(fi_entries.request_schema())["required"]
    examples = fi_entries.request_examples()
    assert len(examples) > 30 and all('"EnNo"' not in json.dumps(e) for e in examples.values())
    operatortypes = by_name("get-Profit_Journals").parameters("query")["operatortypes"]
    assert operatortypes["type"] == "number"
    accounts = by_name("get-Profit_Accounts").rows_item()["properties"]
    assert accounts["DimAx1"]["type"] == "string" and "null" not in str(accounts)
    if not SPECS.exists():
        pytest.skip("the published pages are not on this machine")
    get_connector = (SPECS / "get-connector.md").read_text(encoding="utf-8")
    assert '"AddressAdd": null' in get_connector  # the published GetConnector answer has nulls
    assert "operatortypes=type,type" in get_connector  # and documents ',' lists


def test_the_fixtures_are_what_the_extractor_makes_of_the_published_document() -> None:
    source = extractor.DEFAULT_SOURCE
    if not source.exists():
        pytest.skip(f"{source} is not on this machine")
    for name, content in extractor.extract(source).items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == extractor.dumps(content), name


# -- MetaInfo: onboarding with the published answer ---------------------------------------------

PUBLISHED_METAINFO: dict[str, Any] = by_name("get-MetaInfo").response_example(200)
OUR_CONNECTORS: dict[str, Any] = {
    **PUBLISHED_METAINFO,
    "updateConnectors": [
        *PUBLISHED_METAINFO["updateConnectors"],
        {"id": "FiEntries", "description": "Financiële mutatie"},
    ],
    "getConnectors": [
        *PUBLISHED_METAINFO["getConnectors"],
        *({"id": name, "description": name} for name in sorted(REQUIRED_GET_CONNECTORS)),
    ],
}


def put_profit(services: Services, office: str) -> tuple[int, dict[str, Any]]:
    response = call(
        services,
        afas.PROFIT_CONNECT,
        headers=admin_headers(office),
        route={"environment": "12345"},
        body=json.dumps({"token": PROFIT_TOKEN}).encode(),
    )
    return response.status, response.json()


def test_saving_a_profit_connection_whose_metainfo_says_token_expiry_0_succeeds(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Defect: /MetaInfo answers ``"tokenExpiry": "0"`` in every published example; it was read
    as an ISO date and the ValueError escaped the handler as HTTP 500."""
    assert PUBLISHED_METAINFO["info"]["tokenExpiry"] == "0"
    afas_sandbox.profit_metainfo_answer = OUR_CONNECTORS
    status, body = put_profit(afas_services, unique("office"))
    assert status == 201, body
    assert body["state"] == "connected" and body["tokenExpiry"] is None


def test_the_published_metainfo_example_verbatim_is_a_refusal_naming_what_is_missing(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """The published example's App Connector has none of our connectors: a 422 with the names,
    never a 500."""
    afas_sandbox.profit_metainfo_answer = PUBLISHED_METAINFO
    status, body = put_profit(afas_services, unique("office"))
    assert status == 422, body
    assert body["type"] == "https://loonbrug.nl/problems/afas-connector-missing"
    assert "FiEntries" in body["detail"] and "Profit_periods_per_administration" in body["detail"]


@pytest.mark.parametrize("expiry", ["binnenkort", "", "2026-12-31", "2026-12-31T00:00:00Z"])
def test_any_token_expiry_is_saved_never_a_failure(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str], expiry: str
) -> None:
    afas_sandbox.profit_metainfo_answer = {
        **OUR_CONNECTORS,
        "info": {**OUR_CONNECTORS["info"], "tokenExpiry": expiry},
    }
    status, body = put_profit(afas_services, unique("office"))
    assert status == 201, body
    assert (body["tokenExpiry"] or "").startswith("2026-12-31" if "2026" in expiry else "")


# -- IntegrationId ------------------------------------------------------------------------------


def test_the_integration_id_is_on_every_request_when_set(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    log = exercise(afas_sandbox, unique)
    assert {x.header("IntegrationId") for x in log} == {INTEGRATION_ID}


def test_the_integration_id_setting_reaches_every_profit_request(
    afas_env: dict[str, str], afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """AFAS_INTEGRATION_ID (settings) -> Services (bootstrap) -> ProfitClient -> the header."""
    services = Services(Settings.from_env({**afas_env, "AFAS_INTEGRATION_ID": INTEGRATION_ID}))
    environment = parse_profit_environment("12345", "O12345AA")
    with services.new_profit_client(environment, profit_token(PROFIT_TOKEN)) as client:
        client.check_token()
        list(client.list_journals(1))
        client.post_entry(profit_entry(unique("LB-")))
    assert len(afas_sandbox.profit_log) == 3
    assert {x.header("IntegrationId") for x in afas_sandbox.profit_log} == {INTEGRATION_ID}
    afas_sandbox.profit_log.clear()
    plain = Services(Settings.from_env(afas_env))
    with plain.new_profit_client(environment, profit_token(PROFIT_TOKEN)) as client:
        client.check_token()
    assert [x.header("IntegrationId") for x in afas_sandbox.profit_log] == [""]
