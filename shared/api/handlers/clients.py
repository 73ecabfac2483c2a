"""Client configurations (contract §3) and the preview of an entry before booking."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import Field, ValidationError

from shared.api.failures import problem_for
from shared.api.http import (
    ApiResponse,
    FieldError,
    bad_request,
    field_errors,
    json_response,
    not_found,
    read_json,
    read_model,
    validation_failed,
)
from shared.api.operations import Access, Operation, QueryParam, Reply, RequestContext
from shared.api.schemas import (
    ClientIn,
    ClientList,
    ClientOut,
    MappingOut,
    ProfitTargetOut,
    RequestModel,
    ResponseModel,
    RoundingOut,
    SbTargetOut,
)
from shared.clients.model import ClientConfig, ProfitTarget
from shared.journal.entries import ProfitEntry
from shared.loket.errors import LoketNotFound

CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


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
        errors += service.problems_beside(ctx.office_id, data, errors, user=ctx.user.name)
        raise validation_failed(errors) from None
    if ctx.request.query.get("validateOnly", "").lower() == "true":
        service.check(ctx.office_id, client_id, body, user=ctx.user.name)
        return ApiResponse(204)
    if_match = ctx.request.headers.get("if-match")
    config, created = ctx.services.client_service.save(
        ctx.office_id, client_id, body, user=ctx.user.name, if_match=if_match
    )
    return json_response(201 if created else 200, client_out(config), {"ETag": config.etag})


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
    services = ctx.services
    try:
        run, draft, findings = services.client_service.preview(
            config, body.loket_journal_run_id.lower()
        )
    except LoketNotFound:
        raise not_found(
            "Deze journaalrun bestaat niet in de Loket-loonadministratie van deze client."
        ) from None
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise problem from None
    entry = draft.entry
    target = services.ledger_target(config)
    booking = services.bookings.get(target.key, run.id)
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
            "reference": booking.reference
            if booking is not None and booking.reference
            else target.reference(draft, run.id, 0),
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
        412: Reply(
            "If-Match did not match.",
            schema={"$ref": "#/components/schemas/Problem"},
            content_type="application/problem+json",
        ),
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
        409: Reply(
            "Not connected.",
            schema={"$ref": "#/components/schemas/Problem"},
            content_type="application/problem+json",
        ),
    },
)
