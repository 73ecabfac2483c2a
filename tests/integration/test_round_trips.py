"""Issue 18: what one booked journal run costs, counted (bench/round_trips.py on a small
nightly): storage round trips and external calls per booked run must not creep back up."""

import pytest

from bench.round_trips import run


def test_a_booked_run_costs_no_more_round_trips_than_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_ROUND_TRIP_CLIENTS", "3")
    result = run(quick=True)
    figures = result.figures
    assert figures["storage_by_operation"], "the counting hook saw no storage request"
    # 34.1 before issue 18 (9 clients); 20.7, then 15.9 with 9 clients, 17.7 with these 3 (the
    # once-per-process and once-per-run requests are shared by fewer runs).
    assert figures["storage_per_run"] <= 18.0, figures["storage_by_operation"]
    # Loket 3 (list, results, mark) + AFAS: periods, the post (+ the chart, shared). The
    # journals are read only to explain a refusal.
    assert figures["external_per_run"] <= 5.4, (figures["loket_calls"], figures["afas_calls"])
    assert "GET Profit_Allocation_Assigments" not in figures["afas_calls"]
    assert "GET Profit_Journals" not in figures["afas_calls"]
    # The job's run, read once per process for what never changes (get_fixed), and the Profit
    # connection kept 60 s (ConnectionCache): not once per job.
    assert figures["storage_by_operation"].get("Connections get", 0) <= 2
    # The audit copy's blobs are their own index: the journal-run row is the one transaction
    # per booked run, the job's finish the other.
    assert figures["storage_by_operation"].get("table $batch", 0) <= 2 * 3
