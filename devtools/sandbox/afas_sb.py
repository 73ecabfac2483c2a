"""AFAS SB in the AFAS sandbox (dev and tests only): several API servers, customer environments,
Admin Centers, endpoint groups, and answers shaped as the published spec's examples.

The published SB documentation (openapi-6-0-0.json and the developer pages: concepts,
authentication, howto-payroll, pagination, filtering, troubleshooting) is the contract; this
sandbox answers as its examples do, and ``tests/contract/test_sb_contract.py`` checks every
request Loonbrug sends and every answer given here against the spec's schemas.

**API servers** (concepts.md: ``https://<subdomain>.afasfocus.nl/<environment>``): the default
server at ``{url}/{environment}`` (``AFAS_SB_URL``: independent customers on afas-sb.afasfocus.nl)
and named servers at ``{url}/~{name}/{environment}`` (an accountant's subdomain; only one port, so
the server is a path prefix). On each: ``/{env}/app/auth`` (auto-consent → 302 with code and
state; every parameter mandatory), ``/{env}/app/token`` (form-encoded or multipart/form-data;
``authorization_code`` with PKCE S256 checked, ``refresh_token``), ``/api/administrations``,
``/api/ledgeraccounts``, ``/api/accountingperiod``, ``POST /api/payrolljournalentry`` with
``Accept-Version`` required and ``Tracking-Identifier`` idempotency.

**Admin Center** ``/admin`` of a named server: consent and token as above; ``POST
/admin/authentication/getscopes`` lists its customer environments (``{Name, Path}``, the Admin
Center itself as ``Beheer``/``admin`` as in the spec's example); the Admin Center's refresh token
at ``/{scope}/app/token`` gives a scope token for that customer environment (howto-payroll.md).

**Endpoint groups**: an app gets "Loonjournaalpost" (administrations, ledger accounts, payroll
entries). ``/api/accountingperiod`` is in the reporting groups only, so it answers 403 "De
ingelogde gebruiker heeft niet voldoende rechten." unless the scenario grants a reporting group
(``SbEnvironment.granted``).

**Lists**: ``skip``/``take``; ``sortField`` (OpenAPI) or ``sort`` (pagination.md) sorts; without
a sort the rows come in a different order on every request (pagination.md: rows can be skipped or
repeated between pages), and ``sb_unsorted_pages`` counts such requests. ``filter=AdministrationId
eq <uuid>`` (filtering.md).

Decisions where the spec is silent, marked [I]: refresh tokens do not rotate (no refresh_token in
the refresh answers of authentication.md); ``expires_in`` is the integer of the OpenAPI schema
(``sb_expires_in_as_text`` answers the string "1800" of authentication.md's examples); a
Tracking-Identifier that is not a uuid is refused as the spec's "Invalid UUID" 400.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, urlencode

from shared.afas.wire import dumps

SB_ENVIRONMENT: Final = "enyoi"
SB_ADMINISTRATION_ID: Final = "701b747b-eea2-5ed1-8518-973e5c670252"
SB_CLIENT_ID: Final = "sb-client"
SB_CLIENT_SECRET: Final = "sb-secret"  # noqa: S105 - the sandbox's own test client
ADMIN: Final = "admin"
DEFAULT_SERVER: Final = ""  # the AFAS_SB_URL server (afas-sb.afasfocus.nl)

# An accountant's subdomain with an Admin Center and two customers (howto-payroll.md's examples).
ACCOUNTANT: Final = "beers"
ATLAS: Final = "atlas"
ATLAS_ADMINISTRATION_ID: Final = "33f33439-4967-4f55-b8f3-afc798b1748a"
BIERLING: Final = "bierling"
BIERLING_ADMINISTRATION_ID: Final = "c59efe34-cb0e-5cb7-a1c7-b1286a699911"

PAYROLL_GROUP: Final = "Loonjournaalpost"
REPORTING_GROUP: Final = "Financiele rapportage"
_REPORTING: Final = ("Financiele rapportage", "Publiek: Financiële dashboarding",
                     "Publiek: Financiële rapportage")  # fmt: skip
# paths["/api/…"][method].tags of openapi-6-0-0.json for the endpoints served here.
ENDPOINT_GROUPS: Final[dict[str, frozenset[str]]] = {
    "administrations": frozenset({
        *_REPORTING, "Financiële journaalpost", "Inkoopjournaalpost", PAYROLL_GROUP,
        "POS Transacties", "Publiek: Externe facturatie", "Publiek: Externe verkoopregels",
        "Publiek: Facturatie", "Publiek: Financiële journaalpost", "Publiek: POS Transacties",
        "Publiek: Relatiemanagement", "Verkoopfactuur", "Verkoopjournaalpost", "Verkoopregels"}),
    "ledgeraccounts": frozenset({
        *_REPORTING, "Financiële journaalpost", "Inkoopjournaalpost", PAYROLL_GROUP,
        "POS Transacties", "Publiek: Externe facturatie", "Publiek: Financiële journaalpost",
        "Publiek: POS Transacties", "Verkoopjournaalpost"}),
    "accountingperiod": frozenset(_REPORTING),
    "payrolljournalentry": frozenset({PAYROLL_GROUP}),
    "journalentries": frozenset({REPORTING_GROUP}),  # tags: ["Financiele rapportage"] only
}  # fmt: skip
# The Accept-Version each endpoint is at in spec 6.0.0 (its operationId: get_accountingperiod_2.0).
ENDPOINT_VERSIONS: Final[dict[str, int | str]] = {
    "administrations": 1,
    "ledgeraccounts": 1,
    "accountingperiod": 2,
    "payrolljournalentry": 1,
    "journalentries": "1.1",  # operationId get_journalentries_1.1
}

MSG_NOT_AUTHENTICATED: Final = "Er is geen ingelogde gebruiker."  # troubleshooting.md 401
MSG_FORBIDDEN: Final = "De ingelogde gebruiker heeft niet voldoende rechten."  # troubleshooting 403
_MONTHS: Final = ("Januari", "Februari", "Maart", "April", "Mei", "Juni", "Juli", "Augustus",
                  "September", "Oktober", "November", "December")  # fmt: skip
_UUID: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


# -- scenario -------------------------------------------------------------------------------------


@dataclass
class SbAccount:
    number: str
    description: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    type_id: str = "61fb169c-b210-44db-b02b-b7260efa817c"  # a TypeId of the spec's examples


@dataclass
class SbPeriod:
    year: int
    period: int
    start: date
    end: date
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def sb_monthly_periods(years: Iterable[int]) -> list[SbPeriod]:
    periods = []
    for year in years:
        for month in range(1, 13):
            start = date(year, month, 1)
            end = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
            periods.append(SbPeriod(year, month, start, end))
    return periods


@dataclass
class SbBooking:
    environment: str
    administration_id: str
    description: str
    date: str
    lines: list[tuple[str, Decimal, Decimal]]  # (account, debit, credit)
    tracking_identifier: str | None
    instance_id: str
    code: str
    server: str = DEFAULT_SERVER
    period_id: str = ""  # set when a test moves the entry; else the period of ``date``


@dataclass
class SbAdministration:
    id: str
    description: str
    accounts: dict[str, SbAccount] = field(default_factory=dict)
    periods: list[SbPeriod] = field(default_factory=list)
    bookings: list[SbBooking] = field(default_factory=list)
    # Accounts SB lists but refuses to book on (a scenario switch: e.g. blocked after the
    # pre-check read the chart); the refusal is a 400 ValidationException naming the account.
    refused_accounts: set[str] = field(default_factory=set)

    def add_account(self, number: str, description: str) -> SbAccount:
        account = SbAccount(number, description)
        self.accounts[number] = account
        return account


@dataclass
class SbEnvironment:
    name: str
    administrations: dict[str, SbAdministration] = field(default_factory=dict)
    title: str = ""  # the Name getscopes shows
    description: str = ""
    # Endpoint groups the Loonbrug app is granted in this environment (App Center).
    granted: set[str] = field(default_factory=lambda: {PAYROLL_GROUP})

    def add_administration(
        self, administration_id: str, description: str, *, years: Iterable[int] = range(2023, 2028)
    ) -> SbAdministration:
        administration = SbAdministration(administration_id, description)
        administration.periods = sb_monthly_periods(years)
        self.administrations[administration_id] = administration
        return administration


@dataclass
class SbServer:
    """One API server (``https://<name>.afasfocus.nl``): customer environments and, when
    ``admin_center`` is set, an Admin Center that lists those environments."""

    name: str
    environments: dict[str, SbEnvironment] = field(default_factory=dict)
    admin_center: bool = False

    def add_environment(self, name: str, title: str = "", description: str = "") -> SbEnvironment:
        environment = SbEnvironment(name.lower(), title=title or name, description=description)
        self.environments[environment.name] = environment
        return environment


class HasSbScenario(Protocol):
    sb: dict[str, SbEnvironment]
    sb_servers: dict[str, SbServer]
    sb_clients: dict[str, str]


def add_default_sb(scenario: HasSbScenario, accounts: Iterable[tuple[str, str]]) -> None:
    """The default SB world: independent customer ``enyoi`` on the default server; accountant
    server ``beers`` with customers ``atlas`` and ``bierling`` and an Admin Center listing both.
    Every administration has ``accounts``; the app has the payroll endpoint group only."""
    accounts = list(accounts)
    scenario.sb_clients.setdefault(SB_CLIENT_ID, SB_CLIENT_SECRET)
    enyoi = SbEnvironment(SB_ENVIRONMENT, title="EnYoi Holding B.V.")
    scenario.sb[enyoi.name] = enyoi
    beers = SbServer(ACCOUNTANT, admin_center=True)
    scenario.sb_servers[beers.name] = beers
    atlas = beers.add_environment(ATLAS, "Atlas Interior B.V.", "Example environment")
    bierling = beers.add_environment(BIERLING, "Bierling Organ Builders")
    for environment, administration_id, name in (
        (enyoi, SB_ADMINISTRATION_ID, "Enyoi B.V."),
        (atlas, ATLAS_ADMINISTRATION_ID, "Atlas administration"),
        (bierling, BIERLING_ADMINISTRATION_ID, "Bierling Orgelbouw"),
    ):
        administration = environment.add_administration(administration_id, name)
        for number, description in accounts:
            administration.add_account(number, description)


# -- requests -------------------------------------------------------------------------------------


class _Request(Protocol):
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str: ...


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, dumps(payload), {"Content-Type": "application/json", **(headers or {})})


def sb_error(
    status: int, message: str, code: str | None = None, kind: str | None = None
) -> Response:
    """The error shape of troubleshooting.md / components.responses of the spec."""
    payload: dict[str, Any] = {"StatusCode": status, "Message": message}
    if code:
        payload["ExceptionCode"] = code
    payload["TraceId"] = uuid.uuid4().hex
    payload["AdditionalInfo"] = {"ExceptionType": kind} if kind else {}
    return json_response(status, payload, {"Content-Version": "1"})


@dataclass(frozen=True)
class CapturedRequest:
    """One request the SB part of the sandbox received (the contract tests validate these)."""

    server: str  # "" for the default server
    environment: str  # a customer environment or "admin"
    route: str  # the path after the environment, e.g. "api/ledgeraccounts", "app/token"
    method: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self) -> dict[str, str]:
        """The fields of a form-encoded or multipart/form-data body."""
        return parse_form(self.headers.get("content-type", ""), self.body)


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                fields[name] = payload.decode("utf-8") if isinstance(payload, bytes) else ""
        return fields
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class _SbCode:
    where: tuple[str, str]  # (server, environment)
    client_id: str
    redirect_uri: str
    challenge: str
    expires: float
    used: bool = False


@dataclass
class _SbGrant:
    where: tuple[str, str]  # (server, environment or admin)
    client_id: str
    expires: float = 0.0
    revoked: bool = False


# -- the SB part of the sandbox -------------------------------------------------------------------


class SbSandboxMixin:
    """SB state, inspection helpers and request handling of :class:`AfasSandbox`."""

    scenario: Any  # AfasScenario (sb, sb_servers, sb_clients)
    lock: Any

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _sb_setup(self) -> None:
        self.sb_deny_consent = False
        self.sb_partially_succeed = False
        self.sb_expires_in_as_text = False  # answer expires_in "1800" as authentication.md shows
        self.sb_getscopes_get_only = False  # getscopes as authentication.md's GET, not the POST
        self.sb_grants: Counter[str] = Counter()
        self.sb_repeats = 0
        self.sb_unsorted_pages = 0
        self.sb_requests: list[CapturedRequest] = []
        self._sb_codes: dict[str, _SbCode] = {}
        self._sb_access: dict[str, _SbGrant] = {}
        self._sb_refresh: dict[str, _SbGrant] = {}
        self._sb_remembered: dict[tuple[str, str, str], Response] = {}
        self._sb_seen: set[str] = set()  # states and PKCE verifiers Loonbrug sent (leak scans)

    # -- public ------------------------------------------------------------------------------

    @property
    def sb_url_template(self) -> str:
        return f"{self.url}/{{environment}}"

    def sb_server_url(self, name: str = ACCOUNTANT) -> str:
        """The API server of a named SB server, e.g. ``http://127.0.0.1:PORT/~beers``."""
        return f"{self.url}/~{name}" if name else self.url

    def sb_settings_env(self) -> dict[str, str]:
        client_id, secret = next(iter(self.scenario.sb_clients.items()), ("", ""))
        return {
            "AFAS_SB_URL": self.sb_url_template,
            "AFAS_SB_CLIENT_ID": client_id,
            "AFAS_SB_CLIENT_SECRET": secret,
            "AFAS_SB_ALLOWED_HOSTS": "*.afasfocus.nl,127.0.0.1",
        }

    def sb_environment(self, environment: str, server: str = DEFAULT_SERVER) -> SbEnvironment:
        if server:
            found: SbEnvironment = self.scenario.sb_servers[server].environments[environment]
            return found
        default: SbEnvironment = self.scenario.sb[environment]
        return default

    def grant_sb(self, group: str, environment: str, server: str = DEFAULT_SERVER) -> None:
        """Grant the app an endpoint group (e.g. "Financiele rapportage") in an environment."""
        with self.lock:
            self.sb_environment(environment, server).granted.add(group)

    def sb_bookings(
        self, environment: str = SB_ENVIRONMENT, server: str = DEFAULT_SERVER
    ) -> list[SbBooking]:
        with self.lock:
            env = self.sb_environment(environment, server)
            return [b for admin in env.administrations.values() for b in admin.bookings]

    # -- test hooks: what people do in SB after Loonbrug booked (the Aansluiting) -------------

    def _sb_booking(
        self, code: str, environment: str, server: str
    ) -> tuple[SbAdministration, SbBooking]:
        for administration in self.sb_environment(environment, server).administrations.values():
            for booking in administration.bookings:
                if booking.code == code:
                    return administration, booking
        raise KeyError(f"no SB entry {code}")

    def delete_sb_booking(
        self, code: str, environment: str = SB_ENVIRONMENT, server: str = DEFAULT_SERVER
    ) -> SbBooking:
        with self.lock:
            administration, booking = self._sb_booking(code, environment, server)
            administration.bookings.remove(booking)
            return booking

    def edit_sb_line(
        self,
        code: str,
        account: str,
        *,
        debit: Decimal,
        environment: str = SB_ENVIRONMENT,
        server: str = DEFAULT_SERVER,
    ) -> None:
        """Change the debit of the first line on ``account`` of SB entry ``code``."""
        with self.lock:
            _administration, booking = self._sb_booking(code, environment, server)
            index = next(i for i, line in enumerate(booking.lines) if line[0] == account)
            booking.lines[index] = (account, debit, booking.lines[index][2])

    def move_sb_booking(
        self,
        code: str,
        year: int,
        period: int,
        *,
        environment: str = SB_ENVIRONMENT,
        server: str = DEFAULT_SERVER,
    ) -> None:
        with self.lock:
            administration, booking = self._sb_booking(code, environment, server)
            booking.period_id = next(
                p.id for p in administration.periods if (p.year, p.period) == (year, period)
            )

    def import_sb_manual_copy(
        self, code: str, environment: str = SB_ENVIRONMENT, server: str = DEFAULT_SERVER
    ) -> SbBooking:
        """A copy of SB entry ``code`` as a user importing the same payroll journal by hand
        would book it: same date and amounts, a new entry, no Tracking-Identifier."""
        with self.lock:
            administration, booking = self._sb_booking(code, environment, server)
            env = self.sb_environment(environment, server)
            count = sum(len(a.bookings) for a in env.administrations.values()) + 1
            copy = replace(
                booking,
                lines=list(booking.lines),
                tracking_identifier=None,
                instance_id=str(uuid.uuid4()),
                code=f"Memoriaalboeking{count}",
            )
            administration.bookings.append(copy)
            return copy

    def sb_captured(self, route: str | None = None) -> list[CapturedRequest]:
        with self.lock:
            return [r for r in self.sb_requests if route is None or r.route == route]

    def issued_sb_tokens(self) -> list[str]:
        """Every SB access and refresh token handed out (for leak checks in tests)."""
        with self.lock:
            return [*self._sb_access, *self._sb_refresh]

    def sb_leak_values(self) -> set[str]:
        with self.lock:
            values = {*self._sb_codes, *self._sb_access, *self._sb_refresh, *self._sb_seen}
            return values | set(self.scenario.sb_clients.values())

    def expire_sb_access_tokens(self) -> None:
        with self.lock:
            for grant in self._sb_access.values():
                grant.expires = 0.0

    def revoke_sb_refresh_tokens(self) -> None:
        with self.lock:
            for grant in self._sb_refresh.values():
                grant.revoked = True

    # -- routing -----------------------------------------------------------------------------

    @staticmethod
    def sb_route(path: str) -> tuple[str, str, list[str]] | None:
        """(server, environment, rest) of an SB path, or None when it is not one."""
        parts = [p for p in path.split("/") if p]
        server = DEFAULT_SERVER
        if parts and parts[0].startswith("~"):
            server, parts = parts[0][1:].lower(), parts[1:]
        if len(parts) >= 2 and parts[1].lower() in ("app", "api", "authentication"):
            return server, parts[0].lower(), [p.lower() for p in parts[1:]]
        return None

    def sb_dispatch(self, request: _Request) -> Response:
        route = self.sb_route(request.path)
        assert route is not None
        server, name, rest = route
        response = self._sb_handle(server, name, rest, request)
        with self.lock:
            self.sb_requests.append(
                CapturedRequest(
                    server=server,
                    environment=name,
                    route="/".join(rest),
                    method=request.method,
                    query=dict(request.query),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=request.body,
                    status=response.status,
                    response_headers=dict(response.headers),
                    response_body=response.body,
                )
            )
        return response

    def _sb_environments(self, server: str) -> dict[str, SbEnvironment] | None:
        if not server:
            environments: dict[str, SbEnvironment] = self.scenario.sb
            return environments
        found = self.scenario.sb_servers.get(server)
        return found.environments if found is not None else None

    def _sb_handle(self, server: str, name: str, rest: list[str], request: _Request) -> Response:
        environments = self._sb_environments(server)
        if environments is None:
            return sb_error(404, "De omgeving bestaat niet.")
        admin_center = (
            name == ADMIN and bool(server) and self.scenario.sb_servers[server].admin_center
        )
        environment = environments.get(name)
        if environment is None and not admin_center:
            return sb_error(404, "De omgeving bestaat niet.")
        where = (server, name)
        if rest == ["app", "auth"] and request.method == "GET":
            return self._sb_authorize(where, request)
        if rest == ["app", "token"] and request.method == "POST":
            with self.lock:
                return self._sb_token(where, request)
        if rest == ["authentication", "getscopes"] and admin_center:
            method_ok = request.method == ("GET" if self.sb_getscopes_get_only else "POST")
            if not method_ok:
                return Response(
                    405, b"", {"Allow": "GET" if self.sb_getscopes_get_only else "POST"}
                )
            if not self._sb_bearer_ok(where, request):
                return sb_error(401, MSG_NOT_AUTHENTICATED, kind="NotAuthenticatedException")
            return self._sb_scopes(server)
        if environment is None or len(rest) != 2 or rest[0] != "api":
            return sb_error(404, "Niet gevonden.")
        if not self._sb_bearer_ok(where, request):
            return sb_error(401, MSG_NOT_AUTHENTICATED, kind="NotAuthenticatedException")
        endpoint = rest[1]
        groups = ENDPOINT_GROUPS.get(endpoint)
        if groups is None:
            return sb_error(404, "Niet gevonden.")
        if not groups & environment.granted:
            return sb_error(403, MSG_FORBIDDEN, kind="NotAuthorizedException")
        version = request.header("accept-version").strip()
        if not version:
            return sb_error(400, "De header Accept-Version is verplicht.", "DS3101")  # [I]
        headers = {"Content-Version": str(ENDPOINT_VERSIONS[endpoint])}
        with self.lock:
            if endpoint == "payrolljournalentry" and request.method == "POST":
                response = self._sb_payroll_entry(server, environment, request)
                response.headers.update(headers)
                return response
            if request.method != "GET" or endpoint == "payrolljournalentry":
                return sb_error(405, "Methode niet toegestaan.")
            try:
                rows = self._sb_rows(endpoint, environment, request)
            except ValueError as exc:
                return sb_error(400, str(exc), kind="AntaUserException")
            return json_response(200, rows, headers)

    # -- OAuth ---------------------------------------------------------------------------------

    def _sb_authorize(self, where: tuple[str, str], request: _Request) -> Response:
        q = request.query
        required = ("client_id", "redirect_uri", "response_type", "code_challenge",
                    "code_challenge_method", "state")  # fmt: skip
        if any(not q.get(name) for name in required):
            return json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "missing required request parameters",
                },
            )
        if q["response_type"] != "code" or q["code_challenge_method"] != "S256":
            return json_response(
                400,
                {"error": "invalid_request",
                 "error_description": "only response_type=code and S256 are supported"},
            )  # fmt: skip
        if q["client_id"] not in self.scenario.sb_clients:
            return json_response(400, {"error": "invalid_client"})
        redirect = q["redirect_uri"]
        with self.lock:
            self._sb_seen.add(q["state"])
        joiner = "&" if "?" in redirect else "?"
        if self.sb_deny_consent:
            query = urlencode({"error": "access_denied", "state": q["state"]})
            return Response(302, b"", {"Location": f"{redirect}{joiner}{query}"})
        code = secrets.token_urlsafe(24)
        with self.lock:
            self._sb_codes[code] = _SbCode(
                where, q["client_id"], redirect, q["code_challenge"], time.time() + 300
            )
        query = urlencode({"code": code, "state": q["state"]})
        return Response(302, b"", {"Location": f"{redirect}{joiner}{query}"})

    def _sb_token(self, where: tuple[str, str], request: _Request) -> Response:
        try:
            form = parse_form(request.header("content-type"), request.body)
        except (ValueError, UnicodeDecodeError):
            return json_response(400, {"error": "invalid_request"})
        grant = form.get("grant_type", "")
        self.sb_grants[grant or "(none)"] += 1
        needed = {
            "authorization_code": (
                "client_id", "client_secret", "redirect_uri", "code", "code_verifier"),
            "refresh_token": ("client_id", "client_secret", "refresh_token"),
        }.get(grant)  # fmt: skip
        if needed is None:
            return json_response(400, {"error": "unsupported_grant_type"})
        if any(not form.get(name) for name in needed):
            return json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "missing required request parameters",
                },
            )
        if self.scenario.sb_clients.get(form["client_id"]) != form["client_secret"]:
            return json_response(401, {"error": "invalid_client"})
        if grant == "authorization_code":
            return self._sb_code_grant(where, form)
        held = self._sb_refresh.get(form["refresh_token"])
        if held is None or held.revoked or held.client_id != form["client_id"]:
            return json_response(400, {"error": "invalid_grant"})
        server, name = where
        if held.where != where:
            # howto-payroll.md "Get scope token": the Admin Center's refresh token at a scope's
            # /app/token gives a token for that customer environment.
            scope_ok = (
                held.where == (server, ADMIN)
                and name != ADMIN
                and name in self.scenario.sb_servers[server].environments
            ) if server else False  # fmt: skip
            if not scope_ok:
                return json_response(400, {"error": "invalid_grant"})
        # [I] No rotation: the answer carries no new refresh token (authentication.md).
        access = self._issue_access(where, form["client_id"])
        return json_response(
            200, {"access_token": access, "expires_in": self._lifetime(), "token_type": "bearer"}
        )

    def _sb_code_grant(self, where: tuple[str, str], form: dict[str, str]) -> Response:
        code = self._sb_codes.get(form["code"])
        if (
            code is None
            or code.used
            or code.expires < time.time()
            or code.where != where
            or code.client_id != form["client_id"]
            or code.redirect_uri != form["redirect_uri"]
        ):
            return json_response(
                400, {"error": "invalid_grant", "error_description": "invalid code"}
            )
        code.used = True
        verifier = form["code_verifier"]
        self._sb_seen.add(verifier)
        if not 43 <= len(verifier) <= 128:
            return json_response(
                400, {"error": "invalid_grant", "error_description": "invalid code_verifier length"}
            )
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if challenge != code.challenge:
            return json_response(
                400, {"error": "invalid_grant", "error_description": "invalid code_verifier"}
            )
        refresh = secrets.token_urlsafe(32)
        self._sb_refresh[refresh] = _SbGrant(where, form["client_id"])
        access = self._issue_access(where, form["client_id"])
        return json_response(
            200,
            {
                "access_token": access,
                "expires_in": self._lifetime(),
                "token_type": "bearer",
                "refresh_token": refresh,
            },
        )

    def _lifetime(self) -> int | str:
        return "1800" if self.sb_expires_in_as_text else 1800

    def _issue_access(self, where: tuple[str, str], client_id: str) -> str:
        access = secrets.token_urlsafe(32)
        self._sb_access[access] = _SbGrant(where, client_id, expires=time.time() + 1800)
        return access

    def _sb_bearer_ok(self, where: tuple[str, str], request: _Request) -> bool:
        scheme, _, token = request.header("authorization").partition(" ")
        with self.lock:
            grant = self._sb_access.get(token) if scheme.lower() == "bearer" else None
            return grant is not None and grant.where == where and grant.expires > time.time()

    def _sb_scopes(self, server: str) -> Response:
        """getscopes: the spec's item shape {Name, Path} (+ Description in howto-payroll.md),
        the Admin Center itself first as in the spec's examples ("Beheer", "admin")."""
        rows: list[dict[str, Any]] = [{"Name": "Beheer", "Description": "", "Path": ADMIN}]
        for environment in self.scenario.sb_servers[server].environments.values():
            rows.append(
                {"Name": environment.title, "Description": environment.description,
                 "Path": environment.name}
            )  # fmt: skip
        return json_response(200, rows)

    # -- lists -----------------------------------------------------------------------------------

    def _sb_rows(
        self, endpoint: str, environment: SbEnvironment, request: _Request
    ) -> list[dict[str, Any]]:
        if endpoint == "journalentries":
            return self._page(
                _journal_entries(environment, request.query.get("filter", "")), request
            )
        administrations = _filtered(environment, request.query.get("filter", ""))
        rows: list[dict[str, Any]]
        if endpoint == "administrations":
            rows = [
                {"Id": a.id, "Description": a.description, "InstanceId": a.id}
                for a in administrations
            ]
        elif endpoint == "ledgeraccounts":
            rows = [
                {
                    "Id": acc.id,
                    "Description": acc.description,
                    "LedgerAccountNumber": acc.number,
                    "TypeId": acc.type_id,
                    "InstanceId": acc.id,
                    "InvestInAsset": False,
                    "AdministrationId": a.id,
                }
                for a in administrations
                for acc in a.accounts.values()
            ]
        else:  # accountingperiod, as the spec's example: PeriodNumber 1.0, AccountingYear "2024"
            rows = [
                {
                    "AdministrationId": a.id,
                    "Id": p.id,
                    "Description": f"{_MONTHS[p.period - 1]} {p.year}",
                    "StartDate": f"{p.start.isoformat()}T00:00:00Z",
                    "EndDate": f"{p.end.isoformat()}T00:00:00Z",
                    "PeriodNumber": Decimal(p.period).quantize(Decimal("0.0")),
                    "AccountingYear": str(p.year),
                }
                for a in administrations
                for p in a.periods
            ]
        return self._page(rows, request)

    def _page(self, rows: list[dict[str, Any]], request: _Request) -> list[dict[str, Any]]:
        order = request.query.get("sortField") or request.query.get("sort") or ""
        if order.strip():
            name, _, direction = order.strip().partition(" ")
            direction = direction.strip().lower() or "ascending"
            if direction not in ("ascending", "descending") or (rows and name not in rows[0]):
                raise ValueError("Ongeldig sorteerveld.")  # [I]
            rows = sorted(
                rows, key=lambda r: str(r.get(name, "")).lower(), reverse=direction == "descending"
            )
        else:
            self.sb_unsorted_pages += 1
            rows = random.sample(rows, len(rows))  # no order promised without a sort
        try:
            skip = int(request.query.get("skip") or 0)
            take = int(request.query.get("take") or 100)
        except ValueError:
            raise ValueError("Ongeldige waarde voor skip of take.") from None  # [I]
        return rows[skip : skip + take]

    # -- payroll journal entries ---------------------------------------------------------------

    def _sb_payroll_entry(
        self, server: str, environment: SbEnvironment, request: _Request
    ) -> Response:
        tracking = request.header("tracking-identifier").strip().lower() or None
        if tracking is not None and not _UUID.match(tracking):
            return _invalid_uuid("Tracking-Identifier")  # [I] the header is format: uuid
        remembered = (server, environment.name, tracking or "")
        if tracking is not None and remembered in self._sb_remembered:
            self.sb_repeats += 1
            return self._sb_remembered[remembered]
        response = self._sb_book_payroll_entry(server, environment, request, tracking)
        if tracking is not None:
            # Spec 6.0.0, Tracking-Identifier: "The response will be the same as the first
            # response", errors included: a repeat gets this answer again, nothing is processed.
            self._sb_remembered[remembered] = response
        return response

    def _sb_book_payroll_entry(
        self, server: str, environment: SbEnvironment, request: _Request, tracking: str | None
    ) -> Response:
        try:
            document = json.loads(request.body, parse_float=Decimal)
        except (UnicodeDecodeError, ValueError):
            return sb_error(400, "Invalid JSON request", "DS3100", "DeserializationException")
        if not isinstance(document, dict):
            return sb_error(400, "Invalid JSON request", "DS3100", "DeserializationException")
        missing = [
            key
            for key in ("AdministrationId", "Description", "Date", "PayrollJournalEntryLine")
            if document.get(key) in (None, "", [])
        ]
        if missing:
            return sb_error(
                400,
                "Invalid JSON request Required properties are missing from object: "
                + ", ".join(missing) + ".",
                "DS3100", "DeserializationException",
            )  # fmt: skip
        if not _UUID.match(str(document["AdministrationId"])):
            return _invalid_uuid("AdministrationId")
        administration = environment.administrations.get(str(document["AdministrationId"]).lower())
        if administration is None:
            return sb_error(
                400, f"Administratie '{document['AdministrationId']}' bestaat niet.",
                "ValidationException",
            )  # fmt: skip
        lines: list[tuple[str, Decimal, Decimal]] = []
        for raw in document["PayrollJournalEntryLine"]:
            number = str(raw.get("LedgerAccountNumber") or "") if isinstance(raw, dict) else ""
            if not number:
                return sb_error(
                    400,
                    "Invalid JSON request Required properties are missing from object: "
                    "LedgerAccountNumber.",
                    "DS3100", "DeserializationException",
                )  # fmt: skip
            if number not in administration.accounts:
                # [I] text; the documented error shape
                return sb_error(
                    400, f"Grootboekrekening '{number}' bestaat niet.", "ValidationException"
                )
            if number in administration.refused_accounts:
                return sb_error(
                    400, f"Grootboekrekening '{number}' is geblokkeerd.", "ValidationException"
                )  # [I] text
            try:
                debit = Decimal(str(raw.get("AmountDebit") or 0))
                credit = Decimal(str(raw.get("AmountCredit") or 0))
            except InvalidOperation:
                return sb_error(400, "Invalid JSON request: amount", "DS3100")
            if debit != debit.quantize(Decimal("0.01")) or credit != credit.quantize(
                Decimal("0.01")
            ):
                return sb_error(400, "Invalid JSON request: multipleOf 0.01", "DS3100")  # schema
            lines.append((number, debit, credit))
        if sum(d for _, d, _ in lines) != sum(c for _, _, c in lines):
            return sb_error(400, "De journaalpost is niet in balans.", "ValidationException")  # [I]
        count = sum(len(a.bookings) for a in environment.administrations.values()) + 1
        booking = SbBooking(
            environment=environment.name,
            administration_id=administration.id,
            description=str(document["Description"]),
            date=str(document["Date"]),
            lines=lines,
            tracking_identifier=tracking,
            instance_id=str(uuid.uuid4()),
            code=f"Memoriaalboeking{count}",
            server=server,
        )
        administration.bookings.append(booking)
        payload: dict[str, Any] = {
            "result": "Succeeded",
            "instances": [{"Code": booking.code, "Id": booking.instance_id}],
            "errors": [],
        }
        if self.sb_partially_succeed:
            payload["result"] = "PartiallySucceeded"
            payload["errors"] = [{"PayrollJournalEntryLine": "Regel 2 kon niet worden verwerkt."}]
        return json_response(200, payload)


def _invalid_uuid(name: str) -> Response:
    """The spec's example "Bad request - Invalid UUID" (components.responses.400)."""
    return sb_error(
        400,
        f"Invalid JSON request String '' does not validate against format 'uuid'. Path '{name}'.",
        "DS3100",
        "DeserializationException",
    )


def _filtered(environment: SbEnvironment, wanted: str) -> list[SbAdministration]:
    """``filter=AdministrationId eq <uuid>`` (a uuid unquoted, or quoted as a string)."""
    admins = list(environment.administrations.values())
    if not wanted.strip():
        return admins
    match = re.fullmatch(r"\s*AdministrationId\s+eq\s+'?([0-9a-fA-F-]{36})'?\s*", wanted)
    if not match:
        raise ValueError("Ongeldig gebruikersfilter.")  # the spec's 400 example text
    return [a for a in admins if a.id == match.group(1).lower()]


def _period_of(administration: SbAdministration, booking: SbBooking) -> SbPeriod | None:
    if booking.period_id:
        return next((p for p in administration.periods if p.id == booking.period_id), None)
    day = date.fromisoformat(booking.date[:10])
    return next((p for p in administration.periods if p.start <= day <= p.end), None)


_JOURNAL_FILTER: Final = re.compile(
    r"\s*(AdministrationId|AccountingPeriodId|HeaderId)\s+eq\s+'?([0-9a-fA-F-]{36})'?\s*"
    r"|\s*(Number)\s+eq\s+'([^']*)'\s*"
)


def _journal_entries(environment: SbEnvironment, wanted: str) -> list[dict[str, Any]]:
    """``GET /api/journalentries`` (1.1): one row per line of every booked entry, shaped as the
    spec's example (amounts as numbers). Filter: ``eq`` terms on AdministrationId,
    AccountingPeriodId, HeaderId (uuids) or Number (a quoted string), joined by ``or``
    (filtering.md); no filter: everything."""
    terms: list[tuple[str, str]] = []
    if wanted.strip():
        for part in re.split(r"\s+or\s+", wanted.strip()):
            match = _JOURNAL_FILTER.fullmatch(part)
            if not match:
                raise ValueError("Ongeldig gebruikersfilter.")  # the spec's 400 example text
            name = match.group(1) or match.group(3)
            value = match.group(2) if match.group(1) else match.group(4)
            terms.append((name, value.lower() if match.group(1) else value))
    rows: list[dict[str, Any]] = []
    for administration in environment.administrations.values():
        accounts = administration.accounts
        for booking in administration.bookings:
            period = _period_of(administration, booking)
            fields = {
                "AdministrationId": administration.id,
                "AccountingPeriodId": period.id if period else "",
                "HeaderId": booking.instance_id,
                "Number": booking.code,
            }
            if terms and not any(fields[name] == value for name, value in terms):
                continue
            for index, (number, debit, credit) in enumerate(booking.lines):
                rows.append(
                    {
                        "LineId": str(
                            uuid.uuid5(uuid.NAMESPACE_URL, f"{booking.instance_id}/{index}")
                        ),
                        "AmountDebit": debit,
                        "AmountCredit": credit,
                        "AmountTotal": debit - credit,
                        "VatPercentage": None,
                        "VatSection": None,
                        "VatAmount": None,
                        "AdministrationId": administration.id,
                        "HeaderId": booking.instance_id,
                        "Number": booking.code,
                        "PostingDate": f"{booking.date[:10]}T00:00:00Z",
                        "DocumentDate": f"{booking.date[:10]}T00:00:00Z",
                        "AccountingPeriodId": fields["AccountingPeriodId"],
                        "AccountingYearId": str(
                            uuid.uuid5(uuid.NAMESPACE_URL, f"{administration.id}/{period.year}")
                        )
                        if period
                        else "",
                        "LedgerAccountId": accounts[number].id if number in accounts else "",
                        "Description": booking.description,
                        "DocumentIdentification": None,
                    }
                )
    return rows
