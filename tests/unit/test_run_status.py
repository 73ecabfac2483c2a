"""Issue 17 item 3: a run's status and counts say what happened to its loonruns (journal runs),
not to its clients: the manual's "Uitgevoerd (3/3)" is "3 of the 3 loonruns imported"."""

from __future__ import annotations

import pytest

from shared.runs.model import JournalRunCounts
from shared.runs.texts import status_text


@pytest.mark.parametrize(
    ("counts", "outcome", "text"),
    [
        (JournalRunCounts(imported=3), "imported", "Uitgevoerd (3/3)"),
        (JournalRunCounts(imported=3, skipped=2), "imported", "Uitgevoerd (3/3)"),
        (JournalRunCounts(imported=1, rejected=1), "imported", "Uitgevoerd (1/2, 1 afgewezen)"),
        # "Uitgevoerd met fouten (1/1)" beside "0 van de 2 loonruns" was the defect.
        (JournalRunCounts(failed=2, run_failed=True), "failed", "Uitgevoerd met fouten (0/2)"),
        (JournalRunCounts(imported=1, failed=1), "failed", "Uitgevoerd met fouten (1/2)"),
        (JournalRunCounts(clients_failed=1, run_failed=True), "failed", "Mislukt"),
        (JournalRunCounts(run_failed=True), "failed", "Mislukt"),  # could not start
        # A green "Uitgevoerd (1/1)" while 2 loonruns wait for approval was the defect.
        (
            JournalRunCounts(imported=1, awaiting=2),
            "awaiting_approval",
            "Wacht op goedkeuring (1/3)",
        ),
        (JournalRunCounts(rejected=2), "rejected", "Afgewezen (0/2)"),
        # A green "0 van de 0 loonruns succesvol geïmporteerd" was the defect.
        (JournalRunCounts(), "nothing_to_do", "Niets te boeken"),
        (JournalRunCounts(skipped=1), "nothing_to_do", "Niets te boeken"),
        (
            JournalRunCounts(imported=1, running=True, clients_done=1, clients_total=3),
            "running",
            "Wordt uitgevoerd (1 van 3 clients)",
        ),
    ],
)
def test_run_status_counts_loonruns(counts: JournalRunCounts, outcome: str, text: str) -> None:
    assert counts.outcome == outcome
    assert status_text(counts) == text
