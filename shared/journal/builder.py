"""The entry builder: (journal run, its lines, the client's mapping) -> the AFAS entry. Pure.

* Each Loket line goes to its AFAS account (mapping: table, fallback, else unchanged) and, for
  Profit, to its allocation codes (cost centre / cost unit on the configured axes, mapped or
  dropped).
* Amounts are ``Decimal`` and summed per (account, allocation, side): one debit line and one
  credit line per group at most, so nothing is netted away and no cent is lost or invented.
  AFAS SB takes no allocation, so SB sums per (account, side).
* The entry must balance to the cent; the entry date is the payroll period's end date and the
  ledger period comes from :mod:`shared.journal.periods`.
* Problems are returned as findings next to the entry (the preview shows both); an entry with a
  blocking finding is never posted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Generic, TypeVar

from shared.journal import findings as F
from shared.journal.entries import ProfitEntry, ProfitLine, SbEntry, SbLine
from shared.journal.findings import Finding
from shared.journal.identifiers import profit_voucher_number
from shared.journal.mapping import CostCenterRule, JournalMapping, render_description
from shared.journal.models import JournalLine, JournalRun, PeriodType
from shared.journal.periods import BookingPeriod, booking_period

MAX_PROFIT_LINES: Final = 1000  # AFAS advises at most 1,000 lines per entry (afas-api.md §2.5)
MAX_ACCOUNT_LENGTH: Final = 16  # AcNr
MAX_CODE_LENGTH: Final = 16  # DiC1..DiC5
MAX_DESCRIPTION: Final = 255  # Ds
CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0")

EntryT = TypeVar("EntryT", ProfitEntry, SbEntry)


@dataclass(frozen=True)
class Source:
    """Everything the builder reads: the run, its lines and the client's setup."""

    run: JournalRun
    lines: Sequence[JournalLine]
    mapping: JournalMapping
    period_type: PeriodType
    administration_name: str
    client_id: str
    # Optional: book a difference of at most ``max`` on ``account`` (an "afrondingsverschil").
    rounding_account: str | None = None
    rounding_max: Decimal = ZERO
    # Profit: the allocation axes each AFAS account carries (from Profit_Accounts DimAx1..5).
    # Codes on other axes are left out, with a warning, instead of being refused by AFAS.
    # None: unknown, pass everything (the pre-check then judges).
    axes_by_account: Mapping[str, frozenset[int]] | None = None


@dataclass(frozen=True)
class Draft(Generic[EntryT]):
    entry: EntryT
    period: BookingPeriod
    findings: tuple[Finding, ...]

    @property
    def postable(self) -> bool:
        return not any(f.blocks for f in self.findings)


def description(source: Source, limit: int = MAX_DESCRIPTION) -> str:
    period = source.run.period
    return render_description(
        source.mapping.description,
        {
            "jaar": str(period.year),
            "periode": f"{period.year}-{period.number:02d}",
            "periodenummer": str(period.number),
            "volgnummer": str(source.run.sequence_number),
            "administratie": source.administration_name,
            "client": source.client_id,
            "klant": source.client_id,  # the placeholder before "client": saved descriptions
        },
        limit,
    )


def _precision_findings(lines: Sequence[JournalLine]) -> list[Finding]:
    found = []
    for line in lines:
        for amount in (line.debit, line.credit):
            if amount != amount.quantize(CENT) or amount < ZERO:
                found.append(
                    F.error(
                        "amount-invalid",
                        f"Loket gaf voor rekening {line.account} een bedrag ({amount}) met meer dan "
                        "twee decimalen of een negatief bedrag.",
                        "Controleer de journaalrun in Loket; Loonbrug boekt alleen bedragen in centen.",
                        line.account,
                    )
                )
    return found


def _rounding_line(source: Source) -> JournalLine | None:
    """A balancing line on the rounding account when Loket is off by a permitted amount."""
    if not source.rounding_account:
        return None
    debit = sum((ln.debit for ln in source.lines), ZERO)
    credit = sum((ln.credit for ln in source.lines), ZERO)
    gap = debit - credit
    if gap == ZERO or abs(gap) > source.rounding_max:
        return None
    return JournalLine(
        account=source.rounding_account,
        account_description="Afrondingsverschil",
        debit=-gap if gap < ZERO else ZERO,
        credit=gap if gap > ZERO else ZERO,
        component="Afrondingsverschil",
    )


def _with_rounding(source: Source, found: list[Finding]) -> list[JournalLine]:
    lines = list(source.lines)
    extra = _rounding_line(source)
    if extra is not None:
        lines.append(extra)
        found.append(
            F.warning(
                "rounding-booked",
                f"Afrondingsverschil van {extra.debit + extra.credit:.2f} geboekt op rekening "
                f"{extra.account}.",
                "Controleer de journaalrun in Loket als dit vaker voorkomt.",
                extra.account,
            )
        )
    return lines


def _balance_findings(debit: Decimal, credit: Decimal) -> list[Finding]:
    if debit == credit:
        return []
    return [
        F.error(
            "not-balanced",
            f"De journaalpost is niet in balans: debet {debit:.2f}, credit {credit:.2f} "
            f"(verschil {debit - credit:.2f}).",
            "Controleer de journaalrun in Loket (journaalprofiel en looncomponenten) en maak "
            "hem opnieuw aan.",
        )
    ]


def _account_for(line: JournalLine, mapping: JournalMapping, found: list[Finding]) -> str | None:
    account = mapping.target_account(line.account.strip())
    if not account:
        found.append(
            F.error(
                "account-missing",
                f"Een regel van looncomponent '{line.component or '?'}' heeft geen grootboekrekening.",
                "Stel een uitwijkrekening in bij de client configuratie, of koppel de looncomponent "
                "aan een grootboekrekening in het journaalprofiel in Loket.",
            )
        )
        return None
    if len(account) > MAX_ACCOUNT_LENGTH:
        found.append(
            F.error(
                "account-too-long",
                f"Grootboekrekening '{account}' is langer dan {MAX_ACCOUNT_LENGTH} tekens; AFAS "
                "kan die niet aannemen.",
                "Voeg een transponering toe naar een bestaande AFAS-rekening.",
                account,
            )
        )
        return None
    return account


def build_profit_entry(
    source: Source, *, environment: str, administration: int, journal: str
) -> Draft[ProfitEntry]:
    found = _precision_findings(source.lines)
    source_lines = _with_rounding(source, found)
    groups: dict[tuple[str, tuple[tuple[int, str], ...]], list[Decimal]] = defaultdict(
        lambda: [ZERO, ZERO]
    )
    names: dict[str, str] = {}
    dropped: dict[str, set[str]] = {}
    for line in source_lines:
        account = _account_for(line, source.mapping, found)
        if account is None:
            continue
        dims = source.mapping.dimensions(line.cost_center, line.cost_unit)
        carried = (
            source.axes_by_account.get(account) if source.axes_by_account is not None else None
        )
        if carried is not None and any(axis not in carried for axis, _ in dims):
            dropped.setdefault(account, set()).update(
                code for axis, code in dims if axis not in carried
            )
            dims = tuple((axis, code) for axis, code in dims if axis in carried)
        for axis, code in dims:
            if len(code) > MAX_CODE_LENGTH:
                found.append(
                    F.error(
                        "allocation-code-too-long",
                        f"Verbijzonderingscode '{code}' (as {axis}) is langer dan "
                        f"{MAX_CODE_LENGTH} tekens.",
                        "Vertaal de code via de kostenplaatsentabel van de client configuratie.",
                        account,
                    )
                )
        sums = groups[(account, dims)]
        sums[0] += line.debit
        sums[1] += line.credit
        names.setdefault(account, line.account_description)

    for account, codes in sorted(dropped.items()):
        found.append(
            F.warning(
                "allocation-dropped",
                f"Kostenplaats/kostendrager {', '.join(sorted(codes))} niet doorgeboekt op "
                f"rekening {account}: die rekening heeft in AFAS geen verbijzondering op die as.",
                "Zet de verbijzondering aan op de rekening in AFAS als u de kostenplaats daar wilt "
                "zien.",
                account,
            )
        )
    period = booking_period(source.run.period, source.period_type, source.mapping.period_rule)
    voucher = profit_voucher_number(
        source.run, environment=environment, administration=administration
    )
    header = description(source)
    lines: list[ProfitLine] = []
    for (account, dims), (debit, credit) in sorted(groups.items()):
        text = f"{header} - {names.get(account) or account}"[:MAX_DESCRIPTION]
        if debit:
            lines.append(ProfitLine(account, text, debit, ZERO, dims))
        if credit:
            lines.append(ProfitLine(account, text, ZERO, credit, dims))
    entry = ProfitEntry(
        year=period.year,
        period=period.period,
        administration=administration,
        journal=journal,
        voucher_number=voucher,
        entry_date=period.entry_date,
        voucher_date=period.entry_date,
        lines=tuple(lines),
        description=header,
    )
    found += _balance_findings(
        sum((ln.debit for ln in source_lines), ZERO), sum((ln.credit for ln in source_lines), ZERO)
    )
    if not lines and not found:
        found.append(
            F.error(
                "no-lines",
                "De journaalrun heeft geen regels met een bedrag.",
                "Er valt niets te boeken; controleer de journaalrun in Loket.",
            )
        )
    if len(lines) > MAX_PROFIT_LINES:
        found.append(
            F.error(
                "too-many-lines",
                f"De journaalpost heeft {len(lines)} regels; AFAS adviseert er hoogstens "
                f"{MAX_PROFIT_LINES}.",
                "Kies bij de client configuratie voor 'kostenplaatsen weglaten' of laat minder "
                "kostenplaatsen doorboeken.",
            )
        )
    return Draft(entry, period, tuple(found))


def build_sb_entry(source: Source, *, environment: str, administration_id: str) -> Draft[SbEntry]:
    found = _precision_findings(source.lines)
    source_lines = _with_rounding(source, found)
    groups: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    dropped_allocation = False
    for line in source_lines:
        account = _account_for(line, source.mapping, found)
        if account is None:
            continue
        dropped_allocation |= bool(line.cost_center or line.cost_unit)
        groups[account][0] += line.debit
        groups[account][1] += line.credit
    lines: list[SbLine] = []
    for account, (debit, credit) in sorted(groups.items()):
        if debit:
            lines.append(SbLine(account, debit, ZERO))
        if credit:
            lines.append(SbLine(account, ZERO, credit))
    period = booking_period(source.run.period, source.period_type, source.mapping.period_rule)
    entry = SbEntry(
        administration_id=administration_id,
        description=description(source),
        entry_date=period.entry_date,
        lines=tuple(lines),
    )
    if dropped_allocation and source.mapping.cost_centers is not CostCenterRule.DROP:
        found.append(
            F.warning(
                "sb-no-allocation",
                "AFAS SB neemt geen kostenplaatsen of kostendragers over; de bedragen zijn per "
                "grootboekrekening opgeteld.",
                "Wilt u kostenplaatsen in de boekhouding, gebruik dan AFAS Profit.",
            )
        )
    found += _balance_findings(
        sum((ln.debit for ln in source_lines), ZERO), sum((ln.credit for ln in source_lines), ZERO)
    )
    if not lines and not any(f.blocks for f in found):
        found.append(
            F.error(
                "no-lines",
                "De journaalrun heeft geen regels met een bedrag.",
                "Er valt niets te boeken; controleer de journaalrun in Loket.",
            )
        )
    return Draft(entry, period, tuple(found))
