"""The run model: statuses, what one job adds to its run, and when a run is done or failed.

Pure values; ``shared/store/runs.py`` stores them (one entity-group transaction per finished
job) and calls :func:`count_finished_job` for the rule."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunType(StrEnum):
    NIGHTLY = "nightly"
    RERUN = "rerun"


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


@dataclass(frozen=True)
class JobOutcome:
    imported: int = 0
    failed: int = 0
    skipped: int = 0
    error: str = ""  # set when the job itself failed (not only some journal runs)
    awaiting: int = 0  # loonruns prepared for approval (review mode)

    @property
    def job_failed(self) -> bool:
        return bool(self.error) or self.failed > 0

    @property
    def status(self) -> JobStatus:
        return JobStatus.FAILED if self.job_failed else JobStatus.DONE


@dataclass(frozen=True)
class RunProgress:
    """A run's counters that finishing a job changes, and its status."""

    planned: bool  # every job of the run is written (jobs_total is final)
    jobs_total: int
    jobs_done: int = 0
    jobs_failed: int = 0
    imported: int = 0
    failed: int = 0
    skipped: int = 0
    awaiting: int = 0
    job_errors: int = 0
    status: RunStatus = RunStatus.RUNNING

    def counters(self) -> dict[str, int]:
        """The counters by their column name (``Runs`` row and :class:`Run` field alike)."""
        return {
            "jobs_done": self.jobs_done,
            "jobs_failed": self.jobs_failed,
            "imported": self.imported,
            "failed": self.failed,
            "skipped": self.skipped,
            "awaiting": self.awaiting,
            "job_errors": self.job_errors,
        }


def count_finished_job(run: RunProgress, outcome: JobOutcome) -> RunProgress:
    """The run after one more of its jobs finished with ``outcome``: the rule "run done/failed".
    A planned run whose last job is counted leaves ``running``: failed when any of its jobs
    failed (an error of its own, or a loonrun that failed), else done. Counted once per job (the
    store makes sure a finished job is not finished again)."""
    done = run.jobs_done + 1
    failed_jobs = run.jobs_failed + (1 if outcome.job_failed else 0)
    status = RunStatus.RUNNING
    if run.planned and done >= run.jobs_total:
        status = RunStatus.FAILED if failed_jobs else RunStatus.DONE
    return RunProgress(
        planned=run.planned,
        jobs_total=run.jobs_total,
        jobs_done=done,
        jobs_failed=failed_jobs,
        imported=run.imported + outcome.imported,
        failed=run.failed + outcome.failed,
        skipped=run.skipped + outcome.skipped,
        awaiting=run.awaiting + outcome.awaiting,
        job_errors=run.job_errors + (1 if outcome.error else 0),
        status=status,
    )


@dataclass(frozen=True)
class JournalRunCounts:
    """The loonruns of a run by what became of them, and the run's outcome in those terms. The
    manual's "Uitgevoerd (3/3)" means "3 of the 3 loonruns imported": the fraction counts the
    loonruns that were to be booked (imported, failed, awaiting approval, rejected); skipped ones
    (a test year, already booked) are not in it. Its Dutch text: :mod:`shared.runs.texts`."""

    imported: int = 0
    failed: int = 0
    awaiting: int = 0
    rejected: int = 0
    skipped: int = 0
    clients_failed: int = 0  # jobs that failed as a whole (no loonrun behind the failure)
    running: bool = False
    run_failed: bool = False  # e.g. a run that could not start (Loket not connected)
    clients_done: int = 0
    clients_total: int = 0

    @property
    def total(self) -> int:
        return self.imported + self.failed + self.awaiting + self.rejected

    @property
    def outcome(self) -> str:
        """running | failed | awaiting_approval | imported | rejected | nothing_to_do"""
        if self.running:
            return "running"
        if self.failed or self.clients_failed or self.run_failed:
            return "failed"
        if self.awaiting:
            return "awaiting_approval"
        if self.imported:
            return "imported"
        if self.rejected:
            return "rejected"
        return "nothing_to_do"
