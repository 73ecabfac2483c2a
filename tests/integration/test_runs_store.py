"""Runs, jobs, progress and the booking ledger on real Azurite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.bootstrap import Services
from shared.runs.model import JobOutcome, JobStatus, RunStatus, RunType
from shared.runs.texts import run_status_text
from shared.store.runs import NewRun, RunRepository
from shared.store.tables import ConcurrencyConflict

T0 = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)


def nightly(office: str, day: int = 23, at: datetime = T0) -> NewRun:
    return NewRun(
        office, f"nightly-2026-11-{day:02d}", RunType.NIGHTLY, at, business_date=date(2026, 11, day)
    )


def test_a_run_is_created_once(services: Services, unique: Callable[[str], str]) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")
    first = runs.create(nightly(office), jobs_total=2)
    assert first is not None and first.status is RunStatus.RUNNING and not first.planned
    assert runs.create(nightly(office), jobs_total=2) is None
    assert runs.get(office, "nightly-2026-11-23") == first


def test_concurrent_workers_never_lose_or_double_count_progress(
    services: Services, unique: Callable[[str], str]
) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")
    clients = [f"c{n:03d}" for n in range(40)]
    new = nightly(office)
    runs.add_jobs(new, clients)
    runs.add_jobs(new, clients)  # a replay after a crash creates nothing twice
    run = runs.create(new, jobs_total=len(clients))
    assert run is not None
    runs.mark_planned(run)
    assert len(runs.jobs(office, new.run_id)) == 40

    results: list[bool] = []
    lock = threading.Lock()

    def finish(client: str) -> None:
        failed = 1 if client.endswith("7") else 0
        ok = runs.finish_job(
            office, new.run_id, client, JobOutcome(imported=1 - failed, failed=failed), now=T0
        )
        with lock:
            results.append(ok is not None)

    threads = [
        threading.Thread(target=finish, args=(c,)) for c in clients + clients[:10]
    ]  # 10 duplicates
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results.count(True) == 40 and results.count(False) == 10
    final = runs.get(office, new.run_id)
    assert final is not None
    assert (final.jobs_done, final.jobs_total, final.jobs_failed) == (40, 40, 4)
    assert (final.imported, final.failed) == (36, 4)
    assert final.status is RunStatus.FAILED
    assert run_status_text(final) == "Uitgevoerd met fouten (36/40)"  # loonruns, not clients
    assert all(j.status.finished for j in runs.jobs(office, new.run_id))


def test_pages_are_newest_first_and_filterable(
    services: Services, unique: Callable[[str], str]
) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")
    for day in range(1, 8):
        new = nightly(office, day, T0 - timedelta(days=30 - day))
        runs.add_jobs(new, ["a"] if day % 2 else ["b"])
        assert runs.create(new, jobs_total=1) is not None
    rerun = NewRun(
        office,
        "rerun-x",
        RunType.RERUN,
        T0,
        client_id="a",
        approved_from=date(2026, 1, 1),
        approved_to=date(2026, 2, 1),
    )
    runs.add_jobs(rerun, ["a"])
    runs.create(rerun, jobs_total=1)

    first = runs.page(office, limit=3)
    assert [r.run_id for r in first.runs] == ["rerun-x", "nightly-2026-11-07", "nightly-2026-11-06"]
    assert first.continuation_token
    second = runs.page(office, limit=3, continuation_token=first.continuation_token)
    assert [r.run_id for r in second.runs] == [
        "nightly-2026-11-05",
        "nightly-2026-11-04",
        "nightly-2026-11-03",
    ]
    rest = runs.page(office, limit=3, continuation_token=second.continuation_token)
    assert [r.run_id for r in rest.runs] == ["nightly-2026-11-02", "nightly-2026-11-01"]
    assert rest.continuation_token is None

    only_reruns = runs.page(office, limit=10, run_type=RunType.RERUN)
    assert [r.run_id for r in only_reruns.runs] == ["rerun-x"]
    client_a = runs.page(office, limit=10, client_id="a")
    assert [r.run_id for r in client_a.runs] == [
        "rerun-x",
        "nightly-2026-11-07",
        "nightly-2026-11-05",
        "nightly-2026-11-03",
        "nightly-2026-11-01",
    ]
    assert runs.page(unique("other-office"), limit=10).runs == []


def test_runs_overzicht_shows_page_numbers_totals_and_searches(
    services: Services, unique: Callable[[str], str]
) -> None:
    """Issue 17 item 11: "1 tot 3 van 7 resultaten (gefilterd uit 8 resultaten)", page numbers
    that are exact (not only "next"), and a search over the row as the portal shows it."""
    from shared.api.handlers.runs import run_matcher

    runs = RunRepository(services.storage)
    office = unique("office")
    for day in range(1, 8):
        new = nightly(office, day, T0 - timedelta(days=30 - day))
        runs.add_jobs(new, ["a"] if day % 2 else ["b"])
        assert runs.create(new, jobs_total=1) is not None
    rerun = NewRun(office, "rerun-x", RunType.RERUN, T0, client_id="a")
    runs.add_jobs(rerun, ["a"])
    runs.create(rerun, jobs_total=1)

    third = runs.counted_page(office, limit=3, page=3)
    assert (third.total, third.unfiltered_total, third.page, third.pages) == (8, 8, 3, 3)
    assert [r.run_id for r in third.runs] == ["nightly-2026-11-02", "nightly-2026-11-01"]
    past_the_end = runs.counted_page(office, limit=3, page=9)
    assert past_the_end.page == 3 and past_the_end.runs == third.runs
    nightlies = runs.counted_page(office, limit=3, page=1, run_type=RunType.NIGHTLY)
    assert (nightlies.total, nightlies.unfiltered_total, nightlies.pages) == (7, 8, 3)
    client_b = runs.counted_page(office, limit=10, page=1, client_id="b")
    assert [r.run_id for r in client_b.runs] == [
        "nightly-2026-11-06",
        "nightly-2026-11-04",
        "nightly-2026-11-02",
    ]
    # "Zoeken: 05-08-2022 13:58" in the manual: the created moment as the row shows it (local).
    created = runs.counted_page(office, limit=10, page=1, matches=run_matcher("23-11-2026 02:05"))
    assert [r.run_id for r in created.runs] == ["rerun-x"]
    assert created.total == 1 and created.unfiltered_total == 8
    words = runs.counted_page(office, limit=10, page=1, matches=run_matcher("nachtelijk 04-11"))
    assert [r.run_id for r in words.runs] == ["nightly-2026-11-04"]
    assert runs.counted_page(office, limit=10, page=1, matches=run_matcher("rerun")).total == 1
    empty = runs.counted_page(unique("other-office"), limit=10, page=1)
    assert (empty.runs, empty.total, empty.pages) == ([], 0, 1)


def test_job_start_counts_attempts(services: Services, unique: Callable[[str], str]) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")
    new = nightly(office)
    runs.add_jobs(new, ["c1"])
    job = runs.get_job(office, new.run_id, "c1")
    assert job is not None and job.status is JobStatus.PENDING
    started = runs.start_job(job, now=T0)
    assert started.status is JobStatus.RUNNING and started.attempts == 1
    with pytest.raises(ConcurrencyConflict):
        runs.start_job(job, now=T0)  # a second worker with the old ETag loses


def test_many_runs_are_created_in_batches_and_list_newest_first(
    services: Services, unique: Callable[[str], str]
) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")
    created = runs.create_many(
        office,
        (
            (NewRun(office, f"rerun-{n:04d}", RunType.RERUN, T0 + timedelta(minutes=n)), 1)
            for n in range(130)
        ),
    )
    assert created == 130
    page = runs.page(office, limit=5)
    assert [r.run_id for r in page.runs] == [f"rerun-{n:04d}" for n in range(129, 124, -1)]
    assert runs.get(office, "rerun-0007") is not None
    with pytest.raises(ValueError):
        runs.create_many("other", [(NewRun(office, "x", RunType.RERUN, T0), 1)])


def test_a_type_filter_pages_through_its_own_index(
    services: Services, unique: Callable[[str], str]
) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")
    for n in range(5):
        at = T0 + timedelta(minutes=n)
        runs.create(NewRun(office, f"rerun-{n}", RunType.RERUN, at), jobs_total=0)
        runs.create(NewRun(office, f"nightly-{n}", RunType.NIGHTLY, at), jobs_total=0)
    seen: list[str] = []
    token = None
    for _ in range(5):
        page = runs.page(office, limit=2, run_type=RunType.RERUN, continuation_token=token)
        seen += [r.run_id for r in page.runs]
        token = page.continuation_token
        if token is None:
            break
    assert seen == [f"rerun-{n}" for n in range(4, -1, -1)]
    with pytest.raises(Exception):  # noqa: B017 - a token of another listing is refused
        runs.page(
            office,
            limit=2,
            run_type=RunType.NIGHTLY,
            continuation_token=runs.page(office, limit=1).continuation_token,
        )


def test_runs_overzicht_counts_come_from_counter_rows_not_from_reading_every_run(
    services: Services, unique: Callable[[str], str]
) -> None:
    """Issue 17, Runs page with 1,000 runs: the exact counts are counter rows written in the
    run's own transaction, so a page reads O(page) rows. Pinned by changing a counter behind
    the store's back: a listing that still counted every index key would not show it."""
    runs = RunRepository(services.storage)
    office = unique("office")
    for n in range(3):
        runs.create(
            NewRun(office, f"rerun-{n}", RunType.RERUN, T0 + timedelta(minutes=n)), jobs_total=0
        )
    runs.create(nightly(office), jobs_total=0)
    assert (runs.count(office), runs.count(office, RunType.RERUN)) == (4, 3)
    table = services.storage.table("Runs")
    table.upsert_entity({"PartitionKey": office, "RowKey": "n|all", "count": 57})
    table.upsert_entity({"PartitionKey": office, "RowKey": "n|tx|rerun", "count": 31})
    first = runs.counted_page(office, limit=2, page=1)
    assert (first.total, first.unfiltered_total, first.pages) == (57, 57, 29)
    assert [r.run_id for r in first.runs] == ["rerun-2", "rerun-1"]
    reruns = runs.counted_page(office, limit=2, page=2, run_type=RunType.RERUN)
    assert (reruns.total, reruns.unfiltered_total) == (31, 57)
    assert [r.run_id for r in reruns.runs] == ["rerun-0"]


def test_run_counters_are_exact_under_concurrent_creates_and_batches(
    services: Services, unique: Callable[[str], str]
) -> None:
    runs = RunRepository(services.storage)
    office = unique("office")

    def create(n: int) -> None:
        kind = RunType.RERUN if n % 3 == 0 else RunType.NIGHTLY
        assert runs.create(
            NewRun(office, f"run-{n:03d}", kind, T0 + timedelta(minutes=n)), jobs_total=0
        )

    threads = [threading.Thread(target=create, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (
        runs.create(NewRun(office, "run-000", RunType.RERUN, T0), jobs_total=0) is None
    )  # not counted
    runs.create_many(
        office,
        (
            (NewRun(office, f"many-{n:03d}", RunType.RERUN, T0 + timedelta(hours=n + 1)), 0)
            for n in range(70)
        ),
    )
    assert runs.count(office) == 94
    assert runs.count(office, RunType.RERUN) == 8 + 70
    assert runs.count(office, RunType.NIGHTLY) == 16
    page = runs.counted_page(office, limit=10, page=10)
    assert (page.total, page.pages, [r.run_id for r in page.runs]) == (
        94,
        10,
        ["run-003", "run-002", "run-001", "run-000"],
    )


def test_runs_stored_before_the_counters_are_counted_once_then_kept(
    services: Services, unique: Callable[[str], str]
) -> None:
    """An office whose runs were stored before the counter rows existed: the first count reads
    the index once and writes the counter; the next run counts on from there."""
    runs = RunRepository(services.storage)
    office = unique("office")
    for n in range(5):
        runs.create(
            NewRun(office, f"rerun-{n}", RunType.RERUN, T0 + timedelta(minutes=n)), jobs_total=0
        )
    table = services.storage.table("Runs")
    for key in ("n|all", "n|tx|rerun"):
        table.delete_entity(office, key)  # as stored before this change
    assert runs.counted_page(office, limit=2, page=1).total == 5
    assert table.get_entity(office, "n|all")["count"] == 5
    table.delete_entity(office, "n|all")
    runs.create(nightly(office), jobs_total=0)  # the counter is missing: counted from the index
    assert (runs.count(office), runs.count(office, RunType.RERUN)) == (6, 5)
    assert runs.count(office, RunType.NIGHTLY) == 1


def test_a_search_reads_the_newest_runs_only_and_says_so(
    services: Services, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.api.handlers.runs import run_matcher
    from shared.store import runs as store

    monkeypatch.setattr(store, "SEARCH_WINDOW", 4)
    runs = RunRepository(services.storage)
    office = unique("office")
    for n in range(6):
        runs.create(
            NewRun(office, f"rerun-{n}", RunType.RERUN, T0 + timedelta(days=n)), jobs_total=0
        )
    newest = runs.counted_page(office, limit=10, page=1, matches=run_matcher("28-11-2026"))
    assert [r.run_id for r in newest.runs] == ["rerun-5"]
    assert (newest.total, newest.unfiltered_total, newest.searched) == (1, 6, 4)
    oldest = runs.counted_page(office, limit=10, page=1, matches=run_matcher("23-11-2026"))
    assert (oldest.runs, oldest.searched) == ([], 4)  # beyond the newest 4: not searched
    few = RunRepository(services.storage)
    monkeypatch.setattr(store, "SEARCH_WINDOW", 500)
    assert few.counted_page(office, limit=10, page=1, matches=run_matcher("rerun")).searched is None
