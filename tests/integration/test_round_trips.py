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
    # 34.1 before issue 18 (9 clients); 20.7 after with 9 clients, 22.0 with these 3 (the
    # once-per-process and once-per-run requests are shared by fewer runs).
    assert figures["storage_per_run"] <= 22.5, figures["storage_by_operation"]
    # Loket 3 (list, results, mark) + AFAS: journals, periods, the post (+ the chart, shared).
    assert figures["external_per_run"] <= 6.5, (figures["loket_calls"], figures["afas_calls"])
    assert "GET Profit_Allocation_Assigments" not in figures["afas_calls"]
