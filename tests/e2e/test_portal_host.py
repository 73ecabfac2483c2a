"""The portal route through the local host: raw request paths cannot leave the portal folder."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.support.localhost import LocalHostProcess

pytestmark = pytest.mark.azurite


def raw_get(host: LocalHostProcess, target: str, headers: dict[str, str] | None = None) -> Any:
    """Send the request target exactly as written (no client-side normalisation of ../)."""
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def test_the_portal_through_the_host(local_host: Callable[..., LocalHostProcess]) -> None:
    host = local_host()
    status, headers, _ = raw_get(host, "/")
    assert (status, headers["Location"]) == (302, "/api/portal/")
    status, headers, _ = raw_get(host, "/api/portal")
    assert (status, headers["Location"]) == (301, "/api/portal/")
    status, headers, body = raw_get(host, "/api/portal/", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'id="portal-config"' in gzip.decompress(body)

    for target in (
        "/api/portal/../../pyproject.toml",
        "/api/portal/%2e%2e/%2e%2e/pyproject.toml",
        "/api/portal/..%2f..%2fpyproject.toml",
        "/api/portal/js/%2e%2e/%2e%2e/function_app.py",
        "/api/portal/v/x/%2e%2e/%2e%2e/%2e%2e/shared/settings.py",
        "/api/portal/%2fetc%2fpasswd",
        "/api/portal/.%2e/host.json",
    ):
        status, headers, body = raw_get(host, target)
        assert status in (400, 404), (target, status)
        assert b"[project]" not in body and b"import" not in body and b"root:" not in body

    document = requests.get(host.url("/api/openapi.json"), timeout=10).json()
    portal = document["paths"]["/api/portal/{path}"]["get"]
    assert portal["operationId"] == "portal" and portal["security"] == []
    assert [p["name"] for p in portal["parameters"]] == ["path"]
