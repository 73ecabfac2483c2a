"""The sync engine end to end: timer -> planner -> queue -> worker -> AFAS and Loket sandboxes,
on the local host with a fresh Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.sync_world import ACCOUNTS, PROFIT_MAPPING, World, loket_totals, sync_world

MONTHLY = "Korenschoof maandloners"
FOUR_WEEKLY = "Korenschoof 4-wekers"
VAN_DIJK = "Van Dijk installatie"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with sync_world(tmp_path) as w:
        yield w


def test_nightly_books_each_ready_run_once_then_repeats_nothing(world: World) -> None:
    world.profit_client("4711", MONTHLY)
    world.sb_client("4712", FOUR_WEEKLY)
    blocked = {**PROFIT_MAPPING, "accounts": {**ACCOUNTS, "4200": "4999"}}
    world.profit_client("5120", VAN_DIJK, blocked)

    world.nightly()
    run = world.wait_for_run(world.latest_run()["runId"])
    assert run["type"] == "nightly" and run["runId"].startswith("nightly-")
    assert (run["jobsTotal"], run["jobsDone"]) == (3, 3)
    assert run["status"] == "failed"  # Van Dijk hits the blocked account
    # Loonruns, not clients: 2 of the 4 to book were imported (test years are not counted).
    assert run["statusText"] == "Uitgevoerd met fouten (2/4)" and run["outcome"] == "failed"
    assert (run["journalRunsImported"], run["journalRunsTotal"]) == (2, 4)

    rows = {(r["clientId"], r["sequenceNumber"]): r for r in run["journalRuns"]}
    # Korenschoof monthly: seq 2 ready -> imported; seq 3 test year -> skipped; 1 exported, 4 not ready.
    assert rows[("4711", 2)]["status"] == "imported" and rows[("4711", 2)]["entryNumber"]
    assert (
        rows[("4711", 2)]["payrollPeriod"] == "2024-2"
        and rows[("4711", 2)]["environment"] == "O12345AA"
    )
    assert rows[("4711", 3)]["status"] == "skipped"
    assert ("4711", 1) not in rows and ("4711", 4) not in rows
    # 4-weekly to SB: seq 1 imported; seq 2 ready but empty -> skipped.
    assert rows[("4712", 1)]["status"] == "imported"
    assert rows[("4712", 2)]["status"] == "skipped"
    # Van Dijk: seq 1 (export failed earlier) and seq 3 (ready) fail on the blocked account.
    assert rows[("5120", 1)]["status"] == "failed" and rows[("5120", 3)]["status"] == "failed"

    # AFAS has exactly one entry per booked run, with Loket's amounts to the cent.
    entries = world.afas.profit_entries()
    assert len(entries) == 1
    monthly_run = world.runs_of(MONTHLY)[1]
    booked: dict[tuple[str, str], Decimal] = {}
    for line in entries[0].lines:
        for side, amount in (("D", line.debit), ("C", line.credit)):
            if amount:
                booked[(line.account, side)] = booked.get((line.account, side), Decimal(0)) + amount
    assert booked == loket_totals(monthly_run, ACCOUNTS)
    assert {line.voucher_number for line in entries[0].lines} == {rows[("4711", 2)]["reference"]}
    assert all(
        line.dimensions.get(1) in {"100", "200", "300"}
        for line in entries[0].lines
        if line.account in {"4000", "4100"}
    )
    sb = world.afas.sb_bookings()
    assert len(sb) == 1 and sb[0].tracking_identifier == rows[("4712", 1)]["reference"]
    sb_total = sum((d for _, d, _ in sb[0].lines), Decimal(0))
    assert sb_total == sum((ln.debit for ln in world.runs_of(FOUR_WEEKLY)[0].lines), Decimal(0))

    # Loket knows: booked runs exported (7), failed ones export-failed (6), with a Dutch message.
    assert world.loket_status(monthly_run.id) == 7
    assert world.loket_status(world.runs_of(FOUR_WEEKLY)[0].id) == 7
    van_dijk = world.runs_of(VAN_DIJK)
    assert world.loket_status(van_dijk[0].id) == 6 and world.loket_status(van_dijk[2].id) == 6
    failed_patch = [
        m
        for rid, action, m in world.loket.patches
        if rid == van_dijk[2].id and action == "MarkAsProcessingFailed"
    ]
    assert failed_patch and "4999" in failed_patch[-1] and "geblokkeerd" in failed_patch[-1]

    # Failures carry Dutch messages with a hint.
    errors = [m for m in run["messages"] if m["level"] == "error" and m["clientId"] == "5120"]
    assert any("Grootboekrekening 4999 is geblokkeerd" in m["text"] for m in errors)
    assert all(m["hint"] for m in errors)

    # A second nightly the same day does nothing.
    before = (
        len(world.afas.profit_entries()),
        len(world.afas.sb_bookings()),
        len(world.loket.patches),
    )
    world.nightly()
    world.host.wait_for_log(r"nightly tick planned", count=2)
    again = world.api("GET", "/api/runs").json()["runs"]
    assert [r["runId"] for r in again] == [run["runId"]]
    assert (
        len(world.afas.profit_entries()),
        len(world.afas.sb_bookings()),
        len(world.loket.patches),
    ) == before

    # A rerun over the same window books nothing new and says so per journal run.
    started = world.api(
        "POST", "/api/reruns", json={"approvedFrom": "2024-01-01", "approvedTo": "2024-12-31"}
    )
    assert started.status_code == 202, started.text
    rerun = world.wait_for_run(started.json()["runId"])
    assert rerun["type"] == "rerun" and rerun["approvedFrom"] == "2024-01-01"
    assert len(world.afas.profit_entries()) == 1 and len(world.afas.sb_bookings()) == 1
    rerun_rows = {(r["clientId"], r["sequenceNumber"]): r for r in rerun["journalRuns"]}
    assert rerun_rows[("4711", 2)]["status"] == "skipped"
    assert rerun_rows[("4712", 1)]["status"] == "skipped"
    already = [m for m in rerun["messages"] if "Al geboekt in AFAS" in m["text"]]
    assert {m["clientId"] for m in already} == {"4711", "4712"}
    # Runs overview: newest first.
    assert [r["type"] for r in world.api("GET", "/api/runs").json()["runs"]] == ["rerun", "nightly"]


def test_a_rerun_books_runs_that_are_still_open_and_skips_loket_exported_ones(world: World) -> None:
    world.profit_client("4711", MONTHLY)
    started = world.api(
        "POST",
        "/api/reruns",
        json={"approvedFrom": "2024-01-01", "approvedTo": "2024-12-31", "clientId": "4711"},
    )
    assert started.status_code == 202, started.text
    run = world.wait_for_run(started.json()["runId"])
    rows = {r["sequenceNumber"]: r for r in run["journalRuns"]}
    assert rows[1]["status"] == "skipped"  # exported in Loket before Loonbrug existed
    assert "niet door Loonbrug geboekt" in rows[1]["note"]
    assert rows[2]["status"] == "imported"
    assert rows[3]["status"] == "skipped"  # test year
    assert 4 not in rows  # not ready: no results
    assert len(world.afas.profit_entries()) == 1
    assert run["clientId"] == "4711" and run["statusText"] == "Uitgevoerd (1/1)"


def test_rerun_validation(world: World) -> None:
    bad = world.api(
        "POST", "/api/reruns", json={"approvedFrom": "2024-03-01", "approvedTo": "2024-01-01"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "approvedTo"
    unknown = world.api(
        "POST",
        "/api/reruns",
        json={"approvedFrom": "2024-01-01", "approvedTo": "2024-02-01", "clientId": "nope"},
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "clientId"
    assert world.api("GET", "/api/runs/does-not-exist").status_code == 404
    assert world.api("GET", "/api/runs", params={"limit": "0"}).status_code == 422
    assert world.api("GET", "/api/runs", params={"continuationToken": "garbage"}).status_code == 422
