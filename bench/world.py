"""Worlds for the benchmarks: a fresh Azurite, the Loket and AFAS sandboxes on scenarios of the
wanted size, an office connected to both (through the real consent and connection routes,
in-process) and clients configured. Sync jobs the planner sends are kept (``sent``) so a
benchmark decides who works them: an in-process worker, or the local host."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import base_env, fresh_azurite
from devtools.azurite import Azurite
from devtools.sandbox.afas import PROFIT_TOKEN, AfasSandbox, AfasScenario, start_afas_sandbox
from devtools.sandbox.afas import default_scenario as afas_default
from devtools.sandbox.loket import (
    LoketSandbox,
    Scenario,
    ScenarioAdministration,
    ScenarioEmployer,
    ScenarioLine,
    make_run,
    sandbox_id,
    start_loket_sandbox,
)
from shared.api.handlers import afas_connections
from shared.api.handlers import clients as client_routes
from shared.bootstrap import Services
from shared.settings import Settings
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers
from tests.support.loket_fixtures import connect_loket

COST_ACCOUNTS = [f"{4000 + n}" for n in range(20)]  # axes 1 (cost centre) and 2 (cost unit)
CREDIT_ACCOUNTS = [f"{1600 + n}" for n in range(10)]
COST_CENTRES = [f"KP{100 + n}" for n in range(20)]
COST_UNITS = [f"KD0{n}" for n in range(1, 6)]


class KeptServices(Services):
    """Services whose planner keeps the sync jobs instead of queueing them."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[str] = []

    def enqueue_sync_job(self, body: str) -> None:
        self.sent.append(body)


def payroll_lines(employees: int, components: int, seed: int = 7) -> list[ScenarioLine]:
    """``employees`` x ``components`` balanced lines: per employee (one cost centre, one cost
    unit) ``components - 5`` cost lines over the cost accounts and 5 credit lines (net pay,
    wage tax, pension, ...) that balance them to the cent."""
    rng = random.Random(seed)
    lines: list[ScenarioLine] = []
    for employee in range(employees):
        centre = COST_CENTRES[employee % len(COST_CENTRES)]
        unit = COST_UNITS[employee % len(COST_UNITS)]
        total = Decimal(0)
        for c in range(components - 5):
            amount = Decimal(rng.randint(1_000, 400_000)) / 100
            total += amount
            account = COST_ACCOUNTS[c % len(COST_ACCOUNTS)]
            lines.append(
                ScenarioLine(account, f"Kosten {account}", amount, Decimal(0),
                             (centre, f"Kostenplaats {centre}"), (unit, f"Kostendrager {unit}"))
            )  # fmt: skip
        shares = [Decimal("0.62"), Decimal("0.25"), Decimal("0.08"), Decimal("0.04")]
        credits = [(total * share).quantize(Decimal("0.01")) for share in shares]
        credits.append(total - sum(credits))
        for index, amount in enumerate(credits):
            account = CREDIT_ACCOUNTS[(employee + index) % len(CREDIT_ACCOUNTS)]
            lines.append(ScenarioLine(account, f"Te betalen {account}", Decimal(0), amount,
                                      component="Inhouding"))  # fmt: skip
    return lines


def payroll_chart(
    scenario: AfasScenario, administrations: range, *, allocation: bool = True
) -> AfasScenario:
    """The bench chart in Profit environment 12345: cost accounts on axes 1+2 with every
    cost centre and unit assigned (``allocation``), credit accounts without axes."""
    environment = scenario.profit["12345"]
    for account in COST_ACCOUNTS:
        environment.add_account(account, f"Kosten {account}", axes=(1, 2) if allocation else ())
    for account in CREDIT_ACCOUNTS:
        environment.add_account(account, f"Te betalen {account}")
    for number in administrations:
        administration = environment.administrations.get(number) or environment.add_administration(
            number, f"Administratie {number}"
        )
        if not allocation:
            continue
        for account in COST_ACCOUNTS:
            for code in COST_CENTRES:
                administration.assign(account, 1, code)
            for code in COST_UNITS:
                administration.assign(account, 2, code)
    return scenario


def loket_scenario(clients: int, lines_per_run: int, employees: int, runs: int = 0) -> Scenario:
    """``clients`` employers, each one monthly payroll administration with one ready run (or
    ``runs`` ready runs in all, spread evenly: periods 3, 2, 1, ... of 2025)."""
    scenario = Scenario()
    components = lines_per_run // employees
    lines = payroll_lines(employees, components)
    for n in range(clients):
        employer = ScenarioEmployer(sandbox_id("bench", "employer", n), f"Werkgever {n} B.V.",
                                    20_000 + n)  # fmt: skip
        admin_id = sandbox_id(employer.id, "administration")
        administration = ScenarioAdministration(admin_id, f"Loonadministratie {n}", 300_000 + n, 1)
        count = 1 if not runs else runs // clients + (1 if n < runs % clients else 0)
        for k in range(count):
            administration.runs.append(
                make_run(admin_id, k + 1, 4, 2025, 3 - k % 3, lines=list(lines))
            )
        employer.administrations.append(administration)
        scenario.employers.append(employer)
    return scenario


@dataclass
class BenchWorld:
    azurite: Azurite
    workdir: Path
    loket: LoketSandbox
    afas: AfasSandbox
    env: dict[str, str]
    services: KeptServices
    office: str
    client_ids: list[str] = field(default_factory=list)
    allocation: bool = True

    def mapping(self) -> dict[str, Any]:
        if not self.allocation:
            return {"costCenters": "drop", "costUnitAxis": None}
        return {"costCenters": "pass", "costCenterAxis": 1, "costUnitAxis": 2}


@contextmanager
def bench_world(*, clients: int, lines_per_run: int, employees: int, through_routes: int = 1,
                allocation: bool = True, runs: int = 0) -> Iterator[BenchWorld]:  # fmt: skip
    """``clients`` clients of one office, each booking into its own Profit administration
    (``runs``: ready journal runs in all, spread over the clients; default one each).
    The first ``through_routes`` clients are configured through the real PUT route (validated
    against Loket and AFAS), the rest straight through the client service's repository."""
    with fresh_azurite() as (azurite, workdir):
        loket = start_loket_sandbox(loket_scenario(clients, lines_per_run, employees, runs),
                                    max_page_size=250)  # fmt: skip
        afas = start_afas_sandbox(
            payroll_chart(afas_default(), range(1, clients + 1), allocation=allocation)
        )
        try:
            env = {**base_env(azurite.connection_string), **loket.env(), **afas.settings_env()}
            services = KeptServices(Settings.from_env(env))
            office = f"bench-{uuid.uuid4().hex[:8]}"
            connect_loket(services, office)
            answer = call(services, afas_connections.PROFIT_CONNECT, headers=admin_headers(office),
                          route={"environment": "O12345AA"},
                          body=json.dumps({"token": PROFIT_TOKEN, "active": True}).encode())  # fmt: skip
            assert answer.status == 201, answer.body
            world = BenchWorld(azurite, workdir, loket, afas, env, services, office,
                               allocation=allocation)  # fmt: skip
            administrations = list(loket.scenario.administrations())
            for n, administration in enumerate(administrations):
                client_id = f"c{n:05d}"
                body = {
                    "loketPayrollAdministrationId": administration.id,
                    "target": {"type": "afas-profit", "environment": "12345",
                               "administration": n + 1, "journal": "80"},
                    "mapping": world.mapping(),
                }  # fmt: skip
                if n < through_routes:
                    saved = call(services, client_routes.PUT_CLIENT, headers=admin_headers(office),
                                 route={"clientId": client_id}, body=json.dumps(body).encode())  # fmt: skip
                    assert saved.status == 201, saved.body
                    template = services.clients.get(office, client_id)
                    assert template is not None
                else:
                    copy_client(services, template, client_id, administration, n + 1)
                world.client_ids.append(client_id)
            yield world
        finally:
            afas.stop()
            loket.stop()


def copy_client(services: Services, template: Any, client_id: str,
                administration: ScenarioAdministration, unit: int) -> None:  # fmt: skip
    """A client like ``template`` for another Loket administration and Profit administration
    (stored through the repository: validating 2,000 clients one by one is not the benchmark)."""
    from dataclasses import replace

    config = replace(
        template,
        client_id=client_id,
        loket_administration_id=administration.id,
        loket_administration_name=administration.name,
        loket_client_number=administration.client_number,
        target=replace(template.target, administration=unit),
        etag="",
    )
    services.clients.save(config, by_user="bench", now=services.clock())
