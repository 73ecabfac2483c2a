"""A client's mapping from Loket lines to AFAS lines: accounts, cost centres, description, period."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from shared.journal.periods import PeriodRule

DEFAULT_DESCRIPTION: Final = "Loonjournaal {periode} {administratie} run {volgnummer}"
PLACEHOLDERS: Final = frozenset(
    {"jaar", "periode", "periodenummer", "volgnummer", "administratie", "client", "klant"}
)


class CostCenterRule(StrEnum):
    PASS = "pass"  # noqa: S105 - not a password. Loket cost centre / cost unit go to the AFAS allocation axes as they are
    MAP = "map"  # translated through the client's tables (unlisted codes pass unchanged)
    DROP = "drop"  # no allocation: amounts are summed per account


def _frozen(values: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class JournalMapping:
    accounts: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    fallback_account: str | None = None
    cost_centers: CostCenterRule = CostCenterRule.PASS
    cost_center_axis: int = 1
    cost_unit_axis: int | None = 2
    cost_center_map: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    cost_unit_map: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    description: str = DEFAULT_DESCRIPTION
    period_rule: PeriodRule | None = None

    def __post_init__(self) -> None:
        for name in ("accounts", "cost_center_map", "cost_unit_map"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def target_account(self, loket_account: str) -> str | None:
        """The AFAS account for a Loket account: the table, else the fallback, else unchanged."""
        mapped = self.accounts.get(loket_account)
        if mapped:
            return mapped
        if self.fallback_account and (self.accounts or not loket_account):
            return self.fallback_account
        return loket_account or None

    def dimensions(
        self, cost_center: str | None, cost_unit: str | None
    ) -> tuple[tuple[int, str], ...]:
        if self.cost_centers is CostCenterRule.DROP:
            return ()
        dims: list[tuple[int, str]] = []
        if cost_center:
            code = cost_center
            if self.cost_centers is CostCenterRule.MAP:
                code = self.cost_center_map.get(cost_center, cost_center)
            dims.append((self.cost_center_axis, code))
        if cost_unit and self.cost_unit_axis is not None:
            code = cost_unit
            if self.cost_centers is CostCenterRule.MAP:
                code = self.cost_unit_map.get(cost_unit, cost_unit)
            dims.append((self.cost_unit_axis, code))
        return tuple(sorted(dims))


def template_problems(template: str) -> list[str]:
    """Dutch problems with a description template (unknown placeholders, bad braces)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return ["de accolades { } in de omschrijving kloppen niet"]
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
        return [f"onbekende invulplek {', '.join(unknown)}; gebruik {allowed}"]
    return []


def render_description(template: str, values: Mapping[str, str], limit: int) -> str:
    text = template.format_map({k: values.get(k, "") for k in PLACEHOLDERS})
    text = " ".join(text.split())
    return text[:limit]
