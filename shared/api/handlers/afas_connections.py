"""AFAS connections: the Profit token (checked before it is stored) and the SB OAuth consent.

``PUT /api/connections/afas-profit/{environment}`` checks the token with one cheap read
(``/metainfo``: token valid in this environment, App Connector complete) and only then stores it
encrypted. ``POST /api/connections/afas-sb/{environment}`` starts the SB consent (state + PKCE);
``GET /api/oauth/afas-sb/callback`` finishes it; ``GET /api/afas-sb/landing`` is the App Center's
landing page; ``GET /api/afas-sb/environments[/{environment}/administrations]`` and
``GET /api/afas-profit/environments/{environment}/administrations[/{administration}/journals]``
list what the client form offers. Tokens never appear in logs or problem bodies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.afas.environment import (
    ADMIN_CENTER,
    SB_ADDRESS_HINT,
    InputError,
    ProfitEnvironment,
    SbLocation,
    parse_profit_environment,
    parse_sb_environment,
    parse_sb_path,
    parse_sb_url,
    profit_token,
)
from shared.afas.errors import (
    AfasError,
    AfasRetriableError,
)
from shared.afas.oauth import SbNotConfigured, SbOAuth
from shared.afas.profit import ProfitClient
from shared.api.consent_callback import (
    CONNECTED,
    ERROR_PAGE,
    FAILED,
    REFUSED,
    Outcome,
    consent_callback,
    portal_outcome,
)
from shared.api.failures import problem_for
from shared.api.http import (
    ApiResponse,
    FieldError,
    Problem,
    int_param,
    json_response,
    read_model,
    redirect,
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
from shared.connections.errors import (
    AfasFailed,
    AfasUnreachable,
    ChangedMeanwhile,
    ConnectionRefusal,
    Refusal,
    TokenRefused,
    TokenRequired,
)
from shared.oauth.consent import oauth_error_code
from shared.oauth.tokens import ConsentRequired, InvalidGrant, NotConnected, TokenEndpointError
from shared.secret import Secret
from shared.store.connections import Connection, ConnectionKey, ConnectionKind

log = logging.getLogger("loonbrug.api.afas")

T = TypeVar("T")

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
    service = ctx.services.profit_connection_service
    with _answered():
        if body.token is None:
            connection = service.switch(ctx.office_id, environment, active=body.active)
            return json_response(200, _answer(connection))
        try:
            token = profit_token(body.token)
        except InputError as exc:
            raise validation_failed([FieldError("token", str(exc))], str(exc)) from None
        stored = service.connect(
            ctx.office_id,
            environment,
            token,
            active=body.active,
            user=ctx.user.user_id,
            user_name=ctx.user.name,
        )
    return json_response(201 if stored.created else 200, _answer(stored.connection))


_REFUSAL_TITLES = {
    Refusal.CONNECTOR_MISSING: "App Connector lacks connectors",
    Refusal.TOKEN_REFUSED: "AFAS refused the token",
    Refusal.ENVIRONMENT_NOT_FOUND: "AFAS environment not found",
}


def connection_problem(error: ConnectionRefusal) -> Problem:
    """The problem+json answer for what the connection service refused."""
    if isinstance(error, TokenRefused):
        return Problem(
            422,
            error.why.value,
            _REFUSAL_TITLES[error.why],
            error.detail,
            hint=error.hint,
            errors=[FieldError(error.field, "is door AFAS geweigerd")],
        )
    if isinstance(error, TokenRequired):
        return validation_failed(
            [FieldError("token", "is verplicht")],
            f"Er is nog geen koppeling met AFAS Profit-omgeving {error.environment}; vul de "
            "token in.",
        )
    if isinstance(error, AfasUnreachable):
        return Problem(
            503,
            "afas-unavailable",
            "AFAS unavailable",
            "AFAS Profit is nu niet bereikbaar; de token is niet gecontroleerd en niet opgeslagen.",
            hint="Probeer het over een paar minuten opnieuw. Zie ook afasstatus.nl.",
            headers={"Retry-After": str(int(error.retry_after))} if error.retry_after else {},
        )
    if isinstance(error, AfasFailed):
        return Problem(502, "afas-error", "AFAS error", error.detail, hint=error.hint)
    if isinstance(error, ChangedMeanwhile):
        return Problem(
            409,
            "conflict",
            "Conflict",
            "De koppeling is tegelijk door iemand anders gewijzigd. Probeer het opnieuw.",
        )
    raise error  # a new refusal without an answer here is a bug: let it be a 500


@contextmanager
def _answered() -> Iterator[None]:
    try:
        yield
    except ConnectionRefusal as error:
        raise connection_problem(error) from None


def _profit_environment(raw: str, body: ProfitConnectionBody) -> ProfitEnvironment:
    try:
        return parse_profit_environment(raw, body.environment_name)
    except InputError as exc:
        raise validation_failed([FieldError("environment", str(exc))], str(exc)) from None


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


class SbConnectBody(_Camel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    api_server: str | None = Field(
        default=None,
        max_length=2048,
        description="The accountant's API server (https://<subdomain>.afasfocus.nl) or the full "
        "URL the SB docs' concepts page shows (https://<subdomain>.afasfocus.nl/<environment>/). "
        "Its host must match AFAS_SB_ALLOWED_HOSTS. Without it AFAS_SB_URL applies. "
        "Environment 'admin' with the server starts the Admin Center consent.",
    )


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


# Where a consent started: the portal's form ("portal") or the App Center landing page.
_ORIGIN_LANDING = "landing"


def _consent_subject(location: SbLocation, origin: str) -> str:
    """What the consent state row keeps about an SB consent (its ``environment`` column)."""
    return json.dumps({"e": location.environment, "s": location.api_server, "o": origin})


def _consent_location(ctx: RequestContext, subject: str) -> tuple[SbLocation, str]:
    """The SB location and origin of a consent; a plain environment name is a consent started
    before API servers were stored (``AFAS_SB_URL``)."""
    if subject.startswith("{"):
        data = json.loads(subject)
        return SbLocation(str(data["s"]), parse_sb_path(str(data["e"]))), str(data.get("o", ""))
    return _sb_oauth(ctx).default_location(parse_sb_path(subject)), "portal"


def _parse_sb_url(ctx: RequestContext, raw: str, environment: str | None) -> SbLocation:
    settings = ctx.services.settings
    return parse_sb_url(
        raw,
        allowed_hosts=settings.afas_sb_allowed_hosts,
        development=settings.is_development,
        environment=environment,
    )


def _address_refused(field: str, exc: InputError) -> Problem:
    """422 with the Dutch reason, beside the field, and what to type instead."""
    return Problem(
        422,
        "validation-failed",
        "Validation failed",
        str(exc),
        errors=[FieldError(field, str(exc))],
        hint=SB_ADDRESS_HINT,
    )


def _begin_sb_consent(ctx: RequestContext, location: SbLocation, origin: str) -> str:
    oauth = _sb_oauth(ctx)
    start = ctx.services.consents.begin(
        provider=SB_PROVIDER,
        office_id=ctx.office_id,
        user_id=ctx.user.user_id,
        user_name=ctx.user.name,
        now=ctx.services.clock(),
        environment=_consent_subject(location, origin),
    )
    return oauth.authorize_url(location, state=start.state, code_challenge=start.code_challenge)


def start_sb_consent(ctx: RequestContext) -> ApiResponse:
    try:
        environment = parse_sb_path(ctx.request.route_params.get("environment", ""))
    except InputError as exc:
        raise validation_failed([FieldError("environment", str(exc))], str(exc)) from None
    body = read_model(ctx.request, SbConnectBody) if ctx.request.body.strip() else SbConnectBody()
    if body.api_server:
        try:
            location = _parse_sb_url(ctx, body.api_server, environment)
        except InputError as exc:
            raise _address_refused("apiServer", exc) from None
    elif environment == ADMIN_CENTER:
        text = (
            "Voor het Admin Center is het adres van uw kantoor in AFAS SB nodig, bijv. "
            "https://kantoor.afasfocus.nl/admin/."
        )
        raise validation_failed([FieldError("apiServer", text)], text)
    else:
        location = _sb_oauth(ctx).default_location(environment)
    url = _begin_sb_consent(ctx, location, "portal")
    _known_or_refused(ctx, location, url, "apiServer" if body.api_server else "environment")
    return json_response(200, SbAuthorizeAnswer(authorize_url=url))


def _known_or_refused(ctx: RequestContext, location: SbLocation, url: str, field: str) -> None:
    """Before the browser leaves for AFAS SB: an environment its server does not know is a 422
    beside the field (not AFAS's raw error page; the unused consent state expires). When SB
    cannot be asked, the consent goes on: AFAS's page and the callback's outcome tell the rest."""
    if _sb_oauth(ctx).consent_page_found(url) is not False:
        return
    what = "het Admin Center" if location.is_admin_center else f"omgeving {location.environment}"
    server = location.api_server.split("://", 1)[-1]
    text = f"AFAS SB kent {what} niet op {server}"
    raise Problem(
        422,
        "afas-sb-environment-unknown",
        "Unknown AFAS SB environment",
        f"{text}. Er is niets gekoppeld.",
        errors=[FieldError(field, f"{text}; controleer de naam of het adres")],
        hint="De omgevingsnaam is het deel van het adres van AFAS SB na de servernaam, "
        "bijvoorbeeld mijnbedrijf in https://afas-sb.afasfocus.nl/mijnbedrijf/. Staat uw "
        "omgeving bij een accountant, vul dan het volledige adres in.",
    )


def _portal_outcome(ctx: RequestContext, **outcome: str) -> str:
    """The portal's Koppelingen screen with the outcome of an SB consent in its address (the
    portal shows it in Dutch): ``afas-sb`` = gekoppeld | geweigerd | mislukt | adres |
    niet-ingesteld, ``omgeving`` = the environment."""
    return portal_outcome(ctx.services.settings.consent_landing_url(), **outcome)


def _wants_html(ctx: RequestContext) -> bool:
    return "text/html" in ctx.request.headers.get("accept", "").lower()


def sb_landing(ctx: RequestContext) -> ApiResponse:
    """The App Center landing page (concepts.md "How do I get the API Server URL"): AFAS sends the
    user here with ``?afasBaseUrl={API server}/{environment}/``; the consent starts at once."""
    raw = ctx.request.query.get("afasBaseUrl", "")
    try:
        location = _parse_sb_url(ctx, raw, None)
    except InputError as exc:
        log.warning("afas-sb landing with an unusable afasBaseUrl for office %s", ctx.office_id)
        if _wants_html(ctx):
            return redirect(_portal_outcome(ctx, **{"afas-sb": "adres"}))
        raise _address_refused("afasBaseUrl", exc) from None
    try:
        url = _begin_sb_consent(ctx, location, _ORIGIN_LANDING)
    except Problem:
        if _wants_html(ctx):
            return redirect(_portal_outcome(ctx, **{"afas-sb": "niet-ingesteld"}))
        raise
    return redirect(url)


def sb_callback(ctx: RequestContext) -> ApiResponse:
    """AFAS SB's redirect after the consent (shared with Loket: :mod:`shared.api.consent_callback`):
    back to the portal with the outcome, wherever the consent started (the portal's form or the
    App Center's landing page)."""
    query = ctx.request.query
    services = ctx.services

    def complete(state: str) -> Outcome:
        consent = services.consents.consume(provider=SB_PROVIDER, state=state, now=services.clock())
        location, _origin = _consent_location(ctx, consent.environment)
        environment = location.environment
        if query.get("error"):
            log.info(
                "afas-sb consent refused for office %s: %s",
                consent.office_id, oauth_error_code(query["error"], unknown="onbekend"),
            )  # fmt: skip
            return Outcome(REFUSED, environment)
        code = query.get("code", "")
        if not code:
            return Outcome(FAILED, environment)
        try:
            tokens = _sb_oauth(ctx).exchange_code(
                location, code=Secret(code), code_verifier=consent.code_verifier
            )
        except (InvalidGrant, AfasError, TokenEndpointError) as exc:
            log.warning(
                "afas-sb code exchange for office %s failed: %s",
                consent.office_id, type(exc).__name__,
            )  # fmt: skip
            return Outcome(FAILED, environment)
        services.sb_connections.store_consent(
            consent.office_id, location, tokens, by_user=consent.user_id, by_name=consent.user_name
        )
        log.info(
            "afas-sb connection of office %s environment %s stored",
            consent.office_id, environment,
        )  # fmt: skip
        return Outcome(CONNECTED, environment)

    return consent_callback(ctx, system="AFAS SB", param="afas-sb", complete=complete)


# -- SB: what the portal lists (customer environments, administrations) -----------------------


class SbEnvironmentOut(_Camel):
    environment: str = Field(description="The customer environment as in the URL, e.g. atlas")
    name: str = Field(description="Its name (from the Admin Center), or the environment")
    api_server: str
    source: Literal["customer", "admin-center"] = Field(
        description="customer: its own consent; admin-center: reached through the Admin Center"
    )
    connected: bool = Field(description="false: listed by the Admin Center, not used yet")
    state: str | None = None


class SbAdminCenterOut(_Camel):
    api_server: str
    state: str


class SbEnvironmentsAnswer(_Camel):
    environments: list[SbEnvironmentOut]
    admin_center: SbAdminCenterOut | None = None
    notice: str | None = Field(default=None, description="Dutch, when a list was not readable")


class SbAdministrationOut(_Camel):
    id: str
    name: str


class SbAdministrationsAnswer(_Camel):
    environment: str
    name: str
    administrations: list[SbAdministrationOut]


def list_sb_environments(ctx: RequestContext) -> ApiResponse:
    found = ctx.services.sb_connections.environments(ctx.office_id)
    admin = found.admin_center
    return json_response(
        200,
        SbEnvironmentsAnswer(
            environments=[
                SbEnvironmentOut(
                    environment=c.environment,
                    name=c.name,
                    api_server=c.api_server,
                    source=c.source,
                    connected=c.connected,
                    state=c.state,
                )
                for c in found.environments
            ],
            admin_center=SbAdminCenterOut(
                api_server=ctx.services.sb_connections.location_of(admin, ADMIN_CENTER).api_server,
                state=admin.state.value,
            )
            if admin is not None
            else None,
            notice=found.notice,
        ),
        {"Cache-Control": "no-store"},
    )


def _sb_trouble(exc: Exception, environment: str) -> Problem:
    if isinstance(exc, ConsentRequired):
        return Problem(
            409,
            "afas-sb-reauthorize",
            "Consent required",
            f"De koppeling met AFAS SB-omgeving {environment} vraagt opnieuw toestemming. "
            f"{exc.reason}",
            hint="Koppel opnieuw via Koppelingen.",
        )
    if isinstance(exc, AfasRetriableError | TokenEndpointError):
        return Problem(
            503,
            "afas-unavailable",
            "AFAS unavailable",
            "AFAS SB is nu niet bereikbaar.",
            hint="Probeer het over een paar minuten opnieuw. Zie ook afasstatus.nl.",
        )
    assert isinstance(exc, AfasError)
    return Problem(502, "afas-error", "AFAS error", exc.detail, hint=exc.hint)


def list_sb_administrations(ctx: RequestContext) -> ApiResponse:
    try:
        environment = parse_sb_environment(ctx.request.route_params.get("environment", ""))
    except InputError as exc:
        raise validation_failed([FieldError("environment", str(exc))], str(exc)) from None
    sb = ctx.services.sb_connections
    _sb_oauth(ctx)  # 503 when SB is not configured here
    try:
        connection = ctx.services.connections.get(sb.key(ctx.office_id, environment))
        if connection is None and ctx.user.is_admin:
            connection = sb.ensure_scope(
                ctx.office_id, environment, by_user=ctx.user.user_id, by_name=ctx.user.name
            )
        if connection is None:
            raise Problem(
                404,
                "afas-sb-not-connected",
                "Not connected",
                f"Er is geen koppeling met AFAS SB-omgeving {environment}"
                + ("." if ctx.user.is_admin else " (alleen een beheerder kan die toevoegen)."),
                hint="Koppel de omgeving via Koppelingen, of kies een klantomgeving van het "
                "Admin Center.",
            )
        with sb.client(ctx.office_id, environment) as client:
            administrations = sorted(
                client.list_administrations(), key=lambda a: (a.description.lower(), a.id)
            )
    except (ConsentRequired, AfasError, TokenEndpointError) as exc:
        raise _sb_trouble(exc, environment) from None
    except NotConnected:
        raise Problem(
            404, "afas-sb-not-connected", "Not connected",
            f"Er is geen koppeling met AFAS SB-omgeving {environment}.",
        ) from None  # fmt: skip
    return json_response(
        200,
        SbAdministrationsAnswer(
            environment=environment,
            name=connection.details.get("environmentName") or environment,
            administrations=[
                SbAdministrationOut(id=a.id.lower(), name=a.description or a.id)
                for a in administrations
            ],
        ),
        {"Cache-Control": "no-store"},
    )


# -- Profit: what the client form lists (administrations, journals) ----------------------------


class ProfitAdministrationOut(_Camel):
    number: int = Field(description="AdminId (UnId)")
    name: str


class ProfitAdministrationsAnswer(_Camel):
    environment: str = Field(description="The 5-digit environment number")
    environment_name: str | None = None
    administrations: list[ProfitAdministrationOut] = Field(description="By name")


class ProfitJournalOut(_Camel):
    code: str = Field(description="JournalId (JoCo)")
    description: str
    memorial: bool = Field(description="A memoriaal (listed first)")
    blocked: bool = Field(description="Blocked in AFAS: entries are refused")


class ProfitJournalsAnswer(_Camel):
    environment: str
    administration: int
    journals: list[ProfitJournalOut] = Field(
        description="Memorial journals first, then the others; blocked ones last; by code"
    )


def _profit_path(ctx: RequestContext) -> ProfitEnvironment:
    try:
        return parse_profit_environment(ctx.request.route_params.get("environment", ""))
    except InputError as exc:
        raise validation_failed([FieldError("environment", str(exc))], str(exc)) from None


def _profit_read(
    ctx: RequestContext, environment: ProfitEnvironment, read: Callable[[ProfitClient], T]
) -> T:
    """One read through the office's stored Profit token; failures as the one classification
    says (AFAS down: 503, token refused: 409, …); no connection of this office: 404."""
    try:
        with ctx.services.profit_client(ctx.office_id, environment.number) as client:
            return read(client)
    except NotConnected:
        raise Problem(
            404,
            "afas-profit-not-connected",
            "Not connected",
            f"Er is geen koppeling met AFAS Profit-omgeving {environment.name or environment.number}.",
            hint="Voeg de koppeling toe via Koppelingen.",
        ) from None
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None:
            raise
        raise problem from None


def list_profit_administrations(ctx: RequestContext) -> ApiResponse:
    environment = _profit_path(ctx)
    found = _profit_read(ctx, environment, lambda c: list(c.list_administrations()))
    name = environment.name
    if name is None:
        stored = ctx.services.connections.get(
            ConnectionKey(ctx.office_id, ConnectionKind.AFAS_PROFIT, environment.number)
        )
        name = stored.details.get("environmentName") if stored else None
    return json_response(
        200,
        ProfitAdministrationsAnswer(
            environment=environment.number,
            environment_name=name,
            administrations=[
                ProfitAdministrationOut(number=a.number, name=a.name or str(a.number))
                for a in sorted(found, key=lambda a: (a.name.lower(), a.number))
            ],
        ),
        {"Cache-Control": "no-store"},
    )


def list_profit_journals(ctx: RequestContext) -> ApiResponse:
    environment = _profit_path(ctx)
    administration = int_param(
        ctx.request.route_params.get("administration"),
        "administration",
        1,
        99999,
        "moet een administratienummer zijn (1 t/m 99999)",
    )
    found = _profit_read(ctx, environment, lambda c: list(c.list_journals(administration)))
    return json_response(
        200,
        ProfitJournalsAnswer(
            environment=environment.number,
            administration=administration,
            journals=[
                ProfitJournalOut(
                    code=j.code,
                    description=j.description,
                    memorial=j.is_memorial,
                    blocked=j.blocked,
                )
                for j in sorted(found, key=lambda j: (j.blocked, not j.is_memorial, j.code))
            ],
        ),
        {"Cache-Control": "no-store"},
    )


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
        409: problem_reply("Changed concurrently; try again."),
        502: problem_reply("AFAS answered an unexpected error."),
    },
)  # fmt: skip

SB_CONNECT = Operation(
    name="afas_sb_connect",
    method="POST",
    route="connections/afas-sb/{environment}",
    access=Access.ADMIN,
    summary="Start the AFAS SB consent (OAuth 2.0 + PKCE) for an SB environment or Admin Center",
    description="{environment} is the customer environment (the part after the server in the "
    "SB address), or 'admin' for the accountant's Admin Center (then apiServer is required). "
    "The optional body names the API server (concepts page of the SB docs); without it "
    "AFAS_SB_URL applies.",
    tag="connections",
    handler=start_sb_consent,
    body=SbConnectBody,
    body_required=False,
    replies={
        200: Reply("Send the user to authorizeUrl.", SbAuthorizeAnswer),
        422: problem_reply("Not an SB environment name, an API server that is not https or not in AFAS_SB_ALLOWED_HOSTS, or an environment the API server does not know (checked before the consent; Dutch detail beside the field)."),
    },
)  # fmt: skip

SB_LANDING = Operation(
    name="afas_sb_landing",
    method="GET",
    route="afas-sb/landing",
    access=Access.ADMIN,
    summary="App Center landing page: start the AFAS SB consent for the API server in afasBaseUrl",
    description="AFAS's App Center sends the user here when the Loonbrug app is activated, e.g. "
    "?afasBaseUrl=https://beers.afasfocus.nl/enyoi/ (a customer environment) or "
    "…/admin/ (the Admin Center). Answers 302 to AFAS's consent page; after the consent the "
    "callback returns the browser to the portal's Koppelingen screen with the outcome "
    "(afas-sb=gekoppeld|geweigerd|mislukt). An unusable address: 422, or for a browser "
    "(Accept: text/html) 302 to the portal with afas-sb=adres.",
    tag="connections",
    handler=sb_landing,
    query=(
        QueryParam("afasBaseUrl", "The API server URL with the customer environment or admin, as AFAS passes it", {"type": "string", "minLength": 1, "maxLength": 2048}, required=True),
    ),
    replies={
        302: Reply("To AFAS SB's consent page (or, for a browser and an unusable address, to the portal with the outcome)."),
        422: problem_reply("afasBaseUrl is not an SB address in AFAS_SB_ALLOWED_HOSTS (Dutch detail)."),
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
        302: Reply("To the portal's Koppelingen screen (PORTAL_URL#/connections, or PUBLIC_BASE_URL/#/connections when unset) with the outcome in the address: afas-sb=gekoppeld (stored), geweigerd (consent refused) or mislukt (no code, or the exchange failed; nothing stored), and omgeving=the environment."),
        400: ERROR_PAGE,
    },
)  # fmt: skip

SB_ENVIRONMENTS = Operation(
    name="afas_sb_environments",
    method="GET",
    route="afas-sb/environments",
    access=Access.READER,
    summary="AFAS SB customer environments the office can book into, by name",
    description="Connected customer environments plus those the office's Admin Center lists "
    "(getscopes), for the client form's selects.",
    tag="connections",
    handler=list_sb_environments,
    replies={200: Reply("The environments (notice: Dutch, when the Admin Center was not readable).", SbEnvironmentsAnswer)},
)  # fmt: skip

SB_ADMINISTRATIONS = Operation(
    name="afas_sb_administrations",
    method="GET",
    route="afas-sb/environments/{environment}/administrations",
    access=Access.READER,
    summary="The administrations of an AFAS SB customer environment, by name",
    description="For an environment of the Admin Center that is not in use yet, an admin's call "
    "takes it into use (a connection with its own scope token).",
    tag="connections",
    handler=list_sb_administrations,
    replies={
        200: Reply("The administrations (id, name).", SbAdministrationsAnswer),
        409: problem_reply("The connection needs a new consent."),
        422: problem_reply("Not a customer environment name."),
        502: problem_reply("AFAS SB refused or answered an error."),
    },
)  # fmt: skip

PROFIT_ADMINISTRATIONS = Operation(
    name="afas_profit_administrations",
    method="GET",
    route="afas-profit/environments/{environment}/administrations",
    access=Access.READER,
    summary="The administrations of an AFAS Profit environment, by name",
    description="Read from AFAS (GetConnector Profit_Administrations) with the office's stored "
    "token, for the client form's select; the form reads it once per environment it shows "
    "(AFAS's fair use). {environment} is the 5-digit number or the name (O12345AA).",
    tag="connections",
    handler=list_profit_administrations,
    replies={
        200: Reply("The administrations (number, name).", ProfitAdministrationsAnswer),
        404: problem_reply("The office has no connection with this environment."),
        409: problem_reply("AFAS refuses the stored token (connect again)."),
        422: problem_reply("Not a Profit environment number or name."),
        502: problem_reply("AFAS answered an error."),
        503: problem_reply("AFAS is not reachable now; type the number instead."),
    },
)  # fmt: skip

PROFIT_JOURNALS = Operation(
    name="afas_profit_journals",
    method="GET",
    route="afas-profit/environments/{environment}/administrations/{administration}/journals",
    access=Access.READER,
    summary="The journals (dagboeken) of an AFAS Profit administration, memoriaal first",
    description="Read from AFAS (GetConnector Profit_Journals, filtered on the administration) "
    "with the office's stored token, for the client form's select.",
    tag="connections",
    handler=list_profit_journals,
    replies={
        200: Reply("The journals (code, description, memorial, blocked).", ProfitJournalsAnswer),
        404: problem_reply("The office has no connection with this environment."),
        409: problem_reply("AFAS refuses the stored token (connect again)."),
        422: problem_reply("Not a Profit environment or administration number."),
        502: problem_reply("AFAS answered an error."),
        503: problem_reply("AFAS is not reachable now; type the code instead."),
    },
)  # fmt: skip

OPERATIONS = (
    PROFIT_CONNECT,
    SB_CONNECT,
    SB_CALLBACK,
    SB_LANDING,
    SB_ENVIRONMENTS,
    SB_ADMINISTRATIONS,
    PROFIT_ADMINISTRATIONS,
    PROFIT_JOURNALS,
)
