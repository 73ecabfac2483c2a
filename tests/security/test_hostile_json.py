"""Issue 15, scenario 9: JSON nested ~1,000 levels deep in a request body, in
``X-MS-CLIENT-PRINCIPAL`` or in ``continuationToken``, and a 5,000-digit integer in a body,
answered 500. Every operation of the catalog, through the real plumbing (``handle``), for a
connected office with real data; and once over HTTP on the local host (the Functions adapter)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator

import pytest
import requests

from devtools.azurite import Azurite
from shared.api.http import ApiResponse
from shared.api.operations import Access, Operation
from tests.support.api import admin_headers
from tests.support.localhost import LocalHostProcess
from tests.support.security_world import (
    OPERATIONS,
    Office,
    SecurityWorld,
    request_for,
    run,
    security_world,
)

DEPTH = 1000
DIGITS = 5000
WITH_BODY = [op for op in OPERATIONS if op.body is not None]
SIGNED_IN = [op for op in OPERATIONS if op.access is not Access.PUBLIC]
LIST_RUNS = next(op for op in OPERATIONS if op.name == "list_runs")


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[SecurityWorld]:
    with security_world(azurite) as w:
        w.new_office("json")
        yield w


def deep_body(valid: bytes) -> bytes:
    """The operation's valid body with its first field's value nested ``DEPTH`` levels deep."""
    first = next(iter(json.loads(valid)))
    return (
        json.dumps({**json.loads(valid), first: "@"})
        .replace('"@"', "[" * DEPTH + "]" * DEPTH, 1)
        .encode()
    )


def huge_integer_body(valid: bytes) -> bytes:
    first = next(iter(json.loads(valid)))
    return json.dumps({**json.loads(valid), first: "@"}).replace('"@"', "7" * DIGITS, 1).encode()


def principal(document: str) -> dict[str, str]:
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(document.encode()).decode()}


def deep_principal() -> dict[str, str]:
    return principal('{"claims": ' + "[" * DEPTH + "]" * DEPTH + "}")


def token(document: str) -> str:
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


HOSTILE_TOKENS = {
    "deep": token("[" * DEPTH + "]" * DEPTH),
    "deep-object": token('{"after": ' + "[" * DEPTH + "]" * DEPTH + "}"),
    "huge-integer": token('{"after": ' + "1" * DIGITS + "}"),
}


def assert_dutch_problem(answer: ApiResponse | requests.Response, status: int) -> str:
    code = answer.status if isinstance(answer, ApiResponse) else answer.status_code
    body = answer.body if isinstance(answer, ApiResponse) else answer.content
    assert code == status, body[:300]
    headers = answer.headers
    assert headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"].startswith("https://loonbrug.nl/")
    detail = str(problem["detail"])
    assert re.search(r"\b(de|het|een|niet|is|zijn|opnieuw)\b", detail), detail  # Dutch
    return detail


def office_of(world: SecurityWorld) -> Office:
    return world.offices[0]


@pytest.mark.parametrize("op", WITH_BODY, ids=[op.name for op in WITH_BODY])
def test_scenario_9_json_nested_1000_deep_in_a_body_answers_400(
    world: SecurityWorld, op: Operation
) -> None:
    office = office_of(world)
    spec = request_for(op, world, office)
    before = world.snapshot(office.id)
    hostile = type(spec)(spec.route, spec.query, deep_body(spec.body))
    detail = assert_dutch_problem(run(world, op, hostile, admin_headers(office.id)), 400)
    assert "te diep genest" in detail
    assert world.snapshot(office.id) == before


@pytest.mark.parametrize("op", WITH_BODY, ids=[op.name for op in WITH_BODY])
def test_scenario_9_a_5000_digit_integer_in_a_body_answers_400(
    world: SecurityWorld, op: Operation
) -> None:
    office = office_of(world)
    spec = request_for(op, world, office)
    before = world.snapshot(office.id)
    hostile = type(spec)(spec.route, spec.query, huge_integer_body(spec.body))
    detail = assert_dutch_problem(run(world, op, hostile, admin_headers(office.id)), 400)
    assert "getal" in detail
    assert world.snapshot(office.id) == before


@pytest.mark.parametrize(
    "header",
    [
        deep_principal(),
        principal('{"claims": [{"typ": "roles", "val": ' + "9" * DIGITS + "}]}"),
        principal('{"claims": [], "x": NaN}'),
    ],
    ids=["deep", "huge-integer", "nan"],
)
def test_scenario_9_hostile_json_in_the_principal_header_answers_401(
    world: SecurityWorld, header: dict[str, str]
) -> None:
    office = office_of(world)
    for op in SIGNED_IN:
        spec = request_for(op, world, office)
        answer = run(world, op, spec, header)
        assert_dutch_problem(answer, 401)


@pytest.mark.parametrize("name", list(HOSTILE_TOKENS))
def test_scenario_9_hostile_json_in_a_continuation_token_answers_422(
    world: SecurityWorld, name: str
) -> None:
    office = office_of(world)
    spec = request_for(LIST_RUNS, world, office)
    hostile = type(spec)(spec.route, {"continuationToken": HOSTILE_TOKENS[name]}, spec.body)
    answer = run(world, LIST_RUNS, hostile, admin_headers(office.id))
    assert_dutch_problem(answer, 422)
    assert [e["field"] for e in answer.json()["errors"]] == ["continuationToken"]


def test_scenario_9_hostile_json_over_http_answers_4xx(
    world: SecurityWorld, local_host: Callable[..., LocalHostProcess]
) -> None:
    host = local_host(world.env)
    office = office_of(world)
    admin = {"Content-Type": "application/json", **admin_headers(office.id)}
    put_notifications = next(op for op in OPERATIONS if op.name == "put_notifications")
    valid = request_for(put_notifications, world, office).body
    url = host.url("/api/" + put_notifications.route)
    for body in (deep_body(valid), huge_integer_body(valid)):
        assert_dutch_problem(requests.put(url, data=body, headers=admin, timeout=30), 400)
    runs = host.url("/api/" + LIST_RUNS.route)
    answer = requests.get(runs, headers=deep_principal(), timeout=30)
    assert_dutch_problem(answer, 401)
    for hostile in HOSTILE_TOKENS.values():
        answer = requests.get(
            runs, params={"continuationToken": hostile}, headers=admin, timeout=30
        )
        assert_dutch_problem(answer, 422)
    assert not re.findall(r"http \S+ \S+ -> 5\d\d", host.log_text())
