"""The Loket routes of contract §3: paths, methods and who may call them."""

from shared.api.catalog import OPERATIONS, openapi
from shared.api.operations import Access

EXPECTED = {
    ("GET", "/api/connections"): Access.READER,
    ("POST", "/api/connections/loket"): Access.ADMIN,
    ("DELETE", "/api/connections/loket"): Access.ADMIN,
    ("GET", "/api/oauth/loket/callback"): Access.PUBLIC,
    ("GET", "/api/loket/payroll-administrations"): Access.READER,
}


def test_contract_routes_and_access() -> None:
    found = {(op.method, op.path): op.access for op in OPERATIONS}
    for route, access in EXPECTED.items():
        assert found.get(route) is access, route


def test_the_callback_is_documented_as_public_and_the_rest_as_signed_in() -> None:
    paths = openapi("http://127.0.0.1:7071")["paths"]
    assert paths["/api/oauth/loket/callback"]["get"]["security"] == []
    assert "security" not in paths["/api/connections"]["get"]
    assert "403" in paths["/api/connections/loket"]["post"]["responses"]
    answer = paths["/api/connections/loket"]["post"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("AuthorizeAnswer")
