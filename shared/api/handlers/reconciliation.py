"""Aansluiting: ``GET /api/clients/{clientId}/reconciliation?year=`` (JSON, or ``&format=csv``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field

from shared.api.failures import problem_for
from shared.api.http import (
    ApiResponse,
    FieldError,
    Problem,
    int_param,
    json_response,
    not_found,
    validation_failed,
)
from shared.api.operations import Access, Operation, QueryParam, Reply, RequestContext
from shared.api.schemas import ResponseModel
from shared.clients.model import SbTarget
from shared.clock import to_amsterdam, utc_now
from shared.oauth.tokens import NotConnected
from shared.reconciliation.compare import (
    AfasEntry,
    Difference,
    LoketRun,
    PeriodResult,
    Totals,
    split_key,
)
from shared.reconciliation.export import year_csv
from shared.reconciliation.service import (
    NotReconcilable,
    Reconciliation,
    ReconciliationDeps,
    reconcile_client,
)
from shared.store.reconciliations import WeeklyStatus, weekly_status
from shared.store.tables import check_key

YEARS_BACK = 5


COST_CENTRE = Field(
    "", description="The cost centre (Profit, compared per allocation), empty when there is none"
)


class AccountOut(ResponseModel):
    account: str
    cost_centre: str = COST_CENTRE
    debit: Decimal
    credit: Decimal


class AccountDeltaOut(ResponseModel):
    account: str
    cost_centre: str = COST_CENTRE
    loket_debit: Decimal
    loket_credit: Decimal
    afas_debit: Decimal
    afas_credit: Decimal


class TotalsOut(ResponseModel):
    debit: Decimal
    credit: Decimal
    accounts: list[AccountOut]


class LinksOut(ResponseModel):
    journal_run: str | None = Field(None, description="Portal address of the journal run")
    documents: str | None = Field(None, description="API path of its audit copy")


class DifferenceOut(ResponseModel):
    key: str = Field(description="Stable identity of this difference")
    kind: str = Field(description="gone, changed, duplicate, never-booked, other-period or extra")
    title: str
    text: str
    todo: str
    year: int
    period: int
    loket_journal_run_id: str
    run_id: str
    reference: str
    entry_numbers: list[str]
    loket: TotalsOut | None
    afas: TotalsOut | None
    accounts: list[AccountDeltaOut]
    links: LinksOut


class JournalRunOut(ResponseModel):
    loket_journal_run_id: str
    sequence_number: int
    payroll_period: str
    booked: bool
    reference: str
    entry_number: str
    run_id: str
    why_not: str
    totals: TotalsOut | None
    links: LinksOut


class EntryOut(ResponseModel):
    entry_number: str
    reference: str
    journal: str
    year: int
    period: int
    description: str
    by_loonbrug: bool
    totals: TotalsOut


class PeriodOut(ResponseModel):
    period: int
    status: str = Field(description="green, red or empty")
    text: str
    loket: TotalsOut
    afas: TotalsOut
    journal_runs: list[JournalRunOut]
    entries: list[EntryOut]
    differences: list[DifferenceOut]


class CallsOut(ResponseModel):
    loket: int
    afas: int
    total: int


class WeeklyOut(ResponseModel):
    status: str = Field(description="done, partial (some clients failed) or failed")
    text: str = Field(description="Dutch, for the office")
    at: datetime | None


class BasisOut(ResponseModel):
    per_allocation: bool = Field(
        description="Compared per ledger account and cost centre (else per account only)"
    )
    text: str = Field(description="Dutch: what the comparison went by")
    hint: str = Field(description="Dutch: what to do to compare per cost centre, or empty")


class ReconciliationOut(ResponseModel):
    client_id: str
    client_name: str
    year: int
    years: list[int] = Field(description="The years the portal offers")
    status: str = Field(description="green (every period agrees) or red")
    text: str
    target: str = Field(description="Where the entries are, in Dutch")
    periods: list[PeriodOut]
    differences: list[DifferenceOut]
    calls: CallsOut
    basis: BasisOut
    exports: dict[str, str]
    weekly: WeeklyOut | None = Field(
        None, description="How the office's last weekly Aansluiting ended (none yet: null)"
    )


def _totals(t: Totals | None) -> TotalsOut | None:
    if t is None:
        return None
    return TotalsOut(
        debit=t.debit,
        credit=t.credit,
        accounts=[
            AccountOut(
                account=split_key(a)[0], cost_centre=split_key(a)[1], debit=s.debit, credit=s.credit
            )
            for a, s in t.accounts.items()
        ],
    )


def _links(run_id: str, loket_journal_run_id: str) -> LinksOut:
    if not (run_id and loket_journal_run_id):
        return LinksOut()
    return LinksOut(
        journal_run=f"#/runs/{run_id}/loonruns/{loket_journal_run_id}",
        documents=f"/api/runs/{run_id}/journal-runs/{loket_journal_run_id}/documents",
    )


def _difference(d: Difference) -> DifferenceOut:
    return DifferenceOut(
        key=d.key,
        kind=d.kind.value,
        title=d.title,
        text=d.text,
        todo=d.todo,
        year=d.year,
        period=d.period,
        loket_journal_run_id=d.loket_journal_run_id,
        run_id=d.run_id,
        reference=d.reference,
        entry_numbers=list(d.entry_numbers),
        loket=_totals(d.loket),
        afas=_totals(d.afas),
        accounts=[
            AccountDeltaOut(
                account=split_key(a.account)[0],
                cost_centre=split_key(a.account)[1],
                loket_debit=a.loket.debit,
                loket_credit=a.loket.credit,
                afas_debit=a.afas.debit,
                afas_credit=a.afas.credit,
            )
            for a in d.accounts
        ],
        links=_links(d.run_id, d.loket_journal_run_id),
    )


def _journal_run(r: LoketRun) -> JournalRunOut:
    return JournalRunOut(
        loket_journal_run_id=r.loket_journal_run_id,
        sequence_number=r.sequence_number,
        payroll_period=r.payroll_period,
        booked=r.booked,
        reference=r.reference,
        entry_number=r.entry_number,
        run_id=r.run_id,
        why_not=r.why_not,
        totals=_totals(r.totals),
        links=_links(r.run_id, r.loket_journal_run_id),
    )


def _entry(e: AfasEntry) -> EntryOut:
    totals = _totals(e.totals)
    assert totals is not None
    return EntryOut(
        entry_number=e.entry_number,
        reference=e.reference,
        journal=e.journal,
        year=e.year,
        period=e.period,
        description=e.description,
        by_loonbrug=e.by_loonbrug,
        totals=totals,
    )


def _period(p: PeriodResult) -> PeriodOut:
    loket, afas = _totals(p.loket), _totals(p.afas)
    assert loket is not None and afas is not None
    return PeriodOut(
        period=p.period,
        status=p.status.value,
        text=p.text,
        loket=loket,
        afas=afas,
        journal_runs=[_journal_run(r) for r in p.journal_runs],
        entries=[_entry(e) for e in p.entries],
        differences=[_difference(d) for d in p.differences],
    )


def summary_text(found: Reconciliation) -> str:
    n = len(found.year.differences)
    if n == 0:
        return f"Loket en AFAS sluiten in {found.year.year} aan, tot op de cent."
    red = sum(1 for p in found.year.periods if p.differences)
    return (
        f"{n} {'verschil' if n == 1 else 'verschillen'} in {red} "
        f"{'periode' if red == 1 else 'perioden'} van {found.year.year}."
    )


def body(
    found: Reconciliation, years: list[int], weekly: WeeklyStatus | None = None
) -> ReconciliationOut:
    config, result = found.client, found.year
    base = f"/api/clients/{config.client_id}/reconciliation?year={result.year}"
    return ReconciliationOut(
        client_id=config.client_id,
        client_name=config.name or config.loket_administration_name,
        year=result.year,
        years=years,
        status="green" if result.green else "red",
        text=summary_text(found),
        target=(
            f"AFAS SB {config.target.environment}, {config.target.label}"
            if isinstance(config.target, SbTarget)
            else f"AFAS Profit {config.target.environment}, {config.target.label}"
        ),
        periods=[_period(p) for p in result.periods],
        differences=[_difference(d) for d in result.differences],
        calls=CallsOut(
            loket=found.calls.loket,
            afas=sum(found.calls.afas.values()),
            total=found.calls.total,
        ),
        basis=BasisOut(
            per_allocation=found.basis.per_allocation,
            text=found.basis.text,
            hint=found.basis.hint,
        ),
        exports={"csv": f"{base}&format=csv"},
        weekly=(WeeklyOut(status=weekly.state, text=weekly.text, at=weekly.at) if weekly else None),
    )


def _year(ctx: RequestContext, this_year: int) -> int:
    raw = (ctx.request.query.get("year") or "").strip()
    if not raw:
        return this_year
    detail = (
        f"Jaar '{raw[:10]}' kan niet: kies een jaar van {this_year - YEARS_BACK * 2} tot en "
        f"met {this_year + 1}."
    )
    return int_param(raw, "year", this_year - YEARS_BACK * 2, this_year + 1, detail, detail)


def get_reconciliation(ctx: RequestContext) -> ApiResponse:
    client_id = ctx.request.route_params.get("clientId", "")
    try:
        check_key(client_id)
    except ValueError:
        raise not_found("Deze client bestaat niet (of hoort niet bij uw kantoor).") from None
    fmt = (ctx.request.query.get("format") or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise validation_failed(
            [FieldError("format", "kan alleen json of csv zijn")],
            "Formaat kan alleen json of csv zijn.",
        )
    this_year = to_amsterdam(utc_now()).year
    year = _year(ctx, this_year)
    try:
        found = reconcile_client(
            ReconciliationDeps.from_services(ctx.services), ctx.office_id, client_id, year
        )
    except LookupError:
        raise not_found("Deze client bestaat niet (of hoort niet bij uw kantoor).") from None
    except NotReconcilable as exc:
        raise Problem(
            422, "not-reconcilable", "Not reconcilable", exc.detail, hint=exc.hint or None
        ) from None
    except NotConnected:
        raise Problem(
            409,
            "not-connected",
            "Not connected",
            "Loonbrug kan de aansluiting niet maken: de koppeling met Loket of AFAS ontbreekt.",
            hint="Maak de koppeling opnieuw onder Koppelingen.",
        ) from None
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise problem from None
    if fmt == "csv":
        return ApiResponse(
            200,
            year_csv(client_id, found.year),
            {
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": (
                    f'attachment; filename="aansluiting-{client_id}-{year}.csv"'
                ),
                "Cache-Control": "no-store",
            },
        )
    years = list(range(this_year, this_year - YEARS_BACK, -1))
    if year not in years:
        years.append(year)
    return json_response(
        200,
        body(
            found,
            sorted(years, reverse=True),
            weekly_status(ctx.services.storage, ctx.office_id),
        ),
        {"Cache-Control": "no-store"},
    )


GET_RECONCILIATION = Operation(
    name="get_client_reconciliation",
    method="GET",
    route="clients/{clientId}/reconciliation",
    access=Access.READER,
    summary="Aansluiting: per period, does AFAS still hold what Loket journalled (to the cent)",
    tag="clients",
    handler=get_reconciliation,
    query=(
        QueryParam("year", "AFAS year (default: this year)", {"type": "integer"}),
        QueryParam("format", "json (default) or csv", {"type": "string", "enum": ["json", "csv"]}),
    ),
    replies={
        200: Reply(
            "The periods, their status and every difference (as CSV with `format=csv`).",
            ReconciliationOut,
            other_content={"text/csv": {"type": "string"}},
        ),
    },
    description=(
        "Read-only. Loket totals come from the audit copies (Loket is asked only for the list "
        "of journal runs and for runs without an audit copy); AFAS Profit is read paged and "
        "filtered to the administration, journal and year. `format=csv` answers the same as "
        "CSV (`;`, decimal comma, UTF-8 with BOM)."
    ),
)

OPERATIONS = (GET_RECONCILIATION,)
