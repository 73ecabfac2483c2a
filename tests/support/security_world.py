"""Offices with real data for the security tests: in-process, on the session Azurite, with the
Loket and AFAS sandboxes. One office = Loket, AFAS SB and AFAS Profit connected through the real
flows, one client configured through the real route, one run with a journal-run row and a message.

The request that each operation of the catalog gets is built here from its parameter names and
body model (:func:`request_for`); a new route whose parameters or body this module does not know
fails loudly, so the matrix covers it before it ships.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from devtools.azurite import Azurite
from devtools.sandbox.afas import PROFIT_TOKEN, AfasSandbox, start_afas_sandbox
from devtools.sandbox.loket import LoketSandbox, start_loket_sandbox
from shared.api import catalog
from shared.api.handlers import afas_connections, clients
from shared.api.http import ApiResponse
from shared.api.operations import Operation
from shared.api.schemas import ClientIn
from shared.bootstrap import Services
from shared.clock import Clock, utc_now
from shared.settings import Settings
from shared.sync import entrypoints
from tests.conftest import base_env
from tests.support.afas_fixtures import call, connect_sb
from tests.support.api import admin_headers
from tests.support.loket_fixtures import connect_loket
from tests.support.sync_world import PROFIT_MAPPING

MONTHLY = "Korenschoof maandloners"


class CapturingServices(Services):
    """The app's Services, except that sync jobs are kept here instead of being queued: the
    session Azurite's queue is consumed by other tests' local hosts."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        super().__init__(settings, clock=clock)
        self.sent: list[str] = []

    def enqueue_sync_job(self, body: str) -> None:
        self.sent.append(body)


@dataclass
class Office:
    id: str
    client_id: str
    run_id: str
    loket_journal_run_id: str
    approval_id: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        """Values that only this office's data contains (a leak shows one of them)."""
        return (self.id, self.client_id, self.run_id)


@dataclass
class SecurityWorld:
    azurite: Azurite
    loket: LoketSandbox
    afas: AfasSandbox
    env: dict[str, str]
    services: CapturingServices
    offices: list[Office] = field(default_factory=list)

    def services_with(self, **env: str) -> CapturingServices:
        return CapturingServices(Settings.from_env({**self.env, **env}))

    def administration_id(self, name: str = MONTHLY) -> str:
        return next(a.id for a in self.loket.scenario.administrations() if a.name == name)

    def ready_journal_run(self, name: str = MONTHLY) -> str:
        administration = next(a for a in self.loket.scenario.administrations() if a.name == name)
        return next(r.id for r in administration.runs if r.status == 4 and r.lines)

    def client_body(self) -> dict[str, Any]:
        return {
            "loketPayrollAdministrationId": self.administration_id(),
            "target": {
                "type": "afas-profit",
                "environment": "12345",
                "administration": 1,
                "journal": "80",
            },
            "mapping": PROFIT_MAPPING,
        }

    def own_journal_run(self) -> tuple[str, date]:
        """A ready journal run of its own for a new office (a copy of the monthly ready run
        with fresh ids), approved on a day no other office's run is: the office's rerun of that
        day prepares only this run, and its booking-ledger row is its own."""
        administration = next(a for a in self.loket.scenario.administrations() if a.name == MONTHLY)
        template = next(r for r in administration.runs if r.status == 4 and r.lines)
        approved = date(2025, 1, 1) + timedelta(days=len(self.offices) + 1)
        run = replace(
            template,
            id=str(uuid.uuid4()),
            payroll_run_id=str(uuid.uuid4()),
            approval_time=datetime.combine(approved, time(10, 0)),
            lines=list(template.lines),
        )
        self.loket.add_run(administration.id, run)
        return run.id, approved

    def new_office(self, tag: str) -> Office:
        """A fully connected office with one review-mode client and one real rerun that
        prepared a journal run of its own: a journal-run row, messages, the audit copy and an
        approval awaiting a decision (about 0.4 s)."""
        services = self.services
        journal_run_id, approved = self.own_journal_run()
        office = Office(
            id=f"sec-{tag}-{uuid.uuid4().hex[:8]}",
            client_id=f"cl-{tag}-{uuid.uuid4().hex[:6]}",
            run_id="",
            loket_journal_run_id=journal_run_id,
        )
        connect_loket(services, office.id)
        connect_sb(services, office.id)
        profit = call(
            services,
            afas_connections.PROFIT_CONNECT,
            headers=admin_headers(office.id),
            route={"environment": "O12345AA"},
            body=json.dumps({"token": PROFIT_TOKEN, "active": True}).encode(),
        )
        assert profit.status == 201, profit.body
        client = call(
            services,
            clients.PUT_CLIENT,
            headers=admin_headers(office.id),
            route={"clientId": office.client_id},
            body=json.dumps({**self.client_body(), "mode": "review"}).encode(),
        )
        assert client.status == 201, client.body
        run = services.planner.rerun(
            office.id,
            approved_from=approved,
            approved_to=approved,
            client=services.clients.get(office.id, office.client_id),
            user="Test Beheerder",
        )
        office.run_id = run.run_id
        (body,) = [b for b in services.sent if run.run_id in b and office.id in b]
        entrypoints.process_job_message(services, body.encode(), dequeue_count=1)
        (pending,) = [
            p
            for p in services.approvals.pending(office.id)
            if p.prepared.loket_journal_run_id == journal_run_id
        ]
        office.approval_id = pending.approval_id
        self.offices.append(office)
        return office

    # -- what an office owns, as stored -----------------------------------------------------
    def snapshot(self, office_id: str) -> dict[tuple[str, str, str], str]:
        """(table, PartitionKey, RowKey) -> ETag of every row that belongs to ``office_id``.
        Any write (create, change, delete) to the office's data changes this map."""
        storage = self.services.storage
        rows: dict[tuple[str, str, str], str] = {}
        queries = {
            "Connections": ("PartitionKey eq @o", {"o": office_id}),
            "Clients": ("PartitionKey eq @o", {"o": office_id}),
            "Runs": ("PartitionKey eq @o", {"o": office_id}),
            "RunDetails": (
                "PartitionKey gt @lo and PartitionKey lt @hi",
                {"lo": f"{office_id}|", "hi": f"{office_id}}}"},
            ),
            "Bookings": ("office_id eq @o", {"o": office_id}),
            "OAuthStates": ("office_id eq @o", {"o": office_id}),
            "Approvals": ("PartitionKey eq @o", {"o": office_id}),
            "AuditDocuments": (
                "PartitionKey gt @lo and PartitionKey lt @hi",
                {"lo": f"{office_id}|", "hi": f"{office_id}}}"},
            ),
            "Notifications": ("PartitionKey eq @o", {"o": office_id}),
            "Offices": ("RowKey eq @o", {"o": office_id}),
        }
        for table, (query, params) in queries.items():
            for entity in storage.table(table).query_entities(query, parameters=params):
                rows[(table, entity["PartitionKey"], entity["RowKey"])] = str(
                    entity.metadata["etag"]
                )
        # The audit copy's blobs are their own index since issue 18 (no AuditDocuments row).
        from azure.core.exceptions import ResourceNotFoundError

        container = storage.blob_service().get_container_client("audit")
        try:
            for blob in container.list_blobs(name_starts_with=f"{office_id}/"):
                rows[("audit", blob.name, "")] = str(blob.etag)
        except ResourceNotFoundError:
            pass  # nothing kept yet
        return rows


@contextmanager
def security_world(azurite: Azurite) -> Iterator[SecurityWorld]:
    loket = start_loket_sandbox()
    afas = start_afas_sandbox()
    try:
        env = {**base_env(azurite.connection_string), **loket.env(), **afas.settings_env()}
        services = CapturingServices(Settings.from_env(env))
        yield SecurityWorld(azurite, loket, afas, env, services)
    finally:
        afas.stop()
        loket.stop()


# -- one request per operation, from the catalog --------------------------------------------


@dataclass(frozen=True)
class RequestSpec:
    route: dict[str, str]
    query: dict[str, str]
    body: bytes


def _route_value(op: Operation, name: str, office: Office) -> str:
    if name == "clientId":
        return office.client_id
    if name == "runId":
        return office.run_id
    if name == "loketJournalRunId":
        return office.loket_journal_run_id
    if name == "approvalId":
        return office.approval_id
    if name == "name":
        return "entry.json"  # a document of the audit copy
    if name == "path":
        return "index.html"  # the portal's page
    if name == "environment":
        return "enyoi" if "afas-sb" in op.route else "O12345AA"
    if name == "administration":
        return "1"  # the Profit administration of the sandbox's O12345AA
    raise LookupError(
        f"route parameter {{{name}}} of {op.name} is new: teach "
        "tests/support/security_world.py::_route_value which id of the office it takes"
    )


def _body(op: Operation, world: SecurityWorld, office: Office) -> dict[str, Any]:
    from shared.api.handlers.approvals import RejectIn
    from shared.api.handlers.clients import PreviewIn
    from shared.api.handlers.notifications import NotificationsIn
    from shared.api.handlers.runs import RerunIn

    model = op.body
    if model is ClientIn:
        return world.client_body()
    if model is afas_connections.ProfitConnectionBody:
        return {"token": PROFIT_TOKEN, "active": True}
    if model is afas_connections.SbConnectBody:
        # enyoi lives on the default API server (the start checks that the server knows it)
        return {"apiServer": f"{world.afas.sb_server_url('')}/enyoi/"}
    if model is RerunIn:
        today = date.today()
        return {
            "approvedFrom": (today - timedelta(days=30)).isoformat(),
            "approvedTo": today.isoformat(),
            "clientId": office.client_id,
        }
    if model is PreviewIn:
        return {"loketJournalRunId": office.loket_journal_run_id}
    if model is RejectIn:
        return {"reason": "Bedragen kloppen niet", "markFailedInLoket": False}
    if model is NotificationsIn:
        return {
            "recipients": ["salaris@example.nl"],
            "morningSummary": True,
            "reauthorization": True,
            "journalRunFailed": False,
        }
    raise LookupError(
        f"the body {model.__name__ if model else None} of {op.name} is new: add a valid example "
        "to tests/support/security_world.py::_body"
    )


def request_for(op: Operation, world: SecurityWorld, office: Office) -> RequestSpec:
    """A request that the office's admin may make and that succeeds for them."""
    import re

    names = re.findall(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)", op.route)
    route = {name: _route_value(op, name, office) for name in names}
    query: dict[str, str] = {}
    for param in op.query:
        if param.name == "state":
            query["state"] = "forged-" + uuid.uuid4().hex  # public callbacks: never accepted
        elif param.name == "code":
            query["code"] = "code-" + uuid.uuid4().hex
        elif param.name == "afasBaseUrl":  # the App Center landing page
            query["afasBaseUrl"] = f"{world.afas.sb_server_url()}/enyoi/"
    body = json.dumps(_body(op, world, office)).encode() if op.body is not None else b""
    return RequestSpec(route, query, body)


def run(
    world: SecurityWorld,
    op: Operation,
    spec: RequestSpec,
    headers: dict[str, str],
    services: Services | None = None,
) -> ApiResponse:
    return call(
        services or world.services,
        op,
        headers=headers,
        route=spec.route,
        query=spec.query,
        body=spec.body,
    )


OPERATIONS: tuple[Operation, ...] = catalog.OPERATIONS
