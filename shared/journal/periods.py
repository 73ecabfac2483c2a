"""From a Loket payroll period to the AFAS financial year and period.

The table (and why), also in docs/journal.md:

| payroll period type | default rule       | AFAS (year, period)                         |
|---------------------|--------------------|---------------------------------------------|
| monthly (1–12)      | ``payroll-period`` | (payroll year, period number) = the month   |
| 4-weekly (1–13)     | ``end-date-month`` | (year, month) of the period's end date      |
| weekly (1–53)       | ``end-date-month`` | (year, month) of the period's end date      |

A monthly payroll period *is* a calendar month, so its number is the ledger period. A 4-weekly
period straddles months: the month that holds its end date is where most of its days and its
payment fall, and it is the rule peers use (the issue's default). Offices whose AFAS
administration keeps a 13-period table (4-weekly ledger) choose ``payroll-period``; offices that
book in the month the period starts choose ``start-date-month``. Every rule maps each payroll
period to exactly one (year, period); the pre-check then confirms that period exists and is open.

The entry date (``EnDa``/``Date``) is the payroll period's end date in every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.journal.models import PayrollPeriod, PeriodType


class PeriodRule(StrEnum):
    PAYROLL_PERIOD = "payroll-period"
    END_DATE_MONTH = "end-date-month"
    START_DATE_MONTH = "start-date-month"


DEFAULT_RULES: dict[PeriodType, PeriodRule] = {
    PeriodType.MONTHLY: PeriodRule.PAYROLL_PERIOD,
    PeriodType.FOUR_WEEKLY: PeriodRule.END_DATE_MONTH,
    PeriodType.WEEKLY: PeriodRule.END_DATE_MONTH,
    PeriodType.UNKNOWN: PeriodRule.END_DATE_MONTH,
}


@dataclass(frozen=True)
class BookingPeriod:
    year: int
    period: int
    entry_date: date
    rule: PeriodRule

    @property
    def label(self) -> str:
        return f"{self.year}-{self.period:02d}"


def booking_period(
    period: PayrollPeriod, period_type: PeriodType, rule: PeriodRule | None = None
) -> BookingPeriod:
    """The one AFAS (year, period) a payroll period is booked in, and the entry date."""
    chosen = rule or DEFAULT_RULES[period_type]
    if chosen is PeriodRule.PAYROLL_PERIOD:
        year, number = period.year, period.number
    elif chosen is PeriodRule.START_DATE_MONTH:
        year, number = period.start.year, period.start.month
    else:
        year, number = period.end.year, period.end.month
    return BookingPeriod(year=year, period=number, entry_date=period.end, rule=chosen)
