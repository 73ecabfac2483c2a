"""The Dutch status texts of a run, in the manual's wording ("Wordt uitgevoerd",
"Uitgevoerd (3/3)"): the run overview, the run detail and the morning e-mail say the same."""

from __future__ import annotations

from typing import Final, Protocol

from shared.runs.model import JournalRunCounts

OUTCOME_TEXTS: Final = {
    "running": "Wordt uitgevoerd",
    "failed": "Uitgevoerd met fouten",
    "awaiting_approval": "Wacht op goedkeuring",
    "imported": "Uitgevoerd",
    "rejected": "Afgewezen",
    "nothing_to_do": "Niets te boeken",
}


class CountedRun(Protocol):
    @property
    def journal_runs(self) -> JournalRunCounts: ...


def outcome_text(outcome: str) -> str:
    """The Dutch word for an outcome code (``JournalRunCounts.outcome``), without counts."""
    return OUTCOME_TEXTS[outcome]


def status_text(counts: JournalRunCounts) -> str:
    """The status with its loonrun fraction: "Uitgevoerd (3/3)", "Wacht op goedkeuring (0/2)";
    a run that failed before any loonrun: "Mislukt"."""
    outcome = counts.outcome
    fraction = f"{counts.imported}/{counts.total}"
    if outcome == "running":
        return f"{outcome_text(outcome)} ({counts.clients_done} van {counts.clients_total} clients)"
    if outcome == "failed" and not counts.total:
        return "Mislukt"
    if outcome == "imported" and counts.rejected:
        return f"{outcome_text(outcome)} ({fraction}, {counts.rejected} afgewezen)"
    if outcome == "nothing_to_do":
        return outcome_text(outcome)
    return f"{outcome_text(outcome)} ({fraction})"


def run_status_text(run: CountedRun) -> str:
    """A run's status text, counting its loonruns (admins' decisions included)."""
    return status_text(run.journal_runs)
