"""The rule "run done/failed" (shared/runs/model.py), without storage: a planned run leaves
``running`` when its last job is counted, failed when any job failed."""

from __future__ import annotations

from shared.runs.model import JobOutcome, JobStatus, RunProgress, RunStatus, count_finished_job


def test_a_run_is_done_when_its_last_job_is_counted_and_none_failed() -> None:
    run = RunProgress(planned=True, jobs_total=2)
    first = count_finished_job(run, JobOutcome(imported=2, skipped=1))
    assert first.status is RunStatus.RUNNING and first.jobs_done == 1
    last = count_finished_job(first, JobOutcome(imported=1, awaiting=1))
    assert last.status is RunStatus.DONE
    assert (last.jobs_done, last.jobs_failed, last.imported, last.skipped, last.awaiting) == (
        2,
        0,
        3,
        1,
        1,
    )


def test_one_failed_loonrun_or_job_error_fails_the_run() -> None:
    run = RunProgress(planned=True, jobs_total=2)
    after = count_finished_job(count_finished_job(run, JobOutcome(failed=1)), JobOutcome())
    assert after.status is RunStatus.FAILED and after.jobs_failed == 1 and after.job_errors == 0
    errored = count_finished_job(RunProgress(planned=True, jobs_total=1), JobOutcome(error="x"))
    assert errored.status is RunStatus.FAILED and errored.job_errors == 1
    assert (
        JobOutcome(error="x").status is JobStatus.FAILED and JobOutcome().status is JobStatus.DONE
    )


def test_a_run_still_being_planned_stays_running_whatever_its_jobs_say() -> None:
    run = RunProgress(planned=False, jobs_total=1)
    assert count_finished_job(run, JobOutcome(imported=1)).status is RunStatus.RUNNING
