"""`make demo`: the main job on embedded defaults.

Starts Azurite, the Loket sandbox (``default_scenario()``) and the local Functions host on free
loopback ports, checks health, connects Loket through the real consent route (authorize URL ->
sandbox consent -> callback), prints the payroll administrations the consent sees, and runs the
nightly sync through the host's admin endpoint: three clients (Profit with cost centres, SB,
and one that hits a blocked account), the runs overview and run detail as the manual shows them,
then a rerun that books nothing twice.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from devtools.azurite import ROOT, Azurite, free_port, start_azurite
from devtools.sandbox.afas import (
    PROFIT_NAME,
    PROFIT_TOKEN,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
    start_afas_sandbox,
)
from devtools.sandbox.loket import LoketSandbox, default_scenario, start_loket_sandbox
from shared.api.auth import ADMIN_ROLE, encode_principal

DEMO_KEY = base64.b64encode(b"loonbrug-demo-key-not-for-prod!!").decode()


VERBOSE = False  # --verbose: also the operator's detail (HTTP calls, ports, API call counts)
ZONE = ZoneInfo("Europe/Amsterdam")


def say(text: str = "") -> None:
    """What a payroll administrator reads: Dutch."""
    print(text, flush=True)


def detail(text: str) -> None:
    """Operator detail (HTTP, ports, sandboxes): only with --verbose."""
    if VERBOSE:
        print(f"  · {text}", flush=True)


PERIOD_TYPES = {"monthly": "maand", "four-weekly": "4 weken", "weekly": "week"}
LEVELS = {"error": "Fout", "warning": "Waarschuwing", "info": "Info"}
LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Host:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for_log(self, pattern: str, timeout: float = 30) -> str:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if regex.search(line):
                    return line
            time.sleep(0.1)
        raise TimeoutError(f"no log line /{pattern}/ within {timeout} s")


@contextmanager
def running_host(env: dict[str, str], workdir: Path, port: int | None = None) -> Iterator[Host]:
    port = port or free_port()
    log = workdir / "host.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.host",
                "--port",
                str(port),
                "--settings",
                os.devnull,
                "--no-timers",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    host = Host(process, port, log)
    try:
        started = time.perf_counter()
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the local host stopped:\n{log.read_text()}")
            try:
                if requests.get(f"{host.url}/api/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the local host did not become healthy within 60 s")
            time.sleep(0.1)
        detail(f"local host ready on {host.url} in {time.perf_counter() - started:.2f} s")
        yield host
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def demo_env(azurite: Azurite) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "LOONBRUG_ENVIRONMENT": "development",
        "TOKEN_ENCRYPTION_KEY": DEMO_KEY,
        "NIGHTLY_LOCAL_HOUR": "2",
    }


DEMO_OFFICE = "demo-office"


def connect_loket(host: Host, sandbox: LoketSandbox) -> None:
    """Connect Loket the way an admin does: the route, the browser at Loket, the callback."""
    admin = {
        "X-MS-CLIENT-PRINCIPAL": encode_principal(
            office_id=DEMO_OFFICE, user_id="demo-admin", name="Demo Beheerder", roles=(ADMIN_ROLE,)
        )
    }
    start = requests.post(f"{host.url}/api/connections/loket", headers=admin, timeout=10)
    start.raise_for_status()
    consent = requests.get(start.json()["authorizeUrl"], allow_redirects=False, timeout=10)
    callback = requests.get(consent.headers["Location"], allow_redirects=False, timeout=10)
    detail(
        f"POST /api/connections/loket -> {start.status_code}; Loket consent -> "
        f"{consent.status_code}; callback -> {callback.status_code} {callback.headers.get('Location')}"
    )
    if callback.status_code != 302:
        raise RuntimeError(f"connecting Loket failed: {callback.text}")
    connections = requests.get(f"{host.url}/api/connections", headers=admin, timeout=10).json()
    states = {"connected": "gekoppeld", "inactive": "inactief", "reauthorize": "opnieuw koppelen"}
    for connection in connections["connections"]:
        if connection["kind"] == "loket":
            say(f"  Loket.nl: {states.get(connection['state'], connection['state'])}")
    seen = requests.get(f"{host.url}/api/loket/payroll-administrations", headers=admin, timeout=30)
    seen.raise_for_status()
    detail(f"GET /api/loket/payroll-administrations -> {seen.status_code}")
    say("  Loonadministraties die de koppeling ziet:")
    for employer in sorted(seen.json()["employers"], key=lambda e: e["employerNumber"]):
        say(f"    {employer['name']} (werkgever {employer['employerNumber']})")
        for administration in sorted(
            employer["payrollAdministrations"], key=lambda a: a["clientNumber"] or 0
        ):
            period = PERIOD_TYPES.get(administration["periodType"], administration["periodType"])
            say(
                f"      - {administration['name']}: clientnummer {administration['clientNumber']}, "
                f"periode {period}"
            )
            detail(f"id {administration['id']}")
    calls = ", ".join(f"{route} {count}" for route, count in sorted(sandbox.calls.items()))
    detail(f"Loket sandbox calls: {calls}")


# -- AFAS: the sandbox, and the Profit connection added through the real PUT route -----------------

DEMO_OFFICE = "demo-office"


@contextmanager
def afas_sandbox() -> Iterator[AfasSandbox]:
    sandbox = start_afas_sandbox()  # default_scenario(): Profit O12345AA, SB "enyoi"
    detail(f"AFAS sandbox on {sandbox.url}")
    try:
        yield sandbox
    finally:
        sandbox.stop()


def connect_afas_profit(host: Host) -> None:
    principal = encode_principal(office_id=DEMO_OFFICE, user_id="demo-admin", roles=(ADMIN_ROLE,))
    answer = requests.put(
        f"{host.url}/api/connections/afas-profit/{PROFIT_NAME}",
        headers={"X-MS-CLIENT-PRINCIPAL": principal},
        json={"token": PROFIT_TOKEN, "active": True},
        timeout=30,
    )
    body = answer.json()
    detail(
        f"PUT /api/connections/afas-profit/{PROFIT_NAME} -> {answer.status_code} "
        f"{body.get('state') or body.get('detail')} (environment {body.get('environment')})"
    )
    if answer.status_code in (200, 201):
        say(f"  AFAS Profit {PROFIT_NAME}: gekoppeld (token gecontroleerd)")
    else:
        say(f"  AFAS Profit {PROFIT_NAME}: niet gekoppeld: {body.get('detail')}")


# -- the nightly, shown as the manual shows it ---------------------------------------------------

ADMIN = {
    "X-MS-CLIENT-PRINCIPAL": encode_principal(
        office_id=DEMO_OFFICE, user_id="demo-admin", name="Demo Beheerder", roles=(ADMIN_ROLE,)
    )
}
ACCOUNTS = {"4200": "4110", "1500": "1710", "1550": "1720"}  # Loket chart -> AFAS chart
COST_CENTRES = {  # Loket cost centres -> AFAS allocation codes (axis 1); no cost units in AFAS
    "costCenters": "map",
    "costCenterMap": {"KP100": "100", "KP200": "200", "KP300": "300"},
    "costUnitAxis": None,
}
CLIENTS = (
    # (client id, Loket administration, target, mapping)
    (
        "4711",
        "Korenschoof maandloners",
        {"type": "afas-profit", "environment": "O12345AA", "administration": 1, "journal": "80"},
        {
            "accounts": ACCOUNTS,
            "costCenters": "map",
            "costCenterMap": {"KP100": "100", "KP200": "200", "KP300": "300"},
            "costUnitAxis": None,
        },
    ),
    (
        "4712",
        "Korenschoof 4-wekers",
        {"type": "afas-sb", "environment": "enyoi", "administrationId": SB_ADMINISTRATION_ID},
        {"accounts": ACCOUNTS, "costCenters": "drop"},
    ),
    (
        "5120",
        "Van Dijk installatie",  # 4200 mapped onto the blocked account 4999: fails visibly
        {"type": "afas-profit", "environment": "O12345AA", "administration": 1, "journal": "80"},
        {**COST_CENTRES, "accounts": {**ACCOUNTS, "4200": "4999"}},
    ),
)


def connect_afas_sb(host: Host) -> None:
    start = requests.post(f"{host.url}/api/connections/afas-sb/enyoi", headers=ADMIN, timeout=10)
    start.raise_for_status()
    consent = requests.get(start.json()["authorizeUrl"], allow_redirects=False, timeout=10)
    callback = requests.get(consent.headers["Location"], allow_redirects=False, timeout=30)
    detail(
        f"POST /api/connections/afas-sb/enyoi -> {start.status_code}; AFAS SB consent -> "
        f"{consent.status_code}; callback -> {callback.status_code}"
    )
    if callback.status_code != 302:
        raise RuntimeError(f"connecting AFAS SB failed: {callback.text}")
    say("  AFAS SB enyoi: gekoppeld (toestemming gegeven)")


def create_clients(host: Host) -> None:
    administrations = requests.get(
        f"{host.url}/api/loket/payroll-administrations", headers=ADMIN, timeout=30
    ).json()
    ids = {
        a["name"]: a["id"]
        for e in administrations["employers"]
        for a in e["payrollAdministrations"]
    }
    for client_id, administration, target, mapping in CLIENTS:
        body = {
            "loketPayrollAdministrationId": ids[administration],
            "target": target,
            "mapping": mapping,
            "includeInSync": True,
        }
        answer = requests.put(
            f"{host.url}/api/clients/{client_id}", headers=ADMIN, json=body, timeout=30
        )
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"client {client_id}: {answer.text}")
        detail(f"PUT /api/clients/{client_id} -> {answer.status_code}")
        system = "AFAS Profit" if target["type"] == "afas-profit" else "AFAS SB"
        say(f"  Client {client_id}: {administration} -> {system} {target['environment']}")


def local(moment: str | None, with_time: bool = True) -> str:
    if not moment:
        return ""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(ZONE)
    return parsed.strftime("%d-%m-%Y %H:%M" if with_time else "%d-%m-%Y")


def day(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%d-%m-%Y") if value else ""


def table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    say("    " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    say("    " + "  ".join("-" * w for w in widths))
    for row in rows:
        say("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def wait_for_run(host: Host, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = requests.get(
            f"{host.url}/api/runs/{run_id}", headers=ADMIN, timeout=10
        ).json()
        if run.get("status") not in (None, "running"):
            return run
        time.sleep(0.3)
    raise TimeoutError(f"run {run_id} did not finish within {timeout} s")


def show_overview(host: Host) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = requests.get(
        f"{host.url}/api/runs", headers=ADMIN, timeout=10
    ).json()["runs"]
    say("  Runs overzicht (tijden in Nederlandse tijd, Europe/Amsterdam)")
    table(
        [
            "Type",
            "Clientnr.",
            "Loket.nl omgeving",
            "Aangemaakt",
            "Datum vanaf",
            "Datum tot",
            "Status",
        ],
        [
            [
                "Nachtelijk" if r["type"] == "nightly" else "Re-run",
                r["clientId"] or "alle",
                "Loket sandbox",
                local(r["createdAt"]),
                day(r["approvedFrom"]),
                day(r["approvedTo"]),
                r["statusText"],
            ]
            for r in runs
        ],
    )
    for r in runs:
        say(f"    {local(r['createdAt'])}: {counted(r)}")
    return runs


def counted(run: dict[str, Any]) -> str:
    """The run's loonruns in words: "(2/4)" in the status text means 2 of 4 imported, which
    reads as "2 of 4 errors" to someone who does not know."""
    parts = [f"{run['journalRunsImported']} van {run['journalRunsTotal']} loonruns geïmporteerd"]
    for key, word in (
        ("journalRunsFailed", "mislukt"),
        ("journalRunsAwaitingApproval", "wacht(en) op goedkeuring"),
        ("journalRunsRejected", "afgewezen"),
        ("journalRunsSkipped", "overgeslagen (testjaar, al geboekt of leeg; telt niet mee)"),
    ):
        if run.get(key):
            parts.append(f"{run[key]} {word}")
    return ", ".join(parts)


def show_detail(run: dict[str, Any]) -> None:
    say(
        f"  {'Nachtelijke run' if run['type'] == 'nightly' else 'Rerun'} van "
        f"{local(run['createdAt'])} (Nederlandse tijd): {run['statusText']}"
    )
    say(f"    {counted(run)}")
    detail(f"run id {run['runId']} (the id's time is UTC)")
    status = {"imported": "Geïmporteerd", "failed": "Mislukt", "skipped": "Overgeslagen"}
    say("  Loonruns")
    table(
        [
            "Clientnr",
            "Periode",
            "Volgnr.",
            "Verzonden (NL-tijd)",
            "AFAS omgeving",
            "Journaalpost",
            "Status",
        ],
        [
            [
                r["clientId"],
                r["payrollPeriod"].replace("-", " - "),
                str(r["sequenceNumber"]),
                local(r["sentAt"]),
                r["environment"],
                r["entryNumber"] or "",
                status.get(r["status"], r["status"]),
            ]
            for r in sorted(
                run["journalRuns"],
                key=lambda r: (r["clientId"], r["payrollPeriod"], r["sequenceNumber"]),
            )
        ],
    )
    say(f"  Meldingen ({len(run['messages'])})")
    # A stable order (the API answers in the order the jobs happened to finish): per client,
    # errors first, then by text.
    for m in sorted(
        run["messages"],
        key=lambda m: (m["clientId"] or "", LEVEL_ORDER.get(m["level"], 3), m["text"]),
    ):
        say(
            f"    {LEVELS.get(m['level'], m['level'])} (client {m['clientId'] or '-'}): {m['text']}"
        )
        if m["hint"]:
            say(f"        Tip: {m['hint']}")


def run_the_nightly(host: Host, loket: LoketSandbox, afas: AfasSandbox) -> None:
    answer = requests.post(
        f"{host.url}/admin/functions/nightly_sync", json={"input": ""}, timeout=10
    )
    detail(f"POST /admin/functions/nightly_sync -> {answer.status_code}")
    say("  De nachtelijke run start (in de demo nu, niet om 02:00 Nederlandse tijd) ...")
    host.wait_for_log(r"nightly tick planned")
    runs = requests.get(f"{host.url}/api/runs", headers=ADMIN, timeout=10).json()["runs"]
    nightly = wait_for_run(host, runs[0]["runId"])
    say()
    show_overview(host)
    say()
    show_detail(nightly)
    entries = afas.profit_entries()
    say()
    say(
        f"  In AFAS Profit staan nu {len(entries)} journaalpost(en): "
        + ", ".join(f"{e.entry_number} ({len(e.lines)} regels)" for e in entries)
        + f"; in AFAS SB {len(afas.sb_bookings())}."
    )
    say()
    started = requests.post(
        f"{host.url}/api/reruns",
        headers=ADMIN,
        timeout=30,
        json={"approvedFrom": "2024-01-01", "approvedTo": "2024-12-31"},
    )
    detail(f"POST /api/reruns 2024-01-01..2024-12-31 -> {started.status_code}")
    say("  Een rerun over heel 2024 (goedgekeurd van 01-01-2024 tot en met 31-12-2024):")
    rerun = wait_for_run(host, started.json()["runId"])
    show_detail(rerun)
    say()
    show_overview(host)
    say(
        f"  Na de rerun: {len(afas.profit_entries())} journaalpost(en) in AFAS Profit, "
        f"{len(afas.sb_bookings())} in AFAS SB: niets twee keer geboekt."
    )
    calls = sum(loket.calls.values())
    detail(f"API calls: Loket {calls}, AFAS {sum(afas.calls.values())}")


def show_portal(host: Host) -> None:
    """Print the portal's address; keep everything running while someone looks at it."""
    say()
    say(f"  Portaal: {host.url}/api/portal/")
    say(f"    Ontwikkel-aanmelding: kantoor {DEMO_OFFICE}, rol Beheerder (of Lezer)")
    if not (sys.stdin.isatty() or os.environ.get("LOONBRUG_DEMO_SERVE")):
        say(
            "    (de demo stopt nu; start haar in een terminal, of met LOONBRUG_DEMO_SERVE=1, "
            "om het portaal open te houden)"
        )
        return
    say("    Druk op Ctrl+C om de demo te stoppen.")
    try:
        while host.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        say()


def main(argv: list[str] | None = None) -> int:
    global VERBOSE
    parser = argparse.ArgumentParser(prog="make demo", description="Loonbrug demo")
    parser.add_argument(
        "--verbose", action="store_true", help="also the operator's detail (HTTP, ports, calls)"
    )
    VERBOSE = parser.parse_args(argv).verbose
    workdir = Path(tempfile.mkdtemp(prefix="loonbrug-demo-"))
    say("Loonbrug demo: drie clients, een nachtelijke run en een rerun (testomgeving)")
    detail("starting Azurite (in memory, free ports) ...")
    azurite = start_azurite(log_path=str(workdir / "azurite.log"))
    sandbox = start_loket_sandbox(default_scenario())
    detail(f"Loket sandbox on {sandbox.url}")
    try:
        port = free_port()
        env = {**demo_env(azurite), **sandbox.env(), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
        with (
            afas_sandbox() as afas,
            running_host({**env, **afas.settings_env()}, workdir, port) as host,
        ):
            health = requests.get(f"{host.url}/api/health", timeout=10)
            detail(f"GET /api/health -> {health.status_code} {json.dumps(health.json())}")
            say()
            say("Koppelingen")
            connect_loket(host, sandbox)
            connect_afas_profit(host)
            connect_afas_sb(host)
            say()
            say("Client configuraties")
            create_clients(host)
            say()
            run_the_nightly(host, sandbox, afas)
            show_portal(host)
        if VERBOSE:
            detail(f"logs (times in UTC): {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    finally:
        sandbox.stop()
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
