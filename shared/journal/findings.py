"""What the builder and the pre-check found: Dutch text with a hint the user can act on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the entry is not posted
    WARNING = "warning"  # posted, but the user should know


@dataclass(frozen=True)
class Finding:
    code: str  # stable English slug, e.g. "account-blocked"
    severity: Severity
    text: str  # Dutch
    hint: str  # Dutch: what to do about it
    account: str | None = None

    @property
    def blocks(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, text: str, hint: str, account: str | None = None) -> Finding:
    return Finding(code, Severity.ERROR, text, hint, account)


def warning(code: str, text: str, hint: str, account: str | None = None) -> Finding:
    return Finding(code, Severity.WARNING, text, hint, account)


def blocking(findings: list[Finding] | tuple[Finding, ...]) -> list[Finding]:
    return [f for f in findings if f.blocks]
