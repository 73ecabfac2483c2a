"""Aansluiting, the pure part: every class of difference, to the cent, and a green year."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from shared.api.handlers.reconciliation import GET_RECONCILIATION
from shared.bootstrap import Services
from shared.reconciliation.compare import (
    SB_WORDS,
    AfasEntry,
    Kind,
    LoketRun,
    PeriodStatus,
    Totals,
    euro,
    reconcile,
)
from shared.reconciliation.export import year_csv
from tests.support.afas_fixtures import call
from tests.support.api import reader_headers

D = Decimal


def totals(*lines: tuple[str, str, str]) -> Totals:
    return Totals.of((a, D(d), D(c)) for a, d, c in lines)


JAN = totals(("4000", "1000.00", "0"), ("4100", "234.56", "0"), ("1600", "0", "1234.56"))
FEB = totals(("4000", "1100.00", "0"), ("1600", "0", "1100.00"))


def run(seq: int, period: int, t: Totals | None, *, booked: bool = True, **kw: str) -> LoketRun:
    return LoketRun(
        loket_journal_run_id=f"run-{seq}",
        sequence_number=seq,
        payroll_period=f"2024-{period}",
        year=2024,
        period=period,
        totals=t,
        booked=booked,
        reference=f"LB2024{period:02d}S{seq}-ABCDEF01" if booked else "",
        entry_number=str(1000 + seq) if booked else "",
        run_id="nightly-2024-02-01" if booked else "",
        **kw,
    )


def entry(number: str, reference: str, period: int, t: Totals, **kw: object) -> AfasEntry:
    return AfasEntry(number, reference, "80", 2024, period, t, **kw)  # type: ignore[arg-type]


def ours(r: LoketRun, t: Totals | None = None, period: int | None = None) -> AfasEntry:
    return entry(r.entry_number, r.reference, period or r.period, t or r.totals or Totals(),
                 by_loonbrug=True)  # fmt: skip


def test_clean_year_is_green_to_the_cent() -> None:
    jan, feb = run(1, 1, JAN), run(2, 2, FEB)
    result = reconcile(2024, [jan, feb], [ours(jan), ours(feb)])
    assert result.green and result.differences == ()
    statuses = [p.status for p in result.periods]
    assert statuses[:2] == [PeriodStatus.GREEN, PeriodStatus.GREEN]
    assert set(statuses[2:]) == {PeriodStatus.EMPTY} and len(statuses) == 12
    assert result.periods[0].text == "Loket en AFAS sluiten aan, tot op de cent."
    assert result.periods[0].afas.debit == D("1234.56") == result.periods[0].loket.credit


def test_deleted_entry_is_gone() -> None:
    jan = run(1, 1, JAN)
    result = reconcile(2024, [jan], [])
    (diff,) = result.differences
    assert diff.kind is Kind.GONE and diff.title == "Verdwenen uit AFAS"
    assert "staat niet meer in AFAS" in diff.text and "LB202401S1-ABCDEF01" in diff.text
    assert "export (CSV) uit de auditkopie" in diff.todo
    assert result.periods[0].status is PeriodStatus.RED


def test_one_cent_edit_is_changed() -> None:
    jan = run(1, 1, JAN)
    edited = totals(("4000", "1000.01", "0"), ("4100", "234.56", "0"), ("1600", "0", "1234.56"))
    (diff,) = reconcile(2024, [jan], [ours(jan, edited)]).differences
    assert diff.kind is Kind.CHANGED and diff.title == "Gewijzigd in AFAS"
    assert [d.account for d in diff.accounts] == ["4000"]
    assert "rekening 4000: debet € 1.000,00 in Loket, € 1.000,01 in AFAS" in diff.text


def test_manual_import_with_same_totals_is_a_duplicate() -> None:
    jan, feb = run(1, 1, JAN), run(2, 2, FEB)
    manual = entry("2001", "LOON-JAN", 1, JAN)
    result = reconcile(2024, [jan, feb], [ours(jan), ours(feb), manual])
    (diff,) = result.differences
    assert diff.kind is Kind.DUPLICATE and diff.title == "Dubbel in AFAS"
    assert diff.entry_numbers == ("1001", "2001")
    assert "met de hand ingelezen" in diff.text and "Verwijder boeking 2001" in diff.todo
    assert result.periods[0].afas.debit == 2 * result.periods[0].loket.debit


def test_other_clients_loonbrug_entries_are_not_counted() -> None:
    jan = run(1, 1, JAN)
    other = entry("3001", "LB202401S1-FFFFFFFF", 1, JAN, by_loonbrug=True)
    assert reconcile(2024, [jan], [ours(jan), other]).green


def test_unknown_entry_is_extra() -> None:
    (diff,) = reconcile(2024, [], [entry("2002", "CORR", 3, FEB)]).differences
    assert (diff.kind, diff.period) == (Kind.EXTRA, 3)


def test_never_booked_says_why() -> None:
    failed = run(
        3,
        3,
        FEB,
        booked=False,
        why_not="Mislukt in de nachtelijke run van 05-12-2026: rekening 4999 is geblokkeerd.",
    )
    (diff,) = reconcile(2024, [failed], []).differences
    assert diff.kind is Kind.NEVER_BOOKED and diff.title == "Nooit geboekt"
    assert "nooit door Loonbrug in AFAS geboekt" in diff.text
    assert "rekening 4999 is geblokkeerd" in diff.text


def test_never_booked_but_imported_by_hand_names_the_entry() -> None:
    failed = run(3, 3, FEB, booked=False)
    (diff,) = reconcile(2024, [failed], [entry("2003", "", 3, FEB)]).differences
    assert diff.kind is Kind.NEVER_BOOKED and diff.entry_numbers == ("2003",)
    assert "boeking 2003 met precies dezelfde bedragen" in diff.text


def test_entry_in_another_period_and_moved_out_of_the_year() -> None:
    jan, feb = run(1, 1, JAN), run(2, 2, FEB)
    moved = AfasEntry("1002", feb.reference, "80", 2025, 1, FEB, by_loonbrug=True)
    result = reconcile(2024, [jan, feb], [ours(jan, period=4)], located={feb.reference: [moved]})
    kinds = {d.loket_journal_run_id: d for d in result.differences}
    assert kinds["run-1"].kind is Kind.OTHER_PERIOD and "periode 2024-04" in kinds["run-1"].text
    assert kinds["run-2"].kind is Kind.OTHER_PERIOD and "periode 2025-01" in kinds["run-2"].text
    assert kinds["run-2"].title == "Andere periode"
    # The period the entry went to does not agree either, and says where the explanation is.
    april = result.periods[3]
    assert (april.status, april.explained_by) == (PeriodStatus.RED, (1,))
    assert april.differences == ()
    assert april.text == ("Loket € 0,00 en AFAS € 1.234,56 debet: zie het verschil bij periode 1.")


def test_same_voucher_twice_is_a_duplicate() -> None:
    jan = run(1, 1, JAN)
    again = entry("1005", jan.reference, 1, JAN, by_loonbrug=True)
    (diff,) = reconcile(2024, [jan], [ours(jan), again]).differences
    assert diff.kind is Kind.DUPLICATE and diff.entry_numbers == ("1001", "1005")


def test_keys_are_stable_and_distinct() -> None:
    jan = run(1, 1, JAN)
    first = reconcile(2024, [jan], []).differences[0]
    again = reconcile(2024, [jan], []).differences[0]
    changed = reconcile(2024, [jan], [ours(jan, FEB)]).differences[0]
    assert first.key == again.key != changed.key


def test_euro_and_csv_are_dutch() -> None:
    assert euro(D("1234.5")) == "€ 1.234,50" and euro(D("-5")) == "-€ 5,00"
    jan = run(1, 1, JAN)
    data = year_csv("4711", reconcile(2024, [jan], [])).decode("utf-8-sig")
    header, first = data.splitlines()[:2]
    assert header.startswith("Client;Jaar;Periode;Status")
    assert first.startswith("4711;2024;1;Verschil;1234,56;1234,56;0,00;0,00;Verdwenen uit AFAS")


class Offices:
    def offices(self) -> list[str]:
        return ["kantoor-a", "kantoor-b"]


def test_weekly_plans_one_job_per_office_on_its_weekday_only() -> None:
    from datetime import UTC, datetime

    from shared.reconciliation.weekly import OfficeJob, plan_weekly

    sent: list[str] = []
    monday = datetime(2026, 12, 7, 5, 20, tzinfo=UTC)  # 06:20 in Amsterdam, a Monday
    planned = plan_weekly(Offices(), sent.append, weekday=1, clock=lambda: monday)  # type: ignore[arg-type]
    assert planned == 2
    assert [OfficeJob.from_json(m) for m in sent] == [
        OfficeJob("kantoor-a", (2026, 2025)),
        OfficeJob("kantoor-b", (2026, 2025)),
    ]
    sent.clear()
    tuesday = datetime(2026, 12, 8, 5, 20, tzinfo=UTC)
    assert plan_weekly(Offices(), sent.append, weekday=1, clock=lambda: tuesday) is None  # type: ignore[arg-type]
    assert sent == []


def test_a_malformed_office_job_is_refused() -> None:
    import pytest

    from shared.reconciliation.weekly import OfficeJob

    for raw in (
        "{}",
        '{"v": 1, "officeId": "", "years": []}',
        '{"v": 1, "officeId": "x", "years": [1]}',
        "[]",
    ):
        with pytest.raises(ValueError):
            OfficeJob.from_json(raw)


def test_entry_restored_from_the_csv_export_is_not_a_duplicate() -> None:
    """The office deleted Loonbrug's entry, then put it back by importing the audit copy's CSV
    export (as the "gone" advice says): another voucher, exactly the run's amounts."""
    jan, feb = run(1, 1, JAN), run(2, 2, FEB)
    restored = entry("2001", "HERSTEL-01", 1, JAN)
    result = reconcile(2024, [jan, feb], [restored, ours(feb)])
    assert result.green, [d.text for d in result.differences]
    assert result.periods[0].status is PeriodStatus.GREEN
    # Restored once is fine; the same amounts a second time is still a duplicate.
    again = entry("2002", "HERSTEL-02", 1, JAN)
    (diff,) = reconcile(2024, [jan, feb], [restored, again, ours(feb)]).differences
    assert diff.kind is Kind.DUPLICATE and "2002" in diff.entry_numbers


def test_booked_in_another_journal_names_that_journal() -> None:
    jan = replace(run(1, 1, JAN), journal="80")
    elsewhere = AfasEntry("1001", jan.reference, "90", 2024, 1, JAN, by_loonbrug=True)
    (diff,) = reconcile(2024, [jan], [], located={jan.reference: [elsewhere]}).differences
    assert diff.kind is Kind.OTHER_PERIOD
    assert "staat in AFAS in dagboek 90" in diff.text
    assert "Loonbrug boekte hem in dagboek 80" in diff.text
    assert "dagboek 80" in diff.todo
    # Read in the same journal read (the ledger's journal differs from where it is now).
    (same_read,) = reconcile(2024, [jan], [elsewhere]).differences
    assert "staat in AFAS in dagboek 90" in same_read.text


def test_sb_texts_name_no_dagboek() -> None:
    def sb_run(seq: int, period: int, t: Totals, *, booked: bool = True) -> LoketRun:
        code = f"Memoriaalboeking {seq}" if booked else ""
        return replace(run(seq, period, t, booked=booked), reference=code, entry_number=code)

    def sb_entry(number: str, period: int, t: Totals, *, ours: bool = False) -> AfasEntry:
        return AfasEntry(number, number, "", 2024, period, t, by_loonbrug=ours)

    gone, changed, twice, moved = (
        sb_run(1, 1, JAN),
        sb_run(2, 2, FEB),
        sb_run(3, 3, FEB),
        sb_run(4, 4, FEB),
    )
    entries = [
        sb_entry(changed.reference, 2, JAN, ours=True),
        sb_entry(twice.reference, 3, FEB, ours=True),
        sb_entry("Memoriaalboeking 99", 3, FEB),
        sb_entry("Memoriaalboeking 98", 5, JAN),
    ]
    located = {moved.reference: [sb_entry(moved.reference, 6, FEB, ours=True)]}
    result = reconcile(
        2024, [gone, changed, twice, moved], entries, located=located, words=SB_WORDS
    )
    kinds = sorted(d.kind.value for d in result.differences)
    assert kinds == ["changed", "duplicate", "extra", "gone", "other-period"], kinds
    for d in result.differences:
        assert "dagboek" not in (d.text + d.todo).lower(), d.text
        assert "boekstuknummer" not in d.text, d.text
    by_kind = {d.kind: d for d in result.differences}
    assert "in geen enkel boekjaar van de administratie" in by_kind[Kind.GONE].text
    assert "in dezelfde administratie en periode" in by_kind[Kind.DUPLICATE].text


@pytest.mark.parametrize("year", ["٢٠٢٤", "２０２４", "2O24", "²⁰²⁴"])
def test_a_year_in_other_digits_is_a_422_naming_the_field(
    services: Services, unique: Callable[[str], str], year: str
) -> None:
    """Arabic-Indic or full-width digits pass ``str.isdigit`` and ``int()``: refused, with the
    field named, never a 500 and never read as 2024."""
    answer = call(
        services,
        GET_RECONCILIATION,
        headers=reader_headers(unique("office")),
        route={"clientId": "4711"},
        query={"year": year},
    )
    assert answer.status == 422, answer.body
    problem = answer.json()
    assert [e["field"] for e in problem["errors"]] == ["year"], problem
    assert "kan niet" in problem["detail"]


def test_profit_compared_per_cost_centre_names_it() -> None:
    """Per allocation (Profit_Transactions_Allocated): the same account total on another cost
    centre is a change, and the text names the cost centre."""
    from shared.afas.models import BookedLine
    from shared.afas.profit import allocation_of
    from shared.afas.reconcile_profit import entries_of
    from shared.reconciliation.compare import ledger_key

    loket = Totals.of(
        [(ledger_key("4000", "KP100"), D("1000.00"), D(0)), ("1600", D(0), D("1000.00"))]
    )
    jan = run(1, 1, loket)
    # ASSUMPTION [I], read in one place: DimAx{n} is the line's code on axis n.
    assert allocation_of({"DimAx1": "KP200", "DimAx2": None, "DimAx3": " "}) == ((1, "KP200"),)
    line = BookedLine(1, 1001, 1, "80", 2024, 1, "4000", D("1000.00"), D(0), jan.reference, "")
    lines = [
        replace(line, allocation=allocation_of({"DimAx1": "KP200"})),
        replace(line, sequence=2, account="1600", debit=D(0), credit=D("1000.00")),
    ]
    (moved_cost_centre,) = entries_of(lines, axis=1)
    assert moved_cost_centre.totals.accounts.keys() == {"4000|KP200", "1600"}
    (diff,) = reconcile(2024, [jan], [replace(moved_cost_centre, by_loonbrug=True)]).differences
    assert diff.kind is Kind.CHANGED
    assert (
        "rekening 4000, kostenplaats KP100: debet € 1.000,00 in Loket, € 0,00 in AFAS" in diff.text
    )
    assert (
        "rekening 4000, kostenplaats KP200: debet € 0,00 in Loket, € 1.000,00 in AFAS" in diff.text
    )
    # Per account (the fallback) the same entry agrees.
    (per_account,) = entries_of(lines)
    assert reconcile(2024, [replace(jan, totals=JAN_4000)], [per_account]).green


JAN_4000 = totals(("4000", "1000.00", "0"), ("1600", "0", "1000.00"))
