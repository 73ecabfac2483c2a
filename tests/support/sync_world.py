"""A complete little world for end-to-end sync tests: a fresh Azurite, the Loket and AFAS
sandboxes, the local host subprocess, one office connected to all three systems."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from devtools.azurite import ROOT, Azurite, free_port, start_azurite
from devtools.sandbox.afas import (
    PROFIT_TOKEN,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
    start_afas_sandbox,
)
from devtools.sandbox.afas import default_scenario as afas_scenario
from devtools.sandbox.loket import LoketSandbox, Scenario, ScenarioRun, start_loket_sandbox
from devtools.sandbox.loket import default_scenario as loket_scenario
from shared.bootstrap import Services
from shared.settings import Settings
from tests.conftest import base_env
from tests.support.afas_fixtures import connect_sb
from tests.support.api import admin_headers
from tests.support.localhost import LocalHostProcess, start_local_host, wait_until
from tests.support.loket_fixtures import connect_loket

# A faster host.json for tests: the same semantics, a one-second retry delay.
FAST_QUEUES = {
    "batchSize": 4,
    "newBatchThreshold": 2,
    "maxDequeueCount": 5,
    "visibilityTimeout": "00:00:01",
    "maxPollingInterval": "00:00:01",
    "messageEncoding": "base64",
}

# The default Loket scenario's accounts and cost centres, mapped onto the AFAS sandbox chart.
ACCOUNTS: dict[str, str] = {"4200": "4110", "1500": "1710", "1550": "1720"}
PROFIT_MAPPING: dict[str, Any] = {
    "accounts": ACCOUNTS,
    "costCenters": "map",
    "costCenterMap": {"KP100": "100", "KP200": "200", "KP300": "300"},
    "costUnitAxis": None,
}
SB_MAPPING: dict[str, Any] = {"accounts": ACCOUNTS, "costCenters": "drop"}


@dataclass
class World:
    azurite: Azurite
    loket: LoketSandbox
    afas: AfasSandbox
    host: LocalHostProcess
    services: Services
    office: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        return admin_headers(self.office)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, self.host.url(path), headers=self.admin, timeout=30, **kwargs
        )

    def administration(self, name: str) -> str:
        return next(a.id for a in self.loket.scenario.administrations() if a.name == name)

    def runs_of(self, name: str) -> list[ScenarioRun]:
        return next(a.runs for a in self.loket.scenario.administrations() if a.name == name)

    def put_client(
        self,
        client_id: str,
        administration: str,
        target: dict[str, Any],
        mapping: dict[str, Any] | None = None,
        **extra: Any,
    ) -> requests.Response:
        body = {
            "loketPayrollAdministrationId": self.administration(administration),
            "target": target,
            "mapping": mapping or {},
            **extra,
        }
        return self.api("PUT", f"/api/clients/{client_id}", json=body)

    def profit_client(
        self,
        client_id: str,
        administration: str,
        mapping: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        target = {
            "type": "afas-profit",
            "environment": "12345",
            "administration": 1,
            "journal": "80",
        }
        answer = self.put_client(
            client_id,
            administration,
            target,
            PROFIT_MAPPING if mapping is None else mapping,
            **extra,
        )
        assert answer.status_code in (200, 201), answer.text

    def sb_client(self, client_id: str, administration: str) -> None:
        target = {
            "type": "afas-sb",
            "environment": "enyoi",
            "administrationId": SB_ADMINISTRATION_ID,
        }
        answer = self.put_client(client_id, administration, target, SB_MAPPING)
        assert answer.status_code in (200, 201), answer.text

    def nightly(self) -> None:
        assert self.host.run_function("nightly_sync").status_code == 202

    def wait_for_run(self, run_id: str, *, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            answer = self.api("GET", f"/api/runs/{run_id}")
            if answer.status_code != 200:
                return None
            body: dict[str, Any] = answer.json()
            return body if body["status"] != "running" else None

        return dict(
            wait_until(finished, timeout=timeout, interval=0.2, what=f"run {run_id} to finish")
        )

    def latest_run(self, timeout: float = 30) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            runs = self.api("GET", "/api/runs").json()["runs"]
            return runs[0] if runs else None

        return dict(wait_until(found, timeout=timeout, interval=0.2, what="a run"))

    def profit_vouchers(self) -> list[str]:
        return [v for e in self.afas.profit_entries() for v in e.voucher_numbers]

    def loket_status(self, run_id: str) -> int:
        return next(r.status for _, r in self.loket.scenario.runs() if r.id == run_id)


def loket_totals(run: ScenarioRun, mapping: dict[str, str]) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = {}
    for line in run.lines:
        account = mapping.get(line.account, line.account)
        for side, amount in (("D", line.debit), ("C", line.credit)):
            if amount:
                totals[(account, side)] = totals.get((account, side), Decimal(0)) + amount
    return totals


@contextmanager
def sync_world(
    tmp: Path,
    *,
    loket: Scenario | None = None,
    host_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Iterator[World]:
    azurite = start_azurite(log_path=str(tmp / "azurite.log"))
    loket_sandbox = start_loket_sandbox(loket or loket_scenario())
    afas = start_afas_sandbox(afas_scenario())
    host = None
    world: World | None = None
    try:
        port = free_port()
        env = {
            **base_env(azurite.connection_string),
            **loket_sandbox.env(),
            **afas.settings_env(),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            **(extra_env or {}),
        }
        services = Services(Settings.from_env(env))
        office = f"office-{uuid.uuid4().hex[:8]}"
        connect_loket(services, office)
        connect_sb(services, office)
        host_json = json.loads((ROOT / "host.json").read_text())
        host_json["extensions"]["queues"] = FAST_QUEUES
        (tmp / "host.json").write_text(json.dumps(host_json))
        host = start_local_host(
            env,
            tmp,
            port=port,
            args=("--no-timers", "--host-json", str(tmp / "host.json"), *host_args),
        )
        world = World(azurite, loket_sandbox, afas, host, services, office, tmp, env)
        answer = world.api(
            "PUT",
            "/api/connections/afas-profit/O12345AA",
            json={"token": PROFIT_TOKEN, "active": True},
        )
        assert answer.status_code in (200, 201), answer.text
        yield world
    finally:
        if host is not None:
            host.stop()
        if world is not None and world.host is not host:
            world.host.stop()  # a test restarted the host (e.g. after killing it)
        afas.stop()
        loket_sandbox.stop()
        azurite.stop()
