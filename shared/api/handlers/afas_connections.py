"""AFAS connections: the Profit token (checked before it is stored) and the SB OAuth consent.

``PUT /api/connections/afas-profit/{environment}`` checks the token with one cheap read
(``/metainfo``: token valid in this environment, App Connector complete) and only then stores it
encrypted. ``POST /api/connections/afas-sb/{environment}`` starts the SB consent (state + PKCE);
``GET /api/oauth/afas-sb/callback`` finishes it. Tokens never appear in logs or problem bodies.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.afas.environment import (
    InputError,
    ProfitEnvironment,
    parse_profit_environment,
    parse_sb_environment,
    profit_token,
)
from shared.afas.errors import (
    AfasAuthError,
    AfasConnectorNotAuthorized,
    AfasError,
    AfasNotFound,
    AfasRetriableError,
    known_error,
)
from shared.afas.models import MetaInfo
from shared.afas.oauth import SbNotConfigured, SbOAuth
from shared.api.http import (
    ApiResponse,
    FieldError,
    Problem,
    bad_request,
    json_response,
    read_model,
    validation_failed,
)
from shared.api.operations import Access, Operation, QueryParam, Reply, RequestContext
from shared.oauth.consent import InvalidState, oauth_error_code
from shared.oauth.tokens import InvalidGrant, TokenEndpointError
from shared.secret import Secret
from shared.store.connections import Connection, ConnectionKey, ConnectionKind, NewSecrets
from shared.store.tables import ConcurrencyConflict

log = logging.getLogger("loonbrug.api.afas")

SB_PROVIDER = "afas-sb"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ProfitConnectionBody(_Camel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    token: str | None = Field(
        default=None,
        max_length=4096,
        description="The token as AFAS shows it (<token><version>1</version><data>…</data>"
        "</token>, line breaks allowed) or only its data part. Optional when the connection "
        "exists and only 'active' changes.",
    )
    active: bool = Field(
        default=True, strict=True, description="false keeps the connection but skips it"
    )
    environment_name: str | None = Field(
        default=None, max_length=16, description="The environment name, e.g. O12345AA"
    )


class ProfitConnectionAnswer(_Camel):
    kind: Literal["afas-profit"] = "afas-profit"
    environment: str = Field(description="The 5-digit environment number")
    environment_name: str | None = None
    state: str = Field(description="connected, inactive or reauthorize")
    active: bool
    token_expiry: str | None = Field(default=None, description="As /metainfo reports it")
    connected_at: datetime | None = None


class SbAuthorizeAnswer(_Camel):
    authorize_url: str


# -- Profit -------------------------------------------------------------------------------------


def put_profit_connection(ctx: RequestContext) -> ApiResponse:
    body = read_model(ctx.request, ProfitConnectionBody)
    environment = _profit_environment(ctx.request.route_params.get("environment", ""), body)
    key = ConnectionKey(ctx.office_id, ConnectionKind.AFAS_PROFIT, environment.number)
    services = ctx.services
    if body.token is None:
        return _toggle(ctx, key, environment, body.active)
    try:
        token = profit_token(body.token)
    except InputError as exc:
        raise validation_failed([FieldError("token", str(exc))], str(exc)) from None
    existing = services.connections.get(key)
    name = environment.name or (existing.details.get("environmentName") if existing else None)
    if name and not environment.name:
        environment = parse_profit_environment(environment.number, name)
    meta = _check(ctx, environment, token)
    connection = services.connections.save(
        key,
        NewSecrets(afas_token=token),
        by_user=ctx.user.user_id,
        now=services.clock(),
        active=body.active,
        details=_details(environment, meta),
    )
    log.info(
        "afas-profit connection of office %s environment %s stored (active=%s)",
        key.office_id, key.environment, body.active,
    )  # fmt: skip
    return json_response(201 if existing is None else 200, _answer(connection))


def _toggle(
    ctx: RequestContext, key: ConnectionKey, environment: ProfitEnvironment, active: bool
) -> ApiResponse:
    services = ctx.services
    stored = services.connections.read_secrets(key)
    if stored is None or stored.afas_token is None:
        raise validation_failed(
            [FieldError("token", "is verplicht")],
            f"Er is nog geen koppeling met AFAS Profit-omgeving {key.environment}; vul de token in.",
        )
    connection = stored.connection
    details = dict(connection.details)
    if environment.name:
        details["environmentName"] = environment.name
    if active:  # re-activating: the stored token must still work
        known = parse_profit_environment(key.environment, details.get("environmentName"))
        details.update(_details(known, _check(ctx, known, stored.afas_token)))
    try:
        services.connections.update(
            connection,
            active=active,
            needs_reauthorization=False,
            reason="",
            details=details,
            updated_at=services.clock(),
        )
    except ConcurrencyConflict:
        raise Problem(
            409,
            "conflict",
            "Conflict",
            "De koppeling is tegelijk door iemand anders gewijzigd. Probeer het opnieuw.",
        ) from None
    updated = services.connections.get(key)
    assert updated is not None
    return json_response(200, _answer(updated))


def _profit_environment(raw: str, body: ProfitConnectionBody) -> ProfitEnvironment:
    try:
        return parse_profit_environment(raw, body.environment_name)
    except InputError as exc:
        raise validation_failed([FieldError("environment", str(exc))], str(exc)) from None


def _check(ctx: RequestContext, environment: ProfitEnvironment, token: Secret) -> MetaInfo:
    """The cheap read: refused → 422 with a hint; AFAS unreachable → 503; nothing stored."""
    where = environment.name or environment.number
    try:
        with ctx.services.new_profit_client(environment, token) as client:
            return client.check_token()
    except AfasConnectorNotAuthorized as error:
        raise _refused(
            "afas-connector-missing",
            "App Connector lacks connectors",
            f"De token werkt, maar de App connector in AFAS Profit ({where}) geeft geen toegang "
            f"tot alles wat Loonbrug nodig heeft. {error.message}",
            known_error("connector-not-authorized").hint,
        ) from None
    except AfasAuthError as error:
        hint = (
            known_error("access-denied").hint
            if error.status == 403
            else known_error("token-invalid").hint
            + f" Controleer ook dat de token bij omgeving {where} hoort."
        )
        raise _refused(
            "afas-token-refused",
            "AFAS refused the token",
            f"AFAS Profit-omgeving {where} weigert deze token.",
            hint,
        ) from None
    except AfasNotFound:
        raise _refused(
            "afas-environment-not-found",
            "AFAS environment not found",
            f"AFAS Profit-omgeving {environment.number} is niet gevonden.",
            "Controleer het omgevingsnummer: dat zijn de 5 cijfers uit de omgevingsnaam "
            "(O12345AA → 12345), te vinden in Profit onder Algemeen › Omgeving › Beheer › "
            "Informatie (deelnemersnummer).",
            field="environment",
        ) from None
    except AfasRetriableError as error:
        headers = {"Retry-After": str(int(error.retry_after))} if error.retry_after else {}
        raise Problem(
            503,
            "afas-unavailable",
            "AFAS unavailable",
            "AFAS Profit is nu niet bereikbaar; de token is niet gecontroleerd en niet opgeslagen.",
            hint="Probeer het over een paar minuten opnieuw. Zie ook afasstatus.nl.",
            headers=headers,
        ) from None
    except AfasError as error:
        log.warning("afas-profit token check failed: %s", error)
        raise Problem(502, "afas-error", "AFAS error", error.detail, hint=error.hint) from None


def _refused(slug: str, title: str, detail: str, hint: str, *, field: str = "token") -> Problem:
    return Problem(
        422, slug, title, detail, hint=hint, errors=[FieldError(field, "is door AFAS geweigerd")]
    )


def _details(environment: ProfitEnvironment, meta: MetaInfo) -> dict[str, str]:
    details = {"environmentType": environment.kind.value}
    name = environment.name or meta.environment_id
    if name:
        details["environmentName"] = name.upper()
    if meta.token_expiry is not None:
        details["tokenExpiry"] = meta.token_expiry.isoformat()
    if meta.app_name:
        details["appConnector"] = meta.app_name
    return details


def _answer(connection: Connection) -> ProfitConnectionAnswer:
    return ProfitConnectionAnswer(
        environment=connection.key.environment,
        environment_name=connection.details.get("environmentName"),
        state=connection.state.value,
        active=connection.active,
        token_expiry=connection.details.get("tokenExpiry"),
        connected_at=connection.connected_at,
    )


# -- SB -----------------------------------------------------------------------------------------


def _sb_oauth(ctx: RequestContext) -> SbOAuth:
    try:
        return ctx.services.sb_oauth
    except SbNotConfigured:
        raise Problem(
            503,
            "afas-sb-not-configured",
            "AFAS SB not configured",
            "Koppelen met AFAS SB is in deze omgeving niet ingesteld.",
            hint="De beheerder van Loonbrug moet AFAS_SB_CLIENT_ID en AFAS_SB_CLIENT_SECRET "
            "instellen.",
        ) from None


def start_sb_consent(ctx: RequestContext) -> ApiResponse:
    try:
        environment = parse_sb_environment(ctx.request.route_params.get("environment", ""))
    except InputError as exc:
        raise validation_failed([FieldError("environment", str(exc))], str(exc)) from None
    oauth = _sb_oauth(ctx)
    start = ctx.services.consents.begin(
        provider=SB_PROVIDER,
        office_id=ctx.office_id,
        user_id=ctx.user.user_id,
        now=ctx.services.clock(),
        environment=environment,
    )
    url = oauth.authorize_url(environment, state=start.state, code_challenge=start.code_challenge)
    return json_response(200, SbAuthorizeAnswer(authorize_url=url))


def sb_callback(ctx: RequestContext) -> ApiResponse:
    query = ctx.request.query
    services = ctx.services
    state = query.get("state", "")
    if not state:
        raise bad_request("De terugkoppeling van AFAS SB mist de parameter 'state'. Start het "
                          "koppelen opnieuw vanuit Loonbrug.")  # fmt: skip
    try:
        consent = services.consents.consume(provider=SB_PROVIDER, state=state, now=services.clock())
    except InvalidState as exc:
        raise bad_request(exc.dutch) from None
    if query.get("error"):
        error = oauth_error_code(query["error"], unknown="onbekend")
        raise bad_request(
            f"AFAS SB heeft geen toestemming gegeven ({error}). Start het koppelen opnieuw en "
            "kies Ja bij de vraag om toestemming."
        )
    code = query.get("code", "")
    if not code:
        raise bad_request("De terugkoppeling van AFAS SB mist de code. Start het koppelen opnieuw.")
    try:
        tokens = _sb_oauth(ctx).exchange_code(
            consent.environment, code=Secret(code), code_verifier=consent.code_verifier
        )
    except (InvalidGrant, AfasError, TokenEndpointError) as exc:
        log.warning(
            "afas-sb code exchange for office %s failed: %s", consent.office_id, type(exc).__name__
        )
        raise bad_request(
            "AFAS SB heeft de toestemming niet kunnen afronden. Start het koppelen opnieuw "
            "vanuit Loonbrug."
        ) from None
    key = ConnectionKey(consent.office_id, ConnectionKind.AFAS_SB, consent.environment)
    services.connections.save(
        key,
        NewSecrets(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=tokens.expires_at,
        ),
        by_user=consent.user_id,
        now=services.clock(),
        details={"environmentName": consent.environment},
    )
    log.info(
        "afas-sb connection of office %s environment %s stored", key.office_id, key.environment
    )
    return ApiResponse(302, b"", {"Location": services.settings.consent_landing_url()})


# -- operations ---------------------------------------------------------------------------------

PROFIT_CONNECT = Operation(
    name="afas_profit_connect",
    method="PUT",
    route="connections/afas-profit/{environment}",
    access=Access.ADMIN,
    summary="Add, replace, (de)activate the AFAS Profit connection of an environment",
    description="The token is checked against AFAS (/metainfo: valid in this environment, App "
    "Connector has FiEntries and the GetConnectors Loonbrug reads) before it is stored "
    "encrypted. {environment} is the 5-digit number or the name (O12345AA).",
    tag="connections",
    handler=put_profit_connection,
    body=ProfitConnectionBody,
    replies={
        200: Reply("The connection was replaced or (de)activated.", ProfitConnectionAnswer),
        201: Reply("The connection was created.", ProfitConnectionAnswer),
        409: Reply("Changed concurrently; try again.", schema={"$ref": "#/components/schemas/Problem"}, content_type="application/problem+json"),
        502: Reply("AFAS answered an unexpected error.", schema={"$ref": "#/components/schemas/Problem"}, content_type="application/problem+json"),
    },
)  # fmt: skip

SB_CONNECT = Operation(
    name="afas_sb_connect",
    method="POST",
    route="connections/afas-sb/{environment}",
    access=Access.ADMIN,
    summary="Start the AFAS SB consent (OAuth 2.0 + PKCE) for an SB environment",
    tag="connections",
    handler=start_sb_consent,
    replies={
        200: Reply("Send the user to authorizeUrl.", SbAuthorizeAnswer),
        422: Reply("Not an SB environment name.", schema={"$ref": "#/components/schemas/Problem"}, content_type="application/problem+json"),
    },
)  # fmt: skip

SB_CALLBACK = Operation(
    name="afas_sb_callback",
    method="GET",
    route="oauth/afas-sb/callback",
    access=Access.PUBLIC,
    summary="AFAS SB OAuth callback: stores the tokens, redirects to the portal",
    tag="connections",
    handler=sb_callback,
    query=(
        QueryParam("code", "Authorization code"),
        QueryParam("state", "The state from the authorize URL", {"type": "string", "minLength": 1}, required=True),
        QueryParam("error", "Set by AFAS SB when consent was refused"),
    ),
    replies={
        302: Reply("Stored; redirect to PORTAL_URL#/connections, or PUBLIC_BASE_URL/ when unset."),
        400: Reply("Unknown, used or expired state, refused consent or failed exchange; nothing stored.", schema={"$ref": "#/components/schemas/Problem"}, content_type="application/problem+json"),
    },
)  # fmt: skip

OPERATIONS = (PROFIT_CONNECT, SB_CONNECT, SB_CALLBACK)
