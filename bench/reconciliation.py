"""The Aansluiting's cost (issue 20): calls per client-year on the sandbox, and what the weekly
reconciliation of 2,000 clients (this year and last year each) takes at 50 ms per call.

The Profit side is measured against the AFAS sandbox over real HTTP: an administration holding a
client's year of monthly entries (plus other clients' entries in the same journal and other
years), read the way the Aansluiting reads it (``shared/afas/reconcile_profit.read_year``), and
compared (``shared/reconciliation/compare.reconcile``). The Loket side is one listing of the
payroll administration's journal runs per client-year: the totals come from the audit copies
(tests/e2e/test_reconciliation.py pins ``calls == {"loket": 1, "afas": 2}`` with one deleted
entry, and a clean year at 2 calls).

``python -m bench.reconciliation`` (``--quick``: fewer sizes, nothing saved).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from bench.common import Result
from devtools.sandbox.afas import (
    PROFIT_TOKEN,
    BookedEntry,
    BookedLine,
    start_afas_sandbox,
)
from shared.afas import reconcile_profit
from shared.afas.environment import parse_profit_environment, profit_base_url
from shared.afas.profit import ProfitClient
from shared.reconciliation.compare import LoketRun, Totals, reconcile
from shared.secret import Secret

CLIENTS = 2_000
YEARS_PER_WEEK = 2  # this year and last year
MS_PER_CALL = 50
LOKET_CALLS = 1  # the journal-run listing; the totals come from the audit copies
YEAR = 2025


def fill(sandbox: object, lines_per_run: int, *, other_clients: int) -> list[LoketRun]:
    """A year of 12 monthly entries for our client, the same for ``other_clients`` clients in
    the same journal, and the previous year too (the filter must keep it out)."""
    environment = sandbox.profit()  # type: ignore[attr-defined]
    administration = environment.administrations[1]
    administration.entries.clear()
    ours: list[LoketRun] = []
    for client in range(other_clients + 1):
        for year in (YEAR - 1, YEAR):
            for month in range(1, 13):
                voucher = f"LB{year}{month:02d}S{month}-{client:08X}"
                amount = Decimal(1000 + client) + Decimal(month) / 100
                lines = [
                    BookedLine(
                        n + 1,
                        "4000" if n % 2 == 0 else "1600",
                        "Loon",
                        amount if n % 2 == 0 else Decimal(0),
                        Decimal(0) if n % 2 == 0 else amount,
                        date(year, month, 28),
                        None,
                        voucher,
                        {},
                    )
                    for n in range(lines_per_run)
                ]
                administration.entries.append(
                    BookedEntry(
                        environment.number,
                        1,
                        administration.next_entry_number,
                        "80",
                        year,
                        month,
                        lines,
                        datetime(year, month, 28, tzinfo=UTC),
                    )
                )
                administration.next_entry_number += 1
                if client == 0 and year == YEAR:
                    ours.append(
                        LoketRun(
                            f"run-{month}",
                            month,
                            f"{year}-{month}",
                            year,
                            month,
                            Totals.of((ln.account, ln.debit, ln.credit) for ln in lines),
                            booked=True,
                            reference=voucher,
                            entry_number=str(administration.next_entry_number - 1),
                        )
                    )
    return ours


def measure(lines_per_run: int, other_clients: int) -> dict[str, float]:
    sandbox = start_afas_sandbox()
    try:
        runs = fill(sandbox, lines_per_run, other_clients=other_clients)
        url = profit_base_url(sandbox.profit_url_template, parse_profit_environment("12345"))
        with ProfitClient(url, Secret(PROFIT_TOKEN)) as client:
            started = time.perf_counter()
            entries, _basis = reconcile_profit.read_year(client, 1, ["80"], YEAR)
            read_ms = (time.perf_counter() - started) * 1000
            afas_calls = sum(client.calls.values())
        started = time.perf_counter()
        result = reconcile(YEAR, runs, entries)
        compare_ms = (time.perf_counter() - started) * 1000
        assert result.differences == (), [d.text for d in result.differences][:3]
        return {
            "lines": lines_per_run * 12 * (other_clients + 1),
            "afas_calls": afas_calls,
            "read_ms": read_ms,
            "compare_ms": compare_ms,
        }
    finally:
        sandbox.stop()


def run(quick: bool = False) -> Result:
    sizes = [(20, 0), (400, 0)] if quick else [(20, 0), (60, 0), (60, 4), (400, 0), (1000, 0)]
    rows: list[list[object]] = []
    figures: dict[str, object] = {}
    for lines_per_run, others in sizes:
        m = measure(lines_per_run, others)
        per_year = LOKET_CALLS + int(m["afas_calls"])
        weekly_calls = CLIENTS * YEARS_PER_WEEK * per_year
        seconds = weekly_calls * MS_PER_CALL / 1000
        label = f"{lines_per_run} lines/run, {others} other clients in the journal"
        rows.append(
            [
                label,
                int(m["lines"]),
                int(m["afas_calls"]),
                per_year,
                round(m["read_ms"], 1),
                round(m["compare_ms"], 2),
                weekly_calls,
                f"{seconds / 60:.1f} min",
            ]
        )
        figures[label] = {**m, "calls_per_client_year": per_year, "weekly_seconds": seconds}
    return Result(
        name="reconciliation",
        title=(
            f"Aansluiting: calls per client-year (sandbox) and the weekly run of {CLIENTS:,} "
            f"clients x {YEARS_PER_WEEK} years at {MS_PER_CALL} ms per call, one at a time"
        ),
        headers=[
            "client-year",
            "rows in journal-year",
            "AFAS calls",
            "calls (Loket + AFAS)",
            "AFAS read ms",
            "compare ms",
            "weekly calls",
            "weekly time",
        ],
        rows=rows,
        notes=[
            "AFAS: Profit_Transactions filtered to UnitId, JournalId and Year, pages of "
            f"{reconcile_profit.PAGE_SIZE} rows (get-connector.md: columns x rows < 150,000); "
            "+1 look-up per voucher Loonbrug booked that is not in that read (deleted or moved).",
            f"Loket: {LOKET_CALLS} listing per client-year (+1 per journalled run that has no "
            "audit copy, i.e. one Loonbrug never prepared).",
            "The time is sequential; the calls go to many AFAS environments and Loket, so a few "
            "in parallel divide it, within each environment's fair use.",
        ],
        figures=figures,
    )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    result = run(quick=quick)
    result.show()
    if not quick:
        result.save()
