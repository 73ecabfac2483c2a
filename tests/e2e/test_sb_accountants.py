"""AFAS SB under an accountant, end to end on the local host (a subprocess), Azurite and the
sandboxes over HTTP (issue 16): a customer on the accountant's subdomain connected through the
App Center landing page and one by its typed URL, an Admin Center connection booking for two
customer environments, the nightly booking all of them with an SB app that lacks the reporting
endpoint group, and a typed URL outside the allowed hosts refused in Dutch."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.sandbox.afas import (
    ACCOUNTANT,
    ATLAS,
    ATLAS_ADMINISTRATION_ID,
    BIERLING,
    BIERLING_ADMINISTRATION_ID,
)
from devtools.sandbox.loket import build_scenario
from tests.support.api import admin_headers
from tests.support.localhost import wait_until
from tests.support.loket_fixtures import connect_loket
from tests.support.sync_world import SB_MAPPING, World, sync_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # Four payroll administrations with one ready run each: one per SB target below.
    with sync_world(tmp_path, loket=build_scenario(administrations_per_employer=4, seed=16)) as w:
        yield w


def follow_consent(start: requests.Response) -> requests.Response:
    """The browser: to SB's consent page (the user says "Ja"), back to Loonbrug's callback."""
    assert start.status_code in (200, 302), start.text
    authorize = (
        start.headers["Location"] if start.status_code == 302 else start.json()["authorizeUrl"]
    )
    consent = requests.get(authorize, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    return requests.get(consent.headers["Location"], allow_redirects=False, timeout=20)


def api(world: World, office: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, world.host.url(path), headers=admin_headers(office), timeout=30, **kwargs
    )


def put_sb_client(
    world: World, office: str, client_id: str, administration: str, environment: str, target: str
) -> None:
    body = {
        "loketPayrollAdministrationId": administration,
        "target": {"type": "afas-sb", "environment": environment, "administrationId": target},
        "mapping": SB_MAPPING,
    }
    answer = api(world, office, "PUT", f"/api/clients/{client_id}", json=body)
    assert answer.status_code in (200, 201), answer.text


def finished_run(world: World, office: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        runs = api(world, office, "GET", "/api/runs").json()["runs"]
        if not runs:
            return None
        detail: dict[str, Any] = api(world, office, "GET", f"/api/runs/{runs[0]['runId']}").json()
        return detail if detail["status"] != "running" else None

    return dict(wait_until(done, timeout=90, interval=0.3, what=f"the nightly of {office}"))


def test_accountant_customers_and_an_admin_center_are_booked_by_the_nightly(world: World) -> None:
    sandbox, host = world.afas, world.host
    server = sandbox.sb_server_url(ACCOUNTANT)
    administrations = [a.id for a in world.loket.scenario.administrations()]
    customer, accountant = world.office, f"office-{uuid.uuid4().hex[:8]}"

    # 1. The App Center sends the customer's user to the landing page; back in the portal with
    #    the outcome.
    landed = requests.get(
        host.url("/api/afas-sb/landing"),
        params={"afasBaseUrl": f"{server}/{ATLAS}/"},
        headers={**admin_headers(customer), "Accept": "text/html"},
        allow_redirects=False,
        timeout=20,
    )
    assert landed.status_code == 302 and landed.headers["Location"].startswith(
        f"{server}/atlas/app/auth?"
    )
    back = follow_consent(landed)
    assert back.status_code == 302
    portal = urlsplit(back.headers["Location"])
    assert f"{portal.scheme}://{portal.netloc}" == host.base_url
    assert parse_qs(portal.fragment.partition("?")[2]) == {
        "afas-sb": ["gekoppeld"],
        "omgeving": [ATLAS],
    }
    page = requests.get(back.headers["Location"], timeout=20)  # "/" -> the portal page
    assert page.status_code == 200 and "<html" in page.text.lower()

    # 2. A typed URL outside the allowed hosts: Dutch 422; the accountant's URL as the concepts
    #    page shows it: connected.
    refused = api(world, customer, "POST", f"/api/connections/afas-sb/{BIERLING}",
                  json={"apiServer": f"https://evil.example.com/{BIERLING}/"})  # fmt: skip
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert "evil.example.com is geen server van AFAS SB" in refused.json()["detail"]
    typed = api(world, customer, "POST", f"/api/connections/afas-sb/{BIERLING}",
                json={"apiServer": f"{server}/{BIERLING}/"})  # fmt: skip
    assert follow_consent(typed).headers["Location"] == (
        f"{host.base_url}/#/connections?afas-sb=gekoppeld&omgeving={BIERLING}"
    )
    put_sb_client(world, customer, "atlas-1", administrations[0], ATLAS, ATLAS_ADMINISTRATION_ID)
    put_sb_client(
        world, customer, "bierl-1", administrations[1], BIERLING, BIERLING_ADMINISTRATION_ID
    )

    # 3. The accountant's office: Loket, then its Admin Center through the landing page; the
    #    client form's lists (by name), two clients in two customer environments.
    connect_loket(world.services, accountant)
    admin_landing = requests.get(
        host.url("/api/afas-sb/landing"),
        params={"afasBaseUrl": f"{server}/admin/"},
        headers={**admin_headers(accountant), "Accept": "text/html"},
        allow_redirects=False,
        timeout=20,
    )
    assert "afas-sb=gekoppeld" in follow_consent(admin_landing).headers["Location"]
    listed = api(world, accountant, "GET", "/api/afas-sb/environments").json()
    assert [(e["environment"], e["name"]) for e in listed["environments"]] == [
        (ATLAS, "Atlas Interior B.V."), (BIERLING, "Bierling Organ Builders")
    ]  # fmt: skip
    for environment, expected in (
        (ATLAS, ATLAS_ADMINISTRATION_ID),
        (BIERLING, BIERLING_ADMINISTRATION_ID),
    ):
        answer = api(
            world, accountant, "GET", f"/api/afas-sb/environments/{environment}/administrations"
        )
        assert answer.status_code == 200, answer.text
        assert [a["id"] for a in answer.json()["administrations"]] == [expected]
    put_sb_client(world, accountant, "atlas-2", administrations[2], ATLAS, ATLAS_ADMINISTRATION_ID)
    put_sb_client(
        world, accountant, "bierl-2", administrations[3], BIERLING, BIERLING_ADMINISTRATION_ID
    )
    connections = api(world, accountant, "GET", "/api/connections").json()["connections"]
    roles = {c["environment"]: c["details"]["role"] for c in connections if c["kind"] == "afas-sb"}
    assert roles == {"admin": "admin-center", ATLAS: "scope", BIERLING: "scope"}

    # 4. The nightly books all four into the accountant's server; the SB app has the payroll
    #    endpoint group only, so each job says once that the period check was skipped.
    world.nightly()
    for office, clients in (
        (customer, ("atlas-1", "bierl-1")),
        (accountant, ("atlas-2", "bierl-2")),
    ):
        run = finished_run(world, office)
        rows = {r["clientId"]: r for r in run["journalRuns"]}
        assert {c: rows[c]["status"] for c in clients} == {c: "imported" for c in clients}, run
        for client in clients:
            skipped = [
                m
                for m in run["messages"]
                if m["clientId"] == client and "niet vooraf gecontroleerd" in m["text"]
            ]
            assert len(skipped) == 1 and skipped[0]["level"] == "warning", run["messages"]
            assert "Financiële rapportage" in skipped[0]["hint"]
    booked = {
        (environment, b.tracking_identifier)
        for environment in (ATLAS, BIERLING)
        for b in sandbox.sb_bookings(environment, ACCOUNTANT)
    }
    assert len(booked) == 4 and {e for e, _ in booked} == {ATLAS, BIERLING}
    assert sandbox.sb_bookings() == []  # nothing went to the default server
    assert sandbox.count("/accountingperiod") >= 4 and sandbox.sb_unsorted_pages == 0
