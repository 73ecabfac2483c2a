"""The weekly Aansluiting: every client of every office, this year and last year; an e-mail to
the office (existing notification settings) only when a difference appears that it was not told
about before. What was reported is kept per client-year (shared/store/reconciliations.py)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Final

from shared.clients.model import ClientConfig
from shared.clock import to_amsterdam
from shared.notify.service import Notifier
from shared.notify.texts import FOOTER, Mail, mail_html, portal_url
from shared.reconciliation.compare import Difference
from shared.reconciliation.service import ReconciliationDeps, reconcile_client
from shared.store.connections import ConnectionRepository
from shared.store.reconciliations import ReconciliationRepository, Reported, save_weekly
from shared.store.tables import check_key

if TYPE_CHECKING:
    from shared.bootstrap import Services

log = logging.getLogger("loonbrug.reconciliation")


@dataclass
class WeeklyOutcome:
    offices: int = 0
    client_years: int = 0
    calls: int = 0
    new_differences: int = 0
    mails: int = 0
    failed: list[str] = field(default_factory=list)  # "office/client/year: error type"


@dataclass(frozen=True)
class NewDifferences:
    client: ClientConfig
    year: int
    differences: tuple[Difference, ...]


def reconciliation_link(portal: str, client_id: str, year: int) -> str:
    return portal_url(portal, f"clients/{client_id}/aansluiting?jaar={year}")


def differences_mail(found: list[NewDifferences], portal: str) -> Mail:
    count = sum(len(f.differences) for f in found)
    clients = len({f.client.client_id for f in found})
    subject = (
        f"Loonbrug: {count} {'nieuw verschil' if count == 1 else 'nieuwe verschillen'} tussen "
        f"Loket en AFAS bij {clients} {'client' if clients == 1 else 'clients'}"
    )
    lines = [
        "Goedendag,",
        "",
        "De wekelijkse aansluiting van Loket en AFAS vond nieuwe verschillen:",
    ]
    paragraphs = [escape(lines[0]), escape(lines[2])]
    for item in found:
        who = f"{item.client.client_id} {item.client.name or item.client.loket_administration_name}"
        link = reconciliation_link(portal, item.client.client_id, item.year)
        lines += ["", f"Client {who.strip()}, {item.year}:"]
        block = [f"<strong>Client {escape(who.strip())}, {item.year}</strong><ul>"]
        for d in item.differences:
            lines.append(f"- periode {d.period}, {d.title}: {d.text} Wat te doen: {d.todo}")
            block.append(
                f"<li>periode {d.period}, <strong>{escape(d.title)}</strong>: {escape(d.text)} "
                f"<em>Wat te doen:</em> {escape(d.todo)}</li>"
            )
        lines.append(f"Bekijk de aansluiting: {link}")
        block.append(f'</ul><a href="{escape(link, quote=True)}">Bekijk de aansluiting</a>')
        paragraphs.append("".join(block))
    lines += ["", "Met vriendelijke groet,", "Loonbrug", "", FOOTER]
    first = found[0]
    html = mail_html(
        subject,
        paragraphs,
        reconciliation_link(portal, first.client.client_id, first.year),
        "Naar de aansluiting",
    )
    return Mail(subject, "\n".join(lines) + "\n", html)


RECONCILIATION_QUEUE: Final = "reconciliation-jobs"
RECONCILIATION_POISON_QUEUE: Final = f"{RECONCILIATION_QUEUE}-poison"


@dataclass(frozen=True)
class OfficeJob:
    """One office's weekly Aansluiting (a queue message: versioned JSON)."""

    office_id: str
    years: tuple[int, ...]
    version: int = 1

    def to_json(self) -> str:
        return json.dumps({"v": self.version, "officeId": self.office_id, "years": self.years})

    @classmethod
    def from_json(cls, raw: str | bytes) -> OfficeJob:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a version 1 reconciliation job")
        office, years = data.get("officeId"), data.get("years")
        if not isinstance(office, str) or not office or not isinstance(years, list):
            raise ValueError("officeId and years are required")
        if not all(isinstance(y, int) and 2000 <= y <= 2100 for y in years) or len(years) > 5:
            raise ValueError("years must be a short list of years")
        return cls(office, tuple(years))


def plan_weekly(
    connections: ConnectionRepository,
    enqueue: Callable[[str], None],
    *,
    weekday: int,
    clock: Callable[[], datetime],
) -> int | None:
    """The timer: on ``weekday`` (ISO, Europe/Amsterdam) one job per office, this year and last
    year (each office is reconciled by its own queue message, well inside the function timeout:
    docs and bench/reconciliation.py give the figures). None on any other day."""
    local = to_amsterdam(clock())
    if local.isoweekday() != weekday:
        return None
    offices = connections.offices()
    for office_id in offices:
        enqueue(OfficeJob(office_id, (local.year, local.year - 1)).to_json())
    log.info("weekly reconciliation planned for %d offices", len(offices))
    return len(offices)


def reconcile_office(
    deps: ReconciliationDeps,
    reported: ReconciliationRepository,
    notifier: Notifier,
    job: OfficeJob,
    *,
    clock: Callable[[], datetime],
    portal: str,
) -> WeeklyOutcome:
    """One office: every client, each year of ``job``; one e-mail when something is new."""
    outcome = WeeklyOutcome(offices=1)
    _office(deps, reported, notifier, job.office_id, job.years, clock(), portal, outcome)
    log.info(
        "weekly reconciliation of office %s: %d client-years, %d calls, %d new differences, "
        "%d e-mails, %d failed",
        job.office_id, outcome.client_years, outcome.calls, outcome.new_differences,
        outcome.mails, len(outcome.failed),
    )  # fmt: skip
    return outcome


@dataclass(frozen=True)
class ClientYear:
    """One client-year as reconciled this week."""

    client: ClientConfig
    year: int
    differences: tuple[Difference, ...]


def _office(
    deps: ReconciliationDeps,
    reported: ReconciliationRepository,
    notifier: Notifier,
    office_id: str,
    years: tuple[int, ...],
    now: datetime,
    portal: str,
    outcome: WeeklyOutcome,
) -> None:
    checked: list[ClientYear] = []
    for config in deps.clients.for_office(office_id):
        for year in years:
            try:
                result = reconcile_client(deps, office_id, config.client_id, year)
            except Exception as exc:  # one client never stops the others
                log.warning(
                    "reconciliation of client %s %d failed: %s",
                    config.client_id, year, type(exc).__name__,
                )  # fmt: skip
                outcome.failed.append(
                    f"{office_id}/{config.client_id}/{year}: {type(exc).__name__}"
                )
                continue
            outcome.client_years += 1
            outcome.calls += result.calls.total
            checked.append(ClientYear(config, year, result.year.differences))
    report_office(reported, notifier, office_id, checked, now=now, portal=portal, outcome=outcome)


def mail_event(found: list[NewDifferences], told: dict[tuple[str, int], Reported]) -> str:
    """The notification event of one weekly e-mail: its new differences, and per client-year
    when the office's state was last saved. A redelivered job (nothing saved since) finds the
    same event, so it never mails twice; a difference that went away (saved without it) and
    came back is a new event, so it is mailed again."""
    parts = []
    for item in found:
        before = told[(item.client.client_id, item.year)]
        since = before.checked_at.isoformat() if before.checked_at else "-"
        keys = ",".join(sorted(d.key for d in item.differences))
        parts.append(f"{item.client.client_id}|{item.year}|{since}|{keys}")
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:32]


def report_office(
    reported: ReconciliationRepository,
    notifier: Notifier,
    office_id: str,
    checked: list[ClientYear],
    *,
    now: datetime,
    portal: str,
    outcome: WeeklyOutcome,
) -> None:
    """Mail what is new (once), then remember what the office was told per client-year."""
    found: list[NewDifferences] = []
    told: dict[tuple[str, int], Reported] = {}
    for item in checked:
        before = reported.reported(office_id, item.client.client_id, item.year)
        told[(item.client.client_id, item.year)] = before
        new = tuple(d for d in item.differences if d.key not in before.keys)
        if new:
            found.append(NewDifferences(item.client, item.year, new))
    sent = ""
    if found:
        outcome.new_differences += sum(len(f.differences) for f in found)
        event = mail_event(found, told)
        if notifier.reconciliation_differences(office_id, event, differences_mail(found, portal)):
            outcome.mails += 1
        elif not notifier.reconciliation_sent(office_id, event):
            return  # not sent (not wanted, or failed): tell them next week
        # else: sent by an attempt that stopped before it saved (redelivered): save now.
        sent = event
    for item in checked:
        keys = {d.key for d in item.differences}
        mailed = sent if any(f.client.client_id == item.client.client_id and f.year == item.year
                             for f in found) else ""  # fmt: skip
        reported.save(office_id, item.client.client_id, item.year, keys, now=now, sent=mailed)


def weekly_tick(services: Services) -> int | None:
    """The timer's entry point (functions/reconciliation.py)."""
    queue = services.storage.queue(RECONCILIATION_QUEUE)

    def enqueue(body: str) -> None:
        queue.send_message(body)

    return plan_weekly(
        services.connections,
        enqueue,
        weekday=services.settings.reconciliation_weekday,
        clock=services.clock,
    )


def _office_of(body: str | bytes) -> str | None:
    """The office a (possibly malformed) job message is about, when it says one validly."""
    try:
        data = json.loads(body)
        office = data.get("officeId") if isinstance(data, dict) else None
        return check_key(office) if isinstance(office, str) and office else None
    except ValueError:
        return None


def _when(now: datetime) -> str:
    local = to_amsterdam(now)
    return f"{local.day}-{local.month}-{local.year} {local.hour:02d}:{local.minute:02d}"


def process_office_message(services: Services, body: str | bytes) -> WeeklyOutcome | None:
    """The queue function's entry point. A malformed message is logged and dropped; when it
    names an office, that office sees the weekly check failed (Aansluiting screen)."""
    now = services.clock()
    try:
        job = OfficeJob.from_json(body)
    except ValueError as exc:
        log.error("rejected malformed reconciliation message: %s", exc)
        office = _office_of(body)
        if office is not None:
            save_weekly(
                services.storage,
                office,
                "failed",
                f"De wekelijkse controle van {_when(now)} kon niet starten: de opdracht was "
                "onleesbaar. Loonbrug probeert het volgende week opnieuw; bekijk tot dan de "
                "aansluiting per client hier.",
                now=now,
            )
        return None
    outcome = reconcile_office(
        ReconciliationDeps.from_services(services),
        ReconciliationRepository(services.storage),
        services.notifier,
        job,
        clock=services.clock,
        portal=services.settings.portal_page_url,
    )
    years = " en ".join(str(y) for y in job.years)
    if outcome.failed:
        state, text = (
            "partial",
            (
                f"De wekelijkse controle van {_when(now)} ({years}) is voor "
                f"{len(outcome.failed)} van {outcome.client_years + len(outcome.failed)} "
                "client-jaren mislukt (Loket of AFAS was niet te lezen); de andere zijn gecontroleerd."
            ),
        )
    else:
        state, text = (
            "done",
            (
                f"De wekelijkse controle van {_when(now)} ({years}) is gedaan: "
                f"{outcome.client_years} client-jaren, {outcome.new_differences} nieuwe verschillen."
            ),
        )
    save_weekly(services.storage, job.office_id, state, text, now=now)
    return outcome


def process_poison_message(services: Services, body: str | bytes) -> None:
    """A job that failed on every attempt (the runtime moved it to the poison queue): the
    office sees the weekly check failed, instead of nothing."""
    office = _office_of(body)
    log.error("weekly reconciliation job exhausted its retries (office %s)", office or "?")
    if office is None:
        return
    now = services.clock()
    save_weekly(
        services.storage,
        office,
        "failed",
        f"De wekelijkse controle van {_when(now)} is na herhaalde pogingen mislukt; er is geen "
        "e-mail over nieuwe verschillen verstuurd. Loonbrug probeert het volgende week opnieuw; "
        "bekijk tot dan de aansluiting per client hier.",
        now=now,
    )
