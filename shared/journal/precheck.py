"""The pre-check: would AFAS take this entry? Pure, over facts read from the ledger beforehand.

The sync (and the preview) read the facts through the AFAS clients and pass them in; this module
only compares. Each problem becomes a Dutch finding with a hint, e.g. "Grootboekrekening 4000 is
geblokkeerd in administratie 1 — deblokkeer de rekening of voeg een transponering toe".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from shared.journal import findings as F
from shared.journal.entries import ProfitEntry, SbEntry
from shared.journal.findings import Finding

AXIS_NAMES = {1: "kostenplaats", 2: "kostendrager"}


@dataclass(frozen=True)
class AccountFact:
    blocked: bool = False
    required_axes: frozenset[int] = frozenset()
    description: str = ""
    # Position n -> the allocation axis code in DimAx{n} (Profit_Accounts; a string as published).
    axis_codes: Mapping[int, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class PeriodFact:
    start: date
    end: date
    blocked: bool = False


@dataclass(frozen=True)
class ProfitFacts:
    """What Profit says about one administration, read just before booking."""

    administration: int
    journal_exists: bool
    journal_blocked: bool
    accounts: Mapping[str, AccountFact]
    # (year, period) -> the rows of "Blocked periods per administration"
    # (Profit_periods_per_administration). Only ``blocked`` closes a period: a period without a
    # row is not known to be closed (AFAS refuses a post into a period that does not exist).
    periods: Mapping[tuple[int, int], PeriodFact]
    # (account, axis code, allocation code) from Profit_Allocation_Assigments (``DimAx`` is the
    # axis code, a string as published); None when the connector was not readable.
    allocations: frozenset[tuple[str, str, str]] | None = None
    environment_label: str = ""


@dataclass(frozen=True)
class SbFacts:
    accounts: frozenset[str]
    # (year, period) -> dates; SB shows no "blocked" flag (afas-api.md §4.5). None: the SB app
    # may not read accounting periods (a reporting endpoint group), so the check is skipped.
    periods: Mapping[tuple[int, int], PeriodFact] | None = field(default_factory=dict)


PERIOD_CHECK_SKIPPED = "period-check-skipped"


def _axis(axis: int) -> str:
    return AXIS_NAMES.get(axis, f"as {axis}")


def journal_findings(journal: str, where: str, *, exists: bool, blocked: bool) -> list[Finding]:
    """What is wrong with the journal (dagboek) of a Profit entry, in Dutch: [] when nothing."""
    if not exists:
        return [
            F.error(
                "journal-unknown",
                f"Dagboek {journal} bestaat niet in {where}.",
                "Kies bij de client configuratie een bestaand memoriaaldagboek.",
            )
        ]
    if blocked:
        return [
            F.error(
                "journal-blocked",
                f"Dagboek {journal} is geblokkeerd in {where}.",
                "Deblokkeer het dagboek in AFAS of kies een ander dagboek.",
            )
        ]
    return []


def precheck_profit(entry: ProfitEntry, facts: ProfitFacts, *, journal: str) -> list[Finding]:
    found: list[Finding] = []
    adm = facts.administration
    where = f"administratie {adm}" + (
        f" ({facts.environment_label})" if facts.environment_label else ""
    )
    found += journal_findings(
        journal, where, exists=facts.journal_exists, blocked=facts.journal_blocked
    )
    seen: set[str] = set()
    for line in entry.lines:
        account = facts.accounts.get(line.account)
        if account is None:
            if line.account not in seen:
                found.append(
                    F.error(
                        "account-unknown",
                        f"Grootboekrekening {line.account} bestaat niet in {where}.",
                        "Maak de rekening aan in AFAS of voeg een transponering toe naar een "
                        "bestaande rekening.",
                        line.account,
                    )
                )
            seen.add(line.account)
            continue
        if account.blocked and line.account not in seen:
            found.append(
                F.error(
                    "account-blocked",
                    f"Grootboekrekening {line.account} is geblokkeerd in {where}.",
                    "Deblokkeer de rekening in AFAS of voeg een transponering toe.",
                    line.account,
                )
            )
        seen.add(line.account)
        given = dict(line.dimensions)
        for axis in sorted(account.required_axes):
            if axis not in given:
                found.append(
                    F.error(
                        "allocation-required",
                        f"Grootboekrekening {line.account} vraagt een {_axis(axis)} (as {axis}), "
                        "maar de Loket-regel heeft er geen.",
                        "Geef de looncomponent in Loket een kostenplaats, of zet in AFAS de "
                        "verbijzondering voor deze rekening uit.",
                        line.account,
                    )
                )
        if facts.allocations is not None:
            for axis, code in line.dimensions:
                if not _assigned(facts.allocations, line.account, account, axis, code):
                    found.append(
                        F.error(
                            "allocation-unknown",
                            f"Voor code verbijzondering '{code}' ({_axis(axis)}) is geen toewijzing "
                            f"bij rekening {line.account} in {where}.",
                            "Wijs de kostenplaats toe aan de rekening in AFAS, vertaal de code via de "
                            "client configuratie, of laat kostenplaatsen weg.",
                            line.account,
                        )
                    )
    found.extend(_period_findings(entry, facts.periods, where))
    return _unique(found)


def _assigned(
    allocations: frozenset[tuple[str, str, str]],
    number: str,
    account: AccountFact,
    axis: int,
    code: str,
) -> bool:
    """Whether allocation ``code`` on axis position ``axis`` (DiC{axis}) is assigned to ``number``.

    ASSUMPTION [I]: Profit_Allocation_Assigments.DimAx ("Allocation axis", a string) holds the
    same axis code as Profit_Accounts.DimAx{n} ("Verbijzonderingsas n code"); the position n
    itself also counts, in case an environment's axis codes are its numbers."""
    keys = {str(axis)}
    if axis in account.axis_codes:
        keys.add(account.axis_codes[axis])
    return any((number, key, code) in allocations for key in keys)


def _period_findings(
    entry: ProfitEntry, periods: Mapping[tuple[int, int], PeriodFact], where: str
) -> list[Finding]:
    """A period is closed only when its row says ``Blocked`` ("Blocked periods per
    administration"); the entry date in a blocked period is refused by AFAS too ("Datum … valt
    in een geblokkeerde periode"). A period without a row is at most a warning: AFAS refuses a
    post into a period that does not exist, and that refusal comes back with its own hint."""
    period = periods.get((entry.year, entry.period))
    if period is not None and period.blocked:
        return [
            F.error(
                "period-blocked",
                f"Periode {entry.period} van boekjaar {entry.year} is geblokkeerd in {where}.",
                "Deblokkeer de periode in AFAS en start daarna een rerun voor deze periode.",
            )
        ]
    closed = sorted(
        (year, number)
        for (year, number), fact in periods.items()
        if fact.blocked and fact.start <= entry.entry_date <= fact.end
    )
    if closed:
        year, number = closed[0]
        return [
            F.error(
                "period-blocked",
                f"De boekdatum {entry.entry_date:%d-%m-%Y} valt in periode {number} van boekjaar "
                f"{year}, die geblokkeerd is in {where}.",
                "Deblokkeer die periode in AFAS of controleer de periodekoppeling bij de "
                "client configuratie, en start daarna een rerun.",
            )
        ]
    if period is None:
        return [
            F.warning(
                "period-not-listed",
                f"Periode {entry.period} van boekjaar {entry.year} staat niet in de lijst met "
                f"perioden van {where}; AFAS weigert de boeking als de periode niet bestaat.",
                "Controleer in AFAS of het boekjaar en de periode bestaan (Financieel › Inrichting "
                "› Periodetabel).",
            )
        ]
    if not period.start <= entry.entry_date <= period.end:
        return [
            F.warning(
                "date-outside-period",
                f"De boekdatum {entry.entry_date:%d-%m-%Y} valt buiten periode {entry.period} "
                f"({period.start:%d-%m-%Y} t/m {period.end:%d-%m-%Y}).",
                "Controleer de periodekoppeling bij de client configuratie.",
            )
        ]
    return []


def precheck_sb(entry: SbEntry, facts: SbFacts) -> list[Finding]:
    found: list[Finding] = []
    for account in sorted({line.account for line in entry.lines}):
        if account not in facts.accounts:
            found.append(
                F.error(
                    "account-unknown",
                    f"Grootboekrekening {account} bestaat niet in de AFAS SB-administratie.",
                    "Maak de rekening aan in AFAS SB of voeg een transponering toe.",
                    account,
                )
            )
    if facts.periods is None:
        found.append(
            F.warning(
                PERIOD_CHECK_SKIPPED,
                "De boekperiode is niet vooraf gecontroleerd: de Loonbrug-app in AFAS SB mag de "
                "boekperioden niet lezen (die horen bij de endpointgroep Financiële rapportage, "
                "niet bij Loonjournaalpost). AFAS SB controleert de datum zelf bij het boeken.",
                "Niets te doen. Wilt u deze controle vooraf toch, geef de app dan in het App "
                "Center van AFAS SB ook toegang tot Financiële rapportage.",
            )
        )
    elif facts.periods and not any(
        p.start <= entry.entry_date <= p.end for p in facts.periods.values()
    ):
        found.append(
            F.error(
                "period-missing",
                f"Er is in AFAS SB geen boekperiode voor {entry.entry_date:%d-%m-%Y}.",
                "Maak het boekjaar aan in AFAS SB.",
            )
        )
    return found


def _unique(found: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for finding in found:
        key = (finding.code, finding.text)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique
