"""The Profit pre-check over facts as AFAS publishes them: a period is closed only when its row in
"Blocked periods per administration" says so, and allocation axes are codes (strings)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.journal.entries import ProfitEntry, ProfitLine
from shared.journal.findings import Severity
from shared.journal.precheck import AccountFact, PeriodFact, ProfitFacts, precheck_profit

MARCH = PeriodFact(date(2025, 3, 1), date(2025, 3, 31))


def entry(
    *, period: int = 3, day: date = date(2025, 3, 31), lines: tuple[ProfitLine, ...] = ()
) -> ProfitEntry:
    return ProfitEntry(
        year=2025,
        period=period,
        administration=1,
        journal="80",
        voucher_number="LB-1",
        entry_date=day,
        voucher_date=day,
        lines=lines
        or (
            ProfitLine("4000", "Brutolonen", Decimal("100.00"), Decimal("0"), ((1, "100"),)),
            ProfitLine("1600", "Netto", Decimal("0"), Decimal("100.00")),
        ),
    )


def facts(
    periods: dict[tuple[int, int], PeriodFact],
    allocations: frozenset[tuple[str, str, str]] | None = None,
) -> ProfitFacts:
    return ProfitFacts(
        administration=1,
        journal_exists=True,
        journal_blocked=False,
        accounts={
            "4000": AccountFact(required_axes=frozenset({1}), axis_codes={1: "KPL"}),
            "1600": AccountFact(),
        },
        periods=periods,
        allocations=allocations,
    )


def codes(found: list) -> list[tuple[str, Severity]]:  # type: ignore[type-arg]
    return [(f.code, f.severity) for f in found]


def test_an_open_listed_period_passes() -> None:
    assert precheck_profit(entry(), facts({(2025, 3): MARCH}), journal="80") == []


def test_a_period_absent_from_blocked_periods_is_a_warning_not_closed() -> None:
    """Defect: a period without a row was an error ("bestaat niet") and stopped the booking;
    published, the connector is "Blocked periods per administration"."""
    found = precheck_profit(entry(), facts({}), journal="80")
    assert codes(found) == [("period-not-listed", Severity.WARNING)]
    assert not any(f.blocks for f in found)


def test_only_a_row_saying_blocked_closes_a_period() -> None:
    closed = PeriodFact(MARCH.start, MARCH.end, blocked=True)
    found = precheck_profit(entry(), facts({(2025, 3): closed}), journal="80")
    assert codes(found) == [("period-blocked", Severity.ERROR)]


def test_an_entry_date_inside_another_blocked_period_is_refused_as_afas_does() -> None:
    february = PeriodFact(date(2025, 2, 1), date(2025, 2, 28), blocked=True)
    found = precheck_profit(
        entry(day=date(2025, 2, 28)), facts({(2025, 3): MARCH, (2025, 2): february}), journal="80"
    )
    assert codes(found) == [("period-blocked", Severity.ERROR)]
    assert "28-02-2025" in found[0].text and "periode 2" in found[0].text


def test_allocations_match_on_the_axis_code_of_the_account() -> None:
    """Defect: Profit_Allocation_Assigments.DimAx is a code (string) as published; an integer
    axis key never matched, so every cost centre looked unassigned."""
    assigned = frozenset({("4000", "KPL", "100")})
    assert precheck_profit(entry(), facts({(2025, 3): MARCH}, assigned), journal="80") == []
    other = frozenset({("4000", "KPL", "200")})
    found = precheck_profit(entry(), facts({(2025, 3): MARCH}, other), journal="80")
    assert codes(found) == [("allocation-unknown", Severity.ERROR)]


def test_a_required_axis_without_a_code_is_an_error() -> None:
    lines = (
        ProfitLine("4000", "Brutolonen", Decimal("100.00"), Decimal("0")),
        ProfitLine("1600", "Netto", Decimal("0"), Decimal("100.00")),
    )
    found = precheck_profit(entry(lines=lines), facts({(2025, 3): MARCH}), journal="80")
    assert codes(found) == [("allocation-required", Severity.ERROR)]
