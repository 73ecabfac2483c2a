"""Runs (nightly, rerun), their jobs (one per client) and progress, in one partition per office.

Table ``Runs``, PartitionKey = office id:

* ``ix|{inverted time}|{runId}``   the run itself (listing newest first, counters, status)
* ``id|{runId}``                   pointer to the ``ix|`` row (point lookup by run id)
* ``job|{runId}|{clientId}``       one job per client: status, attempt, outcome counts, and the
                                   delivery working on it (``holder`` + ``lease_until``)
* ``cx|{clientId}|{inverted time}|{runId}``  index: the runs a client took part in
* ``n|all``, ``n|tx|{type}``       counters: how many runs (of a type) the office has, written in
                                   the entity-group transaction that creates the run, so the
                                   overview's "1 tot 10 van 57 resultaten" is one point read

Because run, pointer and jobs share a partition, a job's completion and the run's counters change
in ONE entity-group transaction with ETag conditions: no lost update under concurrent workers,
and a job is never counted twice (a finished job is not finished again).
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from shared import untrusted_json
from shared.runs.model import (
    JobOutcome,
    JobStatus,
    JournalRunCounts,
    RunProgress,
    RunStatus,
    RunType,
    count_finished_job,
)
from shared.store.storage import Storage
from shared.store.tables import (
    MAX_TRANSACTION,
    ConcurrencyConflict,
    check_key,
    etag_of,
    get_or_none,
    inverted_ticks,
    update_if_unchanged,
    when,
)

TABLE: Final = "Runs"
# Table Storage drops None on merge, so a released lease is a moment long past.
NO_LEASE: Final = datetime(1970, 1, 1, tzinfo=UTC)
FIXED_RUNS_KEPT: Final = 1_000  # runs get_fixed keeps in memory per process


@dataclass(frozen=True)
class Run:
    office_id: str
    run_id: str
    type: RunType
    client_id: str | None
    created_at: datetime
    created_by: str
    business_date: date | None
    approved_from: date | None
    approved_to: date | None
    status: RunStatus
    planned: bool
    jobs_total: int
    jobs_done: int
    jobs_failed: int
    imported: int
    failed: int
    skipped: int
    index_key: str
    etag: str
    # Loonruns prepared for approval (counted when the job finished), the admins' decisions on
    # them since (each moves one loonrun out of "awaiting"), and the jobs that failed as a whole
    # (``failed`` counts those too, one each, without a loonrun behind them).
    awaiting: int = 0
    job_errors: int = 0
    decided_imported: int = 0
    decided_failed: int = 0
    decided_rejected: int = 0
    decided_skipped: int = 0  # approved after another job had booked it: "already booked"

    @property
    def journal_runs(self) -> JournalRunCounts:
        """What happened to the run's loonruns (the journal runs), admins' decisions included."""
        decided = (
            self.decided_imported + self.decided_failed + self.decided_rejected
            + self.decided_skipped
        )  # fmt: skip
        return JournalRunCounts(
            imported=self.imported + self.decided_imported,
            failed=max(self.failed - self.job_errors, 0) + self.decided_failed,
            awaiting=max(self.awaiting - decided, 0),
            rejected=self.decided_rejected,
            skipped=self.skipped + self.decided_skipped,
            clients_failed=self.job_errors,
            running=self.status is RunStatus.RUNNING,
            run_failed=self.status is RunStatus.FAILED,
            clients_done=self.jobs_done,
            clients_total=self.jobs_total,
        )

    @property
    def outcome(self) -> str:
        return self.journal_runs.outcome

    @property
    def progress(self) -> RunProgress:
        """What finishing a job changes (:func:`shared.runs.model.count_finished_job`)."""
        return RunProgress(
            planned=self.planned,
            jobs_total=self.jobs_total,
            jobs_done=self.jobs_done,
            jobs_failed=self.jobs_failed,
            imported=self.imported,
            failed=self.failed,
            skipped=self.skipped,
            awaiting=self.awaiting,
            job_errors=self.job_errors,
            status=self.status,
        )


@dataclass(frozen=True)
class Job:
    office_id: str
    run_id: str
    client_id: str
    status: JobStatus
    enqueued: bool
    attempts: int
    imported: int
    failed: int
    skipped: int
    last_error: str
    updated_at: datetime | None
    etag: str
    holder: str = ""  # the queue message whose delivery works on the job
    lease_until: datetime | None = None

    def held_by_other(self, holder: str, now: datetime) -> bool:
        """Another delivery (not ``holder``) works on this job and its lease is live."""
        return (
            bool(self.holder)
            and self.holder != holder
            and self.lease_until is not None
            and self.lease_until > now
        )


@dataclass(frozen=True)
class NewRun:
    office_id: str
    run_id: str
    type: RunType
    created_at: datetime
    created_by: str = "system"
    client_id: str | None = None
    business_date: date | None = None
    approved_from: date | None = None
    approved_to: date | None = None


@dataclass(frozen=True)
class RunPage:
    runs: list[Run]
    continuation_token: str | None = field(default=None)


@dataclass(frozen=True)
class CountedPage:
    runs: list[Run]
    total: int  # runs that pass the filters
    unfiltered_total: int  # all runs of the office
    page: int  # the page shown (1-based; a page past the end shows the last)
    pages: int
    searched: int | None = None  # with a search: the newest runs searched (None: all of them)


# A search reads at most this many of the newest runs (one range query), and says so.
SEARCH_WINDOW: Final = 500
COUNT_ALL: Final = "n|all"


def _count_key(run_type: RunType | None) -> str:
    return COUNT_ALL if run_type is None else f"n|tx|{run_type.value}"


def _counted_prefix(key: str) -> str:
    """The index rows a counter counts (for its one-time backfill)."""
    return "ix|" if key == COUNT_ALL else f"tx|{key.removeprefix('n|tx|')}|"


def _job_key(run_id: str, client_id: str) -> str:
    return f"job|{run_id}|{client_id}"


class RunRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._index_keys: dict[tuple[str, str], str] = {}  # (office, run) -> ix| row key
        self._fixed: dict[tuple[str, str], Run] = {}  # (office, run) -> as first read (get_fixed)

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    # -- runs -----------------------------------------------------------------------------
    def create(self, new: NewRun, *, jobs_total: int) -> Run | None:
        """Create the run (pointer + summary + type index) and count it, atomically; None when
        it already exists."""
        office = check_key(new.office_id)
        rows = _run_rows(new, jobs_total)
        for attempt in range(40):
            counters = self._count_ops(office, {COUNT_ALL: 1, _count_key(new.type): 1})
            try:
                self._table.submit_transaction([("create", row) for row in rows] + counters)
                return self.get(new.office_id, new.run_id)
            except TableTransactionError as exc:
                code = _code(exc)
                if code == "EntityAlreadyExists":
                    if get_or_none(self._table, office, f"id|{new.run_id}") is not None:
                        return None
                elif code not in ("UpdateConditionNotSatisfied", "ConditionNotMet"):
                    raise
                # a counter changed (or was first written) meanwhile: count again
            time.sleep(random.uniform(0.01, 0.05) * min(attempt + 1, 8))  # noqa: S311
        raise ConcurrencyConflict(f"could not count run {new.run_id} after 40 attempts")

    def _count_ops(self, office: str, deltas: dict[str, int]) -> list[Any]:
        """The transaction operations that add ``deltas`` to the office's counter rows. A
        counter row that does not exist yet (runs stored before the counters) is created with
        the number of index rows it counts: the rows of this transaction are not stored yet,
        and a concurrent creator's commit makes this "create" fail, so nothing is counted
        twice or lost."""
        ops: list[Any] = []
        for key, delta in deltas.items():
            row = get_or_none(self._table, office, key)
            if row is None:
                base = len(self._range(office, _counted_prefix(key), select=["RowKey"]))
                ops.append(
                    ("create", {"PartitionKey": office, "RowKey": key, "count": base + delta})
                )
                continue
            ops.append(
                (
                    "update",
                    {"PartitionKey": office, "RowKey": key, "count": int(row["count"]) + delta},
                    {
                        "mode": UpdateMode.MERGE,
                        "etag": etag_of(row),
                        "match_condition": MatchConditions.IfNotModified,
                    },
                )
            )
        return ops

    def count(self, office_id: str, run_type: RunType | None = None) -> int:
        """How many runs (of ``run_type``) the office has: one point read. Before the office's
        first run since the counters exist, counted once from the index and remembered (a
        "create" that loses to a concurrent run's count changes nothing)."""
        office = check_key(office_id)
        key = _count_key(run_type)
        row = get_or_none(self._table, office, key)
        if row is not None:
            return int(row["count"])
        base = len(self._range(office, _counted_prefix(key), select=["RowKey"]))
        try:
            self._table.create_entity({"PartitionKey": office, "RowKey": key, "count": base})
        except ResourceExistsError:
            row = get_or_none(self._table, office, key)
            return int(row["count"]) if row is not None else base
        return base

    def create_many(self, office_id: str, runs: Iterable[tuple[NewRun, int]]) -> int:
        """Create many runs of one office (``(run, jobs_total)`` pairs) in entity-group
        transactions of 50 runs each: imports and benchmarks. Answers how many were created;
        a batch with a run that already exists fails whole (``TableTransactionError``)."""
        office = check_key(office_id)
        batch: list[tuple[NewRun, int]] = []
        for new, jobs_total in runs:
            if new.office_id != office:
                raise ValueError(f"run {new.run_id} belongs to office {new.office_id}")
            batch.append((new, jobs_total))
        per_transaction = (MAX_TRANSACTION - 3) // 3  # 3 rows per run + up to 3 counters
        for chunk in _chunks(batch, per_transaction):
            rows = [row for new, jobs_total in chunk for row in _run_rows(new, jobs_total)]
            deltas: dict[str, int] = {COUNT_ALL: len(chunk)}
            for new, _ in chunk:
                deltas[_count_key(new.type)] = deltas.get(_count_key(new.type), 0) + 1
            for attempt in range(40):
                ops = [("create", row) for row in rows] + self._count_ops(office, deltas)
                try:
                    self._table.submit_transaction(ops)
                    break
                except TableTransactionError as exc:
                    if _code(exc) not in ("UpdateConditionNotSatisfied", "ConditionNotMet"):
                        raise
                time.sleep(random.uniform(0.01, 0.05) * min(attempt + 1, 8))  # noqa: S311
            else:
                raise ConcurrencyConflict("could not count the runs after 40 attempts")
        return len(batch)

    def get(self, office_id: str, run_id: str) -> Run | None:
        key = (check_key(office_id), check_key(run_id))
        index_key = self._index_keys.get(key)
        if index_key is None:
            pointer = get_or_none(self._table, office_id, f"id|{run_id}")
            if pointer is None:
                return None
            index_key = str(pointer["index_key"])
            self._index_keys[key] = index_key  # a run's index key never changes
        entity = get_or_none(self._table, office_id, index_key)
        return _run(entity) if entity is not None else None

    def get_fixed(self, office_id: str, run_id: str) -> Run | None:
        """The run for what never changes once it is created (type, client, the rerun's window,
        created at/by): read once per process, then from memory (a sync job needs only these;
        jobs of one run share the read). Its counters, status and ETag are as they were at that
        read: anything that counts reads :meth:`get`."""
        key = (office_id, run_id)
        found = self._fixed.get(key)
        if found is not None:
            return found
        run = self.get(office_id, run_id)
        if run is not None:
            if len(self._fixed) >= FIXED_RUNS_KEPT:
                self._fixed.clear()  # a worker sees few runs; start over rather than grow
            self._fixed[key] = run
        return run

    def mark_planned(self, run: Run) -> Run:
        status = RunStatus.RUNNING
        if run.jobs_done >= run.jobs_total:
            status = RunStatus.FAILED if run.jobs_failed else RunStatus.DONE
        try:
            update_if_unchanged(
                self._table,
                {
                    "PartitionKey": run.office_id,
                    "RowKey": run.index_key,
                    "planned": True,
                    "status": status.value,
                },
                run.etag,
            )
        except ConcurrencyConflict:
            current = self.get(run.office_id, run.run_id)
            assert current is not None
            return self.mark_planned(current) if not current.planned else current
        refreshed = self.get(run.office_id, run.run_id)
        assert refreshed is not None
        return refreshed

    def fail_without_jobs(self, run: Run) -> None:
        """A run that could not start (e.g. Loket needs consent): done planning, status failed."""
        update_if_unchanged(
            self._table,
            {
                "PartitionKey": run.office_id,
                "RowKey": run.index_key,
                "planned": True,
                "status": RunStatus.FAILED.value,
            },
            run.etag,
        )

    def page(
        self,
        office_id: str,
        *,
        limit: int,
        continuation_token: str | None = None,
        run_type: RunType | None = None,
        client_id: str | None = None,
    ) -> RunPage:
        """Newest first, ``limit`` runs, resuming after an opaque continuation token."""
        office = check_key(office_id)
        # One key range per question: the runs (ix), a client's runs (cx) or a type's (tx).
        if client_id:
            prefix = f"cx|{check_key(client_id)}|"
        elif run_type is not None:
            prefix = f"tx|{run_type.value}|"
        else:
            prefix = "ix|"
        after = _decode_token(continuation_token) or prefix
        if not after.startswith(prefix):
            raise InvalidContinuationToken(after)
        query = "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end"
        params: dict[str, Any] = {"pk": office, "after": after, "end": prefix[:-1] + "}"}
        if run_type is not None and client_id:
            query += " and type eq @type"  # a client's runs of one type: few rows to filter
            params["type"] = run_type.value
        rows: list[TableEntity] = []
        for entity in self._table.query_entities(
            query, parameters=params, results_per_page=limit + 1
        ):
            rows.append(entity)
            if len(rows) > limit:
                break
        more = len(rows) > limit
        rows = rows[:limit]
        if prefix != "ix|":
            runs = [r for r in (self.get(office, e["run_id"]) for e in rows) if r is not None]
        else:
            runs = [_run(e) for e in rows]
        token = _encode_token(rows[-1]["RowKey"]) if more and rows else None
        return RunPage(runs, token)

    def counted_page(
        self,
        office_id: str,
        *,
        limit: int,
        page: int,
        run_type: RunType | None = None,
        client_id: str | None = None,
        matches: Callable[[Run], bool] | None = None,
    ) -> CountedPage:
        """Page ``page`` (1-based) of the runs that pass the filters, newest first, with the
        number of runs that pass and of all runs: the overview's "1 tot 10 van 57 resultaten
        (gefilterd uit 60 resultaten)" and its page numbers.

        The counts are counter rows (one point read each, kept in the run's own transaction),
        and a page reads only the index rows up to its end: the first page of a thousand runs
        reads ``limit`` rows. A client's filter counts that client's index rows (keys only).
        A search reads the newest ``SEARCH_WINDOW`` runs and says so (``searched``)."""
        office = check_key(office_id)
        everything = self.count(office)
        if matches is not None:
            return self._searched_page(
                office, limit, page, run_type, client_id, matches, everything
            )
        if client_id:
            keys = self._range(office, f"cx|{check_key(client_id)}|", select=["run_id", "type"])
            wanted = [
                str(e["run_id"])
                for e in keys
                if run_type is None or e.get("type") == run_type.value
            ]
            total = len(wanted)
        else:
            total = self.count(office, run_type) if run_type is not None else everything
        pages = max(1, -(-total // limit))
        number = min(max(page, 1), pages)
        start = (number - 1) * limit
        if client_id:
            found = (self.get(office, run_id) for run_id in wanted[start : start + limit])
            runs = [r for r in found if r is not None]
        elif run_type is not None:
            rows = self._first(office, f"tx|{run_type.value}|", start + limit, ["run_id"])
            found = (self.get(office, str(e["run_id"])) for e in rows[start:])
            runs = [r for r in found if r is not None]
        else:
            keys = self._first(office, "ix|", start + limit, ["RowKey"])[start:]
            runs = self._runs_between(office, [str(e["RowKey"]) for e in keys])
        return CountedPage(runs, total, everything, number, pages)

    def _searched_page(
        self,
        office: str,
        limit: int,
        page: int,
        run_type: RunType | None,
        client_id: str | None,
        matches: Callable[[Run], bool],
        everything: int,
    ) -> CountedPage:
        newest = [_run(e) for e in self._first(office, "ix|", SEARCH_WINDOW)]
        chosen = newest
        if client_id:
            took_part = {
                str(e["run_id"])
                for e in self._first(
                    office, f"cx|{check_key(client_id)}|", SEARCH_WINDOW, ["run_id"]
                )
            }
            chosen = [r for r in chosen if r.run_id in took_part]
        if run_type is not None:
            chosen = [r for r in chosen if r.type is run_type]
        chosen = [r for r in chosen if matches(r)]
        pages = max(1, -(-len(chosen) // limit))
        number = min(max(page, 1), pages)
        start = (number - 1) * limit
        searched = len(newest) if len(newest) < everything else None
        return CountedPage(
            chosen[start : start + limit], len(chosen), everything, number, pages, searched
        )

    def _runs_between(self, office: str, keys: list[str]) -> list[Run]:
        """The run rows from the first to the last of ``keys`` (consecutive ``ix|`` keys)."""
        if not keys:
            return []
        return [
            _run(e)
            for e in self._table.query_entities(
                "PartitionKey eq @pk and RowKey ge @first and RowKey le @last",
                parameters={"pk": office, "first": keys[0], "last": keys[-1]},
            )
        ]

    def _first(
        self, office: str, prefix: str, count: int, select: list[str] | None = None
    ) -> list[TableEntity]:
        """The first ``count`` rows of a key range (newest first): stops reading there."""
        rows: list[TableEntity] = []
        if count <= 0:
            return rows
        for entity in self._table.query_entities(
            "PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
            parameters={"pk": office, "start": prefix, "end": prefix[:-1] + "}"},
            select=select,
            results_per_page=min(count, 1000),
        ):
            rows.append(entity)
            if len(rows) >= count:
                break
        return rows

    def _range(
        self, office: str, prefix: str, select: list[str] | None = None
    ) -> list[TableEntity]:
        return list(
            self._table.query_entities(
                "PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
                parameters={"pk": office, "start": prefix, "end": prefix[:-1] + "}"},
                select=select,
                results_per_page=1000,
            )
        )

    # -- jobs -----------------------------------------------------------------------------
    def add_jobs(self, run: NewRun, client_ids: Iterable[str]) -> None:
        """Create a job (and the per-client index row) for each client; existing ones stay."""
        office = check_key(run.office_id)
        stamp = inverted_ticks(run.created_at)
        rows: list[dict[str, Any]] = []
        for client_id in client_ids:
            check_key(client_id)
            rows.append(
                {
                    "PartitionKey": office,
                    "RowKey": _job_key(run.run_id, client_id),
                    "run_id": run.run_id,
                    "client_id": client_id,
                    "status": JobStatus.PENDING.value,
                    "enqueued": False,
                    "attempts": 0,
                    "imported": 0,
                    "failed": 0,
                    "skipped": 0,
                    "last_error": "",
                }
            )
            rows.append(
                {
                    "PartitionKey": office,
                    "RowKey": f"cx|{client_id}|{stamp}|{run.run_id}",
                    "run_id": run.run_id,
                    "type": run.type.value,
                }
            )
        for chunk in _chunks(rows, MAX_TRANSACTION):
            try:
                self._table.submit_transaction([("create", row) for row in chunk])
            except TableTransactionError as exc:
                if _code(exc) != "EntityAlreadyExists":
                    raise
                for row in chunk:  # a replay after a crash: create what is missing
                    try:
                        self._table.create_entity(row)
                    except ResourceExistsError:
                        pass

    def jobs(self, office_id: str, run_id: str) -> list[Job]:
        prefix = f"job|{check_key(run_id)}|"
        entities = self._table.query_entities(
            "PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
            parameters={"pk": check_key(office_id), "start": prefix, "end": prefix[:-1] + "}"},
        )
        return [_job(e) for e in entities]

    def get_job(self, office_id: str, run_id: str, client_id: str) -> Job | None:
        entity = get_or_none(
            self._table, check_key(office_id), _job_key(run_id, check_key(client_id))
        )
        return _job(entity) if entity is not None else None

    def mark_enqueued(self, jobs: list[Job]) -> None:
        for chunk in _chunks(jobs, MAX_TRANSACTION):
            self._table.submit_transaction(
                [
                    (
                        "update",
                        {
                            "PartitionKey": j.office_id,
                            "RowKey": _job_key(j.run_id, j.client_id),
                            "enqueued": True,
                        },
                        {"mode": UpdateMode.MERGE},
                    )
                    for j in chunk
                ]
            )

    def start_job(
        self,
        job: Job,
        *,
        now: datetime,
        holder: str = "",
        lease_until: datetime | None = None,
    ) -> Job:
        """Start a delivery of ``job`` (ETag-conditional): count the attempt and take the job's
        lease for ``holder``. Raises ConcurrencyConflict when the row changed since it was read."""
        lease = lease_until or NO_LEASE
        etag = update_if_unchanged(
            self._table,
            {
                "PartitionKey": job.office_id,
                "RowKey": _job_key(job.run_id, job.client_id),
                "status": JobStatus.RUNNING.value,
                "attempts": job.attempts + 1,
                "updated_at": now,
                "holder": holder,
                "lease_until": lease,
            },
            job.etag,
        )
        return replace(
            job,
            status=JobStatus.RUNNING,
            attempts=job.attempts + 1,
            updated_at=now,
            etag=etag,
            holder=holder,
            lease_until=lease,
        )

    def note_job_error(self, job: Job, error: str, *, now: datetime) -> None:
        """Remember why an attempt failed (the poison handler reports the last one) and release
        the job's lease: the next delivery, whichever message it is, may take the job."""
        self._table.update_entity(
            {
                "PartitionKey": job.office_id,
                "RowKey": _job_key(job.run_id, job.client_id),
                "last_error": error[:2000],
                "updated_at": now,
                "holder": "",
                "lease_until": NO_LEASE,
            },
            mode=UpdateMode.MERGE,
        )

    def finish_job(
        self,
        office_id: str,
        run_id: str,
        client_id: str,
        outcome: JobOutcome,
        *,
        now: datetime,
        job: Job | None = None,
    ) -> Run | None:
        """Finish a job and count it in its run, atomically. Returns the run as this update left
        it, or None when the job was already finished (a redelivery). ``job``: the row as this
        delivery last wrote it (its ETag), tried first instead of reading it again."""
        known = job
        for attempt in range(40):
            job = known if known is not None else self.get_job(office_id, run_id, client_id)
            known = None
            run = self.get(office_id, run_id)
            if job is None or run is None:
                raise LookupError(f"job {run_id}/{client_id} does not exist")
            if job.status.finished:
                return None
            counted = count_finished_job(run.progress, outcome)
            ops: list[Any] = [
                (
                    "update",
                    {
                        "PartitionKey": office_id,
                        "RowKey": _job_key(run_id, client_id),
                        "status": outcome.status.value,
                        "imported": outcome.imported,
                        "failed": outcome.failed,
                        "skipped": outcome.skipped,
                        "last_error": outcome.error[:2000],
                        "updated_at": now,
                    },
                    {
                        "mode": UpdateMode.MERGE,
                        "etag": job.etag,
                        "match_condition": MatchConditions.IfNotModified,
                    },
                ),
                (
                    "update",
                    {
                        "PartitionKey": office_id,
                        "RowKey": run.index_key,
                        "status": counted.status.value,
                        **counted.counters(),
                    },
                    {
                        "mode": UpdateMode.MERGE,
                        "etag": run.etag,
                        "match_condition": MatchConditions.IfNotModified,
                    },
                ),
            ]
            try:
                self._table.submit_transaction(ops)
                return replace(
                    run,
                    status=counted.status,
                    jobs_done=counted.jobs_done,
                    jobs_failed=counted.jobs_failed,
                    imported=counted.imported,
                    failed=counted.failed,
                    skipped=counted.skipped,
                    awaiting=counted.awaiting,
                    job_errors=counted.job_errors,
                )
            except TableTransactionError as exc:
                if _code(exc) not in ("UpdateConditionNotSatisfied", "ConditionNotMet"):
                    raise
            time.sleep(random.uniform(0.01, 0.05) * min(attempt + 1, 8))  # noqa: S311
        raise ConcurrencyConflict(f"could not count job {run_id}/{client_id} after 40 attempts")

    def count_decision(self, office_id: str, run_id: str, outcome: str) -> None:
        """An admin's decision moved one loonrun of the run out of "awaiting approval": to
        ``imported``, ``failed``, ``rejected`` or ``skipped`` (booked meanwhile by another job). Counted once per decision by the caller (who
        saw the journal-run row go from awaiting to decided); ETag-conditional, so concurrent
        decisions and finishing jobs never lose an update."""
        column = {
            "imported": "decided_imported",
            "failed": "decided_failed",
            "rejected": "decided_rejected",
            "skipped": "decided_skipped",
        }[outcome]
        for attempt in range(40):
            run = self.get(office_id, run_id)
            if run is None:
                return
            try:
                update_if_unchanged(
                    self._table,
                    {
                        "PartitionKey": run.office_id,
                        "RowKey": run.index_key,
                        column: int(getattr(run, column)) + 1,
                    },
                    run.etag,
                )
                return
            except ConcurrencyConflict:
                time.sleep(random.uniform(0.01, 0.05) * min(attempt + 1, 8))  # noqa: S311
        raise ConcurrencyConflict(f"could not count a decision in run {run_id}")


def _run_rows(new: NewRun, jobs_total: int) -> list[dict[str, Any]]:
    """The pointer and the summary of a new run (always in the same transaction)."""
    office = check_key(new.office_id)
    index_key = f"ix|{inverted_ticks(new.created_at)}|{check_key(new.run_id)}"
    summary: dict[str, Any] = {
        "PartitionKey": office,
        "RowKey": index_key,
        "run_id": new.run_id,
        "type": new.type.value,
        "client_id": new.client_id or "",
        "created_at": new.created_at,
        "created_by": new.created_by,
        "business_date": new.business_date.isoformat() if new.business_date else "",
        "approved_from": new.approved_from.isoformat() if new.approved_from else "",
        "approved_to": new.approved_to.isoformat() if new.approved_to else "",
        "status": RunStatus.RUNNING.value,
        "planned": False,
        "jobs_total": jobs_total,
        "jobs_done": 0,
        "jobs_failed": 0,
        "imported": 0,
        "failed": 0,
        "skipped": 0,
    }
    pointer = {"PartitionKey": office, "RowKey": f"id|{new.run_id}", "index_key": index_key}
    # The per-type index: the overview filtered on type reads only rows of that type.
    by_type = {
        "PartitionKey": office,
        "RowKey": f"tx|{new.type.value}|{inverted_ticks(new.created_at)}|{new.run_id}",
        "run_id": new.run_id,
        "type": new.type.value,
    }
    return [pointer, summary, by_type]


def _code(exc: TableTransactionError) -> str:
    """The storage error code of a failed transaction (e.g. ``EntityAlreadyExists``)."""
    return str(getattr(exc, "error_code", "") or "")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _encode_token(row_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": row_key}).encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        value = untrusted_json.parse(base64.urlsafe_b64decode(padded))["after"]
    except (ValueError, KeyError, TypeError):  # UntrustedJson and binascii.Error are ValueErrors
        raise InvalidContinuationToken(token) from None
    if not isinstance(value, str) or not value.startswith(("ix|", "cx|", "tx|")):
        raise InvalidContinuationToken(token)
    return value


class InvalidContinuationToken(ValueError):
    pass


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _run(e: TableEntity) -> Run:
    created = when(e.get("created_at"))
    assert created is not None
    return Run(
        office_id=e["PartitionKey"],
        run_id=e["run_id"],
        type=RunType(e["type"]),
        client_id=e.get("client_id") or None,
        created_at=created,
        created_by=e.get("created_by", ""),
        business_date=_date(e.get("business_date")),
        approved_from=_date(e.get("approved_from")),
        approved_to=_date(e.get("approved_to")),
        status=RunStatus(e["status"]),
        planned=bool(e.get("planned")),
        jobs_total=int(e.get("jobs_total", 0)),
        jobs_done=int(e.get("jobs_done", 0)),
        jobs_failed=int(e.get("jobs_failed", 0)),
        imported=int(e.get("imported", 0)),
        failed=int(e.get("failed", 0)),
        skipped=int(e.get("skipped", 0)),
        index_key=e["RowKey"],
        etag=etag_of(e),
        awaiting=int(e.get("awaiting", 0)),
        job_errors=int(e.get("job_errors", 0)),
        decided_imported=int(e.get("decided_imported", 0)),
        decided_failed=int(e.get("decided_failed", 0)),
        decided_rejected=int(e.get("decided_rejected", 0)),
        decided_skipped=int(e.get("decided_skipped", 0)),
    )


def _job(e: TableEntity) -> Job:
    return Job(
        office_id=e["PartitionKey"],
        run_id=e["run_id"],
        client_id=e["client_id"],
        status=JobStatus(e["status"]),
        enqueued=bool(e.get("enqueued")),
        attempts=int(e.get("attempts", 0)),
        imported=int(e.get("imported", 0)),
        failed=int(e.get("failed", 0)),
        skipped=int(e.get("skipped", 0)),
        last_error=e.get("last_error", ""),
        updated_at=when(e.get("updated_at")),
        etag=etag_of(e),
        holder=e.get("holder", ""),
        lease_until=when(e.get("lease_until")),
    )
