"""Client configurations (contract §3) and the preview of an entry before booking."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationError

from shared.afas.environment import InputError, parse_profit_environment, parse_sb_environment
from shared.api.failures import problem_for
from shared.api.http import (
    ApiResponse,
    FieldError,
    Problem,
    bad_request,
    field_errors,
    json_response,
    not_found,
    read_json,
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
from shared.api.schemas import (
    ClientIn,
    ClientList,
    ClientOut,
    MappingOut,
    ProfitTargetIn,
    ProfitTargetOut,
    RequestModel,
    ResponseModel,
    RoundingOut,
    SbTargetOut,
)
from shared.clients.errors import (
    BookingUnsettled,
    ChangedMeanwhile,
    ClientError,
    FieldIssue,
    InvalidConfiguration,
    UpstreamUnavailable,
)
from shared.clients.model import BookingMode, ClientConfig, ProfitTarget, Rounding, SbTarget, Target
from shared.journal.entries import ProfitEntry
from shared.journal.mapping import CostCenterRule, JournalMapping
from shared.journal.periods import PeriodRule
from shared.loket.errors import LoketNotFound

CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)


# -- the client service's refusals, said in HTTP ---------------------------------------------


def _field_errors(issues: list[FieldIssue]) -> list[FieldError]:
    return [FieldError(i.field, i.text) for i in issues]


def problem_of(error: ClientError) -> Problem:
    """The problem+json answer for what the client service refused."""
    if isinstance(error, InvalidConfiguration):
        return validation_failed(_field_errors(error.issues), error.detail)
    if isinstance(error, UpstreamUnavailable):
        return Problem(
            503,
            "upstream-unavailable",
            "Upstream unavailable",
            f"{error.system} reageert nu niet, daardoor kon de configuratie niet worden "
            "gecontroleerd. Er is niets opgeslagen.",
            hint="Probeer het over een paar minuten opnieuw.",
        )
    if isinstance(error, ChangedMeanwhile):
        return Problem(
            412,
            "precondition-failed",
            "Precondition failed",
            "De client configuratie is intussen door iemand anders gewijzigd.",
            hint="Laad de configuratie opnieuw en breng uw wijziging opnieuw aan.",
        )
    if isinstance(error, BookingUnsettled):
        return Problem(
            409,
            "booking-unsettled",
            "Booking unsettled",
            f"Er loopt nog een boeking van deze client in de huidige AFAS-administratie "
            f"({error.open_runs} journaalrun(s), boekstuk {error.reference}) die nog "
            f"niet is afgerond. De client kan pas worden {error.what} als die boeking is afgerond.",
            hint="Wacht op de volgende nachtelijke run of start een rerun voor deze client; "
            "daarna lukt het wel. Een ander dagboek kiezen kan altijd.",
        )
    raise error  # a new refusal without an answer here is a bug: let it be a 500


@contextmanager
def _answered() -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        raise problem_of(error) from None


# -- request body -> the service's input ------------------------------------------------------


def target_of(body: ClientIn) -> Target:
    """The target with its environment as the connection stores it (Profit: the 5-digit number,
    also when the user typed the name O12345AA; SB: lower case)."""
    t = body.target
    try:
        if isinstance(t, ProfitTargetIn):
            number = parse_profit_environment(t.environment).number
            return ProfitTarget(number, t.administration, t.journal)
        return SbTarget(parse_sb_environment(t.environment), t.administration_id.lower())
    except InputError as exc:
        raise validation_failed([FieldError("target.environment", str(exc))]) from None


def mapping_of(body: ClientIn) -> JournalMapping:
    m = body.mapping
    return JournalMapping(
        accounts=dict(m.accounts),
        fallback_account=m.fallback_account,
        cost_centers=CostCenterRule(m.cost_centers),
        cost_center_axis=m.cost_center_axis,
        cost_unit_axis=m.cost_unit_axis,
        cost_center_map=dict(m.cost_center_map),
        cost_unit_map=dict(m.cost_unit_map),
        description=m.description,
        period_rule=PeriodRule(m.period_rule) if m.period_rule else None,
    )


def config_of(office_id: str, client_id: str, body: ClientIn) -> ClientConfig:
    return ClientConfig(
        office_id=office_id,
        client_id=client_id,
        loket_administration_id=body.loket_payroll_administration_id.lower(),
        target=target_of(body),
        include_in_sync=body.include_in_sync,
        mode=BookingMode(body.mode),
        mapping=mapping_of(body),
        rounding=Rounding(body.rounding.account, body.rounding.max_difference)
        if body.rounding
        else None,
        name=body.name,
    )


def _readable_target(raw: object) -> Target | None:
    """The target of a body that failed its schema, as far as it is readable: the environment
    must be; a wrong administration or journal becomes a value that no AFAS knows (its own
    schema error is what the caller shows for it)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("environment"), str):
        return None
    try:
        if raw.get("type") == "afas-profit":
            number = parse_profit_environment(raw["environment"]).number
            administration = raw.get("administration")
            if not isinstance(administration, int) or isinstance(administration, bool):
                administration = 0
            journal = raw.get("journal")
            return ProfitTarget(
                number,
                administration if 1 <= administration <= 99999 else 0,
                journal.strip()[:6] if isinstance(journal, str) else "",
            )
        if raw.get("type") == "afas-sb":
            administration_id = raw.get("administrationId")
            return SbTarget(
                parse_sb_environment(raw["environment"]),
                administration_id.strip().lower() if isinstance(administration_id, str) else "",
            )
    except InputError:
        return None
    return None


def _problems_beside(
    ctx: RequestContext, data: Mapping[str, Any], found: list[FieldError]
) -> list[FieldError]:
    """The live checks of the readable parts of a body with schema errors (``found``); errors
    for fields already wrong are left out."""
    wrong = {e.field for e in found}
    loket_id = data.get("loketPayrollAdministrationId")
    readable_loket = (
        loket_id.strip().lower()
        if isinstance(loket_id, str)
        and _UUID.match(loket_id.strip())
        and "loketPayrollAdministrationId" not in wrong
        else None
    )
    target = (
        _readable_target(data.get("target"))
        if not wrong & {"target", "target.environment", "target.type"}
        else None
    )
    mapping = data.get("mapping")
    description = mapping.get("description") if isinstance(mapping, Mapping) else None
    issues = ctx.services.client_service.problems_beside(
        ctx.office_id,
        loket_administration_id=readable_loket,
        target=target,
        description=description
        if isinstance(description, str) and "mapping.description" not in wrong
        else None,
        user=ctx.user.name,
    )
    return [e for e in _field_errors(issues) if e.field not in wrong]


def client_out(config: ClientConfig) -> ClientOut:
    target = config.target
    m = config.mapping
    return ClientOut(
        client_id=config.client_id,
        name=config.name,
        loket_payroll_administration_id=config.loket_administration_id,
        loket_administration_name=config.loket_administration_name,
        loket_client_number=config.loket_client_number,
        loket_employer_name=config.loket_employer_name,
        period_type=config.period_type,
        target=(
            ProfitTargetOut(
                environment=target.environment,
                administration=target.administration,
                journal=target.journal,
            )
            if isinstance(target, ProfitTarget)
            else SbTargetOut(
                environment=target.environment, administration_id=target.administration_id
            )
        ),
        include_in_sync=config.include_in_sync,
        mode=config.mode.value,
        mapping=MappingOut(
            accounts=dict(m.accounts),
            fallback_account=m.fallback_account,
            cost_centers=m.cost_centers.value,
            cost_center_axis=m.cost_center_axis,
            cost_unit_axis=m.cost_unit_axis,
            cost_center_map=dict(m.cost_center_map),
            cost_unit_map=dict(m.cost_unit_map),
            description=m.description,
            period_rule=m.period_rule.value if m.period_rule else None,
        ),
        rounding=RoundingOut(
            account=config.rounding.account, max_difference=f"{config.rounding.max_difference:.2f}"
        )
        if config.rounding
        else None,
        created_at=config.created_at,
        updated_at=config.updated_at,
        updated_by=config.updated_by,
    )


def _client_id(ctx: RequestContext) -> str:
    client_id = ctx.request.route_params.get("clientId", "")
    if not CLIENT_ID.match(client_id):
        raise not_found(
            "Deze client bestaat niet. Een clientnummer bestaat uit letters, cijfers, - en _."
        )
    return client_id


def _existing(ctx: RequestContext) -> ClientConfig:
    config = ctx.services.clients.get(ctx.office_id, _client_id(ctx))
    if config is None:
        raise not_found("Deze client configuratie bestaat niet (of hoort niet bij uw kantoor).")
    return config


def put_client(ctx: RequestContext) -> ApiResponse:
    client_id = ctx.request.route_params.get("clientId", "")
    if not CLIENT_ID.match(client_id):
        raise validation_failed(
            [FieldError("clientId", "mag alleen letters, cijfers, - en _ bevatten (max. 64)")]
        )
    service = ctx.services.client_service
    data = read_json(ctx.request)
    if not isinstance(data, dict):
        raise bad_request("Er wordt een JSON-object verwacht ({ … }).")
    try:
        body = ClientIn.model_validate(data)
    except ValidationError as exc:
        # One round: the schema's errors and the live checks of the readable parts together.
        errors = field_errors(exc)
        errors += _problems_beside(ctx, data, errors)
        raise validation_failed(errors) from None
    config = config_of(ctx.office_id, client_id, body)
    with _answered():
        if ctx.request.query.get("validateOnly", "").lower() == "true":
            service.check(config, user=ctx.user.name)
            return ApiResponse(204)
        stored, created = service.save(
            config, user=ctx.user.name, if_match=ctx.request.headers.get("if-match")
        )
    return json_response(201 if created else 200, client_out(stored), {"ETag": stored.etag})


def get_client(ctx: RequestContext) -> ApiResponse:
    config = _existing(ctx)
    return json_response(200, client_out(config), {"ETag": config.etag})


def list_clients(ctx: RequestContext) -> ApiResponse:
    return json_response(
        200,
        ClientList(clients=[client_out(c) for c in ctx.services.clients.for_office(ctx.office_id)]),
    )


def delete_client(ctx: RequestContext) -> ApiResponse:
    config = _existing(ctx)
    with _answered():
        ctx.services.client_service.delete(config)
    return ApiResponse(204)


# -- preview ------------------------------------------------------------------------------------


class PreviewIn(RequestModel):
    loket_journal_run_id: str = Field(pattern=r"^[0-9a-fA-F-]{8,64}$")


class PreviewLine(ResponseModel):
    account: str
    description: str
    debit: Decimal
    credit: Decimal
    dimensions: dict[str, str] = Field(description="allocation axis -> code (Profit only)")


class PreviewFinding(ResponseModel):
    code: str
    severity: str
    text: str
    hint: str
    account: str | None


class PreviewOut(ResponseModel):
    client_id: str
    loket_journal_run_id: str
    payroll_period: str
    sequence_number: int
    test_year: bool
    target_type: str
    year: int | None
    period: int | None
    period_rule: str
    entry_date: date
    journal: str | None
    reference: str = Field(description="Profit voucher number (BpNr) or SB Tracking-Identifier")
    description: str
    lines: list[PreviewLine]
    total_debit: Decimal
    total_credit: Decimal
    findings: list[PreviewFinding]
    postable: bool
    already_booked: bool
    entry_number: str | None


def preview(ctx: RequestContext) -> ApiResponse:
    config = _existing(ctx)
    body = read_model(ctx.request, PreviewIn)
    try:
        shown = ctx.services.client_bookings.preview(config, body.loket_journal_run_id.lower())
    except LoketNotFound:
        raise not_found(
            "Deze journaalrun bestaat niet in de Loket-loonadministratie van deze client."
        ) from None
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise problem from None
    run, draft, findings, booking = shown.run, shown.draft, shown.findings, shown.booking
    entry = draft.entry
    if isinstance(entry, ProfitEntry):
        lines = [
            PreviewLine(
                account=ln.account,
                description=ln.description,
                debit=ln.debit,
                credit=ln.credit,
                dimensions={str(axis): code for axis, code in ln.dimensions},
            )
            for ln in entry.lines
        ]
        extra = {
            "target_type": "afas-profit",
            "year": entry.year,
            "period": entry.period,
            "journal": entry.journal,
            "reference": entry.voucher_number,
            "description": entry.description,
        }
    else:
        lines = [
            PreviewLine(
                account=ln.account,
                description=entry.description,
                debit=ln.debit,
                credit=ln.credit,
                dimensions={},
            )
            for ln in entry.lines
        ]
        extra = {
            "target_type": "afas-sb",
            "year": draft.period.year,
            "period": draft.period.period,
            "journal": None,
            # the Tracking-Identifier a first post would carry (a later attempt may differ)
            "reference": shown.reference,
            "description": entry.description,
        }
    out = PreviewOut(
        client_id=config.client_id,
        loket_journal_run_id=run.id,
        payroll_period=run.period.label,
        sequence_number=run.sequence_number,
        test_year=run.period.test_year,
        period_rule=draft.period.rule.value,
        entry_date=entry.entry_date,
        lines=lines,
        total_debit=entry.total_debit,
        total_credit=entry.total_credit,
        findings=[
            PreviewFinding(
                code=f.code, severity=f.severity.value, text=f.text, hint=f.hint, account=f.account
            )
            for f in findings
        ],
        postable=not any(f.blocks for f in findings) and not run.period.test_year,
        already_booked=bool(booking and booking.state.booked),
        entry_number=booking.entry_number if booking and booking.state.booked else None,
        **extra,
    )
    return json_response(200, out)


PUT_CLIENT = Operation(
    name="put_client",
    method="PUT",
    route="clients/{clientId}",
    access=Access.ADMIN,
    summary="Create or replace a client configuration (validated against Loket and AFAS)",
    tag="clients",
    description="A 422 lists every field error at once: the schema's, and the checks against "
    "Loket and AFAS of the parts that are readable. With validateOnly=true nothing is stored: "
    "204 when every check passes (the portal's form checks everything in one round).",
    handler=put_client,
    body=ClientIn,
    query=(
        QueryParam(
            "validateOnly",
            "true: run every check, store nothing",
            {"type": "string", "enum": ["true", "false"]},
        ),
    ),
    replies={
        200: Reply("Replaced.", ClientOut),
        201: Reply("Created.", ClientOut),
        204: Reply("validateOnly: every check passed; nothing stored."),
        412: problem_reply("If-Match did not match."),
    },
)
GET_CLIENT = Operation(
    name="get_client",
    method="GET",
    route="clients/{clientId}",
    access=Access.READER,
    summary="One client configuration",
    tag="clients",
    handler=get_client,
    replies={200: Reply("The client configuration.", ClientOut)},
)
LIST_CLIENTS = Operation(
    name="list_clients",
    method="GET",
    route="clients",
    access=Access.READER,
    summary="All client configurations of the office",
    tag="clients",
    handler=list_clients,
    replies={200: Reply("The client configurations.", ClientList)},
)
DELETE_CLIENT = Operation(
    name="delete_client",
    method="DELETE",
    route="clients/{clientId}",
    access=Access.ADMIN,
    summary="Remove a client configuration (its run history stays)",
    tag="clients",
    handler=delete_client,
    replies={204: Reply("Removed.")},
)
PREVIEW = Operation(
    name="preview_entry",
    method="POST",
    route="clients/{clientId}/preview",
    access=Access.READER,
    summary="Show the AFAS entry a Loket journal run would become, with pre-check findings; books nothing",
    tag="clients",
    handler=preview,
    body=PreviewIn,
    replies={
        200: Reply("The entry and findings.", PreviewOut),
        409: problem_reply("Not connected."),
    },
)
