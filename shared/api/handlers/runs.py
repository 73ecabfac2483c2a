"""Runs overview, run detail and reruns (contract §3)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from shared.api.http import (
    ApiResponse,
    FieldError,
    Problem,
    int_param,
    json_response,
    not_found,
    read_model,
    validation_failed,
)
from shared.api.operations import (
    Access,
    Operation,
    QueryParam,
    Reply,
    RequestContext,
    problem_reply,
)
from shared.api.schemas import RequestModel, ResponseModel
from shared.clock import to_amsterdam
from shared.runs.model import JournalRunCounts, RunType
from shared.runs.texts import run_status_text, status_text
from shared.store.run_details import JournalRunOutcome, JournalRunRecord, RunMessage
from shared.store.runs import InvalidContinuationToken, Run
from shared.store.tables import check_key

MAX_WINDOW_DAYS = 400


class RunOut(ResponseModel):
    run_id: str
    type: Literal["nightly", "rerun"]
    client_id: str | None
    created_at: datetime
    created_by: str
    business_date: date | None
    approved_from: date | None
    approved_to: date | None
    status: Literal["running", "done", "failed"] = Field(
        description="the run as a job: running, done (no failures) or failed (some failed)"
    )
    outcome: Literal[
        "running", "imported", "failed", "awaiting_approval", "rejected", "nothing_to_do"
    ] = Field(
        description="what happened to the run's loonruns (journal runs): still running; some "
        "failed (or a client could not be processed); some await an admin's approval; imported "
        "(all that were to be booked are booked, some perhaps rejected); all rejected; or "
        "nothing to book"
    )
    status_text: str = Field(
        description="Dutch, as the manual shows it, counting loonruns: 'Uitgevoerd (3/3)' = 3 "
        "of the 3 loonruns imported; 'Wacht op goedkeuring (1/3)', 'Uitgevoerd met fouten "
        "(2/3)', 'Niets te boeken', 'Wordt uitgevoerd (2 van 5 clients)'"
    )
    jobs_total: int = Field(description="clients in the run (one job each)")
    jobs_done: int
    jobs_failed: int = Field(description="clients with a failure (a loonrun or the client)")
    journal_runs_total: int = Field(
        description="loonruns to be booked: imported + failed + awaiting approval + rejected"
    )
    journal_runs_imported: int
    journal_runs_failed: int = Field(description="loonruns that failed (not counting clients)")
    journal_runs_awaiting_approval: int
    journal_runs_rejected: int
    journal_runs_skipped: int = Field(description="test years, already booked: not in the total")
    clients_failed: int = Field(
        description="clients whose processing failed as a whole (no loonrun behind it)"
    )


class RunPageOut(ResponseModel):
    runs: list[RunOut]
    continuation_token: str | None
    total: int | None = Field(
        default=None, description="with page or q: runs that pass the filters and the search"
    )
    unfiltered_total: int | None = Field(
        default=None, description="with page or q: all runs of the office"
    )
    page: int | None = Field(default=None, description="with page or q: the page shown (1-based)")
    pages: int | None = Field(default=None, description="with page or q: the number of pages")
    searched: int | None = Field(
        default=None,
        description="with q: the search read only this many of the newest runs (absent: all)",
    )


class JournalRunOut(ResponseModel):
    client_id: str
    loket_journal_run_id: str
    payroll_run_id: str
    payroll_period: str = Field(description="year-period, e.g. 2020-3")
    sequence_number: int
    sent_at: datetime | None
    environment: str
    status: Literal["imported", "failed", "skipped", "awaiting_approval", "rejected"]
    status_text: str
    entry_number: str | None
    reference: str
    note: str


class CheckOut(ResponseModel):
    name: str = Field(description="Verloning, Journaal or Loonaangifte (the manual's checks)")
    state: Literal["ok", "failed", "unknown"]
    text: str
    todo: str = Field(description="what to do in Loket (Dutch); empty when all is well")


class MessageOut(ResponseModel):
    at: datetime
    level: Literal["info", "warning", "error"]
    client_id: str | None
    loket_journal_run_id: str | None
    text: str
    hint: str
    code: str = Field(default="", description="kind of message, e.g. nothing-to-book")
    checks: list[CheckOut] = Field(
        default_factory=list,
        description="nothing-to-book: the manual's three checks in Loket for this client",
    )


class RunDetailOut(RunOut):
    journal_runs: list[JournalRunOut]
    messages: list[MessageOut]


class RerunIn(RequestModel):
    approved_from: date
    approved_to: date
    client_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class RerunStarted(ResponseModel):
    run_id: str
    status: str
    jobs_total: int


def run_out(run: Run, counts: JournalRunCounts | None = None) -> RunOut:
    """The run; ``counts``: the loonruns counted from their rows (the detail), else the run's
    counters (the list)."""
    c = counts or run.journal_runs
    return RunOut(
        run_id=run.run_id,
        type=run.type.value,
        client_id=run.client_id,
        created_at=run.created_at,
        created_by=run.created_by,
        business_date=run.business_date,
        approved_from=run.approved_from,
        approved_to=run.approved_to,
        status=run.status.value,
        outcome=c.outcome,
        status_text=status_text(c),
        jobs_total=run.jobs_total,
        jobs_done=run.jobs_done,
        jobs_failed=run.jobs_failed,
        journal_runs_total=c.total,
        journal_runs_imported=c.imported,
        journal_runs_failed=c.failed,
        journal_runs_awaiting_approval=c.awaiting,
        journal_runs_rejected=c.rejected,
        journal_runs_skipped=c.skipped,
        clients_failed=c.clients_failed,
    )


def counted(run: Run, records: list[JournalRunRecord]) -> JournalRunCounts:
    """The loonruns of a run counted from their rows (exact, decisions included)."""
    by = Counter(r.status for r in records)
    return replace(
        run.journal_runs,
        imported=by[JournalRunOutcome.IMPORTED],
        failed=by[JournalRunOutcome.FAILED],
        awaiting=by[JournalRunOutcome.AWAITING_APPROVAL],
        rejected=by[JournalRunOutcome.REJECTED],
        skipped=by[JournalRunOutcome.SKIPPED],
    )


def journal_run_out(record: JournalRunRecord) -> JournalRunOut:
    return JournalRunOut(
        client_id=record.client_id,
        loket_journal_run_id=record.loket_journal_run_id,
        payroll_run_id=record.payroll_run_id,
        payroll_period=record.payroll_period,
        sequence_number=record.sequence_number,
        sent_at=record.sent_at,
        environment=record.environment,
        status=record.status.value,
        status_text=record.status.dutch,
        entry_number=record.entry_number,
        reference=record.reference,
        note=record.note,
    )


def message_out(message: RunMessage) -> MessageOut:
    return MessageOut(
        at=message.at,
        level=message.level.value,
        client_id=message.client_id,
        loket_journal_run_id=message.loket_journal_run_id,
        text=message.text,
        hint=message.hint,
        code=message.code,
        checks=[
            CheckOut(
                name=c.name,
                state=c.state if c.state in ("ok", "failed") else "unknown",
                text=c.text,
                todo=c.todo,
            )
            for c in message.checks
        ],
    )


def page_limit(raw: str | None) -> int:
    if raw is None:
        return 20
    return int_param(raw, "limit", 1, 100, "moet een geheel getal van 1 tot en met 100 zijn")


def list_runs(ctx: RequestContext) -> ApiResponse:
    query = ctx.request.query
    run_type = query.get("type")
    if run_type is not None and run_type not in ("nightly", "rerun"):
        raise validation_failed([FieldError("type", "moet 'nightly' of 'rerun' zijn")])
    client_id = query.get("clientId") or None
    if client_id is not None:
        try:
            check_key(client_id)
        except ValueError:
            raise validation_failed(
                [FieldError("clientId", "is geen geldig clientnummer")]
            ) from None
    search = (query.get("q") or "").strip()
    if len(search) > 100:
        raise validation_failed([FieldError("q", "mag hoogstens 100 tekens zijn")])
    page_number = query.get("page")
    if page_number is not None or search:
        wanted = 1
        if page_number is not None:
            text = "moet een paginanummer (1, 2, …) zijn"
            wanted = int_param(page_number, "page", 1, 99999, text)
        counted = ctx.services.runs.counted_page(
            ctx.office_id,
            limit=page_limit(query.get("limit")),
            page=wanted,
            run_type=RunType(run_type) if run_type else None,
            client_id=client_id,
            matches=run_matcher(search) if search else None,
        )
        return json_response(
            200,
            RunPageOut(
                runs=[run_out(r) for r in counted.runs],
                continuation_token=None,
                total=counted.total,
                unfiltered_total=counted.unfiltered_total,
                page=counted.page,
                pages=counted.pages,
                searched=counted.searched,
            ),
        )
    try:
        page = ctx.services.runs.page(
            ctx.office_id,
            limit=page_limit(query.get("limit")),
            continuation_token=query.get("continuationToken") or None,
            run_type=RunType(run_type) if run_type else None,
            client_id=client_id,
        )
    except InvalidContinuationToken:
        raise validation_failed(
            [FieldError("continuationToken", "is ongeldig; begin opnieuw bij de eerste pagina")]
        ) from None
    body = RunPageOut(
        runs=[run_out(r) for r in page.runs], continuation_token=page.continuation_token
    )
    return json_response(200, body)


TYPE_LABELS = {RunType.NIGHTLY: "Nachtelijk", RunType.RERUN: "Rerun"}


def _dutch_date(value: date | None) -> str:
    return f"{value:%d-%m-%Y}" if value else ""


def run_matcher(search: str) -> Callable[[Run], bool]:
    """The overview's search box: every word must appear in the row as the portal shows it
    (type, client, "05-08-2022 13:58", the dates, the status), case-insensitive."""
    words = search.lower().split()

    def matches(run: Run) -> bool:
        shown = " ".join(
            (
                TYPE_LABELS[run.type],
                run.client_id or "Alle clients",
                f"{to_amsterdam(run.created_at):%d-%m-%Y %H:%M}",
                _dutch_date(run.business_date),
                _dutch_date(run.approved_from),
                _dutch_date(run.approved_to),
                run_status_text(run),
                run.created_by,
            )
        ).lower()
        return all(word in shown for word in words)

    return matches


def get_run(ctx: RequestContext) -> ApiResponse:
    run_id = ctx.request.route_params.get("runId", "")
    try:
        run = ctx.services.runs.get(ctx.office_id, check_key(run_id))
    except ValueError:
        run = None
    if run is None:
        raise not_found("Deze run bestaat niet (of hoort niet bij uw kantoor).")
    details = ctx.services.run_details
    records = sorted(
        details.records(ctx.office_id, run.run_id),
        key=lambda r: (r.client_id, -r.sequence_number),
    )
    body = RunDetailOut(
        **run_out(run, counted(run, records)).model_dump(),
        journal_runs=[journal_run_out(r) for r in records],
        messages=[message_out(m) for m in details.messages(ctx.office_id, run.run_id)],
    )
    return json_response(200, body)


def start_rerun(ctx: RequestContext) -> ApiResponse:
    body = read_model(ctx.request, RerunIn)
    if body.approved_to < body.approved_from:
        raise validation_failed([FieldError("approvedTo", "ligt vóór 'Datum goedgekeurd vanaf'")])
    if (body.approved_to - body.approved_from).days > MAX_WINDOW_DAYS:
        raise validation_failed(
            [FieldError("approvedTo", f"het venster mag hoogstens {MAX_WINDOW_DAYS} dagen zijn")]
        )
    services = ctx.services
    client = None
    if body.client_id:
        client = services.clients.get(ctx.office_id, body.client_id)
        if client is None:
            raise validation_failed([FieldError("clientId", "deze client bestaat niet")])
    planner = services.planner
    loket_problem = planner.loket_problem(ctx.office_id)
    if loket_problem is not None:
        raise Problem(
            409,
            "loket-not-connected",
            "Loket not connected",
            loket_problem[0],
            hint=loket_problem[1],
        )
    if client is not None:
        target_problem = planner.target_problem(client)
        if target_problem is not None:
            raise Problem(
                409,
                "afas-not-connected",
                "AFAS not connected",
                target_problem[0],
                hint=target_problem[1],
            )
    run = planner.rerun(
        ctx.office_id,
        approved_from=body.approved_from,
        approved_to=body.approved_to,
        client=client,
        user=ctx.user.name,
    )
    started = RerunStarted(run_id=run.run_id, status=run.status.value, jobs_total=run.jobs_total)
    return json_response(202, started, {"Location": f"/api/runs/{run.run_id}"})


LIST_RUNS = Operation(
    name="list_runs",
    method="GET",
    route="runs",
    access=Access.READER,
    summary="Runs of the office, newest first, with continuation tokens",
    tag="runs",
    handler=list_runs,
    query=(
        QueryParam("type", "nightly or rerun", {"type": "string", "enum": ["nightly", "rerun"]}),
        QueryParam("clientId", "only runs this client took part in"),
        QueryParam(
            "limit",
            "page size, 1-100 (default 20)",
            {"type": "integer", "minimum": 1, "maximum": 100},
        ),
        QueryParam("continuationToken", "from the previous page"),
        QueryParam(
            "page",
            "page number (1-based); answers total, unfilteredTotal, page and pages",
            {"type": "integer", "minimum": 1},
        ),
        QueryParam(
            "q",
            "search: every word appears in the row as the portal shows it (type, client, "
            "'05-08-2022 13:58', dates, status); implies page",
            {"type": "string", "maxLength": 100},
        ),
    ),
    replies={200: Reply("A page of runs.", RunPageOut)},
)

GET_RUN = Operation(
    name="get_run",
    method="GET",
    route="runs/{runId}",
    access=Access.READER,
    summary="One run with its journal runs (Loonruns) and messages (Meldingen)",
    tag="runs",
    handler=get_run,
    replies={200: Reply("The run.", RunDetailOut)},
)

START_RERUN = Operation(
    name="start_rerun",
    method="POST",
    route="reruns",
    access=Access.ADMIN,
    summary="Rerun a window of payroll approval dates for one client or all",
    tag="runs",
    handler=start_rerun,
    body=RerunIn,
    replies={
        202: Reply("The rerun is planned; follow it at /api/runs/{runId}.", RerunStarted),
        409: problem_reply("Loket or the client's AFAS connection is not usable."),
    },
)
