"""The portal's world for browser tests: its own Azurite, the Loket and AFAS sandboxes with the
portal scenario, and the local host whose PUBLIC_BASE_URL is its own URL (so OAuth callbacks come
back to it). Registered in tests/conftest.py.

The scenario (:func:`portal_loket_scenario`, :func:`portal_afas_scenario`) follows the manual:

* Loket: "Korenschoof maandloners" (klant 4711) with one ready journal run (April 2024) and
  "Van Dijk installatie" (klant 5120) with a ready run (May 2024) and a correction run for
  February 2024 that is not ready yet ("Staat klaar voor journaliseren") and has a travel
  allowance line on Loket account 4400.
* AFAS Profit O12345AA (``default_scenario()``): account 4999 is blocked; cost centres 100/200/300
  are assigned to 4000, 4100 and 4110.
* :data:`PORTAL_MAPPING` maps 4400 to the blocked 4999: the nightly books both clients, and a rerun
  of February (once the correction run is ready) fails with the blocked-account message and hint.

Every test signs in with its own office (``unique``), so one host serves the whole module.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from devtools.azurite import Azurite, free_port, start_azurite
from devtools.sandbox.afas import AfasSandbox, AfasScenario, add_cost_centres, start_afas_sandbox
from devtools.sandbox.afas import default_scenario as afas_default_scenario
from devtools.sandbox.loket import (
    LoketSandbox,
    Scenario,
    ScenarioAdministration,
    ScenarioEmployer,
    ScenarioLine,
    balanced_lines,
    make_run,
    sandbox_id,
    start_loket_sandbox,
)
from tests.conftest import base_env
from tests.support.localhost import LocalHostProcess, start_local_host

KORENSCHOOF = sandbox_id("employer", 1001)
KORENSCHOOF_MONTHLY = sandbox_id(KORENSCHOOF, "administration", "maand")
VAN_DIJK = sandbox_id("employer", 1002)
VAN_DIJK_MONTHLY = sandbox_id(VAN_DIJK, "administration", "maand")
CORRECTION_RUN = sandbox_id(VAN_DIJK_MONTHLY, "run", 1)

# Loket ledger account -> AFAS account; 4400 (travel allowance) lands on the blocked 4999.
PORTAL_MAPPING = {
    "4000": "4000",
    "4100": "4100",
    "4200": "4110",
    "1500": "1710",
    "1550": "1720",
    "1600": "1600",
    "4400": "4999",
}
PORTAL_COST_CENTRES = {"KP100": "100", "KP200": "200", "KP300": "300"}


def portal_loket_scenario() -> Scenario:
    rng = random.Random(9)
    correction = [
        *balanced_lines(rng, 4),
        ScenarioLine("4400", "Reiskostenvergoeding", Decimal("120.00"), Decimal("0")),
        ScenarioLine("1600", "Te betalen netto lonen", Decimal("0"), Decimal("120.00")),
    ]
    return Scenario(
        employers=[
            ScenarioEmployer(
                KORENSCHOOF,
                "Bakkerij De Korenschoof B.V.",
                1001,
                [
                    ScenarioAdministration(
                        KORENSCHOOF_MONTHLY,
                        "Korenschoof maandloners",
                        4711,
                        1,
                        [
                            make_run(
                                KORENSCHOOF_MONTHLY, 1, 4, 2024, 4, lines=balanced_lines(rng, 6)
                            )
                        ],
                    )
                ],
            ),
            ScenarioEmployer(
                VAN_DIJK,
                "Installatiebedrijf Van Dijk B.V.",
                1002,
                [
                    ScenarioAdministration(
                        VAN_DIJK_MONTHLY,
                        "Van Dijk installatie",
                        5120,
                        1,
                        [
                            make_run(VAN_DIJK_MONTHLY, 1, 0, 2024, 2, lines=correction),
                            make_run(VAN_DIJK_MONTHLY, 2, 4, 2024, 5, lines=balanced_lines(rng, 6)),
                        ],
                    )
                ],
            ),
        ]
    )


def portal_afas_scenario() -> AfasScenario:
    scenario = afas_default_scenario()
    add_cost_centres(scenario.profit["12345"].administrations[1], ("4110",))
    return scenario


@dataclass
class PortalWorld:
    host: LocalHostProcess
    loket: LoketSandbox
    afas: AfasSandbox
    azurite: Azurite
    env: dict[str, str]

    @property
    def portal(self) -> str:
        return self.host.url("/api/portal/")


@pytest.fixture(scope="module")
def portal_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalWorld]:
    workdir: Path = tmp_path_factory.mktemp("portal")
    # Its own Azurite: the nightly walks every office, and the queue is shared by name.
    azurite = start_azurite(log_path=str(workdir / "azurite.log"))
    loket = start_loket_sandbox(portal_loket_scenario())
    afas = start_afas_sandbox(portal_afas_scenario())
    port = free_port()
    env = base_env(
        azurite.connection_string,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        **loket.env(),
        **afas.settings_env(),
    )
    host = start_local_host(env, workdir, args=("--no-timers",), port=port)
    try:
        yield PortalWorld(host, loket, afas, azurite, env)
    finally:
        host.stop()
        afas.stop()
        loket.stop()
        azurite.stop()
