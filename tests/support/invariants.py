"""THE invariant of the sync engine, checked after the dust settles (every queue message
processed, poison handled), over the sandboxes' ledgers and our tables. Used by the fault matrix
(tests/faults/test_matrix.py), the soak (tests/faults/test_soak.py) and the end-to-end fault
tests (tests/e2e/test_sync_faults.py).

1. Every ready (or export-failed), non-test Loket journal run of every included client, taken
   when the nightly started (:func:`snapshot`), is

   * booked exactly once: the booking ledger says booked/marked and AFAS has exactly one entry
     with its reference (Profit: one entry per voucher number; SB: one booking per
     Tracking-Identifier), with the entry number the ledger holds, and the run that booked it
     shows it as imported; or
   * visibly failed: a journal-run row with status failed and an error message (text and hint)
     for that journal run, or the client's job failed with an error message (text and hint),
     or the planner skipped the client with a message (text and hint); never lost.

   Two clients may map the same Loket payroll administration to the same AFAS administration:
   their journal runs share one ledger row, so a run is booked once for both. The client whose
   job (or approval) booked it reports it imported, in the run that booked it and nowhere else;
   every other client sharing it reports it "already booked" (skipped), or nothing at all when
   Loket already said exported when its job listed the runs, and never imported.

   A ready run without lines is never booked; it is skipped with a message (or failed visibly),
   or, shared, skipped by a client sharing it while Loket now says exported.
2. Zero duplicates: no voucher number in two Profit entries, no Tracking-Identifier twice in SB,
   no AFAS entry that the ledger does not hold as booked (booked <=> AFAS has the entry), and a
   booked run reported imported once (by the client and run that booked it).
3. Zero orphaned jobs: every run left ``running`` and is planned, every job row finished, no
   message left in ``sync-jobs`` or ``sync-jobs-poison``.
4. Counters consistent: ``jobsDone`` = finished jobs = ``jobsTotal``, ``jobsFailed`` = failed
   jobs, the run's imported/failed/skipped = the sum over its jobs = its journal-run rows (a job
   that failed as a whole counts one failure more than its rows, except after exhausting its
   deliveries). Review mode: a job counts a journal run awaiting approval as none of the three;
   the admin's decision afterwards (approved and booked, failed, rejected) rewrites the row but
   not the finished job's counts, so those rows count either all as decided or all as awaiting.
5. Loket status 7 (exported) <=> ledger ``marked``, for every journal run with lines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from devtools.sandbox.afas import AfasSandbox
from devtools.sandbox.loket import LoketSandbox
from shared.bootstrap import Services
from shared.clients.model import ClientConfig, ProfitTarget, SbTarget
from shared.store.approvals import ApprovalState, approval_id
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, Level, RunMessage
from shared.store.runs import Job, JobStatus, Run, RunStatus
from shared.sync.bookers import target_key
from shared.sync.ledger import Booking
from shared.sync.ledger import State as BookingState
from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE

NIGHTLY_READY = (4, 6)  # Loket "Journaal gereed" and "Exporteren mislukt": the nightly books them
EXPORTED = 7
EXHAUSTED = "exhausted"


@dataclass(frozen=True)
class ReadyRun:
    client_id: str
    loket_journal_run_id: str
    target_key: str
    has_lines: bool


@dataclass
class Expectation:
    """What must end up booked or visibly failed: the ready runs seen before each nightly."""

    office_id: str
    ready: dict[tuple[str, str], ReadyRun] = field(default_factory=dict)

    def add(self, other: Expectation) -> None:
        assert other.office_id == self.office_id
        for key, run in other.ready.items():
            self.ready.setdefault(key, run)


@dataclass
class Report:
    expected: int = 0
    booked: int = 0
    already_booked: int = 0  # booked for a client sharing the Loket and AFAS administration
    failed_visibly: int = 0
    skipped_empty: int = 0
    runs: int = 0
    jobs: int = 0
    jobs_failed: int = 0
    profit_entries: int = 0
    sb_bookings: int = 0
    violations: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # the visibly failed runs, with why

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        state = "HOLDS" if self.ok else f"VIOLATED ({len(self.violations)})"
        shared = (
            f" ({self.already_booked} of them for a client sharing the administration)"
            if self.already_booked
            else ""
        )
        booked = self.booked + self.already_booked
        return (
            f"invariant {state}: {self.expected} ready journal runs -> {booked} booked once"
            f"{shared}, {self.failed_visibly} visibly failed, {self.skipped_empty} empty runs "
            "skipped; "
            f"{self.runs} runs, {self.jobs} jobs ({self.jobs_failed} failed); AFAS holds "
            f"{self.profit_entries} Profit entries and {self.sb_bookings} SB bookings"
        )


def included_clients(services: Services, office_id: str) -> list[ClientConfig]:
    return [c for c in services.clients.for_office(office_id) if c.include_in_sync]


def snapshot(services: Services, loket: LoketSandbox, office_id: str) -> Expectation:
    """The ready, non-test journal runs of every included client, right now (call it before
    the nightly that should book them)."""
    expectation = Expectation(office_id)
    administrations = {a.id: a for a in loket.scenario.administrations()}
    for client in included_clients(services, office_id):
        administration = administrations.get(client.loket_administration_id)
        if administration is None:
            continue
        for run in administration.runs:
            if run.status in NIGHTLY_READY and not run.test_year:
                expectation.ready[(client.client_id, run.id)] = ReadyRun(
                    client.client_id, run.id, target_key(client.target), bool(run.lines)
                )
    return expectation


def _all_runs(services: Services, office_id: str) -> list[Run]:
    runs: list[Run] = []
    token: str | None = None
    while True:
        page = services.runs.page(office_id, limit=100, continuation_token=token)
        runs += page.runs
        token = page.continuation_token
        if token is None:
            return runs


def _visible(message: RunMessage) -> bool:
    return bool(message.text.strip()) and bool(message.hint.strip())


def check(
    services: Services,
    loket: LoketSandbox,
    afas: AfasSandbox,
    expectation: Expectation,
    *,
    queues: bool = True,
) -> Report:
    """Check the invariant; answers the figures. Every violation is listed in
    ``report.violations`` (use :func:`assert_invariant` to fail a test with all of them)."""
    office = expectation.office_id
    report = Report(expected=len(expectation.ready))
    bad = report.violations.append

    # 3. no message left behind
    if queues:
        for name in (SYNC_QUEUE, SYNC_POISON_QUEUE):
            left = services.storage.queue(name).get_queue_properties().approximate_message_count
            if left:
                bad(f"queue {name} still holds {left} message(s)")

    # 3 + 4. runs, jobs, rows, counters
    failed_rows: dict[tuple[str, str], list[JournalRunRecord]] = defaultdict(list)
    imported_in: dict[tuple[str, str], set[str]] = defaultdict(set)  # -> runs that say imported
    skipped_rows: set[tuple[str, str]] = set()
    pending_rows: set[tuple[str, str]] = set()
    visible_job_failures: set[str] = set()  # clients with a job that failed with a message
    said_already: set[tuple[str, str]] = set()  # "already booked" messages
    runs = _all_runs(services, office)
    report.runs = len(runs)
    for run in runs:
        jobs = services.runs.jobs(office, run.run_id)
        records = services.run_details.records(office, run.run_id)
        messages = services.run_details.messages(office, run.run_id)
        report.jobs += len(jobs)

        def decided(
            client_id: str, rows: list[JournalRunRecord], run_id: str = run.run_id
        ) -> Counter[JournalRunOutcome]:
            return _decided_by_approval(services, office, run_id, client_id, rows)

        _check_run(run, jobs, records, decided, bad)
        report.jobs_failed += sum(1 for j in jobs if j.status is JobStatus.FAILED)
        errors = [m for m in messages if m.level is Level.ERROR]
        for record in records:
            key = (record.client_id, record.loket_journal_run_id)
            if record.status is JournalRunOutcome.FAILED:
                failed_rows[key].append(record)
                said = [
                    m
                    for m in errors
                    if m.loket_journal_run_id == record.loket_journal_run_id
                    and m.client_id == record.client_id
                ]
                if not any(_visible(m) for m in said):
                    bad(
                        f"{run.run_id}: failed journal run {key} has no error message with text "
                        "and hint"
                    )
            elif record.status is JournalRunOutcome.SKIPPED:
                skipped_rows.add(key)
            elif record.status is JournalRunOutcome.IMPORTED:
                imported_in[key].add(run.run_id)
            elif record.status is JournalRunOutcome.AWAITING_APPROVAL:
                pending_rows.add(key)
        for job in jobs:
            if job.status is JobStatus.FAILED and job.last_error:
                code = "job-exhausted" if job.last_error == EXHAUSTED else job.last_error
                said = [m for m in errors if m.client_id == job.client_id and m.code == code]
                if any(_visible(m) for m in said):
                    visible_job_failures.add(job.client_id)
                else:
                    bad(
                        f"{run.run_id}: job {job.client_id} failed ({job.last_error}) without an "
                        "error message with text and hint"
                    )
        for message in messages:
            if message.code.startswith("skipped-") and message.client_id and _visible(message):
                visible_job_failures.add(message.client_id)
            if (
                message.code == "already-booked"
                and message.client_id
                and message.loket_journal_run_id
            ):
                said_already.add((message.client_id, message.loket_journal_run_id))

    # The ledger and AFAS, for every Loket journal run of every included client.
    clients = {c.client_id: c for c in included_clients(services, office)}
    administrations = {a.id: a for a in loket.scenario.administrations()}
    ledger: dict[tuple[str, str], Booking] = {}
    loket_status: dict[str, int] = {}
    for client in clients.values():
        administration = administrations.get(client.loket_administration_id)
        for loket_run in administration.runs if administration else []:
            loket_status[loket_run.id] = loket_run.status
            booking = services.bookings.get(target_key(client.target), loket_run.id)
            if booking is not None:
                ledger[(client.client_id, loket_run.id)] = booking
    booked_refs: dict[tuple[str, str], Booking] = {
        (b.target, b.reference): b for b in ledger.values() if b.state.booked
    }
    entries = _afas_entries(afas, clients.values())
    report.profit_entries = sum(1 for kind, *_ in entries if kind == "profit")
    report.sb_bookings = len(entries) - report.profit_entries

    # 2. zero duplicates, and AFAS holds nothing the ledger does not know as booked
    per_ref = Counter((part, ref) for _, part, ref, _ in entries)
    for (part, ref), n in per_ref.items():
        if n > 1:
            bad(f"DUPLICATE: {part} holds reference {ref} {n} times")
    for _, part, ref, number in entries:
        known = booked_refs.get((part, ref))
        if known is None:
            bad(f"AFAS {part} holds {ref} (entry {number}) but the ledger does not say booked")
        elif known.entry_number != number:
            bad(f"ledger says entry {known.entry_number} for {ref}, AFAS has {number}")
    for booking in ledger.values():
        in_afas = per_ref.get((booking.target, booking.reference), 0)
        if booking.state.booked and in_afas != 1:
            bad(f"ledger says booked for {booking.reference}, AFAS holds it {in_afas} times")
        if not booking.state.booked and in_afas:
            bad(f"ledger says {booking.state.value} for {booking.reference}, AFAS holds it")

    # 1. every ready run booked once or visibly failed
    for key, ready in expectation.ready.items():
        booking = ledger.get(key)
        booked = booking is not None and booking.state.booked
        visibly_failed = (
            key in failed_rows or ready.client_id in visible_job_failures or key in pending_rows
        )
        if not ready.has_lines:
            siblings = [
                k for k in expectation.ready if k[1] == ready.loket_journal_run_id and k != key
            ]
            skipped_by_sibling = any(k in skipped_rows for k in siblings) and (
                loket_status.get(ready.loket_journal_run_id) == EXPORTED
            )
            if booked:
                bad(f"empty journal run {key} was booked")
            elif key in skipped_rows or visibly_failed or skipped_by_sibling:
                report.skipped_empty += 1
            else:
                bad(f"LOST: empty journal run {key} has no skipped row and no failure")
            continue
        if booked:
            assert booking is not None
            _check_reported(key, booking, expectation, imported_in, said_already, skipped_rows, bad)
            if booking.holder.client_id == ready.client_id:
                report.booked += 1
            else:
                report.already_booked += 1
        elif visibly_failed:
            report.failed_visibly += 1
            notes = [r.note for r in failed_rows.get(key, [])]
            report.failures.append(f"{key}: {notes or 'job failed'}")
        else:
            state = booking.state.value if booking else "no ledger row"
            bad(f"LOST: journal run {key} is neither booked nor visibly failed ({state})")
        # 5. Loket exported <=> ledger marked
        marked = booking is not None and booking.state is BookingState.MARKED
        exported = loket_status.get(ready.loket_journal_run_id) == EXPORTED
        if marked != exported:
            bad(
                f"journal run {key}: Loket status {loket_status.get(ready.loket_journal_run_id)} "
                f"but ledger {booking.state.value if booking else 'none'}"
            )
    return report


def _check_reported(
    key: tuple[str, str],
    booking: Booking,
    expectation: Expectation,
    imported_in: dict[tuple[str, str], set[str]],
    said_already: set[tuple[str, str]],
    skipped_rows: set[tuple[str, str]],
    bad: Any,
) -> None:
    """A booked journal run is reported imported by the client and run that booked it, and by
    nobody else: a client sharing the administration says "already booked" (or nothing)."""
    client_id, loket_run = key
    holder = booking.holder
    booked_by = holder.job  # a run id, or approval:<id> (the preparing run reports)
    reported = imported_in.get(key, set())
    if holder.client_id == client_id:
        if holder.job.startswith("approval:"):
            if len(reported) != 1:
                bad(f"UNREPORTED: journal run {key} approved and booked, imported in {reported}")
        elif booked_by not in reported:
            bad(f"UNREPORTED: journal run {key} is booked but run {booked_by} has no imported row")
        elif len(reported) > 1:
            bad(f"DOUBLE-REPORTED: journal run {key} booked by {booked_by}, imported in {reported}")
        return
    sharer = expectation.ready.get((holder.client_id, loket_run))
    if sharer is None or sharer.target_key != booking.target:
        bad(f"journal run {key} was booked by client {holder.client_id}, which does not share it")
    if reported:
        bad(
            f"DOUBLE-REPORTED: journal run {key} was booked by client {holder.client_id} "
            f"({booked_by}) but client {client_id} reports it imported in {sorted(reported)}"
        )
    if key in skipped_rows and key not in said_already:
        bad(f"journal run {key}: skipped without saying it was already booked")


def _decided_by_approval(
    services: Services, office: str, run_id: str, client_id: str, rows: list[JournalRunRecord]
) -> Counter[JournalRunOutcome]:
    """The statuses of the rows of one job that an admin's decision wrote: the approval item of
    the journal run was prepared in this run for this client and is decided."""
    client = services.clients.get(office, client_id)
    if client is None or services.approvals is None:
        return Counter()
    key = target_key(client.target)
    decided: Counter[JournalRunOutcome] = Counter()
    for row in rows:
        if row.status is JournalRunOutcome.AWAITING_APPROVAL:
            continue
        item = services.approvals.get(office, approval_id(key, row.loket_journal_run_id))
        if (
            item is not None
            and item.prepared.run_id == run_id
            and item.prepared.client_id == client_id
            and item.state in (ApprovalState.APPROVED, ApprovalState.FAILED, ApprovalState.REJECTED)
        ):
            decided[row.status] += 1
    return decided


def _check_run(
    run: Run,
    jobs: list[Job],
    records: list[JournalRunRecord],
    decided: Any,
    bad: Any,
) -> None:
    where = run.run_id
    if run.status is RunStatus.RUNNING or not run.planned:
        bad(f"{where}: still {run.status.value} (planned={run.planned}) after the dust settled")
    unfinished = [j.client_id for j in jobs if not j.status.finished]
    if unfinished:
        bad(f"{where}: ORPHANED jobs not finished: {unfinished}")
    finished = [j for j in jobs if j.status.finished]
    failed = [j for j in jobs if j.status is JobStatus.FAILED]
    if (run.jobs_total, run.jobs_done, run.jobs_failed) != (len(jobs), len(finished), len(failed)):
        bad(
            f"{where}: counters total/done/failed {run.jobs_total}/{run.jobs_done}/"
            f"{run.jobs_failed}, jobs {len(jobs)}/{len(finished)}/{len(failed)}"
        )
    sums = (
        sum(j.imported for j in jobs),
        sum(j.failed for j in jobs),
        sum(j.skipped for j in jobs),
    )
    if (run.imported, run.failed, run.skipped) != sums:
        bad(f"{where}: run counts {(run.imported, run.failed, run.skipped)} != jobs {sums}")
    rows: dict[str, Counter[JournalRunOutcome]] = defaultdict(Counter)
    by_client: dict[str, list[JournalRunRecord]] = defaultdict(list)
    for record in records:
        rows[record.client_id][record.status] += 1
        by_client[record.client_id].append(record)
    for job in finished:
        whole = 1 if job.last_error and job.last_error != EXHAUSTED else 0

        def expected(mine: Counter[JournalRunOutcome], whole: int = whole) -> tuple[int, int, int]:
            return (
                mine[JournalRunOutcome.IMPORTED],
                mine[JournalRunOutcome.FAILED] + whole,
                mine[JournalRunOutcome.SKIPPED],
            )

        counts = (job.imported, job.failed, job.skipped)
        mine = rows[job.client_id]
        if counts != expected(mine):
            awaiting = expected(mine - decided(job.client_id, by_client[job.client_id]))
            if counts != awaiting:
                bad(
                    f"{where}: job {job.client_id} counts {counts} != its rows "
                    f"{expected(mine)} (or {awaiting} before an admin decided)"
                )
        if (job.status is JobStatus.FAILED) != bool(job.failed or job.last_error):
            bad(f"{where}: job {job.client_id} is {job.status.value} with {job.failed} failures")


def _afas_entries(afas: AfasSandbox, clients: Any) -> list[tuple[str, str, str, str]]:
    """(kind, ledger partition, reference, entry number) of everything AFAS booked for the
    administrations these clients book into."""
    found: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    for client in clients:
        target = client.target
        key = target_key(target)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(target, ProfitTarget):
            environment = afas.scenario.profit.get(target.environment)
            administration = (
                environment.administrations.get(target.administration) if environment else None
            )
            with afas.lock:
                booked = list(administration.entries) if administration else []
            for entry in booked:
                for voucher in entry.voucher_numbers:
                    found.append(("profit", key, voucher, str(entry.entry_number)))
        elif isinstance(target, SbTarget):
            for booking in afas.sb_bookings(target.environment.lower()):
                if booking.administration_id.lower() != target.administration_id.lower():
                    continue
                found.append(("sb", key, booking.tracking_identifier or "<none>", booking.code))
    return found


def assert_invariant(
    services: Services,
    loket: LoketSandbox,
    afas: AfasSandbox,
    expectation: Expectation,
    *,
    queues: bool = True,
) -> Report:
    report = check(services, loket, afas, expectation, queues=queues)
    assert report.ok, report.summary() + "\n  " + "\n  ".join(report.violations[:60])
    return report
