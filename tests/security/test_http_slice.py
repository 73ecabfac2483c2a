"""A slice of the access matrix over real HTTP on the local host (routing, headers, the Functions
adapter): reads and writes on ids of the office, by the same four callers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import requests

from devtools.azurite import Azurite
from shared.api.operations import Operation
from tests.support.api import admin_headers, reader_headers
from tests.support.localhost import LocalHostProcess
from tests.support.security_world import OPERATIONS, SecurityWorld, request_for, security_world

SLICE = ("get_run", "get_client", "list_runs", "put_client", "delete_client", "disconnect_loket")
# (who, expected status per operation); the office's admin goes last, it changes things.
EXPECTED: dict[str, dict[str, int]] = {
    "nobody": dict.fromkeys(SLICE, 401),
    "reader": {
        "get_run": 200,
        "get_client": 200,
        "list_runs": 200,
        "put_client": 403,
        "delete_client": 403,
        "disconnect_loket": 403,
    },
    "other-admin": {
        "get_run": 404,
        "get_client": 404,
        "list_runs": 200,
        "put_client": 422,  # would be a client of their own office: it has no AFAS connection
        "delete_client": 404,
        "disconnect_loket": 204,  # their own (empty) Loket connection
    },
    "admin": {
        "get_run": 200,
        "get_client": 200,
        "list_runs": 200,
        "put_client": 200,
        "delete_client": 204,
        "disconnect_loket": 204,
    },
}


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[SecurityWorld]:
    with security_world(azurite) as w:
        yield w


def _path(op: Operation, route: dict[str, str]) -> str:
    return "/api/" + re.sub(r"\{([A-Za-z_]+)[^}]*\}", lambda m: route[m.group(1)], op.route)


def test_the_matrix_slice_over_http(
    world: SecurityWorld, local_host: Callable[..., LocalHostProcess]
) -> None:
    host = local_host(world.env)
    office = world.new_office("http")
    other = f"sec-http-other-{office.id[-8:]}"
    headers = {
        "nobody": {},
        "reader": reader_headers(office.id),
        "other-admin": admin_headers(other),
        "admin": admin_headers(office.id),
    }
    ops = {op.name: op for op in OPERATIONS}
    for who in ("nobody", "reader", "other-admin", "admin"):
        for name in SLICE:
            op = ops[name]
            spec = request_for(op, world, office)
            before = world.snapshot(office.id)
            answer = requests.request(
                op.method,
                host.url(_path(op, spec.route)),
                params=spec.query,
                data=spec.body or None,
                headers={"Content-Type": "application/json", **headers[who]},
                timeout=30,
            )
            assert answer.status_code == EXPECTED[who][name], (who, name, answer.text)
            if answer.status_code >= 400:
                assert answer.headers["Content-Type"].startswith("application/problem+json")
            changed = world.snapshot(office.id) != before
            assert changed == (who == "admin" and op.method != "GET"), (who, name)
            if who == "other-admin":
                assert office.run_id not in answer.text and office.id not in answer.text
