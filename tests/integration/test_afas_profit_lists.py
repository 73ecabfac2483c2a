"""The lists the client form picks from (issue 17 item 8): AFAS Profit administrations by name and
the journals of one administration, memoriaal first; read with the office's stored token, on real
Azurite and the AFAS sandbox over HTTP. A reader may read them, another office gets 404, AFAS down
answers a 503 problem (the form then takes the typed value)."""

from __future__ import annotations

import json
from collections.abc import Callable

from devtools.sandbox.afas import PROFIT_TOKEN, AfasSandbox, Fault, FaultKind
from shared.api.handlers import afas_connections as afas
from shared.api.http import ApiResponse
from shared.bootstrap import Services
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers, reader_headers

Unique = Callable[[str], str]


def connect_profit(services: Services, office: str) -> None:
    answer = call(
        services,
        afas.PROFIT_CONNECT,
        headers=admin_headers(office),
        route={"environment": "O12345AA"},
        body=json.dumps({"token": PROFIT_TOKEN, "active": True}).encode(),
    )
    assert answer.status == 201, answer.body


def administrations(
    services: Services, headers: dict[str, str], env: str = "O12345AA"
) -> ApiResponse:
    return call(services, afas.PROFIT_ADMINISTRATIONS, headers=headers, route={"environment": env})


def journals(services: Services, headers: dict[str, str], administration: str) -> ApiResponse:
    return call(
        services,
        afas.PROFIT_JOURNALS,
        headers=headers,
        route={"environment": "12345", "administration": administration},
    )


def test_a_reader_picks_administrations_by_name_and_journals_memoriaal_first(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Unique
) -> None:
    environment = afas_sandbox.scenario.profit["12345"]
    second = environment.add_administration(2, "Bakkerij Zuid B.V.", journal=None)
    second.add_journal("10", "Kas", type="K")
    second.add_journal("90", "Memoriaal lonen", type="M")
    second.add_journal("20", "Bank", type="B")
    second.add_journal("91", "Memoriaal oud", type="M", blocked=True)
    office = unique("office")
    connect_profit(afas_services, office)
    reader = reader_headers(office)

    listed = administrations(afas_services, reader)
    assert listed.status == 200, listed.body
    answer = listed.json()
    assert answer["environment"] == "12345" and answer["environmentName"] == "O12345AA"
    # By name: Bakkerij Zuid before Demo Holding, whatever their numbers.
    assert answer["administrations"] == [
        {"number": 2, "name": "Bakkerij Zuid B.V."},
        {"number": 1, "name": "Demo Holding B.V."},
    ]
    assert listed.headers["Cache-Control"] == "no-store"

    found = journals(afas_services, reader, "2")
    assert found.status == 200, found.body
    assert [(j["code"], j["memorial"], j["blocked"]) for j in found.json()["journals"]] == [
        ("90", True, False),  # memoriaal first
        ("10", False, False),
        ("20", False, False),
        ("91", True, True),  # blocked last: AFAS refuses entries in it
    ]
    assert found.json()["administration"] == 2
    # One GetConnector call per list: nothing is read more than asked.
    assert afas_sandbox.count("Profit_Administrations") == 1
    assert afas_sandbox.count("Profit_Journals") == 1


def test_another_office_without_the_connection_gets_404(
    afas_services: Services, unique: Unique
) -> None:
    owner = unique("office")
    connect_profit(afas_services, owner)
    other = unique("office")
    for answer in (
        administrations(afas_services, admin_headers(other)),
        journals(afas_services, admin_headers(other), "1"),
    ):
        assert answer.status == 404, answer.body
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert "Er is geen koppeling met AFAS Profit-omgeving" in answer.json()["detail"]
        assert "Demo Holding" not in answer.body.decode()


def test_afas_down_answers_a_503_problem(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_profit(afas_services, office)
    afas_sandbox.inject(
        Fault(FaultKind.STATUS, "Profit_Administrations", method="GET", status=503, times=10)
    )
    afas_sandbox.inject(
        Fault(FaultKind.STATUS, "Profit_Journals", method="GET", status=503, times=10)
    )
    for answer in (
        administrations(afas_services, reader_headers(office)),
        journals(afas_services, reader_headers(office), "1"),
    ):
        assert answer.status == 503, answer.body
        problem = answer.json()
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert problem["detail"] and problem["hint"]


def test_bad_path_values_are_422_in_dutch(afas_services: Services, unique: Unique) -> None:
    office = unique("office")
    bad_env = administrations(afas_services, reader_headers(office), "O1")
    assert bad_env.status == 422 and bad_env.json()["errors"][0]["field"] == "environment"
    bad_admin = journals(afas_services, reader_headers(office), "0")
    assert bad_admin.status == 422
    assert bad_admin.json()["errors"][0]["field"] == "administration"
