"""AFAS SB helpers: consents on any API server (typed URL, App Center landing, Admin Center),
in-process through the real handlers, with the AFAS sandbox over HTTP."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, urlsplit

import requests

from devtools.sandbox.afas import AfasSandbox
from shared.api.handlers import afas_connections
from shared.api.http import ApiResponse
from shared.bootstrap import Services
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers


def new_tracking() -> str:
    """A Tracking-Identifier: the header is a uuid (openapi-6-0-0.json)."""
    return str(uuid.uuid4())


def consent_at_sb(authorize_url: str) -> dict[str, str]:
    """The user says "Ja" at SB's consent page: the callback's query."""
    consent = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    query = parse_qs(urlsplit(consent.headers["Location"]).query)
    return {k: v[0] for k, v in query.items()}


def typed_consent(
    services: Services, office: str, environment: str, api_server: str
) -> tuple[ApiResponse, ApiResponse | None]:
    """``POST /api/connections/afas-sb/{environment}`` with ``{"apiServer": …}``, then (when it
    started) the consent and the callback. Answers (start, callback)."""
    started = call(
        services,
        afas_connections.SB_CONNECT,
        headers=admin_headers(office),
        route={"environment": environment},
        body=json.dumps({"apiServer": api_server}).encode(),
    )
    if started.status != 200:
        return started, None
    params = consent_at_sb(started.json()["authorizeUrl"])
    return started, call(services, afas_connections.SB_CALLBACK, query=params)


def landing_consent(
    services: Services, office: str, afas_base_url: str, *, accept: str = "text/html"
) -> tuple[ApiResponse, ApiResponse | None]:
    """The App Center landing page, then the consent and the callback. Answers (landing,
    callback)."""
    landed = call(
        services,
        afas_connections.SB_LANDING,
        headers={**admin_headers(office), "Accept": accept},
        query={"afasBaseUrl": afas_base_url},
    )
    location = landed.headers.get("Location", "")
    if landed.status != 302 or "/app/auth?" not in location:
        return landed, None
    params = consent_at_sb(location)
    return landed, call(services, afas_connections.SB_CALLBACK, query=params)


def connect_admin_center(services: Services, office: str, sandbox: AfasSandbox) -> None:
    """The office's Admin Center on the sandbox's accountant server (typed URL)."""
    started, done = typed_consent(services, office, "admin", sandbox.sb_server_url() + "/admin/")
    assert started.status == 200, started.body
    assert done is not None and done.status == 302, done.body if done else None
