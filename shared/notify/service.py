"""Who gets which e-mail, once per event.

* **Morning summary**: when the worker sees an office's nightly leave ``running``
  (:meth:`Notifier.nightly_finished`), and again from the hourly tick (:meth:`Notifier.sweep`)
  for nightlies of the last 36 hours that finished without one (the moment was missed: a crash,
  the mail service down).
* **Re-authorisation needed**: when the worker meets a refused consent, and from the sweep: one
  e-mail per connection per time it fell into "opnieuw verbinden".
* **Journal run failed**: when the worker (or an approval) records a failed journal run.

Claims and the crash window: shared/store/notifications.py. A notification never fails the
caller: every error is logged (without secrets) and swallowed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from shared.journal.models import JournalRun
from shared.notify.mailer import Email, Mailer, SendFailed
from shared.notify.texts import (
    ClientCounts,
    Mail,
    journal_run_failed,
    nightly_summary,
    reauthorization,
)
from shared.runs.model import JobStatus, RunStatus, RunType
from shared.runs.texts import run_status_text
from shared.store.clients import ClientRepository
from shared.store.connections import ConnectionKind, ConnectionRepository
from shared.store.notifications import NotificationRepository
from shared.store.run_details import JournalRunOutcome, RunDetailRepository
from shared.store.runs import Run, RunRepository

log = logging.getLogger("loonbrug.notify")

SWEEP_WINDOW = timedelta(hours=36)
SYSTEM_NAMES = {
    ConnectionKind.LOKET: "Loket.nl",
    ConnectionKind.AFAS_PROFIT: "AFAS Profit",
    ConnectionKind.AFAS_SB: "AFAS SB",
}


def message_id(office_id: str, key: str, sender: str) -> str:
    """Deterministic per event, so a second send of the same event is recognisably the same."""
    digest = hashlib.sha256(f"{office_id}|{key}".encode()).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "loonbrug.local"
    return f"<{digest}@{domain}>"


@dataclass
class Notifier:
    notifications: NotificationRepository
    runs: RunRepository
    details: RunDetailRepository
    clients: ClientRepository
    connections: ConnectionRepository
    mailer: Mailer | None
    portal: str  # the portal page that the e-mails link into (Settings.portal_page_url)
    sender: str
    clock: Callable[[], datetime]

    # -- events -----------------------------------------------------------------------------
    def nightly_finished(self, run: Run) -> None:
        self._safely("summary", lambda: self._summary(run))

    def journal_run_failed(
        self, office_id: str, run_id: str, client_id: str, journal_run: JournalRun, reason: str
    ) -> None:
        def send() -> None:
            config = self.clients.get(office_id, client_id)
            name = (config.name or config.loket_administration_name) if config else ""
            mail = journal_run_failed(
                client_id=client_id,
                client_name=name,
                period=journal_run.period.label,
                sequence_number=journal_run.sequence_number,
                reason=reason or "zie de meldingen in de run.",
                run_id=run_id,
                portal=self.portal,
            )
            self._send(office_id, f"failed|{run_id}|{client_id}|{journal_run.id}", "failed", mail)

        self._safely("failed", send)

    def reconciliation_differences(self, office_id: str, key: str, mail: Mail) -> bool:
        """The weekly Aansluiting found new differences (``key``: one per set of them). True
        when the e-mail went out now; False when it was not wanted, sent before, or failed."""
        try:
            return self._send(office_id, f"recon|{key}", "reconciliation", mail)
        except Exception as exc:  # never fail the caller
            log.warning("notification reconciliation failed: %s", type(exc).__name__)
            return False

    def reconciliation_sent(self, office_id: str, key: str) -> bool:
        """Whether the Aansluiting e-mail ``key`` went out before (by an earlier attempt)."""
        found = self.notifications.event(office_id, f"recon|{key}")
        return found is not None and found.state == "sent"

    def check_connections(self, office_id: str) -> None:
        self._safely("reauth", lambda: self._reauthorizations(office_id))

    def sweep(self) -> None:
        """The hourly tick: summaries and re-authorisations that were missed."""
        if self.mailer is None:
            return
        for office_id in self.connections.offices():
            self.check_connections(office_id)
            self._safely("sweep", partial(self._missed_summaries, office_id))

    # -- the work ---------------------------------------------------------------------------
    def _summary(self, run: Run) -> None:
        if run.type is not RunType.NIGHTLY or run.status is RunStatus.RUNNING:
            return
        counts: dict[str, ClientCounts] = {}
        names = {
            c.client_id: (c.name or c.loket_administration_name)
            for c in self.clients.for_office(run.office_id)
        }
        jobs = self.runs.jobs(run.office_id, run.run_id)
        for job in jobs:
            counts[job.client_id] = ClientCounts(job.client_id, names.get(job.client_id, ""))
        for record in self.details.records(run.office_id, run.run_id):
            c = counts.get(record.client_id) or ClientCounts(
                record.client_id, names.get(record.client_id, "")
            )
            counts[record.client_id] = ClientCounts(
                c.client_id,
                c.name,
                imported=c.imported + (record.status is JournalRunOutcome.IMPORTED),
                failed=c.failed + (record.status is JournalRunOutcome.FAILED),
                awaiting=c.awaiting + (record.status is JournalRunOutcome.AWAITING_APPROVAL),
                skipped=c.skipped + (record.status is JournalRunOutcome.SKIPPED),
            )
        for job in jobs:
            if job.last_error and job.status is JobStatus.FAILED:
                c = counts[job.client_id]
                # A job that failed as a whole (consent, Loket error) counts as one failure.
                if c.failed == 0:
                    counts[job.client_id] = ClientCounts(
                        c.client_id, c.name, c.imported, 1, c.awaiting, c.skipped
                    )
        mail = nightly_summary(
            business_date=run.business_date,
            status_text=run_status_text(run),
            run_id=run.run_id,
            clients=[counts[k] for k in sorted(counts)],
            portal=self.portal,
        )
        self._send(run.office_id, f"summary|{run.run_id}", "summary", mail)

    def _missed_summaries(self, office_id: str) -> None:
        since = self.clock() - SWEEP_WINDOW
        for run in self.runs.page(office_id, limit=3, run_type=RunType.NIGHTLY).runs:
            if run.created_at >= since and run.planned and run.status is not RunStatus.RUNNING:
                self.nightly_finished(run)

    def _reauthorizations(self, office_id: str) -> None:
        for connection in self.connections.for_office(office_id):
            if not connection.needs_reauthorization:
                continue
            since = connection.updated_at or connection.connected_at
            stamp = int(since.timestamp()) if since else 0
            mail = reauthorization(
                system=SYSTEM_NAMES[connection.key.kind],
                environment=connection.key.environment,
                reason=(connection.reason or "de toestemming is ingetrokken of verlopen.").rstrip()
                + ("" if (connection.reason or "").rstrip().endswith(".") else "."),
                portal=self.portal,
            )
            self._send(office_id, f"reauth|{connection.key.row_key}|{stamp}", "reauth", mail)

    def _send(self, office_id: str, key: str, kind: str, mail: Mail) -> bool:
        if self.mailer is None:
            return False
        settings = self.notifications.settings(office_id)
        if settings is None or not settings.wants(kind):
            return False
        claim = self.notifications.claim(office_id, key, now=self.clock())
        if claim is None:
            return False  # sent already, or another instance is sending it right now
        email = Email(
            to=settings.recipients,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            message_id=message_id(office_id, key, self.sender),
            headers={"X-Loonbrug-Event": kind},
        )
        try:
            self.mailer.send(email)
        except SendFailed as exc:
            log.warning("notification %s for office %s not sent: %s", kind, office_id, exc)
            self.notifications.release(claim, now=self.clock(), error=str(exc))
            return False
        self.notifications.sent(
            claim,
            now=self.clock(),
            recipients=settings.recipients,
            subject=mail.subject,
            message_id=email.message_id,
        )
        log.info("notification %s sent for office %s", kind, office_id)
        return True

    @staticmethod
    def _safely(kind: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # a notification must never fail a sync job or a request
            log.warning("notification %s failed: %s", kind, type(exc).__name__)
