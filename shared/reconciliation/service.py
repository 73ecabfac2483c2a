"""Gathering both sides of one client-year and reconciling them (read-only: books, marks and
changes nothing in Loket or AFAS).

Loket side, cheapest source first:

1. the booking ledger (``Bookings``) says which journal runs Loonbrug booked, under which
   voucher, entry number and run;
2. the audit copy of that run (``entry.json``) gives the journalled totals per AFAS ledger
   account: no Loket call;
3. one listing of the payroll administration's journal runs in Loket (paged) finds the runs
   Loonbrug never booked; the run history (``RunDetails``) says why; their totals come from an
   audit copy when the run got that far, else from Loket's result lines (one call per such run).

AFAS side: ``shared/afas/reconcile_profit.py`` (one paged, filtered read per journal and year).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import requests

from shared.afas import reconcile_profit
from shared.afas.profit import ProfitClient
from shared.afas.reconcile_sb import SbYearReader
from shared.afas.sb import SbClient, SbEndpointNotGranted
from shared.clients.model import ClientConfig, ProfitTarget, SbTarget
from shared.journal.mapping import CostCenterRule
from shared.journal.models import JournalRun, JournalRunStatus, PeriodType
from shared.journal.periods import booking_period
from shared.loket.client import LoketClient
from shared.reconciliation.compare import (
    SB_WORDS,
    AfasEntry,
    Basis,
    LoketRun,
    Totals,
    YearResult,
    ledger_key,
    reconcile,
)
from shared.store import audit_copies
from shared.store.audit_copies import AuditStore
from shared.store.bookings import BookingLedger
from shared.store.clients import ClientRepository
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, RunDetailRepository
from shared.store.runs import RunRepository
from shared.sync.bookers import target_key
from shared.sync.ledger import Booking

if TYPE_CHECKING:
    from shared.bootstrap import Services

log = logging.getLogger("loonbrug.reconciliation")

MAX_YEAR_SPAN: Final = 10  # years back from now a reconciliation may ask for


class NotReconcilable(Exception):
    """This client cannot be reconciled (yet): ``detail`` and ``hint`` in Dutch."""

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


@dataclass
class Calls:
    """External calls one reconciliation made (the fair-use figure of the closing note)."""

    loket: int = 0
    afas: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.loket + sum(self.afas.values())


@dataclass(frozen=True)
class Reconciliation:
    client: ClientConfig
    year: YearResult
    calls: Calls
    journal_runs: dict[str, JournalRun]  # Loket's journal runs of the year, by id
    basis: Basis  # per ledger account and cost centre, or per account only (and why)


@dataclass
class ReconciliationDeps:
    clients: ClientRepository
    bookings: BookingLedger
    runs: RunRepository
    run_details: RunDetailRepository
    audit: AuditStore
    loket: Callable[[str, requests.Session], LoketClient]  # office, counting session
    profit: Callable[[str, str], ProfitClient]  # office, environment
    sb: Callable[[str, str], SbClient]  # office, environment

    @classmethod
    def from_services(cls, services: Services) -> ReconciliationDeps:
        from shared.loket.oauth import ConnectionTokens
        from shared.store.connections import ConnectionKey, ConnectionKind

        def loket(office_id: str, session: requests.Session) -> LoketClient:
            key = ConnectionKey(office_id, ConnectionKind.LOKET)
            tokens = ConnectionTokens(services.loket_tokens, key)
            return LoketClient(services.settings.loket_api_url, tokens, session=session)

        return cls(
            clients=services.clients,
            bookings=services.bookings,
            runs=services.runs,
            run_details=services.run_details,
            audit=services.audit,
            loket=loket,
            profit=services.profit_client,
            sb=services.sb_client,
        )


def reconcile_client(
    deps: ReconciliationDeps, office_id: str, client_id: str, year: int
) -> Reconciliation:
    """Both sides of ``client_id``'s AFAS year ``year``, compared. Raises ``LookupError`` for an
    unknown client, :class:`NotReconcilable` for one that cannot be reconciled, and the Loket and
    AFAS clients' typed errors when a system cannot be read."""
    config = deps.clients.get(office_id, client_id)
    if config is None:
        raise LookupError(client_id)
    target = config.target
    calls = Calls()
    session = requests.Session()

    def count(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        calls.loket += 1

    session.hooks["response"].append(count)
    with ExitStack() as stack:
        stack.callback(session.close)
        loket = deps.loket(office_id, session)
        journal_runs = {
            r.id: r for r in _journalled(loket.list_journal_runs(config.loket_administration_id))
        }
        # The bookings of this payroll administration's journal runs in this AFAS
        # administration, whichever client number of the office booked them: a client that was
        # renumbered (configured again under its new Loket client number) keeps its history.
        bookings = {
            b.loket_journal_run_id: b
            for b in deps.bookings.of_office(target_key(target), office_id)
            if b.loket_journal_run_id in journal_runs
        }
        client_ids = tuple(
            dict.fromkeys([client_id, *sorted({b.holder.client_id for b in bookings.values()})])
        )
        if isinstance(target, SbTarget):
            runs = _loket_runs(deps, config, journal_runs, bookings, loket, year, client_ids)
            entries, located = _sb_side(deps, office_id, target, runs, year, calls, stack)
            result = reconcile(year, runs, entries, located=located, words=SB_WORDS)
            return Reconciliation(config, result, calls, journal_runs, SB_BASIS)
        assert isinstance(target, ProfitTarget)
        profit = stack.enter_context(deps.profit(office_id, target.environment))
        journals = [target.journal]
        journals += sorted(
            {b.journal for b in bookings.values() if b.state.booked and b.journal}
            - {target.journal}
        )
        axis = (
            None
            if config.mapping.cost_centers is CostCenterRule.DROP
            else config.mapping.cost_center_axis
        )
        try:
            entries, basis = reconcile_profit.read_year(
                profit, target.administration, journals, year, cost_centre_axis=axis
            )
        finally:
            calls.afas.update(profit.calls)
        runs = _loket_runs(
            deps, config, journal_runs, bookings, loket, year, client_ids,
            axis=axis if basis.per_allocation else None,
        )  # fmt: skip
        held = {e.reference.lower() for e in entries if e.reference}
        located = {
            r.reference: reconcile_profit.locate(profit, target.administration, r.reference)
            for r in runs
            if r.booked and r.reference and r.reference.lower() not in held
        }
        calls.afas = Counter(profit.calls)
    result = reconcile(year, runs, entries, located=located)
    log.info(
        "reconciled client %s year %d: %d differences, %d calls (Loket %d, AFAS %d)",
        client_id, year, len(result.differences), calls.total, calls.loket,
        sum(calls.afas.values()),
    )  # fmt: skip
    return Reconciliation(config, result, calls, journal_runs, basis)


SB_BASIS: Final = Basis(
    False, "Vergeleken per grootboekrekening: AFAS SB kent geen kostenplaatsen.", ""
)


def _loket_runs(
    deps: ReconciliationDeps,
    config: ClientConfig,
    journal_runs: dict[str, JournalRun],
    bookings: dict[str, Booking],
    loket: LoketClient,
    year: int,
    client_ids: tuple[str, ...],
    *,
    axis: int | None = None,
) -> list[LoketRun]:
    runs: list[LoketRun] = []
    for journal_run in journal_runs.values():
        side = _loket_side(
            deps, config, journal_run, bookings.get(journal_run.id), loket, client_ids, axis
        )
        if side is not None and side.year == year:
            runs.append(side)
    return runs


def _sb_side(
    deps: ReconciliationDeps,
    office_id: str,
    target: SbTarget,
    runs: list[LoketRun],
    year: int,
    calls: Calls,
    stack: ExitStack,
) -> tuple[list[AfasEntry], dict[str, list[AfasEntry]]]:
    client = stack.enter_context(deps.sb(office_id, target.environment))
    try:
        reader = SbYearReader(client, target.administration_id)
        payroll = {a for r in runs if r.totals is not None for a in r.totals.accounts}
        ours = {r.reference for r in runs if r.booked and r.reference}
        entries = reader.read_year(year, payroll, ours)
        held = {e.reference for e in entries}
        located = {ref: reader.locate(ref) for ref in sorted(ours - held)}
    except SbEndpointNotGranted:
        raise NotReconcilable(
            "AFAS SB laat Loonbrug de boekingen niet lezen: de app heeft alleen de endpointgroep "
            "'Loonjournaalpost'.",
            "Geef de Loonbrug-app in AFAS SB (App Center) ook de endpointgroep 'Financiële "
            "rapportage'; daarin staan de geboekte journaalposten.",
        ) from None
    finally:
        calls.afas.update(client.calls)
    return entries, located


def _journalled(runs: Iterator[JournalRun]) -> Iterator[JournalRun]:
    """Journal runs with results in Loket (journalled), test years left out."""
    for run in runs:
        if run.status.has_results and not run.period.test_year:
            yield run


def _loket_side(
    deps: ReconciliationDeps,
    config: ClientConfig,
    journal_run: JournalRun,
    booking: Booking | None,
    loket: LoketClient,
    client_ids: tuple[str, ...],
    axis: int | None,
) -> LoketRun | None:
    office_id = config.office_id
    period_type = _period_type(config.period_type)
    expected = booking_period(journal_run.period, period_type, config.mapping.period_rule)
    label = f"{journal_run.period.year}-{journal_run.period.number}"
    if booking is not None and booking.state.booked:
        run_id = _booking_run(deps, config, client_ids, journal_run.id, booking)
        totals = (
            _audit_totals(deps.audit, office_id, run_id, journal_run.id, axis) if run_id else None
        )
        if totals is None:
            totals = _loket_totals(loket, config, journal_run.id, axis)
        return LoketRun(
            journal_run.id,
            journal_run.sequence_number,
            label,
            expected.year,
            expected.period,
            totals,
            booked=True,
            # Profit: the voucher number; SB: the entry's code (its Number in journalentries).
            reference=(
                booking.entry_number if isinstance(config.target, SbTarget) else booking.reference
            ),
            entry_number=booking.entry_number,
            run_id=run_id,
            journal=(
                (booking.journal or config.target.journal)
                if isinstance(config.target, ProfitTarget)
                else ""
            ),
        )
    latest, record = _latest_run(deps, config, client_ids, journal_run.id)
    run_id = latest or ""
    totals = _audit_totals(deps.audit, office_id, run_id, journal_run.id, axis) if run_id else None
    if totals is None:
        totals = _loket_totals(loket, config, journal_run.id, axis)
    why, todo = _why_not(journal_run, booking, _run_name(deps, office_id, run_id), record, config)
    return LoketRun(
        journal_run.id,
        journal_run.sequence_number,
        label,
        expected.year,
        expected.period,
        totals,
        booked=False,
        run_id=run_id or "",
        why_not=why,
        todo=todo,
    )


def _period_type(raw: str) -> PeriodType:
    try:
        return PeriodType(raw)
    except ValueError:
        return PeriodType.UNKNOWN


def _history(
    deps: ReconciliationDeps,
    config: ClientConfig,
    client_ids: tuple[str, ...],
    loket_journal_run_id: str,
) -> list[tuple[str, str, JournalRunRecord]]:
    """(created at, run id, record) of every run that recorded this journal run, under any of
    the client numbers it was booked under, oldest first."""
    dated = []
    for client_id in client_ids:
        for run_id, record in deps.run_details.history(
            config.office_id, client_id, loket_journal_run_id
        ):
            run = deps.runs.get(config.office_id, run_id)
            dated.append((run.created_at.isoformat() if run else "", run_id, record))
    return sorted(dated, key=lambda t: (t[0], t[1]))


def _latest_run(
    deps: ReconciliationDeps,
    config: ClientConfig,
    client_ids: tuple[str, ...],
    loket_journal_run_id: str,
) -> tuple[str | None, JournalRunRecord | None]:
    found = _history(deps, config, client_ids, loket_journal_run_id)
    if not found:
        return None, None
    _when, run_id, record = found[-1]
    return run_id, record


def _booking_run(
    deps: ReconciliationDeps,
    config: ClientConfig,
    client_ids: tuple[str, ...],
    loket_journal_run_id: str,
    booking: Booking,
) -> str:
    """The run that recorded the booking (its audit copy holds what was booked): the newest run
    whose record says imported under the booking's entry number; else the booking's holder when
    that is a run; else the newest run. Never a later run that only looked at it."""
    found = _history(deps, config, client_ids, loket_journal_run_id)
    imported = [
        run_id
        for _when, run_id, record in found
        if record.status is JournalRunOutcome.IMPORTED
        and (not booking.entry_number or (record.entry_number or "") in ("", booking.entry_number))
    ]
    if imported:
        return imported[-1]
    holder = booking.holder.job
    if not booking.holder.is_approval and deps.runs.get(config.office_id, holder):
        return holder
    return found[-1][1] if found else ""


def _audit_totals(
    audit: AuditStore,
    office_id: str,
    run_id: str,
    loket_journal_run_id: str,
    axis: int | None = None,
) -> Totals | None:
    """The booked totals from the audit copy; per cost centre on ``axis`` when given."""
    data = audit.read_latest(office_id, run_id, loket_journal_run_id, audit_copies.ENTRY)
    if data is None:
        return None
    entry = json.loads(data)
    return Totals.of(
        (
            ledger_key(
                str(ln["account"]),
                str((ln.get("dimensions") or {}).get(str(axis), "")) if axis else "",
            ),
            Decimal(str(ln["debit"])),
            Decimal(str(ln["credit"])),
        )
        for ln in entry.get("lines", [])
    )


def _loket_totals(
    loket: LoketClient, config: ClientConfig, run_id: str, axis: int | None = None
) -> Totals:
    """The journalled totals read from Loket (no audit copy): accounts and cost centres as the
    mapping maps them."""
    return Totals.of(
        (
            ledger_key(
                config.mapping.target_account(line.account) or line.account,
                dict(config.mapping.dimensions(line.cost_center, line.cost_unit)).get(axis, "")
                if axis
                else "",
            ),
            line.debit,
            line.credit,
        )
        for line in loket.iter_journal_run_lines(run_id)
    )


def _run_name(deps: ReconciliationDeps, office_id: str, run_id: str) -> str:
    """The run as the portal names it ("de nachtelijke run van 05-12-2026"), never its id."""
    # Imported here, not at the top: keeps this helper's change apart from the module's imports.
    from shared.clock import to_amsterdam
    from shared.runs.model import RunType

    run = deps.runs.get(office_id, run_id) if run_id else None
    if run is None:
        return "de laatste run" if run_id else ""
    when = to_amsterdam(run.created_at)
    if run.type is RunType.RERUN:
        return f"de rerun van {when:%d-%m-%Y %H:%M}"
    return f"de nachtelijke run van {run.business_date or when.date():%d-%m-%Y}"


def _why_not(
    journal_run: JournalRun,
    booking: Booking | None,
    run_name: str,
    record: JournalRunRecord | None,
    config: ClientConfig,
) -> tuple[str, str]:
    """Why a journalled run was never booked, from the run history (Dutch), and what to do."""
    if record is not None and run_name:
        note = f" {record.note.rstrip('.')}." if record.note else ""
        status = record.status
        if status is JournalRunOutcome.IMPORTED:  # booked, but not where the client books now
            return (
                f"Reden: in {run_name} geboekt in een andere AFAS-omgeving of administratie "
                f"({record.environment}), niet in die van de client nu.",
                "Is de client verhuisd, dan staat deze loonrun in de oude administratie; boek hem "
                "alleen opnieuw als hij ook hier moet staan.",
            )
        if status is JournalRunOutcome.FAILED:
            return (
                f"Reden: mislukt in {run_name}.{note}",
                "Los de melding in die run op (Runs overzicht › de run › de loonrun) en start een "
                "rerun voor deze periode (Runs overzicht › Rerun uitvoeren).",
            )
        if status is JournalRunOutcome.AWAITING_APPROVAL:
            return (
                f"Reden: de journaalpost wacht sinds {run_name} op goedkeuring.",
                "Keur de journaalpost goed of af onder Goedkeuren.",
            )
        if status is JournalRunOutcome.REJECTED:
            return (
                f"Reden: in {run_name} afgewezen onder Goedkeuren; nooit verzonden.{note}",
                "Was de afwijzing terecht, boek dan een gecorrigeerde loonrun; anders start een "
                "rerun voor deze periode (Runs overzicht › Rerun uitvoeren).",
            )
        return (
            f"Reden: in {run_name} overgeslagen ({status.dutch.lower()}).{note}",
            "Bekijk de meldingen van die run en start zo nodig een rerun voor deze periode.",
        )
    if booking is not None and booking.state.value in ("refused", "partial", "unknown"):
        return (
            f"Reden: AFAS heeft de laatste poging niet geboekt ({booking.error or booking.state}).",
            "Bekijk de run van die poging en start een rerun voor deze periode (Runs overzicht › "
            "Rerun uitvoeren).",
        )
    if not config.include_in_sync:
        return (
            "Reden: de client doet niet mee aan de nachtelijke import.",
            "Zet 'Meenemen in de nachtelijke import' aan of start een rerun voor deze periode.",
        )
    if journal_run.status is JournalRunStatus.EXPORTED:
        return (
            "Reden: Loonbrug heeft deze loonrun nooit opgehaald; in Loket staat hij op "
            f"'{journal_run.status.dutch}' (met een andere koppeling of de hand geëxporteerd?).",
            "Controleer of de journaalpost op een andere manier in AFAS is gekomen; zo niet, "
            "start een rerun voor deze periode (Runs overzicht › Rerun uitvoeren).",
        )
    return (
        "Reden: Loonbrug heeft deze loonrun nog niet verwerkt; in Loket staat hij op "
        f"'{journal_run.status.dutch}'.",
        "De volgende nachtelijke import neemt hem mee; wilt u niet wachten, start dan een "
        "rerun voor deze periode (Runs overzicht › Rerun uitvoeren).",
    )
