"""Property-based tests: the builder balances, keeps every cent, and periods map to one period."""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.journal.builder import Source, build_profit_entry, build_sb_entry
from shared.journal.mapping import CostCenterRule, JournalMapping
from shared.journal.models import (
    JournalLine,
    JournalRun,
    JournalRunStatus,
    PayrollPeriod,
    PeriodType,
)
from shared.journal.periods import PeriodRule, booking_period

ACCOUNTS = ["4000", "4100", "4200", "1600", "1710", "2300"]
CENTRES = [None, "100", "200", "SAL073"]

cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))


def run_for(period: PayrollPeriod) -> JournalRun:
    return JournalRun("run-1", "adm-1", JournalRunStatus.READY, 12, "pr-1", 5, period)


MARCH = PayrollPeriod(2024, 3, date(2024, 3, 1), date(2024, 3, 31))


@st.composite
def balanced_lines(draw: st.DrawFn) -> list[JournalLine]:
    """Random lines whose debits equal their credits (as a correct Loket run has)."""
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ACCOUNTS),
                st.sampled_from(CENTRES),
                st.sampled_from(CENTRES),
                cents,
                st.booleans(),
            ),
            min_size=1,
            max_size=40,
        )
    )
    lines = [
        JournalLine(
            acc,
            f"rek {acc}",
            amount if is_debit else Decimal("0.00"),
            Decimal("0.00") if is_debit else amount,
            cc,
            None,
            cu,
        )
        for acc, cc, cu, amount, is_debit in raw
    ]
    debit = sum((ln.debit for ln in lines), Decimal(0))
    credit = sum((ln.credit for ln in lines), Decimal(0))
    gap = debit - credit
    balancing = JournalLine("1600", "netto", max(-gap, Decimal(0)), max(gap, Decimal(0)))
    return [*lines, balancing]


mappings = st.builds(
    JournalMapping,
    accounts=st.dictionaries(
        st.sampled_from(ACCOUNTS), st.sampled_from(["4999", "8000", "4000"]), max_size=3
    ),
    fallback_account=st.sampled_from([None, "9999"]),
    cost_centers=st.sampled_from(list(CostCenterRule)),
    cost_center_map=st.just({"100": "KP100"}),
)


def totals_by_target(lines: list[JournalLine], mapping: JournalMapping) -> Counter[tuple[str, str]]:
    totals: Counter[tuple[str, str]] = Counter()
    for line in lines:
        account = mapping.target_account(line.account) or "?"
        totals[(account, "D")] += line.debit  # type: ignore[assignment]
        totals[(account, "C")] += line.credit  # type: ignore[assignment]
    return +totals


@settings(max_examples=300, deadline=None)
@given(lines=balanced_lines(), mapping=mappings)
def test_profit_entry_balances_and_keeps_every_cent(
    lines: list[JournalLine], mapping: JournalMapping
) -> None:
    draft = build_profit_entry(
        Source(run_for(MARCH), lines, mapping, PeriodType.MONTHLY, "Voorbeeld BV", "289"),
        environment="12345",
        administration=1,
        journal="80",
    )
    entry = draft.entry
    assert entry.total_debit == entry.total_credit == sum((ln.debit for ln in lines), Decimal(0))
    produced: Counter[tuple[str, str]] = Counter()
    for line in entry.lines:
        assert (line.debit == 0) != (line.credit == 0), "one side per line, never both, never zero"
        produced[(line.account, "D")] += line.debit  # type: ignore[assignment]
        produced[(line.account, "C")] += line.credit  # type: ignore[assignment]
    assert +produced == totals_by_target(lines, mapping)
    assert not [f for f in draft.findings if f.code == "not-balanced"]
    if mapping.cost_centers is CostCenterRule.DROP:
        assert all(line.dimensions == () for line in entry.lines)
    assert len({line.account for line in entry.lines}) <= len(entry.lines)
    assert all(len(line.description) <= 255 for line in entry.lines)


@settings(max_examples=200, deadline=None)
@given(lines=balanced_lines(), mapping=mappings)
def test_sb_entry_balances_and_keeps_every_cent(
    lines: list[JournalLine], mapping: JournalMapping
) -> None:
    draft = build_sb_entry(
        Source(run_for(MARCH), lines, mapping, PeriodType.MONTHLY, "Voorbeeld BV", "289"),
        environment="sb-env",
        administration_id="701b747b-eea2-5ed1-8518-973e5c670252",
    )
    assert (
        draft.entry.total_debit
        == draft.entry.total_credit
        == sum((ln.debit for ln in lines), Decimal(0))
    )
    accounts = [line.account for line in draft.entry.lines if line.debit]
    assert len(accounts) == len(set(accounts)), "SB sums per account and side"


@settings(max_examples=200, deadline=None)
@given(lines=balanced_lines(), extra=cents.filter(lambda c: c > 0))
def test_an_unbalanced_run_is_never_postable(lines: list[JournalLine], extra: Decimal) -> None:
    broken = [*lines, JournalLine("4000", "x", extra, Decimal("0.00"))]
    draft = build_profit_entry(
        Source(run_for(MARCH), broken, JournalMapping(), PeriodType.MONTHLY, "BV", "1"),
        environment="12345",
        administration=1,
        journal="80",
    )
    assert not draft.postable
    assert any(f.code == "not-balanced" for f in draft.findings)


# -- periods ------------------------------------------------------------------------------------


@st.composite
def monthly_periods(draw: st.DrawFn) -> PayrollPeriod:
    year = draw(st.integers(2000, 2060))
    month = draw(st.integers(1, 12))
    last = calendar.monthrange(year, month)[1]
    return PayrollPeriod(year, month, date(year, month, 1), date(year, month, last))


@st.composite
def four_weekly_years(draw: st.DrawFn) -> list[PayrollPeriod]:
    """The 13 periods of a 4-weekly payroll year, starting on the Monday nearest 1 January."""
    year = draw(st.integers(2000, 2060))
    jan1 = date(year, 1, 1)
    start = (
        jan1 - timedelta(days=jan1.weekday())
        if jan1.weekday() <= 3
        else jan1 + timedelta(days=7 - jan1.weekday())
    )
    periods = []
    for number in range(1, 14):
        begin = start + timedelta(days=28 * (number - 1))
        periods.append(PayrollPeriod(year, number, begin, begin + timedelta(days=27)))
    return periods


@settings(max_examples=300, deadline=None)
@given(period=monthly_periods(), rule=st.sampled_from([None, *PeriodRule]))
def test_every_monthly_period_maps_to_its_own_month(
    period: PayrollPeriod, rule: PeriodRule | None
) -> None:
    mapped = booking_period(period, PeriodType.MONTHLY, rule)
    assert (mapped.year, mapped.period) == (period.year, period.number)
    assert mapped.entry_date == period.end


@settings(max_examples=200, deadline=None)
@given(year=four_weekly_years(), rule=st.sampled_from([None, *PeriodRule]))
def test_every_four_weekly_period_maps_to_exactly_one_ledger_period(
    year: list[PayrollPeriod], rule: PeriodRule | None
) -> None:
    mapped = [booking_period(p, PeriodType.FOUR_WEEKLY, rule) for p in year]
    for period, ledger in zip(year, mapped, strict=True):
        assert booking_period(period, PeriodType.FOUR_WEEKLY, rule) == ledger  # deterministic
        assert ledger.entry_date == period.end
        if ledger.rule is PeriodRule.PAYROLL_PERIOD:
            assert (ledger.year, ledger.period) == (period.year, period.number)
            assert 1 <= ledger.period <= 13
        else:
            assert 1 <= ledger.period <= 12
            anchor = period.end if ledger.rule is PeriodRule.END_DATE_MONTH else period.start
            assert (ledger.year, ledger.period) == (anchor.year, anchor.month)
    if rule is None:  # the default for 4-weekly: the month holding the end date
        assert all(m.rule is PeriodRule.END_DATE_MONTH for m in mapped)
    # Periods are booked in order: ledger periods never go backwards within the payroll year.
    keys = [(m.year, m.period) for m in mapped]
    assert keys == sorted(keys)


def test_omschrijving_of_a_profit_entry_is_the_entrys_own_not_its_first_lines() -> None:
    """Issue 17 item 5: the preview and Goedkeuren show the entry's description; the first line
    adds its account's name ("Loonjournaal ... - Bruto loon") and is not the entry's."""
    from shared.sync.steps import entry_description

    lines = [
        JournalLine("4000", "Bruto loon", Decimal("100.00"), Decimal("0.00")),
        JournalLine("1600", "Netto", Decimal("0.00"), Decimal("100.00")),
    ]
    source = Source(
        run_for(MARCH), lines, JournalMapping(), PeriodType.MONTHLY, "Voorbeeld BV", "289"
    )
    profit = build_profit_entry(source, environment="12345", administration=1, journal="80").entry
    sb = build_sb_entry(source, environment="sb", administration_id="adm").entry
    assert profit.description == sb.description
    assert profit.description and " - " not in profit.description
    assert profit.lines[0].description == f"{profit.description} - Netto"  # sorted by account
    assert entry_description(profit) == profit.description
    assert entry_description(sb) == sb.description
