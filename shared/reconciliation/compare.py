"""Aansluiting: does AFAS still hold what Loket journalled? Pure comparison and classification.

Input, per client and AFAS year:

* :class:`LoketRun` per Loket journal run of the year: what Loket journalled (totals per AFAS
  ledger account, from the audit copy's ``entry.json`` where it exists), the AFAS period the
  client's mapping gives it, and whether (and under which voucher / entry) Loonbrug booked it;
* :class:`AfasEntry` per entry AFAS holds in the client's journal(s) and year (read paged and
  filtered, see ``shared/afas/reconcile_profit.py``), plus, for vouchers Loonbrug booked that are
  not in that read, where else in the administration they were found (``located``).

Output: a :class:`YearResult` with one :class:`PeriodResult` per period (green, red or empty)
and every :class:`Difference` classified (:class:`Kind`) and explained in Dutch with what to do.
Amounts are ``Decimal`` and compared to the cent.

Nothing here reads or writes anything: the reading is in ``service.py`` and the AFAS adapters.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def euro(value: Decimal) -> str:
    """Dutch money: ``€ 1.234,56`` (``-€ 5,00`` for a negative amount)."""
    amount = cents(value)
    text = f"{abs(amount):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{'-' if amount < 0 else ''}€ {text}"


# Profit compared per allocation: a totals key is ``{account}|{cost centre}`` for a line with a
# cost centre, the bare account for one without (and always on the per-account basis and in SB).
KEY_SEPARATOR: Final = "|"


def ledger_key(account: str, cost_centre: str = "") -> str:
    return f"{account}{KEY_SEPARATOR}{cost_centre}" if cost_centre else account


def split_key(key: str) -> tuple[str, str]:
    """``(account, cost centre)`` of a totals key (cost centre "" when there is none)."""
    account, _sep, cost_centre = key.partition(KEY_SEPARATOR)
    return account, cost_centre


def key_label(key: str) -> str:
    """Dutch: ``rekening 4000`` or ``rekening 4000, kostenplaats KP100``."""
    account, cost_centre = split_key(key)
    return f"rekening {account}" + (f", kostenplaats {cost_centre}" if cost_centre else "")


@dataclass(frozen=True)
class Basis:
    """What the comparison went by (shown in the API and the portal): per ledger account and
    cost centre, or per ledger account only (and why, with what to do in ``hint``)."""

    per_allocation: bool
    text: str
    hint: str = ""


@dataclass(frozen=True)
class Side:
    """Debit and credit of one ledger account."""

    debit: Decimal = ZERO
    credit: Decimal = ZERO

    def plus(self, other: Side) -> Side:
        return Side(self.debit + other.debit, self.credit + other.credit)

    @property
    def net(self) -> Decimal:
        return cents(self.debit - self.credit)


@dataclass(frozen=True)
class Totals:
    """Debit and credit per ledger account, to the cent."""

    accounts: Mapping[str, Side] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, lines: Iterable[tuple[str, Decimal, Decimal]]) -> Totals:
        found: dict[str, Side] = {}
        for account, debit, credit in lines:
            found[account] = found.get(account, Side()).plus(Side(debit, credit))
        return cls({a: Side(cents(s.debit), cents(s.credit)) for a, s in sorted(found.items())})

    def plus(self, other: Totals) -> Totals:
        merged: dict[str, Side] = dict(self.accounts)
        for account, side in other.accounts.items():
            merged[account] = merged.get(account, Side()).plus(side)
        return Totals(dict(sorted(merged.items())))

    @property
    def debit(self) -> Decimal:
        return cents(sum((s.debit for s in self.accounts.values()), ZERO))

    @property
    def credit(self) -> Decimal:
        return cents(sum((s.credit for s in self.accounts.values()), ZERO))

    def same(self, other: Totals) -> bool:
        """The same debit and credit on every account, to the cent."""
        return not self.deltas(other)

    def deltas(self, other: Totals) -> list[AccountDelta]:
        """Accounts where ``self`` (Loket) and ``other`` (AFAS) differ."""
        out = []
        for account in sorted(set(self.accounts) | set(other.accounts)):
            mine, theirs = self.accounts.get(account, Side()), other.accounts.get(account, Side())
            if (cents(mine.debit), cents(mine.credit)) != (
                cents(theirs.debit),
                cents(theirs.credit),
            ):
                out.append(AccountDelta(account, mine, theirs))
        return out


@dataclass(frozen=True)
class AccountDelta:
    account: str
    loket: Side
    afas: Side

    @property
    def text(self) -> str:
        parts = []
        for label, mine, theirs in (
            ("debet", self.loket.debit, self.afas.debit),
            ("credit", self.loket.credit, self.afas.credit),
        ):
            if cents(mine) != cents(theirs):
                parts.append(f"{label} {euro(mine)} in Loket, {euro(theirs)} in AFAS")
        return f"{key_label(self.account)}: " + " en ".join(parts)


class Kind(StrEnum):
    GONE = "gone"  # booked by Loonbrug, no longer in AFAS
    CHANGED = "changed"  # booked by Loonbrug, amounts changed in AFAS
    DUPLICATE = "duplicate"  # in AFAS twice (e.g. also imported by hand)
    NEVER_BOOKED = "never-booked"  # journalled in Loket, never booked
    OTHER_PERIOD = "other-period"  # booked in another period than the mapping says
    EXTRA = "extra"  # in the client's journal, not from Loket, matches no journal run

    @property
    def dutch(self) -> str:
        return KIND_TEXTS[self]


KIND_TEXTS: Final = {
    Kind.GONE: "Verdwenen uit AFAS",
    Kind.CHANGED: "Gewijzigd in AFAS",
    Kind.DUPLICATE: "Dubbel in AFAS",
    Kind.NEVER_BOOKED: "Nooit geboekt",
    Kind.OTHER_PERIOD: "Andere periode",
    Kind.EXTRA: "Onbekende boeking in AFAS",
}
GREEN_TEXT: Final = "Loket en AFAS sluiten aan, tot op de cent."


@dataclass(frozen=True)
class Words:
    """How the Dutch texts name where an entry is: Profit has journals (dagboeken) and voucher
    numbers; SB has neither in our screens (one administration, entries by their number)."""

    nowhere: str  # where a deleted entry was looked for
    same_place: str  # where a hand import sits next to Loonbrug's entry
    reference: str  # what the reference is called
    journals: bool  # whether a journal is named at all


PROFIT_WORDS: Final = Words(
    nowhere="in geen enkel dagboek of boekjaar van de administratie",
    same_place="in hetzelfde dagboek en dezelfde periode",
    reference="boekstuknummer",
    journals=True,
)
SB_WORDS: Final = Words(
    nowhere="in geen enkel boekjaar van de administratie",
    same_place="in dezelfde administratie en periode",
    reference="boekingsnummer",
    journals=False,
)


@dataclass(frozen=True)
class LoketRun:
    """One journal run Loket journalled in this AFAS year, as Loonbrug knows it."""

    loket_journal_run_id: str
    sequence_number: int
    payroll_period: str  # Loket's label, "2024-3"
    year: int  # the AFAS year and period the client's mapping gives it
    period: int
    totals: Totals | None  # None: not known (no audit copy, lines not read)
    booked: bool = False
    reference: str = ""  # voucher number (Profit) / entry code (SB) Loonbrug booked it under
    entry_number: str = ""
    run_id: str = ""  # the Loonbrug run that keeps its audit copy (drill-down), "" if none
    why_not: str = ""  # Dutch, from the run history: why it was never booked
    todo: str = ""  # Dutch, what to do about ``why_not`` (empty: the general advice)
    journal: str = ""  # Profit: the journal Loonbrug booked it in ("" = not known / SB)


@dataclass(frozen=True)
class AfasEntry:
    """One entry in AFAS (Profit ``EntryNo`` / SB header) with its lines' totals."""

    entry_number: str
    reference: str  # voucher number (Profit ``VoucherNo``) / SB entry number
    journal: str
    year: int
    period: int
    totals: Totals
    description: str = ""
    by_loonbrug: bool = False  # its reference has Loonbrug's form (this or another client)


@dataclass(frozen=True)
class Difference:
    kind: Kind
    year: int
    period: int  # the period it is shown under (the mapping's period for a journal run)
    text: str
    todo: str
    loket_journal_run_id: str = ""
    run_id: str = ""
    reference: str = ""
    entry_numbers: tuple[str, ...] = ()
    loket: Totals | None = None
    afas: Totals | None = None
    accounts: tuple[AccountDelta, ...] = ()

    @property
    def title(self) -> str:
        return self.kind.dutch

    @property
    def key(self) -> str:
        """Stable identity of this difference (what the weekly e-mail remembers it reported)."""
        subject = self.loket_journal_run_id or ",".join(self.entry_numbers)
        detail = ",".join(self.entry_numbers) if self.kind is Kind.DUPLICATE else ""
        raw = f"{self.kind.value}|{self.year}|{self.period}|{subject}|{detail}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


class PeriodStatus(StrEnum):
    GREEN = "green"
    RED = "red"
    EMPTY = "empty"  # nothing journalled, nothing in AFAS


@dataclass(frozen=True)
class PeriodResult:
    year: int
    period: int
    status: PeriodStatus
    loket: Totals
    afas: Totals
    journal_runs: tuple[LoketRun, ...]
    entries: tuple[AfasEntry, ...]
    differences: tuple[Difference, ...]
    # Periods whose differences explain this one's totals (an entry that belongs there is here).
    explained_by: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        if self.status is PeriodStatus.GREEN:
            return GREEN_TEXT
        if self.status is PeriodStatus.EMPTY:
            return "Geen loonruns en geen boekingen in deze periode."
        n = len(self.differences)
        if n:
            return f"{n} {'verschil' if n == 1 else 'verschillen'}."
        where = ", ".join(str(p) for p in self.explained_by) or "een andere periode"
        return (
            f"Loket {euro(self.loket.debit)} en AFAS {euro(self.afas.debit)} debet: zie het "
            f"verschil bij periode {where}."
        )


@dataclass(frozen=True)
class YearResult:
    year: int
    periods: tuple[PeriodResult, ...]

    @property
    def differences(self) -> tuple[Difference, ...]:
        return tuple(d for p in self.periods for d in p.differences)

    @property
    def green(self) -> bool:
        return not self.differences


def _run_label(run: LoketRun) -> str:
    return f"loonrun {run.sequence_number} (periode {run.payroll_period} in Loket)"


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _period_label(year: int, period: int) -> str:
    return f"{year}-{period:02d}"


def reconcile(
    year: int,
    runs: Sequence[LoketRun],
    entries: Sequence[AfasEntry],
    *,
    located: Mapping[str, Sequence[AfasEntry]] | None = None,
    periods: int = 12,
    words: Words = PROFIT_WORDS,
) -> YearResult:
    """Compare and classify. ``entries``: what AFAS holds in the client's journal(s) in ``year``;
    ``located``: for a reference Loonbrug booked that is not among ``entries``, the entries with
    that reference found elsewhere in the administration (another journal or year). ``words``:
    Profit's or SB's way of naming places in the Dutch texts."""
    located = located or {}
    by_reference: dict[str, list[AfasEntry]] = defaultdict(list)
    for entry in entries:
        if entry.reference:
            by_reference[entry.reference.lower()].append(entry)
    differences: list[Difference] = []
    counted: dict[str, AfasEntry] = {}  # entry number -> entry, in the AFAS totals of its period
    ours: set[str] = set()
    never: dict[str, LoketRun] = {}
    # Booked runs whose reference is nowhere in AFAS: gone, unless an entry with exactly their
    # totals (not Loonbrug's) sits in their period: restored by hand from the CSV export.
    missing: dict[str, tuple[int, LoketRun]] = {}

    for run in sorted(runs, key=lambda r: (r.period, r.sequence_number)):
        if not run.booked:
            never[run.loket_journal_run_id] = run
            continue
        found = by_reference.get(run.reference.lower(), []) if run.reference else []
        ours.update(e.entry_number for e in found)
        for entry in found:
            counted[entry.entry_number] = entry
        if not found:
            elsewhere = list(located.get(run.reference, ()))
            if elsewhere:
                differences.append(_moved(run, elsewhere, words))
            else:
                missing[run.loket_journal_run_id] = (len(differences), run)
                differences.append(_gone(run, words))
            continue
        if len(found) > 1:
            differences.append(_twice_same_reference(run, found, words))
            continue
        entry = found[0]
        if (entry.year, entry.period) != (run.year, run.period) or (
            words.journals and run.journal and entry.journal and entry.journal != run.journal
        ):
            differences.append(_moved(run, [entry], words))
        elif run.totals is not None and not run.totals.same(entry.totals):
            differences.append(_changed(run, entry, words))

    matched_never: dict[str, AfasEntry] = {}
    restored: set[int] = set()  # indexes in ``differences`` of a "gone" that was restored
    for entry in entries:
        if entry.entry_number in ours or entry.by_loonbrug:
            continue  # Loonbrug's (this client's, or another client's in the same journal)
        counted[entry.entry_number] = entry
        twin = _twin(entry, runs)
        if twin is not None and twin.loket_journal_run_id in missing:
            # Loonbrug's entry is gone and this one has exactly its amounts: the office put it
            # back from the audit copy's CSV export (under another voucher). Not a duplicate.
            index, _run = missing.pop(twin.loket_journal_run_id)
            restored.add(index)
        elif twin is not None and twin.booked:
            differences.append(_duplicate(twin, entry, words))
        elif twin is not None and twin.loket_journal_run_id not in matched_never:
            matched_never[twin.loket_journal_run_id] = entry
        else:
            differences.append(_extra(entry, words))
    differences = [d for i, d in enumerate(differences) if i not in restored]
    for run in never.values():
        differences.append(_never_booked(run, matched_never.get(run.loket_journal_run_id)))

    numbers = max([periods, *(r.period for r in runs if r.year == year)])
    numbers = max([numbers, *(e.period for e in entries if e.year == year)])
    results = []
    for number in range(1, numbers + 1):
        period_runs = tuple(r for r in runs if (r.year, r.period) == (year, number))
        period_entries = tuple(e for e in counted.values() if (e.year, e.period) == (year, number))
        found_here = tuple(d for d in differences if (d.year, d.period) == (year, number))
        loket = Totals()
        for r in period_runs:
            if r.totals is not None:
                loket = loket.plus(r.totals)
        afas = Totals()
        for e in period_entries:
            afas = afas.plus(e.totals)
        numbers_here = {e.entry_number for e in period_entries}
        explained_by = tuple(
            sorted(
                {d.period for d in differences if numbers_here & set(d.entry_numbers)} - {number}
            )
        )
        if found_here or not loket.same(afas):
            status = PeriodStatus.RED
        elif period_runs or period_entries:
            status = PeriodStatus.GREEN
        else:
            status = PeriodStatus.EMPTY
        results.append(
            PeriodResult(
                year,
                number,
                status,
                loket,
                afas,
                period_runs,
                period_entries,
                found_here,
                explained_by,
            )
        )
    return YearResult(year, tuple(results))


def _twin(entry: AfasEntry, runs: Sequence[LoketRun]) -> LoketRun | None:
    """The journal run of the same period whose totals this entry has exactly."""
    for run in runs:
        if (
            (run.year, run.period) == (entry.year, entry.period)
            and run.totals is not None
            and run.totals.accounts
            and run.totals.same(entry.totals)
        ):
            return run
    return None


def _gone(run: LoketRun, words: Words) -> Difference:
    entry = f" als boeking {run.entry_number}" if run.entry_number else ""
    reference = (
        f" met {words.reference} {run.reference}" if run.reference != run.entry_number else ""
    )
    return Difference(
        Kind.GONE,
        run.year,
        run.period,
        f"Loonbrug boekte {_run_label(run)}{entry}{reference}, maar die boeking staat niet meer "
        f"in AFAS ({words.nowhere}).",
        "Vraag na wie de boeking in AFAS heeft verwijderd en waarom. Was dat een vergissing, lees "
        "de journaalpost dan opnieuw in met de export (CSV) uit de auditkopie van deze loonrun.",
        run.loket_journal_run_id,
        run.run_id,
        run.reference,
        (run.entry_number,) if run.entry_number else (),
        run.totals,
        Totals(),
    )


def _ref(words: Words, entry_number: str, reference: str) -> str:
    """`` (boekstuknummer X)`` when the reference says more than the entry number."""
    return f" ({words.reference} {reference})" if reference and reference != entry_number else ""


def _changed(run: LoketRun, entry: AfasEntry, words: Words) -> Difference:
    assert run.totals is not None
    deltas = tuple(run.totals.deltas(entry.totals))
    detail = "; ".join(d.text for d in deltas)
    return Difference(
        Kind.CHANGED,
        run.year,
        run.period,
        f"Boeking {entry.entry_number}{_ref(words, entry.entry_number, run.reference)} van "
        f"{_run_label(run)} is in AFAS gewijzigd: {detail}.",
        "Zoek uit wie de boeking in AFAS heeft aangepast en waarom. Klopt Loket, zet de bedragen "
        "in AFAS terug zoals in de auditkopie; klopt AFAS, corrigeer dan de loonadministratie in "
        "Loket.",
        run.loket_journal_run_id,
        run.run_id,
        run.reference,
        (entry.entry_number,),
        run.totals,
        entry.totals,
        deltas,
    )


def _moved(run: LoketRun, found: Sequence[AfasEntry], words: Words) -> Difference:
    entry = found[0]
    where = _period_label(entry.year, entry.period)
    expected = _period_label(run.year, run.period)
    other_journal = bool(
        words.journals and run.journal and entry.journal and entry.journal != run.journal
    )
    journal = f" in dagboek {entry.journal}" if words.journals and entry.journal else ""
    ref = _ref(words, entry.entry_number, run.reference)
    if other_journal and where == expected:
        text = (
            f"Boeking {entry.entry_number}{ref} van {_run_label(run)} staat in AFAS in dagboek "
            f"{entry.journal}, maar Loonbrug boekte hem in dagboek {run.journal} (periode "
            f"{expected})."
        )
        todo = (
            f"Zet de boeking in AFAS terug in dagboek {run.journal}, of laat hem in dagboek "
            f"{entry.journal} staan als dat zo bedoeld is en pas dan het dagboek van de client "
            "aan (Client configuraties)."
        )
    else:
        should = f" in dagboek {run.journal}" if other_journal else ""
        text = (
            f"Boeking {entry.entry_number}{ref} van {_run_label(run)} staat in AFAS in periode "
            f"{where}{journal}, maar volgens de koppeling hoort hij in periode {expected}{should}."
        )
        todo = (
            f"Verplaats de boeking in AFAS naar periode {expected}{should}. Is de "
            "periode-instelling van de client niet juist, pas die dan aan (Client configuraties "
            "› Periode in AFAS)."
        )
    return Difference(
        Kind.OTHER_PERIOD,
        run.year,
        run.period,
        text,
        todo,
        run.loket_journal_run_id,
        run.run_id,
        run.reference,
        tuple(e.entry_number for e in found),
        run.totals,
        entry.totals,
    )


def _twice_same_reference(run: LoketRun, found: Sequence[AfasEntry], words: Words) -> Difference:
    numbers = tuple(e.entry_number for e in found)
    afas = Totals()
    for e in found:
        afas = afas.plus(e.totals)
    return Difference(
        Kind.DUPLICATE,
        run.year,
        run.period,
        f"{_upper(words.reference)} {run.reference} van {_run_label(run)} staat {len(found)} keer in AFAS "
        f"(boekingen {', '.join(numbers)}).",
        f"Laat één boeking staan (die van Loonbrug is {run.entry_number or numbers[0]}) en "
        "verwijder de andere in AFAS.",
        run.loket_journal_run_id,
        run.run_id,
        run.reference,
        numbers,
        run.totals,
        afas,
    )


def _duplicate(run: LoketRun, entry: AfasEntry, words: Words) -> Difference:
    voucher = _ref(words, entry.entry_number, entry.reference)
    booked = f"boeking {run.entry_number}" if run.entry_number else "een boeking"
    return Difference(
        Kind.DUPLICATE,
        entry.year,
        entry.period,
        f"{_upper(_run_label(run))} staat twee keer in AFAS: Loonbrug boekte hem als "
        f"{booked}, en boeking {entry.entry_number}{voucher} {words.same_place} heeft precies "
        "dezelfde bedragen maar komt niet van Loonbrug (waarschijnlijk met de hand ingelezen).",
        f"Verwijder boeking {entry.entry_number} in AFAS en laat de boeking van Loonbrug staan.",
        run.loket_journal_run_id,
        run.run_id,
        run.reference,
        tuple(n for n in (run.entry_number, entry.entry_number) if n),
        run.totals,
        entry.totals,
    )


def _extra(entry: AfasEntry, words: Words) -> Difference:
    voucher = _ref(words, entry.entry_number, entry.reference)
    place = f" in dagboek {entry.journal}" if words.journals and entry.journal else ""
    return Difference(
        Kind.EXTRA,
        entry.year,
        entry.period,
        f"Boeking {entry.entry_number}{voucher}{place} komt niet van Loonbrug en heeft niet de "
        "bedragen van een loonrun uit Loket.",
        "Controleer of dit een bewuste correctie is. Zo niet, verwijder of corrigeer hem in AFAS.",
        entry_numbers=(entry.entry_number,),
        afas=entry.totals,
    )


def _never_booked(run: LoketRun, by_hand: AfasEntry | None) -> Difference:
    why = run.why_not or "Loonbrug heeft deze loonrun nooit verwerkt."
    text = f"{_upper(_run_label(run))} is in Loket gejournaliseerd maar nooit door Loonbrug "
    text += f"in AFAS geboekt. {why}"
    todo = run.todo or (
        "Los de oorzaak op en start een rerun voor deze periode (Runs overzicht › Rerun uitvoeren)."
    )
    numbers: tuple[str, ...] = ()
    if by_hand is not None:
        text += (
            f" In AFAS staat wel boeking {by_hand.entry_number} met precies dezelfde bedragen, "
            "niet door Loonbrug geboekt (waarschijnlijk met de hand ingelezen)."
        )
        todo = (
            "Controleer boeking "
            f"{by_hand.entry_number} in AFAS. Laat Loonbrug deze loonrun dan niet meer boeken, "
            "anders staat hij er twee keer in."
        )
        numbers = (by_hand.entry_number,)
    return Difference(
        Kind.NEVER_BOOKED,
        run.year,
        run.period,
        text,
        todo,
        run.loket_journal_run_id,
        run.run_id,
        "",
        numbers,
        run.totals,
        by_hand.totals if by_hand is not None else None,
    )


__all__ = [
    "KEY_SEPARATOR",
    "PROFIT_WORDS",
    "SB_WORDS",
    "AccountDelta",
    "AfasEntry",
    "Basis",
    "Difference",
    "Kind",
    "LoketRun",
    "PeriodResult",
    "PeriodStatus",
    "Side",
    "Totals",
    "Words",
    "YearResult",
    "cents",
    "euro",
    "key_label",
    "ledger_key",
    "reconcile",
    "split_key",
]
