"""AFAS sandbox: AFAS Profit REST and AFAS SB in one loopback HTTP server (dev and tests only).

    sandbox = start_afas_sandbox(default_scenario())
    sandbox.profit_url_template  # AFAS_PROFIT_URL: http://127.0.0.1:PORT/{environment}/ProfitRestServices
    sandbox.sb_url_template      # AFAS_SB_URL:     http://127.0.0.1:PORT/{environment}
    ...
    sandbox.stop()

**Profit** under ``/{environmentNumber}/ProfitRestServices``, answering as AFAS's published
specification (``/work/shared/specs/afas/profit/Mutaties.json``; docs/afas.md) and its examples
do: ``AfasToken <base64 of the token XML>`` auth (401 without a body for a bad, unknown, revoked
or other-environment token, and for a connector missing from the App Connector);
``GET /MetaInfo`` listing the connectors of the token's App Connector as ``{id, description}``
with ``"tokenExpiry": "0"``; GetConnectors
``Profit_Administrations``, ``Profit_Journals``, ``Profit_Accounts``,
``Profit_Allocation_Assigments``, ``Profit_periods_per_administration``,
``Profit_Transactions`` and ``Profit_Transactions_Allocated`` with skip/take, ``orderbyfieldids`` and
``filterfieldids``/``filtervalues``/``operatortypes``; ``POST /connectors/FiEntries`` validating
as AFAS does (journal, period, accounts, allocation axes, balance, no EnNo) and answering 201
``{"results": {"FiEntries": {"EnNo", "UnId", "InID"}}}`` (the published example) or 500
``{externalMessage, errorNumber, profitLogReference}``. Rows carry the published fields and types
(``DimAx1..5``, ``DimAx`` and ``ToProject`` are codes, strings). ``profit_missing_connector =
"500"`` answers a missing connector with AFAS's "not supported / not authorized" text instead.
Duplicate ``BpNr`` values are accepted, as Profit does. ``profit_log`` keeps every Profit request
with its answer (tests/contract validates both against the published schemas).

**SB**: see :mod:`devtools.sandbox.afas_sb` (several API servers, Admin Centers, endpoint
groups, answers as the published spec's examples); its names are importable from here too.

**Faults** per test: :meth:`AfasSandbox.inject` with a :class:`Fault` (or the helpers
``throttle``, ``book_then_fail``, ``book_then_drop``, ``book_then_hang``, ``slow``), ``latency``
for every call, ``maintenance`` (503 with ``retry_after`` everywhere), and per-path call counters.

The texts of AFAS errors are the documented ones where AFAS documents them ([C] in
afas-api.md §2.7 and seeds/003); the others are our guesses, marked [I].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import socket
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from devtools.sandbox import afas_sb, announce
from devtools.sandbox.afas_sb import (
    SbEnvironment,
    SbSandboxMixin,
    SbServer,
    add_default_sb,
    sb_error,
)
from shared.afas.wire import dumps

# The SB part lives in devtools/sandbox/afas_sb.py; its names stay importable from here.
ACCOUNTANT = afas_sb.ACCOUNTANT
ATLAS = afas_sb.ATLAS
ATLAS_ADMINISTRATION_ID = afas_sb.ATLAS_ADMINISTRATION_ID
BIERLING = afas_sb.BIERLING
BIERLING_ADMINISTRATION_ID = afas_sb.BIERLING_ADMINISTRATION_ID
REPORTING_GROUP = afas_sb.REPORTING_GROUP
SB_ADMINISTRATION_ID = afas_sb.SB_ADMINISTRATION_ID
SB_CLIENT_ID = afas_sb.SB_CLIENT_ID
SB_CLIENT_SECRET = afas_sb.SB_CLIENT_SECRET
SB_ENVIRONMENT = afas_sb.SB_ENVIRONMENT
CapturedRequest = afas_sb.CapturedRequest
SbAccount = afas_sb.SbAccount
SbAdministration = afas_sb.SbAdministration
SbBooking = afas_sb.SbBooking

# -- tokens and well-known values -----------------------------------------------------------------

UPDATE_CONNECTORS: Final = frozenset({"FiEntries"})
GET_CONNECTORS: Final = (
    "Profit_Administrations",
    "Profit_Journals",
    "Profit_Accounts",
    "Profit_Allocation_Assigments",
    "Profit_periods_per_administration",
    "Profit_Transactions",
    "Profit_Transactions_Allocated",
)
CONNECTOR_FIELDS: Final = {  # the published row fields (Mutaties.json, GET /connectors/{name})
    "Profit_Administrations": ("AdminId", "AdminNm", "AdminCd"),
    "Profit_Journals": ("UnitId", "JournalId", "Description", "JournalType", "Blocked"),
    "Profit_Accounts": ("Account", "Description", "Type", "Sort", "Blocked", "CollectAccount",
                        "CollectAccountType", "Feature", "CollectOn", "VatAllowed", "VatCode",
                        "Budget", "ToProject", "DimAx1", "DimAx2", "DimAx3", "DimAx4", "DimAx5"),
    "Profit_Allocation_Assigments": ("Unit", "Account", "DimAx", "AxDescription", "DimCode",
                                     "CodeDescription"),
    "Profit_periods_per_administration": ("Unit", "Year", "Period", "PeriodDesc", "DateFrom",
                                          "DateTo", "Blocked", "Periodtable", "TableDesc"),
    "Profit_Transactions": ("UnitId", "EntryNo", "SeqNo", "Year", "Period", "JournalId",
                            "AccountNo", "AmtDebit", "AmtCredit", "EntryDate", "InvoiceId",
                            "VoucherDate", "VoucherNo", "VatCode", "VatAmt", "Description",
                            "Created", "Modified"),
    "Profit_Transactions_Allocated": ("UnitId", "EntryNo", "SeqNo", "Year", "Period", "JournalId",
                                      "AccountNo", "Omschrijving", "AmtDebit", "AmtCredit",
                                      "EntryDate", "InvoiceId", "VoucherDate", "VoucherNo",
                                      "VatCode", "VatAmt", "Description", "Created", "Modified",
                                      "Type", "Collect_On", "DimAx1", "DimAx2", "DimAx3", "DimAx4",
                                      "DimAx5"),
}  # fmt: skip


def token_data(label: str) -> str:
    """A deterministic 64-hex token data part for a label (sandbox tokens are not secret)."""
    return hashlib.sha256(f"afas-sandbox|{label}".encode()).hexdigest().upper()


def token_xml(data: str) -> str:
    return f"<token><version>1</version><data>{data}</data></token>"


PROFIT_NUMBER: Final = "12345"
PROFIT_NAME: Final = "O12345AA"
PROFIT_TOKEN: Final = token_xml(token_data("full"))
PROFIT_TOKEN_WITHOUT_FIENTRIES: Final = token_xml(token_data("no-fientries"))
PROFIT_TOKEN_WITHOUT_TRANSACTIONS: Final = token_xml(token_data("no-transactions"))

PROFIT_LOG_SIZE: Final = 5_000
UPDATE_DESCRIPTIONS: Final = {"FiEntries": "Financiële mutatie"}  # Mutaties.json summary

# -- Profit messages (Dutch, as Profit answers with Accept-Language nl-nl) ------------------------

GENERIC_ERROR: Final = -2147220469
MSG_UPDATE_NOT_SUPPORTED: Final = (  # [C3] S30, errorNumber -2147180996
    "General message: Deze UpdateConnector wordt niet ondersteund of de gebruiker is niet "
    "geautoriseerd."
)
MSG_GET_NOT_SUPPORTED: Final = (  # [C] S5 (English only documented)
    "GetConnector not supported for this app or the user is not authorized"
)
MSG_FIELD_NOT_FOUND: Final = "Connector field '{field}' not found"  # [C] S5
MSG_NO_UNIT: Final = "No unit available"  # [I] S35
MSG_JOURNAL_UNKNOWN: Final = "De ingevulde waarde bij 'Dagboek' bestaat niet."  # [I]
MSG_JOURNAL_BLOCKED: Final = "Dagboek '{code}' is geblokkeerd."  # [I]
MSG_PERIOD_MISSING: Final = "Periode {period} van boekjaar {year} bestaat niet."  # [I]
MSG_PERIOD_BLOCKED: Final = (
    "Voor deze administratie is periode {period} van jaar {year} geblokkeerd."  # [C]
)
MSG_DATE_BLOCKED: Final = "Datum '{date}' valt in een geblokkeerde periode"  # [C]
MSG_ENTRY_NUMBER: Final = (  # [I] S35
    "Bij toevoegen journaalpost mag het journaalpostnummer niet worden opgegeven."
)
MSG_ACCOUNT_EMPTY: Final = "Vul een waarde in bij 'Rekeningnummer'."  # [C]
MSG_ACCOUNT_UNKNOWN: Final = "De ingevulde waarde bij 'Rekeningnummer' bestaat niet."  # [C]
MSG_ACCOUNT_BLOCKED: Final = "Boekingen op geblokkeerde rekening niet toegestaan"  # [C] 96995
MSG_NO_AMOUNT: Final = "eErrFiEntryNoAmountOnEntryLine"  # [I] S35
MSG_AXIS_REQUIRED: Final = (  # [C]
    "Code verbijzondering voor as '{axis}' moet gevuld worden voor rekening {account}"
)
MSG_NOT_ASSIGNED: Final = (  # [C] seeds/003
    "Voor code verbijzondering '{code}' is geen toewijzing bij rekening '{account}' of de "
    "toewijzing is geblokkeerd."
)
MSG_PROJECT_REQUIRED: Final = "Projectboeking is verplicht voor grootboekrekening {account}."  # [I]
MSG_NOT_BALANCED: Final = "De journaalpost is niet in balans. Het verschil is {difference}."  # [I]
MSG_BAD_AMOUNT: Final = "De ingevulde waarde bij '{field}' is geen geldig bedrag."  # [I]
MSG_MISSING_FIELD: Final = "Vul een waarde in bij '{field}'."  # [C] pattern
MSG_LOCKED: Final = (  # [I] text; [C] S5 for the situation
    "De boekingslayout is in gebruik door een andere gebruiker. Probeer het later opnieuw."
)
MSG_MAINTENANCE: Final = "AFAS Online is tijdelijk niet beschikbaar wegens onderhoud."  # [I]
MSG_UNEXPECTED: Final = "Er is een onverwachte fout opgetreden."  # [I]


# -- scenario: Profit ---------------------------------------------------------------------------


@dataclass
class Account:
    number: str
    description: str
    blocked: bool = False
    axes: tuple[int, ...] = ()  # positions n of the account's allocation axes (DimAx{n} filled)
    requires_project: bool = False  # answered as ToProject "1" (the code table is unpublished [I])
    type: str = "Kosten"


@dataclass
class Journal:
    code: str
    description: str
    type: str = "M"  # [I] which JournalType code means "memoriaal" is not documented
    blocked: bool = False


@dataclass
class Period:
    year: int
    period: int
    start: date
    end: date
    blocked: bool = False
    malformed: bool = False  # its row goes out with an empty DateFrom (bad data in AFAS)


@dataclass
class BookedLine:
    sequence: int
    account: str
    description: str
    debit: Decimal
    credit: Decimal
    entry_date: date
    voucher_date: date | None
    voucher_number: str
    dimensions: dict[int, str]
    project: str | None = None


@dataclass
class BookedEntry:
    environment: str
    administration: int
    entry_number: int
    journal: str
    year: int
    period: int
    lines: list[BookedLine]
    booked_at: datetime

    @property
    def voucher_numbers(self) -> set[str]:
        return {line.voucher_number for line in self.lines}


@dataclass
class ProfitAdministration:
    number: int
    name: str
    journals: dict[str, Journal] = field(default_factory=dict)
    assignments: set[tuple[str, int, str]] = field(default_factory=set)  # (account, axis, code)
    code_descriptions: dict[tuple[int, str], str] = field(default_factory=dict)
    periods: list[Period] = field(default_factory=list)
    entries: list[BookedEntry] = field(default_factory=list)
    next_entry_number: int = 1001

    def add_journal(self, code: str, description: str, **kwargs: Any) -> Journal:
        journal = Journal(code, description, **kwargs)
        self.journals[code] = journal
        return journal

    def assign(self, account: str, axis: int, code: str, description: str = "") -> None:
        self.assignments.add((account, axis, code))
        self.code_descriptions[(axis, code)] = description or code

    def period_of(self, day: date) -> Period | None:
        return next((p for p in self.periods if p.start <= day <= p.end), None)

    def find_period(self, year: int, number: int) -> Period | None:
        return next((p for p in self.periods if (p.year, p.period) == (year, number)), None)


@dataclass
class AppConnector:
    """What one token may do: the connectors of its App Connector."""

    name: str = "Loonbrug"
    update_connectors: frozenset[str] = UPDATE_CONNECTORS
    get_connectors: frozenset[str] = frozenset(GET_CONNECTORS)
    revoked: bool = False
    expires: datetime | None = None


@dataclass
class ProfitEnvironment:
    number: str
    name: str
    accounts: dict[str, Account] = field(default_factory=dict)  # one chart for the environment [I]
    administrations: dict[int, ProfitAdministration] = field(default_factory=dict)
    axis_names: dict[int, str] = field(
        default_factory=lambda: {1: "Kostenplaats", 2: "Kostendrager"}
    )
    # The code of the allocation axis at each position: Profit_Accounts.DimAx{n} and
    # Profit_Allocation_Assigments.DimAx answer it (strings, as published). [I] values.
    axis_codes: dict[int, str] = field(default_factory=lambda: {1: "KPL", 2: "KDR"})
    tokens: dict[str, AppConnector] = field(default_factory=dict)  # token data → App Connector

    def axis_code(self, position: int) -> str:
        return self.axis_codes.get(position, f"AS{position}")

    def add_account(self, number: str, description: str, **kwargs: Any) -> Account:
        account = Account(number, description, **kwargs)
        self.accounts[number] = account
        return account

    def add_administration(
        self,
        number: int,
        name: str,
        *,
        journal: tuple[str, str] | None = ("80", "Memoriaal lonen"),
        years: Iterable[int] = range(2023, 2028),
        blocked_years: Iterable[int] = (2023,),
    ) -> ProfitAdministration:
        administration = ProfitAdministration(number, name)
        if journal is not None:
            administration.add_journal(*journal)
        administration.periods = monthly_periods(years, blocked_years=blocked_years)
        self.administrations[number] = administration
        return administration

    def add_token(self, data: str, connector: AppConnector | None = None) -> str:
        """Register a token (its 64-hex data part); answers the token XML as AFAS shows it."""
        self.tokens[data.upper()] = connector or AppConnector()
        return token_xml(data)

    def revoke(self, token: str) -> None:
        self.tokens[_token_data_of(token)].revoked = True


def monthly_periods(years: Iterable[int], *, blocked_years: Iterable[int] = ()) -> list[Period]:
    """Twelve calendar-month periods per year (AFAS's default period table)."""
    blocked = set(blocked_years)
    periods = []
    for year in years:
        for month in range(1, 13):
            start = date(year, month, 1)
            end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
            periods.append(Period(year, month, start, end, blocked=year in blocked))
    return periods


@dataclass
class AfasScenario:
    profit: dict[str, ProfitEnvironment] = field(default_factory=dict)
    sb: dict[str, SbEnvironment] = field(default_factory=dict)  # the AFAS_SB_URL server
    sb_clients: dict[str, str] = field(default_factory=dict)  # client_id → client_secret
    sb_servers: dict[str, SbServer] = field(default_factory=dict)  # accountants' subdomains

    def add_profit_environment(self, number: str, name: str) -> ProfitEnvironment:
        environment = ProfitEnvironment(number, name)
        self.profit[number] = environment
        return environment

    def add_sb_environment(self, name: str) -> SbEnvironment:
        environment = SbEnvironment(name.lower())
        self.sb[environment.name] = environment
        return environment


PAYROLL_ACCOUNTS: Final = (
    # number, description, axes, blocked
    ("4000", "Brutolonen", (1,), False),
    ("4100", "Sociale lasten werkgever", (1,), False),
    ("4110", "Pensioenlasten", (), False),
    ("1600", "Netto lonen", (), False),
    ("1710", "Af te dragen loonheffing", (), False),
    ("1720", "Af te dragen pensioenpremie", (), False),
    ("4999", "Oude loonkosten (geblokkeerd)", (), True),
)
COST_CENTRES: Final = (("100", "Directie"), ("200", "Productie"), ("300", "Verkoop"))


def add_payroll_chart(environment: ProfitEnvironment) -> None:
    for number, description, axes, blocked in PAYROLL_ACCOUNTS:
        environment.add_account(number, description, axes=axes, blocked=blocked)


def add_cost_centres(administration: ProfitAdministration, accounts: Iterable[str]) -> None:
    for account in accounts:
        for code, description in COST_CENTRES:
            administration.assign(account, 1, code, description)


def default_scenario() -> AfasScenario:
    """One Profit environment 12345 (O12345AA) with administration 1 (journal 80 memoriaal,
    journal 81 blocked, 2023 closed, cost centres 100/200/300 on axis 1 for 4000 and 4100,
    blocked account 4999) and tokens with and without FiEntries / Profit_Transactions; one SB
    environment "enyoi" with one administration, accountant server "beers" with customers
    "atlas" and "bierling" and an Admin Center; the SB OAuth client sb-client/sb-secret."""
    scenario = AfasScenario(sb_clients={SB_CLIENT_ID: SB_CLIENT_SECRET})
    profit = scenario.add_profit_environment(PROFIT_NUMBER, PROFIT_NAME)
    add_payroll_chart(profit)
    administration = profit.add_administration(1, "Demo Holding B.V.")
    administration.add_journal("81", "Memoriaal oud", blocked=True)
    add_cost_centres(administration, ("4000", "4100"))
    profit.add_token(token_data("full"))
    profit.add_token(token_data("no-fientries"), AppConnector(update_connectors=frozenset()))
    profit.add_token(
        token_data("no-transactions"),
        AppConnector(get_connectors=frozenset(GET_CONNECTORS) - {"Profit_Transactions"}),
    )
    add_default_sb(scenario, [(n, d) for n, d, _axes, blocked in PAYROLL_ACCOUNTS if not blocked])
    return scenario


# -- faults -------------------------------------------------------------------------------------


class FaultKind(StrEnum):
    STATUS = "status"  # answer `status` without processing
    DROP = "drop"  # close the connection without processing or answering
    SLOW = "slow"  # wait `delay` seconds, then process normally
    BOOK_THEN_STATUS = "book-then-status"  # process (book!), then answer `status` instead
    BOOK_THEN_DROP = "book-then-drop"  # process (book!), then close the connection unanswered
    BOOK_THEN_HANG = "book-then-hang"  # process (book!), hold the connection `delay` s, close
    # process (book!), then answer `status` with `message` as the raw body ("" or None: empty),
    # e.g. Profit's 201 without a readable entry number
    BOOK_THEN_BODY = "book-then-body"
    # answer `status` (e.g. 307) with `message` as the Location, without processing: a gateway
    # or proxy redirecting the request elsewhere
    REDIRECT = "redirect"


@dataclass
class Fault:
    kind: FaultKind
    path: str  # case-insensitive substring of the request path, e.g. "connectors/FiEntries"
    method: str | None = None
    status: int = 503
    retry_after: int | str | None = None  # a str goes out as it stands ("inf", "1e12", a date)
    delay: float = 0.0
    message: str | None = None
    times: int = 1  # how many matching requests it hits; then it is spent

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path.lower() in path.lower()
        )


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfitExchange:
    """One Profit request the sandbox answered, with its answer (``AfasSandbox.profit_log``)."""

    request: _Request
    response: _Response

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def endpoint(self) -> str:
        """The path below ``/ProfitRestServices``, e.g. ``/connectors/FiEntries``."""
        return "/" + self.request.path.split("/", 3)[3] if self.request.path.count("/") >= 3 else ""

    def header(self, name: str) -> str:
        return self.request.header(name.lower())

    def json(self) -> Any:
        return json.loads(self.response.body) if self.response.body else None


def _unauthorized() -> _Response:
    """Profit's 401 as published (Mutaties.json components.responses.401: "valid token but no
    access to this endpoint"; Content-Type application/xml, Content-Length 0): no body."""
    return _Response(401, b"", {"Content-Type": "application/xml; charset=utf-8"})


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(
        status, dumps(payload), {"Content-Type": "application/json", **(headers or {})}
    )


# -- the server ---------------------------------------------------------------------------------


class AfasSandbox(SbSandboxMixin):
    """The running sandbox: ``url``, ``stop()``, the scenario, faults and inspection helpers."""

    scenario: AfasScenario

    def __init__(self, scenario: AfasScenario, port: int = 0) -> None:
        self.scenario = scenario
        self.lock = threading.RLock()
        self.calls: Counter[str] = (
            Counter()
        )  # "POST /12345/ProfitRestServices/connectors/FiEntries"
        self.faults: list[Fault] = []
        self.latency = 0.0
        self.maintenance: int | None = None  # retry_after seconds while "in maintenance"
        # The FiEntries 201 body: "results.FiEntries" is the published example (Mutaties.json);
        # "FiEntryPar" the how-to's (howto-finance-mutation.md); "results.FiEntryPar" [I].
        self.profit_response_shape = "results.FiEntries"
        # A connector missing from the App Connector: "401" as published (Mutaties.json
        # components.responses.401, no body) or "500" with AFAS's "not supported" text.
        self.profit_missing_connector = "401"
        # When set, GET /MetaInfo answers exactly this body (e.g. the published example).
        self.profit_metainfo_answer: dict[str, Any] | None = None
        # Every Profit request with the answer it got (contract tests validate both); the last
        # PROFIT_LOG_SIZE only, so a long demo or benchmark does not grow without bound.
        self.profit_log: deque[ProfitExchange] = deque(maxlen=PROFIT_LOG_SIZE)
        self.sb_deny_consent = False
        self.sb_partially_succeed = False
        self.sb_grants: Counter[str] = Counter()
        self.sb_repeats = 0
        self.profit_errors: list[dict[str, Any]] = []
        self.last_headers: dict[str, dict[str, str]] = {}
        # When set, every answer carries this Set-Cookie (a load balancer's affinity cookie):
        # a client must never send it back on another office's or connection's call.
        self.set_cookie: str | None = None
        self._sb_setup()
        self._stopping = threading.Event()
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle + delayed ACK
                # add ~40 ms to every keep-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                sandbox._serve(self)

            do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        announce(self)

    # -- public -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def profit_url_template(self) -> str:
        return f"{self.url}/{{environment}}/ProfitRestServices"

    def settings_env(self) -> dict[str, str]:
        """The app settings that point Loonbrug at this sandbox."""
        return {"AFAS_PROFIT_URL": self.profit_url_template, **self.sb_settings_env()}

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def throttle(
        self, path: str, *, status: int = 429, retry_after: int | str = 1, times: int = 1
    ) -> Fault:
        return self.inject(
            Fault(FaultKind.STATUS, path, status=status, retry_after=retry_after, times=times)
        )

    def book_then_fail(self, path: str, *, status: int = 500, times: int = 1) -> Fault:
        return self.inject(
            Fault(FaultKind.BOOK_THEN_STATUS, path, method="POST", status=status, times=times)
        )

    def book_then_drop(self, path: str, *, times: int = 1) -> Fault:
        return self.inject(Fault(FaultKind.BOOK_THEN_DROP, path, method="POST", times=times))

    def book_then_hang(self, path: str, *, seconds: float, times: int = 1) -> Fault:
        return self.inject(
            Fault(FaultKind.BOOK_THEN_HANG, path, method="POST", delay=seconds, times=times)
        )

    def slow(self, path: str, *, seconds: float, times: int = 1) -> Fault:
        return self.inject(Fault(FaultKind.SLOW, path, delay=seconds, times=times))

    def count(self, fragment: str, method: str | None = None) -> int:
        """Requests whose path contains ``fragment`` (case-insensitive), optionally per method."""
        with self.lock:
            return sum(
                n
                for key, n in self.calls.items()
                if fragment.lower() in key.lower()
                and (method is None or key.startswith(method.upper() + " "))
            )

    def profit(self, number: str = PROFIT_NUMBER) -> ProfitEnvironment:
        return self.scenario.profit[number]

    def profit_entries(
        self, number: str = PROFIT_NUMBER, administration: int = 1, *, voucher: str | None = None
    ) -> list[BookedEntry]:
        with self.lock:
            entries = list(self.scenario.profit[number].administrations[administration].entries)
        return [e for e in entries if voucher is None or voucher in e.voucher_numbers]

    # -- test hooks: what people do in Profit after Loonbrug booked (the Aansluiting) ----------

    def _entry_with(self, number: str, administration: int, voucher: str) -> BookedEntry:
        entries = self.scenario.profit[number].administrations[administration].entries
        found = [e for e in entries if voucher in e.voucher_numbers]
        if not found:
            raise KeyError(f"no entry with voucher {voucher}")
        return found[0]

    def refuse_profit_connector(self, name: str, number: str = PROFIT_NUMBER) -> None:
        """Take a GetConnector out of every App Connector of the environment, as an AFAS admin
        can (AFAS then answers 401, or the 500 text with ``profit_missing_connector``)."""
        with self.lock:
            for connector in self.scenario.profit[number].tokens.values():
                connector.get_connectors = connector.get_connectors - {name}

    def delete_profit_entry(
        self, voucher: str, number: str = PROFIT_NUMBER, administration: int = 1
    ) -> BookedEntry:
        """Delete the entry with this voucher, as a user can in Profit."""
        with self.lock:
            entry = self._entry_with(number, administration, voucher)
            self.scenario.profit[number].administrations[administration].entries.remove(entry)
            return entry

    def edit_profit_line(
        self,
        voucher: str,
        account: str,
        *,
        debit: Decimal | None = None,
        credit: Decimal | None = None,
        number: str = PROFIT_NUMBER,
        administration: int = 1,
    ) -> BookedLine:
        """Change the amount of the first line on ``account`` of the entry with this voucher."""
        with self.lock:
            entry = self._entry_with(number, administration, voucher)
            line = next(ln for ln in entry.lines if ln.account == account)
            if debit is not None:
                line.debit = debit
            if credit is not None:
                line.credit = credit
            return line

    def move_profit_entry(
        self,
        voucher: str,
        year: int,
        period: int,
        *,
        number: str = PROFIT_NUMBER,
        administration: int = 1,
    ) -> BookedEntry:
        """Move the entry with this voucher to another year/period."""
        with self.lock:
            entry = self._entry_with(number, administration, voucher)
            entry.year, entry.period = year, period
            return entry

    def import_manual_copy(
        self,
        voucher: str,
        *,
        new_voucher: str = "",
        number: str = PROFIT_NUMBER,
        administration: int = 1,
    ) -> BookedEntry:
        """Book a copy of the entry with this voucher as a user importing the same payroll
        journal by hand would: same journal, period and amounts, a new entry number, and the
        voucher number of the hand import (empty: none)."""
        with self.lock:
            target = self.scenario.profit[number].administrations[administration]
            entry = self._entry_with(number, administration, voucher)
            copy = BookedEntry(
                environment=entry.environment,
                administration=entry.administration,
                entry_number=target.next_entry_number,
                journal=entry.journal,
                year=entry.year,
                period=entry.period,
                lines=[
                    replace(ln, voucher_number=new_voucher, dimensions=dict(ln.dimensions))
                    for ln in entry.lines
                ],
                booked_at=entry.booked_at,
            )
            target.next_entry_number += 1
            target.entries.append(copy)
            return copy

    def leak_scan_values(self) -> set[str]:
        """What must never appear in a log: every Profit token (data part, XML and the Base64
        header form), every SB code and token issued, every state and PKCE verifier Loonbrug
        sent, and the SB client secrets."""
        with self.lock:
            values = self.sb_leak_values()
            for environment in self.scenario.profit.values():
                for data in environment.tokens:
                    xml = token_xml(data)
                    values |= {data, xml, base64.b64encode(xml.encode()).decode()}
        return values

    # -- plumbing ---------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = _Request(
            method=handler.command.upper(),
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            raw_query=parts.query,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        key = f"{request.method} {request.path}"
        with self.lock:
            self.calls[key] += 1
            self.last_headers[key] = dict(request.headers)
            fault = self._take_fault(request)
            maintenance = self.maintenance
        if self.latency:
            self._stopping.wait(self.latency)
        if maintenance is not None:
            return self._write(
                handler, self._unavailable(request, 503, maintenance, MSG_MAINTENANCE)
            )
        if fault is not None and fault.kind is FaultKind.STATUS:
            return self._write(handler, self._fault_answer(request, fault))
        if fault is not None and fault.kind is FaultKind.DROP:
            return self._drop(handler)
        if fault is not None and fault.kind is FaultKind.REDIRECT:
            location = {"Location": fault.message or "/"}
            return self._write(handler, _Response(fault.status, b"", location))
        if fault is not None and fault.kind is FaultKind.SLOW:
            self._stopping.wait(fault.delay)
        try:
            response = self._dispatch(request)
        except Exception as exc:  # a sandbox bug must be visible, not a hang
            response = _json(500, {"message": f"sandbox error: {type(exc).__name__}: {exc}"})
        if fault is None or fault.kind is FaultKind.SLOW:
            return self._write(handler, response)
        if fault.kind is FaultKind.BOOK_THEN_STATUS:
            return self._write(handler, self._fault_answer(request, fault))
        if fault.kind is FaultKind.BOOK_THEN_BODY:
            raw = (fault.message or "").encode()
            return self._write(
                handler, _Response(fault.status, raw, {"Content-Type": "text/plain"})
            )
        if fault.kind is FaultKind.BOOK_THEN_HANG:
            self._stopping.wait(fault.delay)
        return self._drop(handler)

    def _take_fault(self, request: _Request) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.matches(request.method, request.path):
                fault.times -= 1
                return fault
        return None

    def _fault_answer(self, request: _Request, fault: Fault) -> _Response:
        if fault.status in (429, 502, 503, 504):
            return self._unavailable(request, fault.status, fault.retry_after, fault.message)
        if self._is_profit(request.path):
            if fault.status in (400, 401, 403, 404):  # published: these carry no Profit body
                return self._record_profit(request, _Response(fault.status, b""))
            return self._record_profit(request, self._profit_error(fault.message or MSG_UNEXPECTED))
        return _r(sb_error(fault.status, fault.message or "Er is een onverwachte fout opgetreden."))

    def _unavailable(
        self, request: _Request, status: int, retry_after: int | str | None, message: str | None
    ) -> _Response:
        payload: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if retry_after is not None:
            payload["retry_after"] = retry_after
            headers["Retry-After"] = str(retry_after)
        text = message or ("Te veel verzoeken." if status == 429 else MSG_MAINTENANCE)
        if self._is_profit(request.path):
            # As published (Mutaties.json components.responses.503, troubleshooting.md):
            # {"error": {"code", "message"}, "retry_after"}.
            payload.update(error={"code": str(status), "message": text})
            return self._record_profit(request, _json(status, payload, headers))
        else:
            payload.update(StatusCode=status, Message=text, TraceId=uuid.uuid4().hex)
        return _json(status, payload, headers)

    @staticmethod
    def _is_profit(path: str) -> bool:
        parts = [p for p in path.split("/") if p]
        return len(parts) >= 2 and parts[1].lower() == "profitrestservices"

    def _write(self, handler: BaseHTTPRequestHandler, response: _Response) -> None:
        try:
            handler.send_response(response.status)
            for name, value in response.headers.items():
                handler.send_header(name, value)
            if self.set_cookie is not None:
                handler.send_header("Set-Cookie", self.set_cookie)
            handler.send_header("Content-Length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self, request: _Request) -> _Response:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) >= 2 and parts[1].lower() == "profitrestservices":
            return self._profit(parts[0], parts[2:], request)
        if self.sb_route(request.path) is not None:
            return _r(self.sb_dispatch(request))
        return _Response(404, b"Not found", {"Content-Type": "text/plain"})

    # -- Profit -----------------------------------------------------------------------------

    def _profit_error(self, message: str, number: int = GENERIC_ERROR) -> _Response:
        payload = {
            "externalMessage": message,
            "errorNumber": number,
            "profitLogReference": uuid.uuid4().hex.upper(),
        }
        with self.lock:
            self.profit_errors.append(payload)
        return _json(500, payload)

    def _profit(self, number: str, rest: list[str], request: _Request) -> _Response:
        return self._record_profit(request, self._profit_answer(number, rest, request))

    def _record_profit(self, request: _Request, response: _Response) -> _Response:
        """Keep every Profit answer with its request (``profit_log``). A book-then-fail fault
        logs both the booking's answer and the answer sent instead."""
        with self.lock:
            self.profit_log.append(ProfitExchange(request, response))
        return response

    def _profit_answer(self, number: str, rest: list[str], request: _Request) -> _Response:
        environment = self.scenario.profit.get(number)
        if environment is None or len(request.raw_query) > 2049:
            return _Response(
                404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html"}
            )
        connector = self._profit_token(environment, request)
        if connector is None:
            return _unauthorized()
        route = [part.lower() for part in rest]
        if request.method == "GET" and route == ["metainfo"]:
            return self._metainfo(environment, connector)
        if request.method == "GET" and route == ["profitversion"]:
            return _json(200, {"version": "6.6.9"})
        if len(route) == 2 and route[0] == "connectors":
            if request.method == "GET":
                return self._get_connector(environment, connector, rest[1], request)
            if request.method == "POST":
                if route[1] != "fientries" or "FiEntries" not in connector.update_connectors:
                    if self.profit_missing_connector == "401":
                        return _unauthorized()
                    return self._profit_error(MSG_UPDATE_NOT_SUPPORTED, -2147180996)
                with self.lock:
                    return self._post_fi_entries(environment, request)
        return _Response(404, b"<html><body>Not Found</body></html>", {"Content-Type": "text/html"})

    def _profit_token(
        self, environment: ProfitEnvironment, request: _Request
    ) -> AppConnector | None:
        scheme, _, value = request.header("authorization").partition(" ")
        if scheme != "AfasToken" or not value:
            return None
        try:
            text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None  # since Profit 6 only the Base64 form is accepted [C] S13
        try:
            data = _token_data_of(text)
        except ValueError:
            return None
        connector = environment.tokens.get(data)
        if connector is None or connector.revoked:
            return None
        if connector.expires is not None and connector.expires < datetime.now(UTC):
            return None
        return connector

    def _metainfo(self, environment: ProfitEnvironment, connector: AppConnector) -> _Response:
        """The published shape (Mutaties.json ``/MetaInfo``): lists of ``{id, description}``
        and ``info`` with string values; ``tokenExpiry`` is ``"0"`` as in the published example
        unless the scenario gives the token an expiry ([I]: then an ISO date-time)."""
        if self.profit_metainfo_answer is not None:
            return _json(200, self.profit_metainfo_answer)
        expiry = connector.expires.strftime("%Y-%m-%dT%H:%M:%SZ") if connector.expires else "0"
        return _json(
            200,
            {
                "updateConnectors": [
                    {"id": name, "description": UPDATE_DESCRIPTIONS.get(name, name)}
                    for name in sorted(connector.update_connectors)
                ],
                "getConnectors": [
                    {"id": name, "description": name} for name in sorted(connector.get_connectors)
                ],
                "info": {
                    "envid": environment.name,
                    "appName": connector.name,
                    "group": f"AuthorizationGroup 101 ({environment.number}.LOONBRUG)",
                    "tokenExpiry": expiry,
                },
            },
        )

    def _get_connector(
        self, environment: ProfitEnvironment, connector: AppConnector, name: str, request: _Request
    ) -> _Response:
        canonical = {n.lower(): n for n in GET_CONNECTORS}.get(name.lower())
        allowed = {n.lower() for n in connector.get_connectors}
        if canonical is None or canonical.lower() not in allowed:
            if self.profit_missing_connector == "401":
                return _unauthorized()
            return self._profit_error(MSG_GET_NOT_SUPPORTED)
        with self.lock:
            rows = self._connector_rows(environment, canonical, _voucher_filter(request.query))
        try:
            known = CONNECTOR_FIELDS[canonical]
            rows = _filter_rows(rows, request.query, known)
            rows = _order_rows(rows, request.query.get("orderbyfieldids", ""), known)
        except _UnknownField as exc:
            return self._profit_error(MSG_FIELD_NOT_FOUND.format(field=exc.field))
        except ValueError as exc:
            return _json(400, {"message": str(exc)})
        skip = int(request.query.get("skip") or 0)
        take = int(request.query.get("take") or 100)
        everything = skip == -1 and take == -1
        page = rows if everything else rows[max(skip, 0) : max(skip, 0) + max(take, 0)]
        return _json(200, {"skip": skip, "take": take, "rows": page})

    def _connector_rows(
        self, environment: ProfitEnvironment, name: str, voucher: str | None = None
    ) -> list[dict[str, Any]]:
        """All rows of a GetConnector; ``voucher`` only narrows Profit_Transactions early (speed,
        for big benchmark ledgers); the query's filters are applied afterwards as usual."""
        admins = sorted(environment.administrations.values(), key=lambda a: a.number)
        if name == "Profit_Administrations":
            return [
                {"AdminId": a.number, "AdminNm": a.name, "AdminCd": str(a.number)} for a in admins
            ]
        if name == "Profit_Journals":
            return [
                {
                    "UnitId": a.number,
                    "JournalId": j.code,
                    "Description": j.description,
                    "JournalType": j.type,
                    "Blocked": j.blocked,
                }
                for a in admins
                for j in a.journals.values()
            ]
        if name == "Profit_Accounts":
            return [
                {
                    "Account": acc.number,
                    "Description": acc.description,
                    "Type": acc.type,
                    "Sort": "K",
                    "Blocked": acc.blocked,
                    "CollectAccount": False,
                    "CollectAccountType": None,
                    "Feature": None,
                    "CollectOn": None,
                    "VatAllowed": False,
                    "VatCode": None,
                    "Budget": None,
                    "ToProject": "1" if acc.requires_project else None,
                    **{
                        f"DimAx{n}": environment.axis_code(n) if n in acc.axes else None
                        for n in range(1, 6)
                    },
                }
                for acc in environment.accounts.values()
            ]
        if name == "Profit_Allocation_Assigments":
            return [
                {
                    "Unit": a.number,
                    "Account": account,
                    "DimAx": environment.axis_code(axis),
                    "AxDescription": environment.axis_names.get(axis, f"As {axis}"),
                    "DimCode": code,
                    "CodeDescription": a.code_descriptions.get((axis, code), code),
                }
                for a in admins
                for account, axis, code in sorted(a.assignments)
            ]
        if name == "Profit_periods_per_administration":
            return [
                {
                    "Unit": a.number,
                    "Year": p.year,
                    "Period": p.period,
                    "PeriodDesc": f"Periode {p.period}",
                    "DateFrom": "" if p.malformed else f"{p.start.isoformat()}T00:00:00Z",
                    "DateTo": f"{p.end.isoformat()}T00:00:00Z",
                    "Blocked": p.blocked,
                    "Periodtable": 1,
                    "TableDesc": "Maanden",
                }
                for a in admins
                for p in a.periods
            ]
        if name == "Profit_Transactions_Allocated":
            # One row per line (a sandbox line has one allocation per axis); DimAx{n} is the
            # line's code on axis n, the reading shared/afas/profit.allocation_of assumes [I].
            plain = self._connector_rows(environment, "Profit_Transactions", voucher)
            accounts = environment.accounts
            return [
                {
                    **row,
                    "Omschrijving": accounts[row["AccountNo"]].description
                    if row["AccountNo"] in accounts
                    else None,
                    "Type": accounts[row["AccountNo"]].type
                    if row["AccountNo"] in accounts
                    else None,
                    "Collect_On": None,
                    **{f"DimAx{n}": dims.get(n) for n in range(1, 6)},
                }
                for row, dims in zip(
                    plain, self._line_dimensions(environment, voucher), strict=True
                )
            ]
        if name == "Profit_Transactions":
            return [
                {
                    "UnitId": a.number,
                    "EntryNo": e.entry_number,
                    "SeqNo": line.sequence,
                    "Year": e.year,
                    "Period": e.period,
                    "JournalId": e.journal,
                    "AccountNo": line.account,
                    "AmtDebit": line.debit,
                    "AmtCredit": line.credit,
                    "EntryDate": f"{line.entry_date.isoformat()}T00:00:00Z",
                    "InvoiceId": None,
                    "VoucherDate": f"{(line.voucher_date or line.entry_date).isoformat()}T00:00:00Z",
                    "VoucherNo": line.voucher_number,
                    "VatCode": None,
                    "VatAmt": Decimal("0"),
                    "Description": line.description,
                    "Created": e.booked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "Modified": e.booked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for a in admins
                for e in a.entries
                if voucher is None or voucher in {v.lower() for v in e.voucher_numbers}
                for line in e.lines
            ]
        raise AssertionError(name)

    def _line_dimensions(
        self, environment: ProfitEnvironment, voucher: str | None
    ) -> list[dict[int, str]]:
        """The allocations of the lines, in the order ``Profit_Transactions`` lists them."""
        return [
            dict(line.dimensions)
            for a in sorted(environment.administrations.values(), key=lambda a: a.number)
            for e in a.entries
            if voucher is None or voucher in {v.lower() for v in e.voucher_numbers}
            for line in e.lines
        ]

    def _post_fi_entries(self, environment: ProfitEnvironment, request: _Request) -> _Response:
        try:
            document = json.loads(request.body, parse_float=Decimal)
        except (UnicodeDecodeError, ValueError):
            return _json(400, {"message": "Invalid json"})  # [C3] S30
        try:
            entry = self._validate_entry(environment, document)
        except _Refused as refused:
            return self._profit_error(refused.message)
        administration = environment.administrations[entry.administration]
        entry.entry_number = administration.next_entry_number
        administration.next_entry_number += 1
        administration.entries.append(entry)
        shape = self.profit_response_shape
        if shape == "FiEntryPar":  # howto-finance-mutation.md "Response"
            result = {"UnId": str(entry.administration), "EnNo": str(entry.entry_number)}
            return _json(201, {"FiEntryPar": {**result, "InId": ""}})
        if shape == "results.FiEntryPar":  # [I]
            result = {"UnId": str(entry.administration), "EnNo": str(entry.entry_number)}
            return _json(201, {"results": {"FiEntryPar": result}})
        # Mutaties.json POST /connectors/FiEntries 201 "Response example": the keys as published
        # (note "InID"); a memorial entry has no invoice, so InID is empty here [I].
        published = {"EnNo": str(entry.entry_number), "UnId": str(entry.administration), "InID": ""}
        return _json(201, {"results": {"FiEntries": published}})

    def _validate_entry(self, environment: ProfitEnvironment, document: Any) -> BookedEntry:
        root = document.get("FiEntryPar") if isinstance(document, dict) else None
        element = root.get("Element") if isinstance(root, dict) else None
        if not isinstance(element, dict):
            raise _Refused("Het element 'FiEntryPar' ontbreekt of is ongeldig.")  # [I]
        header = element.get("Fields") or {}
        for key, label in (("Year", "Boekjaar"), ("Peri", "Periode"), ("JoCo", "Dagboek")):
            if header.get(key) in (None, ""):
                raise _Refused(MSG_MISSING_FIELD.format(field=label))
        unit = header.get("UnId")
        if unit in (None, ""):
            # Profit then uses the administration the user last logged in to [C] S8: the lowest.
            unit = min(environment.administrations, default=0)
        try:
            administration = environment.administrations.get(int(unit))
            year, period = int(header["Year"]), int(header["Peri"])
        except (TypeError, ValueError):
            raise _Refused(MSG_NO_UNIT) from None
        if administration is None:
            raise _Refused(MSG_NO_UNIT)
        journal = administration.journals.get(str(header["JoCo"]))
        if journal is None:
            raise _Refused(MSG_JOURNAL_UNKNOWN)
        if journal.blocked:
            raise _Refused(MSG_JOURNAL_BLOCKED.format(code=journal.code))
        found = administration.find_period(year, period)
        if found is None:
            raise _Refused(MSG_PERIOD_MISSING.format(period=period, year=year))
        if found.blocked:
            raise _Refused(MSG_PERIOD_BLOCKED.format(period=period, year=year))
        raw_lines = _elements(element.get("Objects"), "FiEntries")
        if not raw_lines:
            raise _Refused("De journaalpost heeft geen boekingsregels.")  # [I]
        lines = [
            self._validate_line(environment, administration, index, raw)
            for index, raw in enumerate(raw_lines, start=1)
        ]
        debit = sum((line.debit for line in lines), Decimal("0"))
        credit = sum((line.credit for line in lines), Decimal("0"))
        if debit != credit:
            raise _Refused(MSG_NOT_BALANCED.format(difference=_dutch_amount(abs(debit - credit))))
        return BookedEntry(
            environment=environment.number,
            administration=administration.number,
            entry_number=0,
            journal=journal.code,
            year=year,
            period=period,
            lines=lines,
            booked_at=datetime.now(UTC),
        )

    def _validate_line(
        self,
        environment: ProfitEnvironment,
        administration: ProfitAdministration,
        sequence: int,
        raw: Any,
    ) -> BookedLine:
        fields = raw.get("Fields") if isinstance(raw, dict) else None
        if not isinstance(fields, dict):
            raise _Refused("Een boekingsregel heeft geen velden.")  # [I]
        if fields.get("EnNo") not in (None, ""):
            raise _Refused(MSG_ENTRY_NUMBER)
        number = str(fields.get("AcNr") or "").strip()
        if not number:
            raise _Refused(MSG_ACCOUNT_EMPTY)
        account = environment.accounts.get(number)
        if account is None:
            raise _Refused(MSG_ACCOUNT_UNKNOWN)
        if account.blocked:
            raise _Refused(MSG_ACCOUNT_BLOCKED)
        debit = _amount(fields.get("AmDe"), "Bedrag debet")
        credit = _amount(fields.get("AmCr"), "Bedrag credit")
        if debit == 0 and credit == 0:
            raise _Refused(MSG_NO_AMOUNT)
        entry_date = _day(fields.get("EnDa"), "Datum boeking")
        containing = administration.period_of(entry_date)
        if containing is not None and containing.blocked:
            raise _Refused(
                MSG_DATE_BLOCKED.format(
                    date=f"{entry_date.day}-{entry_date.month}-{entry_date.year}"
                )
            )
        dims = _elements(raw.get("Objects"), "FiDimEntries")
        dim_fields = dims[0].get("Fields", {}) if dims and isinstance(dims[0], dict) else {}
        dimensions = {
            axis: str(dim_fields[f"DiC{axis}"]).strip()
            for axis in range(1, 6)
            if str(dim_fields.get(f"DiC{axis}") or "").strip()
        }
        for axis in account.axes:
            if axis not in dimensions:
                raise _Refused(
                    MSG_AXIS_REQUIRED.format(
                        axis=environment.axis_names.get(axis, f"As {axis}"), account=number
                    )
                )
        for axis, code in dimensions.items():
            if (
                axis in environment.axis_names
                and (number, axis, code) not in administration.assignments
            ):
                raise _Refused(MSG_NOT_ASSIGNED.format(code=code, account=number))
        project = str(fields.get("PrId") or "").strip() or None
        if (
            account.requires_project
            and project is None
            and not _elements(raw.get("Objects"), "FiPrjEntries")
        ):
            raise _Refused(MSG_PROJECT_REQUIRED.format(account=number))
        voucher_date = fields.get("BpDa")
        return BookedLine(
            sequence=sequence,
            account=number,
            description=str(fields.get("Ds") or ""),
            debit=debit,
            credit=credit,
            entry_date=entry_date,
            voucher_date=_day(voucher_date, "Boekstukdatum") if voucher_date else None,
            voucher_number=str(fields.get("BpNr") or ""),
            dimensions=dimensions,
            project=project,
        )


# -- helpers ------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _UnknownField(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.field = name


def _token_data_of(text: str) -> str:
    match = re.search(r"<data>\s*([0-9A-Fa-f]+)\s*</data>", text)
    if not match:
        raise ValueError("no token data")
    return match.group(1).upper()


def _elements(objects: Any, name: str) -> list[Any]:
    """``Objects`` → the ``Element`` list of sub-object ``name`` (array or object forms)."""
    holder = None
    if isinstance(objects, dict):
        holder = objects.get(name)
    elif isinstance(objects, list):
        holder = next((o[name] for o in objects if isinstance(o, dict) and name in o), None)
    element = holder.get("Element") if isinstance(holder, dict) else None
    if isinstance(element, dict):
        return [element]
    return list(element) if isinstance(element, list) else []


def _amount(value: Any, label: str) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    if isinstance(value, bool):
        raise _Refused(MSG_BAD_AMOUNT.format(field=label))
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise _Refused(MSG_BAD_AMOUNT.format(field=label)) from None
    if not result.is_finite() or result < 0:
        raise _Refused(MSG_BAD_AMOUNT.format(field=label))
    return result


def _day(value: Any, label: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise _Refused(MSG_MISSING_FIELD.format(field=label)) from None


def _dutch_amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


_OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "1": lambda a, b: a == b,
    "2": lambda a, b: a is not None and a >= b,
    "3": lambda a, b: a is not None and a <= b,
    "4": lambda a, b: a is not None and a > b,
    "5": lambda a, b: a is not None and a < b,
    "6": lambda a, b: str(b).lower() in str(a or "").lower(),
    "7": lambda a, b: a != b,
    "8": lambda a, b: a in (None, ""),
    "9": lambda a, b: a not in (None, ""),
    "10": lambda a, b: str(a or "").lower().startswith(str(b).lower()),
    "11": lambda a, b: str(b).lower() not in str(a or "").lower(),
    "12": lambda a, b: not str(a or "").lower().startswith(str(b).lower()),
    "13": lambda a, b: str(a or "").lower().endswith(str(b).lower()),
    "14": lambda a, b: not str(a or "").lower().endswith(str(b).lower()),
}


def _coerce(sample: Any, raw: str) -> Any:
    if isinstance(sample, bool):
        return raw.strip().lower() in ("true", "1")
    if isinstance(sample, int):
        return int(raw)
    if isinstance(sample, Decimal):
        return Decimal(raw)
    return raw.lower()


def _normal(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _voucher_filter(query: Mapping[str, str]) -> str | None:
    """The VoucherNo of an AND-only ``=`` filter, lower-cased, if the query has one."""
    fields, values, operators = (
        query.get(key, "") for key in ("filterfieldids", "filtervalues", "operatortypes")
    )
    if ";" in fields or not fields:
        return None
    for name, value, operator in zip(
        fields.split(","), values.split(","), operators.split(","), strict=False
    ):
        if name == "VoucherNo" and operator == "1":
            return value.lower()
    return None


def _filter_rows(
    rows: list[dict[str, Any]], query: Mapping[str, str], known: Iterable[str]
) -> list[dict[str, Any]]:
    """``filterfieldids``/``filtervalues``/``operatortypes``: ',' is AND, ';' is OR [C] S6."""
    fields = query.get("filterfieldids", "")
    if not fields:
        return rows
    groups = [
        list(zip(f.split(","), v.split(","), o.split(","), strict=True))
        for f, v, o in zip(
            fields.split(";"),
            query.get("filtervalues", "").split(";"),
            query.get("operatortypes", "").split(";"),
            strict=True,
        )
    ]
    for group in groups:
        for name, _value, operator in group:
            if name not in known:
                raise _UnknownField(name)
            if operator not in _OPERATORS:
                raise ValueError(f"unknown operator {operator}")

    def keep(row: dict[str, Any]) -> bool:
        for group in groups:
            try:
                if all(
                    _OPERATORS[op](_normal(row.get(name)), _coerce(row.get(name), value))
                    for name, value, op in group
                ):
                    return True
            except (ValueError, InvalidOperation, TypeError):
                continue
        return False

    return [row for row in rows if keep(row)]


def _order_rows(
    rows: list[dict[str, Any]], order: str, known: Iterable[str]
) -> list[dict[str, Any]]:
    result = list(rows)
    for spec in reversed([part for part in order.split(",") if part]):
        descending = spec.startswith("-")
        name = spec.lstrip("-")
        if name not in known:
            raise _UnknownField(name)
        result.sort(
            key=lambda row: (row.get(name) is None, _normal(row.get(name))), reverse=descending
        )
    return result


def _r(response: Any) -> _Response:
    """An SB answer as the server's response type."""
    return _Response(response.status, response.body, dict(response.headers))


def start_afas_sandbox(scenario: AfasScenario | None = None, *, port: int = 0) -> AfasSandbox:
    """Start the sandbox on 127.0.0.1 (a free port unless given) in a background thread."""
    return AfasSandbox(scenario or default_scenario(), port=port)
