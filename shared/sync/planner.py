"""Planning runs: the nightly (per office, per business date) and reruns (a window, one or all clients).

A run is planned in steps that can each be repeated: job rows (one per client, with the per-client
index), then the run row with its total, then one queue message per job not yet enqueued, then
``planned``. A crash anywhere is finished by the next tick (the nightly's run id is deterministic:
``nightly-{business date}``), never doubled: existing rows stay, and a message that went out twice
is harmless because the worker is idempotent.

Timers on Flex Consumption fire in UTC. ``nightly_sync`` fires hourly; the business date whose
nightly may start is the Europe/Amsterdam date once the local hour has reached
``NIGHTLY_LOCAL_HOUR`` (else the day before, which catches up a missed night).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.clients.model import ClientConfig
from shared.clock import to_amsterdam
from shared.runs.model import RunType
from shared.store.clients import ClientRepository
from shared.store.connections import (
    ConnectionKey,
    ConnectionKind,
    ConnectionRepository,
    ConnectionState,
)
from shared.store.run_details import Level, RunDetailRepository, RunMessage
from shared.store.runs import Job, NewRun, Run, RunRepository
from shared.sync.messages import SyncJob

log = logging.getLogger("loonbrug.sync")

ENQUEUE_THREADS = 8
ENQUEUE_CHUNK = 100  # one table transaction marks a chunk enqueued


def nightly_business_date(now: datetime, local_hour: int) -> date:
    """The business date whose nightly may run at ``now``."""
    local = to_amsterdam(now)
    return local.date() if local.hour >= local_hour else local.date() - timedelta(days=1)


def nightly_run_id(business: date) -> str:
    return f"nightly-{business.isoformat()}"


def rerun_id(now: datetime) -> str:
    return f"rerun-{now:%Y%m%dT%H%M%S%f}"[:-3] + f"-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Planner:
    runs: RunRepository
    details: RunDetailRepository
    clients: ClientRepository
    connections: ConnectionRepository
    send: Callable[[str], None]  # enqueue one message body on the sync queue
    clock: Callable[[], datetime]

    # -- nightly --------------------------------------------------------------------------
    def nightly(self, *, local_hour: int) -> list[Run]:
        """One tick: plan (or finish planning) today's nightly for every office."""
        now = self.clock()
        business = nightly_business_date(now, local_hour)
        planned = []
        for office_id in self.connections.offices():
            try:
                run = self.nightly_for_office(office_id, business, now)
            except Exception:
                log.exception("nightly planning failed for office %s", office_id)
                continue
            if run is not None:
                planned.append(run)
        return planned

    def nightly_for_office(self, office_id: str, business: date, now: datetime) -> Run | None:
        run_id = nightly_run_id(business)
        existing = self.runs.get(office_id, run_id)
        if existing is not None and existing.planned:
            return existing  # a second tick of the same date does nothing
        included = [c for c in self.clients.for_office(office_id) if c.include_in_sync]
        if not included and existing is None:
            return None  # nothing configured: no run, no noise
        new = NewRun(office_id, run_id, RunType.NIGHTLY, now, business_date=business)
        return self._plan(new, included)

    # -- reruns ---------------------------------------------------------------------------
    def rerun(
        self,
        office_id: str,
        *,
        approved_from: date,
        approved_to: date,
        client: ClientConfig | None,
        user: str,
    ) -> Run:
        now = self.clock()
        clients = (
            [client]
            if client
            else [c for c in self.clients.for_office(office_id) if c.include_in_sync]
        )
        new = NewRun(
            office_id,
            rerun_id(now),
            RunType.RERUN,
            now,
            created_by=user,
            client_id=client.client_id if client else None,
            approved_from=approved_from,
            approved_to=approved_to,
        )
        return self._plan(new, clients)

    # -- the shared steps -----------------------------------------------------------------
    def _plan(self, new: NewRun, candidates: list[ClientConfig]) -> Run:
        office = new.office_id
        run = self.runs.get(office, new.run_id)
        loket_problem = self.loket_problem(office)
        if run is None:
            eligible: list[ClientConfig] = []
            skipped: list[tuple[ClientConfig, str, str]] = []
            if loket_problem is None:
                for client in candidates:
                    problem = self.target_problem(client)
                    if problem is None:
                        eligible.append(client)
                    else:
                        skipped.append((client, *problem))
            self.runs.add_jobs(new, [c.client_id for c in eligible])
            total = len(self.runs.jobs(office, new.run_id))
            run = self.runs.create(new, jobs_total=total) or self.runs.get(office, new.run_id)
            assert run is not None
            for client, text, hint in skipped:
                self._message(
                    new,
                    text,
                    hint,
                    client_id=client.client_id,
                    key=f"skipped-{client.client_id}",
                    level=Level.WARNING,
                )
            if loket_problem is not None:
                self._message(new, *loket_problem, key="loket-connection", level=Level.ERROR)
                if total == 0:
                    self.runs.fail_without_jobs(run)
                    return self.runs.get(office, new.run_id) or run
        if run.planned:
            return run
        pending = [
            j
            for j in self.runs.jobs(office, new.run_id)
            if not j.enqueued and not j.status.finished
        ]
        self._enqueue(pending)
        planned = self.runs.mark_planned(self.runs.get(office, new.run_id) or run)
        log.info(
            "planned %s run %s for office %s: %d jobs (%d enqueued now)",
            new.type.value,
            new.run_id,
            office,
            planned.jobs_total,
            len(pending),
            extra={"officeId": office, "runId": new.run_id},
        )
        return planned

    def _enqueue(self, jobs: list[Job]) -> None:
        """Send in chunks and mark each chunk enqueued, so a crash re-sends at most one chunk."""
        if not jobs:
            return
        with ThreadPoolExecutor(max_workers=ENQUEUE_THREADS) as pool:
            for start in range(0, len(jobs), ENQUEUE_CHUNK):
                chunk = jobs[start : start + ENQUEUE_CHUNK]
                bodies = [SyncJob(j.office_id, j.run_id, j.client_id).to_json() for j in chunk]
                list(pool.map(self.send, bodies))
                self.runs.mark_enqueued(chunk)

    def loket_problem(self, office_id: str) -> tuple[str, str] | None:
        connection = self.connections.get(ConnectionKey(office_id, ConnectionKind.LOKET))
        if connection is None:
            return (
                "Er is geen Loket-koppeling: er kon niets worden opgehaald.",
                "Koppel Loket via Koppelingen › Loket koppeling toevoegen.",
            )
        if connection.state is ConnectionState.REAUTHORIZE:
            return (
                "De Loket-koppeling vraagt opnieuw toestemming; deze run is niet uitgevoerd. "
                + (connection.reason or ""),
                "Koppel opnieuw via Koppelingen › Loket › Opnieuw verbinden, met de speciale "
                "Loket-gebruiker van de koppeling.",
            )
        return None

    def target_problem(self, client: ClientConfig) -> tuple[str, str] | None:
        key = client.target.connection(client.office_id)
        connection = self.connections.get(key)
        name = "AFAS Profit" if key.kind is ConnectionKind.AFAS_PROFIT else "AFAS SB"
        if connection is None:
            return (
                f"Client {client.client_id} is overgeslagen: er is geen {name}-koppeling voor "
                f"omgeving {key.environment}.",
                f"Voeg de {name}-koppeling toe via Koppelingen.",
            )
        if connection.state is ConnectionState.INACTIVE:
            return (
                f"Client {client.client_id} is overgeslagen: de {name}-koppeling {key.environment} "
                "staat op inactief.",
                "Zet de koppeling op actief als de journaalposten weer geboekt mogen worden.",
            )
        if connection.state is ConnectionState.REAUTHORIZE:
            return (
                f"Client {client.client_id} is overgeslagen: de {name}-koppeling {key.environment} "
                "vraagt opnieuw toestemming.",
                "Koppel opnieuw via Koppelingen.",
            )
        return None

    def _message(
        self,
        new: NewRun,
        text: str,
        hint: str,
        *,
        key: str,
        level: Level,
        client_id: str | None = None,
    ) -> None:
        self.details.message(
            new.office_id,
            new.run_id,
            RunMessage(
                at=self.clock(), level=level, text=text, hint=hint, client_id=client_id, code=key
            ),
            key=key,
        )
