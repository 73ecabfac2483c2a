"""Connections of the office (contract §3): the list, the Loket consent flow, what Loket sees."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.api.consent_callback import (
    CONNECTED,
    ERROR_PAGE,
    FAILED,
    REFUSED,
    Outcome,
    StateRefused,
    consent_callback,
)
from shared.api.http import ApiResponse, Problem, json_response
from shared.api.operations import (
    Access,
    Operation,
    QueryParam,
    Reply,
    RequestContext,
    problem_reply,
)
from shared.loket import connect
from shared.loket.directory import visible_administrations
from shared.loket.errors import (
    LoketAuthError,
    LoketConsentRequired,
    LoketContractError,
    LoketError,
    LoketForbidden,
    LoketNotConnected,
    LoketRetriableError,
)
from shared.store.connections import Connection, ConnectionKind, ConnectionState

log = logging.getLogger("loonbrug.api")

REAUTHORIZE_HINTS: Final = {
    ConnectionKind.LOKET: "Koppel Loket opnieuw via Koppelingen › Loket koppeling toevoegen en "
    "log in met de Loket-gebruiker die speciaal voor deze koppeling is aangemaakt (actief, met "
    "toegang tot de werkgevers en de rechten 'Raadplegen journaaloutput' en 'Raadplegen "
    "loonoutput').",
    ConnectionKind.AFAS_SB: "Koppel AFAS SB opnieuw via Koppelingen › AFAS SB koppeling toevoegen.",
    ConnectionKind.AFAS_PROFIT: "Voer een nieuwe token van de app connector in via Koppelingen › "
    "AFAS Profit koppeling bewerken.",
}
CONNECT_LOKET_HINT: Final = (
    "Een beheerder koppelt Loket via Koppelingen › Loket koppeling toevoegen, met een nieuwe "
    "standaard Loket-gebruiker die alleen voor deze koppeling wordt gebruikt."
)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- GET /api/connections ----------------------------------------------------------------------


class ConnectionView(_Camel):
    kind: Literal["loket", "afas-profit", "afas-sb"]
    environment: str | None
    state: Literal["connected", "reauthorize", "inactive"]
    active: bool
    connected_at: datetime | None
    connected_by: str
    connected_by_name: str | None = Field(
        default=None,
        description="display name of who consented (absent on connections made before it was kept)",
    )
    hint: str | None = None
    reason: str | None = None
    details: dict[str, str]


class ConnectionsAnswer(_Camel):
    connections: list[ConnectionView]


def _view(connection: Connection) -> ConnectionView:
    state = connection.state
    return ConnectionView(
        kind=connection.key.kind.value,
        environment=connection.key.environment or None,
        state=state.value,
        active=connection.active,
        connected_at=connection.connected_at,
        connected_by=connection.connected_by,
        connected_by_name=connection.connected_by_name or None,
        hint=REAUTHORIZE_HINTS[connection.key.kind]
        if state is ConnectionState.REAUTHORIZE
        else None,
        reason=connection.reason if state is ConnectionState.REAUTHORIZE else None,
        details=connection.details,
    )


def list_connections(ctx: RequestContext) -> ApiResponse:
    found = ctx.services.connections.for_office(ctx.office_id)
    order = {kind: index for index, kind in enumerate(ConnectionKind)}
    found.sort(key=lambda c: (order[c.key.kind], c.key.environment))
    return json_response(200, ConnectionsAnswer(connections=[_view(c) for c in found]))


# -- the Loket consent flow --------------------------------------------------------------------


class AuthorizeAnswer(_Camel):
    authorize_url: str


def _require_loket_configured(ctx: RequestContext) -> None:
    if not ctx.services.loket_configured:
        raise Problem(
            503,
            "loket-not-configured",
            "Loket client not configured",
            "Loonbrug heeft (nog) geen Loket-client; koppelen met Loket.nl kan daarom niet.",
            hint="De beheerder van Loonbrug stelt LOKET_CLIENT_ID en LOKET_CLIENT_SECRET in.",
        )


def connect_loket(ctx: RequestContext) -> ApiResponse:
    _require_loket_configured(ctx)
    services = ctx.services
    url = connect.begin_consent(
        services.consents,
        services.loket_oauth,
        office_id=ctx.office_id,
        user_id=ctx.user.user_id,
        user_name=ctx.user.name,
        redirect_uri=services.settings.redirect_uri(connect.PROVIDER),
        now=services.clock(),
    )
    return json_response(200, AuthorizeAnswer(authorize_url=url), {"Cache-Control": "no-store"})


def loket_callback(ctx: RequestContext) -> ApiResponse:
    """Loket's redirect after the consent (shared with AFAS SB: :mod:`shared.api.consent_callback`)."""
    services = ctx.services
    query = ctx.request.query

    def complete(state: str) -> Outcome:
        try:
            connect.complete_consent(
                services.consents,
                services.loket_oauth,
                services.connections,
                state=state,
                code=query.get("code"),
                error=query.get("error"),
                redirect_uri=services.settings.redirect_uri(connect.PROVIDER),
                api_url=services.settings.loket_api_url,
                now=services.clock(),
            )
        except connect.ConsentFailed as failed:
            if failed.slug.startswith("oauth-state-"):
                raise StateRefused(failed.detail) from None
            log.info("loket consent not completed: %s", failed.slug)
            return Outcome(REFUSED if failed.slug == "loket-consent-denied" else FAILED)
        return Outcome(CONNECTED)

    return consent_callback(
        ctx, system="Loket.nl", param="loket", complete=complete, plain_success=True
    )


def disconnect_loket(ctx: RequestContext) -> ApiResponse:
    connect.forget(ctx.services.connections, ctx.office_id)
    return ApiResponse(204)


# -- GET /api/loket/payroll-administrations --------------------------------------------------


class PayrollAdministrationView(_Camel):
    id: str
    name: str
    client_number: int | None
    period_type: Literal["monthly", "four-weekly", "weekly", "unknown"]


class EmployerView(_Camel):
    id: str
    name: str
    employer_number: str | None
    payroll_administrations: list[PayrollAdministrationView]


class PayrollAdministrationsAnswer(_Camel):
    employers: list[EmployerView]


def loket_problem(exc: LoketError) -> Problem:
    """A Loket failure as a problem for the management API (never a 500)."""
    reconnect = REAUTHORIZE_HINTS[ConnectionKind.LOKET]
    if isinstance(exc, LoketNotConnected):
        return Problem(
            409,
            "loket-not-connected",
            "Loket not connected",
            "Loket.nl is nog niet gekoppeld voor uw kantoor.",
            hint=CONNECT_LOKET_HINT,
        )
    if isinstance(exc, LoketConsentRequired):
        return Problem(
            409, "loket-reauthorize", "Loket consent required", exc.dutch, hint=reconnect
        )
    if isinstance(exc, LoketForbidden):
        return Problem(502, "loket-forbidden", "Loket refused access", exc.dutch)
    if isinstance(exc, LoketAuthError):
        return Problem(
            502, "loket-unauthorized", "Loket refused the token", exc.dutch, hint=reconnect
        )
    if isinstance(exc, LoketRetriableError):
        headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else None
        return Problem(503, "loket-unavailable", "Loket unavailable", exc.dutch, headers=headers)
    if isinstance(exc, LoketContractError):
        return Problem(502, "loket-contract-violation", "Unexpected answer from Loket", exc.dutch)
    return Problem(502, "loket-error", "Loket error", exc.dutch)


def list_payroll_administrations(ctx: RequestContext) -> ApiResponse:
    client = ctx.services.loket_client(ctx.office_id)
    try:
        found = visible_administrations(client)
    except LoketError as exc:
        log.warning(
            "listing loket payroll administrations of office %s failed: %s",
            ctx.office_id,
            exc,
        )
        raise loket_problem(exc) from None
    answer = PayrollAdministrationsAnswer(
        employers=[
            EmployerView(
                id=item.employer.id,
                name=item.employer.name,
                employer_number=item.employer.number,
                payroll_administrations=[
                    PayrollAdministrationView(
                        id=a.id,
                        name=a.name,
                        client_number=a.client_number,
                        period_type=a.period_type.value,
                    )
                    for a in item.administrations
                ],
            )
            for item in found
        ]
    )
    return json_response(200, answer)


# -- the operations ----------------------------------------------------------------------------

LIST_CONNECTIONS = Operation(
    name="list_connections",
    method="GET",
    route="connections",
    access=Access.READER,
    summary="Loket, AFAS Profit and AFAS SB connections of the office with their state",
    tag="connections",
    handler=list_connections,
    replies={
        200: Reply(
            "The connections; a Dutch hint on each that needs a new consent.", ConnectionsAnswer
        )
    },
)

CONNECT_LOKET = Operation(
    name="connect_loket",
    method="POST",
    route="connections/loket",
    access=Access.ADMIN,
    summary="Start the Loket consent: answers the Loket authorize URL (state + PKCE, 10 minutes)",
    tag="connections",
    handler=connect_loket,
    replies={200: Reply("Open authorizeUrl in the browser.", AuthorizeAnswer)},
)

LOKET_CALLBACK = Operation(
    name="loket_callback",
    method="GET",
    route="oauth/loket/callback",
    access=Access.PUBLIC,
    summary="Loket OAuth callback: stores the tokens and redirects to the app",
    tag="connections",
    handler=loket_callback,
    query=(
        QueryParam("code", "Authorization code from Loket."),
        QueryParam(
            "state", "The state Loonbrug sent.", {"type": "string", "minLength": 1}, required=True
        ),
        QueryParam("error", "Set by Loket when the consent was refused."),
    ),
    replies={
        302: Reply(
            "Connected: to PORTAL_URL#/connections, or PUBLIC_BASE_URL/ when unset. Not "
            "connected: the same screen with loket=geweigerd (consent refused) or mislukt (no "
            "code, or the exchange failed) in its address; nothing stored.",
            content_type="text/plain",
        ),
        400: ERROR_PAGE,
    },
)

DISCONNECT_LOKET = Operation(
    name="disconnect_loket",
    method="DELETE",
    route="connections/loket",
    access=Access.ADMIN,
    summary="Forget the Loket tokens of the office",
    tag="connections",
    handler=disconnect_loket,
    replies={
        204: Reply("Forgotten (also when there was nothing to forget).", content_type="text/plain")
    },
)

LOKET_PAYROLL_ADMINISTRATIONS = Operation(
    name="loket_payroll_administrations",
    method="GET",
    route="loket/payroll-administrations",
    access=Access.READER,
    summary="Employers and payroll administrations that the Loket consent can see",
    tag="loket",
    handler=list_payroll_administrations,
    replies={
        200: Reply("Employers with their payroll administrations.", PayrollAdministrationsAnswer),
        409: problem_reply(
            "Loket is not connected, or its consent must be given again (Dutch hint)."
        ),
        502: problem_reply("Loket refused the request or answered something unreadable."),
    },
)

OPERATIONS: Final = (
    LIST_CONNECTIONS,
    CONNECT_LOKET,
    LOKET_CALLBACK,
    DISCONNECT_LOKET,
    LOKET_PAYROLL_ADMINISTRATIONS,
)
