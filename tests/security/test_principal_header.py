"""``X-MS-CLIENT-PRINCIPAL`` is believed only where App Service Authentication put it there.

In Azure (``WEBSITE_SITE_NAME`` / ``WEBSITE_INSTANCE_ID`` set) without ``WEBSITE_AUTH_ENABLED=true``
anyone could send the header, so every signed-in operation answers 503 and changes nothing, even
for a header that claims the admin role. Public operations keep working. Checked for every
operation in-process and over HTTP on the local host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from devtools.azurite import Azurite
from shared.api.auth import ADMIN_ROLE, encode_principal
from shared.api.operations import Access
from tests.support.api import admin_headers
from tests.support.localhost import LocalHostProcess
from tests.support.security_world import (
    OPERATIONS,
    SecurityWorld,
    request_for,
    run,
    security_world,
)

AZURE_WITHOUT_AUTH = (
    {"WEBSITE_SITE_NAME": "loonbrug-test"},
    {"WEBSITE_SITE_NAME": "loonbrug-test", "WEBSITE_AUTH_ENABLED": "false"},
    {"WEBSITE_INSTANCE_ID": "abc123", "WEBSITE_AUTH_ENABLED": "False "},
)


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[SecurityWorld]:
    with security_world(azurite) as w:
        w.new_office("hdr")
        yield w


@pytest.mark.parametrize("azure", AZURE_WITHOUT_AUTH, ids=["no-setting", "false", "instance"])
def test_the_header_is_refused_for_every_operation_when_easy_auth_is_off(
    world: SecurityWorld, azure: dict[str, str]
) -> None:
    services = world.services_with(**azure)
    office = world.offices[0]
    for op in OPERATIONS:
        spec = request_for(op, world, office)
        before = world.snapshot(office.id)
        answer = run(world, op, spec, admin_headers(office.id), services)
        if op.access is Access.PUBLIC:
            assert answer.status in (200, 400), (op.name, answer.status)
        else:
            assert answer.status == 503, (op.name, answer.status, answer.body)
            problem = answer.json()
            assert problem["type"].endswith("/authentication-not-configured")
            assert "App Service Authentication" in problem["hint"]
        assert world.snapshot(office.id) == before, op.name
    assert not services.sent  # nothing was planned either


def test_the_header_is_believed_behind_easy_auth(world: SecurityWorld) -> None:
    services = world.services_with(WEBSITE_SITE_NAME="loonbrug-test", WEBSITE_AUTH_ENABLED="true")
    office = world.offices[0]
    ops = {op.name: op for op in OPERATIONS}
    spec = request_for(ops["get_client"], world, office)
    assert run(world, ops["get_client"], spec, admin_headers(office.id), services).status == 200
    assert run(world, ops["get_client"], spec, {}, services).status == 401


def test_production_outside_azure_refuses_the_header_too(world: SecurityWorld) -> None:
    """Not development and not in Azure (e.g. a container someone runs): no principal is trusted."""
    services = world.services_with(LOONBRUG_ENVIRONMENT="production")
    office = world.offices[0]
    op = next(o for o in OPERATIONS if o.name == "list_clients")
    answer = run(world, op, request_for(op, world, office), admin_headers(office.id), services)
    assert answer.status == 503


def test_over_http_the_host_in_azure_mode_refuses_the_header(
    world: SecurityWorld, local_host: Callable[..., LocalHostProcess]
) -> None:
    office = world.offices[0]
    forged = {
        "X-MS-CLIENT-PRINCIPAL": encode_principal(
            office_id=office.id, user_id="attacker", roles=(ADMIN_ROLE,)
        )
    }
    extra = {**world.env, "WEBSITE_SITE_NAME": "loonbrug-test"}
    host = local_host(extra)
    before = world.snapshot(office.id)
    for method, path in (
        ("GET", "/api/clients"),
        ("GET", f"/api/runs/{office.run_id}"),
        ("DELETE", f"/api/clients/{office.client_id}"),
        ("DELETE", "/api/connections/loket"),
    ):
        answer = requests.request(method, host.url(path), headers=forged, timeout=10)
        assert answer.status_code == 503, (method, path, answer.text)
        assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert requests.get(host.url("/api/health"), timeout=10).status_code == 200
    assert world.snapshot(office.id) == before


def test_over_http_the_host_behind_easy_auth_believes_it(
    world: SecurityWorld, local_host: Callable[..., LocalHostProcess]
) -> None:
    office = world.offices[0]
    host = local_host(
        {**world.env, "WEBSITE_SITE_NAME": "loonbrug-test", "WEBSITE_AUTH_ENABLED": "true"}
    )
    answer = requests.get(
        host.url(f"/api/clients/{office.client_id}"), headers=admin_headers(office.id), timeout=10
    )
    assert answer.status_code == 200 and answer.json()["clientId"] == office.client_id
    assert requests.get(host.url("/api/clients"), timeout=10).status_code == 401
