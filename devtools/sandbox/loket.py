"""A Loket.nl sandbox: the OAuth server and the REST API v2, as a real HTTP server on loopback.

    sandbox = start_loket_sandbox(default_scenario())   # or build_scenario(...) for benchmarks
    sandbox.url          # http://127.0.0.1:<free port>     (LOKET_AUTH_URL)
    sandbox.api_url      # http://127.0.0.1:<free port>/v2  (LOKET_API_URL)
    sandbox.stop()

Faithful to ``../shared/docs/loket-api.md``:

* ``GET /authorize`` consents at once (no login page) and 302s to ``redirect_uri`` with
  ``state`` and ``code``, or with ``error=access_denied`` when ``deny_consent`` is set. PKCE
  (``code_challenge`` + ``S256``) is checked at the exchange when it was sent.
* ``POST /token`` (form-encoded): ``authorization_code`` and ``refresh_token`` grants, rotating
  refresh tokens with reuse detection (a spent refresh token answers ``invalid_grant`` and
  revokes its whole family, access tokens included), ``invalid_client`` on a wrong secret.
* The API under ``/v2`` with the paging envelope (``pageNumber`` from 1, ``pageSize``,
  ``totalPages`` (0 for an empty list), ``currentPage``, ``totalSize``, ``_embedded``),
  ``content`` + ``ETag`` for details, the ``version`` object, ``messages[]`` errors and the 401/403
  bodies of the spec's examples. Bearer tokens must be current access tokens (expired or
  revoked: 401).
* ``GET …/journalruns/{id}/results`` takes ``consolidate`` (``BasedOnLedgerAccountConfiguration``,
  ``Always``, ``Never``; anything else is a 400; ``Always`` merges lines per account, cost centre
  and cost unit). No paging parameters are published for it: by default every line comes in one
  page (the envelope still there); ``results_page_size`` pages it, honouring ``pageNumber``.
* ``PATCH …/journalruns/{id}`` takes ``JournalrunStatusPatch``: ``action``, ``application`` (a
  metadata object ``{key, value}``) and ``message``, nothing else; ``MarkAsProcessingFailed``
  needs a message. ``patch_bodies`` records every accepted body (``patches``: id, action, message).
* ``Accept: application/json;version=YYYY-MM-DD`` is required. Without it (or with a date before
  2018-01-01, the journal-run resources' version) the sandbox answers **406** with a
  ``messages[]`` body. (The real API is documented to serve the newest version without one; the
  sandbox is strict so a client that forgets to pin the version fails in tests.)

Fault injection, per test: :meth:`fail` (any status, ``Retry-After``), :meth:`rate_limit`,
:meth:`garbage` (non-JSON 200), :meth:`drop_fields`, :meth:`slow`, :meth:`set_run_status`
(unknown statuses too), :meth:`revoke_consent`, :meth:`expire_access_tokens`, ``deny_consent``,
``latency`` (fixed delay per call) and ``obsolete_date``. Counters: ``calls`` (per route name),
``path_calls`` (per ``METHOD /path``), ``refresh_grants``, ``reuse_detected``, ``recorded``.

Request logging is off: the sandbox sees codes and tokens in URLs, which must never reach a log.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from uuid import NAMESPACE_URL, uuid5

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.sandbox import announce
from shared.journal.models import JOURNAL_RUN_STATUS_TEXT

RESOURCE_VERSION = "2018-01-01"
CONSOLIDATE = ("BasedOnLedgerAccountConfiguration", "Always", "Never")  # /results, published
STATUS_TEXT = JOURNAL_RUN_STATUS_TEXT  # Loket's status texts: the one table in shared/journal
PERIOD_TYPES = {1: "Maand", 3: "4 weken", 4: "Week"}
DENIED_401 = {"message": "Authorization has been denied for this request."}
DENIED_403 = {"message": "Insufficient rights for this request, reason: no access to the entity."}

# -- the scenario ----------------------------------------------------------------------------------


def sandbox_id(*parts: object) -> str:
    """A stable GUID for a scenario object (the same scenario always has the same ids)."""
    return str(uuid5(NAMESPACE_URL, "loket-sandbox:" + "/".join(str(p) for p in parts)))


@dataclass
class ScenarioLine:
    account: str
    account_description: str
    debit: Decimal
    credit: Decimal
    cost_center: tuple[str, str] | None = None  # (code, description)
    cost_unit: tuple[str, str] | None = None
    component: str = "Loon"


@dataclass
class ScenarioRun:
    id: str
    sequence_number: int
    status: int
    year: int
    period_number: int
    period_start: date
    period_end: date
    payroll_run_id: str
    lines: list[ScenarioLine] = field(default_factory=list)
    test_year: bool = False
    payroll_run_sequence: int = 1
    # Loket local time without an offset, as the API writes it.
    approval_time: datetime | None = None
    request_time: datetime | None = None
    finished_time: datetime | None = None
    last_message: str | None = None  # the message of the last PATCH


@dataclass
class ScenarioAdministration:
    id: str
    name: str
    client_number: int | None
    period_type: int  # 1 monthly, 3 four-weekly, 4 weekly
    runs: list[ScenarioRun] = field(default_factory=list)
    short_name: str = ""
    administration_number: str = ""


@dataclass
class ScenarioEmployer:
    id: str
    company_name: str
    employer_number: int
    administrations: list[ScenarioAdministration] = field(default_factory=list)


@dataclass
class Scenario:
    employers: list[ScenarioEmployer] = field(default_factory=list)

    def administrations(self) -> Iterator[ScenarioAdministration]:
        for employer in self.employers:
            yield from employer.administrations

    def runs(self) -> Iterator[tuple[ScenarioAdministration, ScenarioRun]]:
        for administration in self.administrations():
            for run in administration.runs:
                yield administration, run


def monthly_period(year: int, number: int) -> tuple[date, date]:
    start = date(year, number, 1)
    end = (date(year + number // 12, number % 12 + 1, 1)) - timedelta(days=1)
    return start, end


def four_weekly_period(year: int, number: int) -> tuple[date, date]:
    start = date(year, 1, 1) + timedelta(days=28 * (number - 1))
    return start, start + timedelta(days=27)


def balanced_lines(
    rng: random.Random, count: int, *, cost_centres: bool = True
) -> list[ScenarioLine]:
    """``count`` lines (at least 2) whose debit total equals their credit total."""
    count = max(count, 2)
    centres = [("KP100", "Productie"), ("KP200", "Verkoop"), ("KP300", "Administratie")]
    units = [("KD01", "Project Noord"), ("KD02", "Project Zuid")]
    debit_accounts = [("4000", "Brutolonen"), ("4100", "Sociale lasten"), ("4200", "Pensioen")]
    credit_accounts = [
        ("1600", "Te betalen netto lonen"),
        ("1500", "Af te dragen loonheffing"),
        ("1550", "Af te dragen pensioenpremie"),
    ]
    lines: list[ScenarioLine] = []
    debit_total = Decimal("0")
    credit_total = Decimal("0")
    debits = max(1, count // 2)
    for index in range(count - 1):
        amount = Decimal(rng.randint(10_000, 2_500_000)) / 100
        if index < debits:
            account, text = debit_accounts[index % len(debit_accounts)]
            centre = centres[index % len(centres)] if cost_centres else None
            unit = units[index % len(units)] if cost_centres and index % 3 == 1 else None
            lines.append(ScenarioLine(account, text, amount, Decimal("0"), centre, unit))
            debit_total += amount
        else:
            account, text = credit_accounts[index % len(credit_accounts)]
            amount = min(amount, debit_total - credit_total - Decimal("0.01"))
            amount = max(amount, Decimal("0.01"))
            lines.append(ScenarioLine(account, text, Decimal("0"), amount, component="Inhouding"))
            credit_total += amount
    rest = debit_total - credit_total
    if rest >= 0:
        lines.append(
            ScenarioLine("1600", "Te betalen netto lonen", Decimal("0"), rest, None, None, "Netto")
        )
    else:
        lines.append(ScenarioLine("4000", "Brutolonen", -rest, Decimal("0"), None, None, "Loon"))
    return lines


def make_run(
    administration_id: str,
    sequence: int,
    status: int,
    year: int,
    period: int,
    *,
    four_weekly: bool = False,
    lines: list[ScenarioLine] | None = None,
    test_year: bool = False,
) -> ScenarioRun:
    start, end = four_weekly_period(year, period) if four_weekly else monthly_period(year, period)
    approved = datetime.combine(end - timedelta(days=4), datetime.min.time()) + timedelta(
        hours=14, minutes=30
    )
    run_id = sandbox_id(administration_id, "run", sequence)
    return ScenarioRun(
        id=run_id,
        sequence_number=sequence,
        status=status,
        year=year,
        period_number=period,
        period_start=start,
        period_end=end,
        payroll_run_id=sandbox_id(administration_id, "payrollrun", sequence),
        lines=lines or [],
        test_year=test_year,
        payroll_run_sequence=sequence,
        approval_time=approved,
        request_time=approved + timedelta(minutes=5),
        finished_time=approved + timedelta(minutes=5, seconds=29) if status not in (0,) else None,
    )


def default_scenario() -> Scenario:
    """Two employers, three payroll administrations (monthly and 4-weekly) and every kind of
    journal run the sync has to treat: ready, exported, a test-year run, a ready run without
    result lines, a run not yet ready, a failed-creation run, an export-failed run."""
    rng = random.Random(20240101)
    korenschoof = sandbox_id("employer", 1001)
    monthly = sandbox_id(korenschoof, "administration", "maand")
    four_weekly = sandbox_id(korenschoof, "administration", "4weken")
    van_dijk = sandbox_id("employer", 1002)
    van_dijk_monthly = sandbox_id(van_dijk, "administration", "maand")
    return Scenario(
        employers=[
            ScenarioEmployer(
                korenschoof,
                "Bakkerij De Korenschoof B.V.",
                1001,
                [
                    ScenarioAdministration(
                        monthly,
                        "Korenschoof maandloners",
                        4711,
                        1,
                        [
                            make_run(monthly, 1, 7, 2024, 1, lines=balanced_lines(rng, 6)),
                            make_run(monthly, 2, 4, 2024, 2, lines=balanced_lines(rng, 8)),
                            make_run(
                                monthly, 3, 4, 2024, 3, lines=balanced_lines(rng, 4), test_year=True
                            ),
                            make_run(monthly, 4, 0, 2024, 4),
                        ],
                        short_name="KS-M",
                        administration_number="D4711",
                    ),
                    ScenarioAdministration(
                        four_weekly,
                        "Korenschoof 4-wekers",
                        4712,
                        3,
                        [
                            make_run(
                                four_weekly,
                                1,
                                4,
                                2024,
                                5,
                                four_weekly=True,
                                lines=balanced_lines(rng, 5),
                            ),
                            make_run(four_weekly, 2, 4, 2024, 6, four_weekly=True, lines=[]),
                            make_run(four_weekly, 3, 2, 2024, 7, four_weekly=True),
                        ],
                        short_name="KS-4W",
                        administration_number="D4712",
                    ),
                ],
            ),
            ScenarioEmployer(
                van_dijk,
                "Installatiebedrijf Van Dijk B.V.",
                1002,
                [
                    ScenarioAdministration(
                        van_dijk_monthly,
                        "Van Dijk installatie",
                        5120,
                        1,
                        [
                            make_run(van_dijk_monthly, 1, 6, 2024, 6, lines=balanced_lines(rng, 6)),
                            make_run(van_dijk_monthly, 2, 1, 2024, 7),
                            make_run(
                                van_dijk_monthly, 3, 4, 2024, 8, lines=balanced_lines(rng, 10)
                            ),
                        ],
                        short_name="VD",
                        administration_number="D5120",
                    )
                ],
            ),
        ]
    )


def build_scenario(
    *,
    employers: int = 1,
    administrations_per_employer: int = 1,
    runs_per_administration: int = 1,
    lines_per_run: int = 4,
    status: int = 4,
    period_type: int = 1,
    year: int = 2024,
    seed: int = 0,
) -> Scenario:
    """N employers x A administrations x M runs x K balanced lines, all with ``status``
    (benchmarks: 2,000 clients = ``build_scenario(employers=2000)``)."""
    rng = random.Random(seed)
    scenario = Scenario()
    four_weekly = period_type == 3
    periods = 13 if four_weekly else 12
    for e in range(employers):
        employer = ScenarioEmployer(
            sandbox_id(seed, "employer", e), f"Werkgever {e + 1} B.V.", 10_000 + e
        )
        for a in range(administrations_per_employer):
            admin_id = sandbox_id(employer.id, "administration", a)
            administration = ScenarioAdministration(
                admin_id,
                f"Loonadministratie {e + 1}.{a + 1}",
                100_000 + e * 100 + a,
                period_type,
            )
            for r in range(runs_per_administration):
                administration.runs.append(
                    make_run(
                        admin_id,
                        r + 1,
                        status,
                        year + r // periods,
                        r % periods + 1,
                        four_weekly=four_weekly,
                        lines=balanced_lines(rng, lines_per_run) if status >= 4 else [],
                    )
                )
            employer.administrations.append(administration)
        scenario.employers.append(employer)
    return scenario


# -- OAuth state -------------------------------------------------------------------------------


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    expires: float
    used: bool = False
    family: str | None = None


@dataclass
class _Family:
    revoked: bool = False


@dataclass
class _Refresh:
    family: str
    spent: bool = False


@dataclass
class _Access:
    family: str
    expires: float


# -- faults ------------------------------------------------------------------------------------


@dataclass
class Fault:
    where: str  # a route name ("journal_runs", "token") or a path fragment starting with "/"
    kind: str  # "status" | "garbage" | "drop_fields" | "delay"
    status: int = 503
    retry_after: str | None = None
    body: Any = None
    fields: tuple[str, ...] = ()
    delay: float = 0.0
    method: str | None = None
    remaining: int | None = 1  # None: until cleared

    def matches(self, route: str, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method and self.method.upper() != method:
            return False
        return (self.where in path) if self.where.startswith("/") else self.where == route


@dataclass(frozen=True)
class RecordedCall:
    method: str
    route: str
    path: str
    query: dict[str, str]
    status: int


class _QuietHandler(WSGIRequestHandler):
    """No request log: URLs carry codes and states."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


# -- the sandbox -------------------------------------------------------------------------------

URL_MAP = Map(
    [
        Rule("/authorize", endpoint="authorize", methods=["GET"]),
        Rule("/token", endpoint="token", methods=["POST"]),
        Rule("/v2/providers/employers", endpoint="employers", methods=["GET"]),
        Rule(
            "/v2/providers/employers/<employer_id>/payrolladministrations",
            endpoint="payroll_administrations",
            methods=["GET"],
        ),
        Rule(
            "/v2/providers/employers/payrolladministrations/<administration_id>",
            endpoint="payroll_administration",
            methods=["GET"],
        ),
        Rule(
            "/v2/providers/employers/payrolladministrations/<administration_id>/journalruns",
            endpoint="journal_runs",
            methods=["GET"],
        ),
        Rule(
            "/v2/providers/employers/payrolladministrations/journalruns/<run_id>",
            endpoint="journal_run",
            methods=["GET"],
        ),
        Rule(
            "/v2/providers/employers/payrolladministrations/journalruns/<run_id>",
            endpoint="patch_journal_run",
            methods=["PATCH"],
        ),
        Rule(
            "/v2/providers/employers/payrolladministrations/journalruns/<run_id>/results",
            endpoint="journal_run_results",
            methods=["GET"],
        ),
        Rule(
            "/v2/providers/employers/payrolladministrations/payrollruns/<payroll_run_id>",
            endpoint="payroll_run",
            methods=["GET"],
        ),
    ],
    strict_slashes=False,
)


def _administration_json(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "shortName": a.short_name,
        "clientNumber": a.client_number,
        "administrationNumber": a.administration_number,
        "groupCode": 1,
        "payrollPeriodType": {
            "key": a.period_type,
            "value": PERIOD_TYPES.get(a.period_type, "Onbekend"),
        },
    }


class ApiError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _messages(status: int, kind: str, description: str, code: int = 0) -> ApiError:
    return ApiError(
        status,
        {
            "version": {"obsoleteDate": None, "resourceVersion": RESOURCE_VERSION},
            "messages": [
                {
                    "code": code,
                    "id": None,
                    "type": kind,
                    "description": description,
                    "properties": [],
                }
            ],
        },
    )


class LoketSandbox:
    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        client_id: str = "loket-client",
        client_secret: str = "loket-secret",  # noqa: S107 - a sandbox value
        access_token_lifetime: int = 3599,
        code_lifetime: float = 60.0,
        max_page_size: int = 250,
        latency: float = 0.0,
        allowed_redirect_uris: Iterable[str] | None = None,
    ) -> None:
        self.scenario = scenario or default_scenario()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_lifetime = access_token_lifetime
        self.code_lifetime = code_lifetime
        self.max_page_size = max_page_size
        self.latency = latency
        self.allowed_redirect_uris = set(allowed_redirect_uris or ())
        # switches
        self.deny_consent = False
        self.obsolete_date: str | None = None
        # counters
        self.calls: Counter[str] = Counter()
        self.path_calls: Counter[str] = Counter()
        self.recorded: list[RecordedCall] = []
        self.refresh_grants = 0
        self.code_grants = 0
        self.reuse_detected = 0
        self.patches: list[tuple[str, str, str]] = []  # (run id, action, message)
        # (run id, the whole JournalrunStatusPatch body) of every accepted PATCH
        self.patch_bodies: list[tuple[str, dict[str, Any]]] = []
        # /results publishes no paging parameters: None answers every line in one page (the
        # paging envelope still present); a number pages by that size and honours pageNumber.
        self.results_page_size: int | None = None
        self.seen_states: set[str] = set()  # states and PKCE verifiers Loonbrug sent (leak scans)
        # internals
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._codes: dict[str, _Code] = {}
        self._families: dict[str, _Family] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._index()

    def _index(self) -> None:
        self._employers = {e.id: e for e in self.scenario.employers}
        self._administrations = {a.id: a for a in self.scenario.administrations()}
        self._runs = {r.id: r for _, r in self.scenario.runs()}
        self._payroll_runs = {r.payroll_run_id: r for r in self._runs.values()}

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The OAuth base (LOKET_AUTH_URL)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def api_url(self) -> str:
        """The API root including /v2 (LOKET_API_URL)."""
        return f"{self.url}/v2"

    def env(self) -> dict[str, str]:
        """The app settings that point Loonbrug at this sandbox."""
        return {
            "LOKET_AUTH_URL": self.url,
            "LOKET_API_URL": self.api_url,
            "LOKET_CLIENT_ID": self.client_id,
            "LOKET_CLIENT_SECRET": self.client_secret,
        }

    def start(self, port: int = 0) -> LoketSandbox:
        self._server = make_server(
            "127.0.0.1", port, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns within 50 ms, not 500
            name="loket-sandbox",
            daemon=True,
        )
        self._thread.start()
        announce(self)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- fault injection -----------------------------------------------------------------------
    def fail(
        self,
        where: str,
        status: int = 503,
        *,
        times: int | None = 1,
        retry_after: float | str | None = None,
        body: Any = None,
        method: str | None = None,
    ) -> None:
        """Answer ``status`` on ``where`` (route name or "/path fragment") ``times`` times."""
        if body is None:
            body = DENIED_401 if status == 401 else DENIED_403 if status == 403 else None
        if body is None:
            body = _messages(status, "Exception", "An unexpected error occurred.").body
        self._add(
            Fault(
                where,
                "status",
                status=status,
                retry_after=None if retry_after is None else str(retry_after),
                body=body,
                method=method,
                remaining=times,
            )
        )

    def rate_limit(
        self,
        where: str,
        *,
        retry_after: float | str | None = 1,
        times: int | None = 1,
        method: str | None = None,
    ) -> None:
        self.fail(
            where,
            429,
            times=times,
            retry_after=retry_after,
            body={"message": "Too many requests."},
            method=method,
        )

    def garbage(self, where: str, *, times: int | None = 1) -> None:
        """A 200 whose body is not JSON (a proxy's HTML page)."""
        self._add(Fault(where, "garbage", status=200, remaining=times))

    def drop_fields(self, where: str, *fields: str, times: int | None = None) -> None:
        """Remove dotted ``fields`` from every item (``_embedded``) or the ``content``."""
        self._add(Fault(where, "drop_fields", fields=fields, remaining=times))

    def slow(
        self, where: str, seconds: float, *, times: int | None = 1, method: str | None = None
    ) -> None:
        self._add(Fault(where, "delay", delay=seconds, remaining=times, method=method))

    def faults_spent(self) -> bool:
        """Every fault injected with a count has been used up."""
        with self._lock:
            return all(f.remaining is None or f.remaining <= 0 for f in self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def add_run(self, administration_id: str, run: ScenarioRun) -> None:
        """A new journal run appears in an administration (e.g. the next period's payroll)."""
        with self._lock:
            self._administrations[administration_id].runs.append(run)
            self._index()

    def set_run_status(self, run_id: str, key: int) -> None:
        """Any integer, also one Loket does not document (an unknown status)."""
        with self._lock:
            self._runs[run_id].status = key

    def revoke_consent(self) -> None:
        """The user (or Loket) withdrew every consent given so far: refresh tokens answer
        ``invalid_grant`` and access tokens 401."""
        with self._lock:
            for family in self._families.values():
                family.revoked = True

    def expire_access_tokens(self) -> None:
        with self._lock:
            for access in self._access.values():
                access.expires = 0.0

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.path_calls.clear()
            self.recorded.clear()
            self.refresh_grants = self.code_grants = self.reuse_detected = 0

    def issued_secrets(self) -> set[str]:
        """Every code, access token and refresh token this sandbox ever issued (log scans)."""
        with self._lock:
            return set(self._codes) | set(self._refresh) | set(self._access)

    def leak_scan_values(self) -> set[str]:
        """What must never appear in a log: every code and token issued, every state and PKCE
        verifier Loonbrug sent, and the OAuth client secret."""
        with self._lock:
            return self.issued_secrets() | self.seen_states | {self.client_secret}

    def run(self, run_id: str) -> ScenarioRun:
        return self._runs[run_id]

    # -- WSGI ------------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            route, args = adapter.match()
        except NotFound:
            return self._finish(
                request, "unknown", _messages(404, "NotFound", "Resource not found.")
            )
        except MethodNotAllowed as exc:
            return self._finish(
                request,
                "unknown",
                ApiError(
                    405,
                    {"message": "Method not allowed."},
                    {"Allow": ", ".join(exc.valid_methods or [])},
                ),
            )
        except HTTPException as exc:  # pragma: no cover - werkzeug redirects
            return exc.get_response()
        route = str(route)
        with self._lock:
            self.calls[route] += 1
            self.path_calls[f"{request.method} {request.path}"] += 1
        if self.latency:
            time.sleep(self.latency)
        drop: tuple[str, ...] = ()
        for fault in self._take_faults(route, request.method, request.path):
            if fault.kind == "delay":
                time.sleep(fault.delay)
            elif fault.kind == "garbage":
                return self._finish(
                    request,
                    route,
                    Response(
                        "<html><body>Bad gateway</body></html>", 200, content_type="text/html"
                    ),
                )
            elif fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._finish(request, route, ApiError(fault.status, fault.body, headers))
            elif fault.kind == "drop_fields":
                drop += fault.fields
        try:
            if route == "authorize":
                return self._finish(request, route, self._authorize(request))
            if route == "token":
                return self._finish(request, route, self._token(request))
            self._check_accept(request)
            self._check_bearer(request)
            status, payload, headers = getattr(self, f"_api_{route}")(request, **args)
        except ApiError as error:
            return self._finish(request, route, error)
        if drop:
            _drop(payload, drop)
        return self._finish(request, route, ApiError(status, payload, headers))

    def _take_faults(self, route: str, method: str, path: str) -> list[Fault]:
        taken = []
        with self._lock:
            for fault in self._faults:
                if fault.matches(route, method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    taken.append(fault)
                    if fault.kind in ("status", "garbage"):
                        break
        return taken

    def _finish(self, request: Request, route: str, result: Response | ApiError) -> Response:
        if isinstance(result, ApiError):
            body = result.body
            if (
                isinstance(body, dict)
                and route not in ("authorize", "token")
                and "version" not in body
                and "message" not in body
            ):
                body = {"version": self._version(), "messages": [], **body}
            response = Response(
                json.dumps(body, default=_json_default),
                result.status,
                headers=result.headers,
                content_type=f"application/json;version={RESOURCE_VERSION}"
                if route not in ("token",)
                else "application/json",
            )
        else:
            response = result
        with self._lock:
            self.recorded.append(
                RecordedCall(
                    request.method,
                    route,
                    request.path,
                    dict(request.args.items()),
                    response.status_code,
                )
            )
        return response

    def _version(self) -> dict[str, Any]:
        return {"obsoleteDate": self.obsolete_date, "resourceVersion": RESOURCE_VERSION}

    # -- OAuth ---------------------------------------------------------------------------------
    def _authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("Unknown client_id.", 400, content_type="text/plain")
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")) or (
            self.allowed_redirect_uris and redirect_uri not in self.allowed_redirect_uris
        ):
            return Response(
                "redirect_uri is not registered for this client.", 400, content_type="text/plain"
            )
        state = args.get("state")
        if state:
            with self._lock:
                self.seen_states.add(state)

        def back(**params: str) -> Response:
            if state is not None:
                params = {"state": state, **params}
            separator = "&" if "?" in redirect_uri else "?"
            return Response(
                status=302, headers={"Location": redirect_uri + separator + urlencode(params)}
            )

        if args.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if args.get("scope") != "all":
            return back(error="invalid_scope")
        method = args.get("code_challenge_method")
        challenge = args.get("code_challenge")
        if challenge and method not in (None, "S256"):
            return back(error="invalid_request", error_description="only S256 is supported")
        if self.deny_consent:
            return back(error="access_denied", error_description="The user denied the request.")
        code = "code_" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                self.client_id, redirect_uri, challenge, time.time() + self.code_lifetime
            )
        return back(code=code)

    def _token(self, request: Request) -> ApiError:
        if request.mimetype != "application/x-www-form-urlencoded":
            return ApiError(
                400, {"error": "invalid_request", "error_description": "form-encoded body expected"}
            )
        form = request.form
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if request.authorization is not None and request.authorization.type == "basic":
            client_id = request.authorization.username
            client_secret = request.authorization.password
        if client_id != self.client_id or client_secret != self.client_secret:
            return ApiError(401, {"error": "invalid_client"})
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                return self._grant_code(
                    form.get("code", ""), form.get("redirect_uri", ""), form.get("code_verifier")
                )
            if grant == "refresh_token":
                return self._grant_refresh(form.get("refresh_token", ""))
        return ApiError(400, {"error": "unsupported_grant_type"})

    def _grant_code(self, code: str, redirect_uri: str, verifier: str | None) -> ApiError:
        if verifier:
            self.seen_states.add(verifier)
        entry = self._codes.get(code)
        if entry is None:
            return _invalid_grant()
        if entry.used:  # a replayed code revokes what it produced (RFC 6749 §4.1.2)
            if entry.family:
                self._families[entry.family].revoked = True
            return _invalid_grant()
        if time.time() > entry.expires or entry.redirect_uri != redirect_uri:
            return _invalid_grant()
        if entry.challenge is not None:
            if not verifier:
                return _invalid_grant()
            digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry.challenge:
                return _invalid_grant()
        entry.used = True
        family = secrets.token_hex(8)
        self._families[family] = _Family()
        entry.family = family
        self.code_grants += 1
        return self._issue(family)

    def _grant_refresh(self, token: str) -> ApiError:
        entry = self._refresh.get(token)
        if entry is None or self._families[entry.family].revoked:
            return _invalid_grant()
        if entry.spent:
            self.reuse_detected += 1
            self._families[entry.family].revoked = True
            return _invalid_grant()
        entry.spent = True
        self.refresh_grants += 1
        return self._issue(entry.family)

    def _issue(self, family: str) -> ApiError:
        access = "at_" + secrets.token_urlsafe(32)
        refresh = "rt_" + secrets.token_urlsafe(32)
        self._access[access] = _Access(family, time.time() + self.access_token_lifetime)
        self._refresh[refresh] = _Refresh(family)
        return ApiError(
            200,
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": self.access_token_lifetime,
                "refresh_token": refresh,
                "two_factor_state": "None",
            },
            {"Cache-Control": "no-store"},
        )

    # -- API checks --------------------------------------------------------------------------------
    def _check_accept(self, request: Request) -> None:
        accept = request.headers.get("Accept", "")
        match = re.search(r"application/json\s*;\s*version=(\d{4}-\d{2}-\d{2})", accept)
        if match is None or match.group(1) < RESOURCE_VERSION:
            raise _messages(
                406,
                "BrokenBusinessRule",
                "Send Accept: application/json;version=2018-01-01 (a resource version is required).",
            )

    def _check_bearer(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            entry = self._access.get(token)
            valid = (
                entry is not None
                and not self._families[entry.family].revoked
                and time.time() < entry.expires
            )
        if not valid:
            raise ApiError(401, DENIED_401, {"WWW-Authenticate": "Bearer"})

    # -- API -------------------------------------------------------------------------------------
    def _api_employers(self, request: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
        items = [
            {"id": e.id, "companyName": e.company_name, "employerNumber": e.employer_number}
            for e in self.scenario.employers
        ]
        return self._paged(request, items)

    def _api_payroll_administrations(
        self, request: Request, employer_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        employer = self._employers.get(employer_id)
        if employer is None:
            raise _messages(404, "NotFound", "Employer not found.")
        return self._paged(request, [_administration_json(a) for a in employer.administrations])

    def _api_payroll_administration(
        self, request: Request, administration_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        administration = self._administrations.get(administration_id)
        if administration is None:
            raise _messages(404, "NotFound", "Payroll administration not found.")
        content = _administration_json(administration)
        return 200, {"content": content}, {"ETag": _etag(content)}

    def _api_journal_runs(
        self, request: Request, administration_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        administration = self._administrations.get(administration_id)
        if administration is None:
            raise _messages(404, "NotFound", "Payroll administration not found.")
        with self._lock:
            items = [_run_json(r) for r in administration.runs]
        filter_text = request.args.get("filter")
        if filter_text:
            items = _apply_filter(items, filter_text)
        order = request.args.get("orderBy")
        if order:
            items = _apply_order(items, order)
        return self._paged(request, items)

    def _api_journal_run(
        self, request: Request, run_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        run = self._run_or_404(run_id)
        with self._lock:
            content = _run_json(run)
        return 200, {"content": content}, {"ETag": _etag(content)}

    def _api_patch_journal_run(
        self, request: Request, run_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        run = self._run_or_404(run_id)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise _messages(400, "BrokenBusinessRule", "action is required.")
        _check_status_patch(body)
        action, message = body["action"], body.get("message") or ""
        with self._lock:
            if_match = request.headers.get("If-Match")
            if if_match and if_match != _etag(_run_json(run)):
                raise _messages(409, "ConcurrencyViolation", "The journal run was changed.")
            if action == "MarkAsProcessed":
                if run.status not in (4, 5, 6, 7):
                    raise _messages(
                        400, "BrokenBusinessRule", "The journal run has no results to process."
                    )
                run.status = 7
            elif action == "MarkAsProcessingFailed":
                if run.status not in (4, 5, 6):
                    raise _messages(
                        400,
                        "BrokenBusinessRule",
                        "The journal run cannot be marked as failed in its current status.",
                    )
                run.status = 6
            else:
                raise _messages(400, "BrokenBusinessRule", f"Unknown action {action}.")
            run.last_message = str(message)
            self.patches.append((run.id, action, str(message)))
            self.patch_bodies.append((run.id, dict(body)))
            content = _run_json(run)
        return 200, {"content": content}, {"ETag": _etag(content)}

    def _api_journal_run_results(
        self, request: Request, run_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        run = self._run_or_404(run_id)
        consolidate = request.args.get("consolidate")
        if consolidate is not None and consolidate not in CONSOLIDATE:
            raise _messages(
                400,
                "BrokenBusinessRule",
                f"consolidate must be one of {', '.join(CONSOLIDATE)}; got {consolidate!r}.",
            )
        if run.status < 4 or run.status > 7:
            raise _messages(
                400, "BrokenBusinessRule", "The journal run has no results in its current status."
            )
        lines = _consolidated(run.lines) if consolidate == "Always" else run.lines
        items = [_line_json(i, line) for i, line in enumerate(lines)]
        if self.results_page_size is None:
            return self._one_page(items)
        return self._paged(request, items, default_size=self.results_page_size, sized=False)

    def _api_payroll_run(
        self, request: Request, payroll_run_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        run = self._payroll_runs.get(payroll_run_id)
        if run is None:
            raise _messages(404, "NotFound", "Payroll run not found.")
        content = {
            "id": run.payroll_run_id,
            "payrollRunStatus": {"key": 5, "value": "Goedgekeurd"}
            if run.approval_time
            else {"key": 2, "value": "Berekend"},
            "approvalTime": _local(run.approval_time),
            "approvedBy": {"initials": "J.", "lastName": "de Vries"} if run.approval_time else None,
            "sequenceNumberApproved": run.payroll_run_sequence,
            "payrollPeriod": _period_json(run),
        }
        return 200, {"content": content}, {"ETag": _etag(content)}

    def _run_or_404(self, run_id: str) -> ScenarioRun:
        run = self._runs.get(run_id)
        if run is None:
            raise _messages(404, "NotFound", "Journal run not found.")
        return run

    def _one_page(self, items: list[dict[str, Any]]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Everything at once, in the paging envelope (``totalPages`` 0 for nothing)."""
        envelope = {
            "totalSize": len(items),
            "pageSize": len(items),
            "totalPages": 1 if items else 0,
            "currentPage": 1,
            "_embedded": items,
        }
        return 200, envelope, {}

    def _paged(
        self,
        request: Request,
        items: list[dict[str, Any]],
        *,
        default_size: int = 250,
        sized: bool = True,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            number = int(request.args.get("pageNumber", "1"))
            asked = request.args.get("pageSize") if sized else None
            size = int(asked or str(default_size))
        except ValueError:
            raise _messages(
                400, "BrokenBusinessRule", "pageNumber and pageSize must be integers."
            ) from None
        if number < 1 or size < 1 or size > self.max_page_size:
            raise _messages(
                400,
                "BrokenBusinessRule",
                f"pageSize must be between 1 and {self.max_page_size}; pageNumber starts at 1.",
            )
        total = len(items)
        pages = (total + size - 1) // size
        chunk = items[(number - 1) * size : number * size]
        return (
            200,
            {
                "totalSize": total,
                "pageSize": size,
                "totalPages": pages,
                "currentPage": number,
                "_embedded": chunk,
            },
            {},
        )

    # -- CLI -------------------------------------------------------------------------------------


def _check_status_patch(body: dict[str, Any]) -> None:
    """``JournalrunStatusPatch``: ``action``, ``application`` (a metadata object ``{key,
    value}``) and ``message`` only (specs README; the generated client's model). A failure must
    say why ("Use the message field to communicate the error(s)")."""
    unknown = sorted(set(body) - {"action", "application", "message"})
    if unknown:
        raise _messages(400, "BrokenBusinessRule", f"Unknown field(s): {', '.join(unknown)}.")
    application = body.get("application")
    if application is not None and (
        not isinstance(application, dict)
        or set(application) - {"key", "value"}
        or ("key" in application and not isinstance(application["key"], int | None))
        or not isinstance(application.get("value", ""), str)
    ):
        raise _messages(400, "BrokenBusinessRule", "application must be {key, value}.")
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise _messages(400, "BrokenBusinessRule", "message must be text.")
    if body["action"] == "MarkAsProcessingFailed" and not (message or "").strip():
        raise _messages(
            400, "BrokenBusinessRule", "Use the message field to communicate the error(s)."
        )


def _consolidated(lines: list[ScenarioLine]) -> list[ScenarioLine]:
    """``consolidate=Always``: one line per ledger account, cost centre and cost unit."""
    merged: dict[tuple[Any, ...], ScenarioLine] = {}
    for line in lines:
        key = (line.account, line.cost_center, line.cost_unit)
        if key in merged:
            merged[key].debit += line.debit
            merged[key].credit += line.credit
        else:
            merged[key] = ScenarioLine(
                line.account, line.account_description, line.debit, line.credit,
                line.cost_center, line.cost_unit, "Verdicht",
            )  # fmt: skip
    return list(merged.values())


def _invalid_grant() -> ApiError:
    return ApiError(400, {"error": "invalid_grant"})


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)  # exact for 2-decimal amounts below 2**53 cents
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _local(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") if moment else None


def _period_json(run: ScenarioRun) -> dict[str, Any]:
    return {
        "year": run.year,
        "periodNumber": run.period_number,
        "periodStartDate": run.period_start.isoformat(),
        "periodEndDate": run.period_end.isoformat(),
        "testYear": run.test_year,
    }


def _run_json(run: ScenarioRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "sequenceNumber": run.sequence_number,
        "journalRunStatus": {"key": run.status, "value": STATUS_TEXT.get(run.status, "Onbekend")},
        "methodOfCreation": {"key": 1, "value": "Handmatig"},
        "payrollRun": {
            "payrollRunId": run.payroll_run_id,
            "sequenceNumberApproved": run.payroll_run_sequence,
            "payrollPeriod": _period_json(run),
        },
        "requestTime": _local(run.request_time),
        "requestedBy": {"initials": "P.", "lastName": "Jansen"},
        "processingFinishedTime": _local(run.finished_time),
        "removeTime": None,
        "removedBy": None,
    }


def _line_json(index: int, line: ScenarioLine) -> dict[str, Any]:
    def pair(value: tuple[str, str] | None, base: int) -> dict[str, Any] | None:
        if value is None:
            return None
        return {
            "key": base + int(hashlib.sha256(value[0].encode()).hexdigest()[:4], 16),
            "code": value[0],
            "description": value[1],
        }

    return {
        "generalLedgerAccount": {
            # A code is free text in Loket: a non-numeric one gets a key of its own.
            "key": 10_000 + int(line.account)
            if line.account.isascii() and line.account.isdigit()
            else 90_000 + int(hashlib.sha256(line.account.encode()).hexdigest()[:4], 16),
            "code": line.account,
            "description": line.account_description,
        },
        "costCenter": pair(line.cost_center, 1),
        "costUnit": pair(line.cost_unit, 70_000),
        "payrollComponent": {"key": 100 + index, "description": line.component},
        "debetAmount": line.debit,
        "creditAmount": line.credit,
    }


def _etag(content: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=_json_default).encode())
    return f'"{digest.hexdigest()[:16]}"'


def _drop(payload: dict[str, Any], fields: tuple[str, ...]) -> None:
    targets = payload.get("_embedded") if "_embedded" in payload else [payload.get("content")]
    for item in targets or []:
        for dotted in fields:
            *parents, last = dotted.split(".")
            node: Any = item
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(last, None)


_CONDITION = re.compile(
    r"^\s*([A-Za-z][\w.]*)\s+(eq|ne|lk|gt|ge|lt|le)\s+('(?:[^']*)'|\S+)\s*$", re.IGNORECASE
)


def _value_of(item: dict[str, Any], dotted: str) -> Any:
    node: Any = item
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        match = next((k for k in node if k.lower() == part.lower()), None)
        node = node.get(match) if match is not None else None
    return node


def _literal(raw: str) -> Any:
    if raw.startswith("'") and raw.endswith("'"):
        return raw[1:-1]
    lowered = raw.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return Decimal(raw)
    except ArithmeticError:
        raise _messages(400, "BrokenBusinessRule", f"Cannot read filter value {raw}.") from None


def _condition(item: dict[str, Any], text: str) -> bool:
    match = _CONDITION.match(text)
    if match is None:
        raise _messages(400, "BrokenBusinessRule", f"Invalid filter: {text.strip()}.")
    name, op, raw = match.group(1), match.group(2).lower(), match.group(3)
    left, right = _value_of(item, name), _literal(raw)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "lk":
        return isinstance(left, str) and isinstance(right, str) and right in left
    if left is None or right is None:
        return False
    try:
        return bool(
            {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
        )
    except TypeError:
        raise _messages(400, "BrokenBusinessRule", f"Cannot compare {name} with {raw}.") from None


def _apply_filter(items: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """``a.b eq 4 and c ge '2024-01-01' or …`` (``and`` binds tighter than ``or``)."""
    alternatives = [
        [part for part in re.split(r"\s+and\s+", group, flags=re.IGNORECASE)]
        for group in re.split(r"\s+or\s+", text, flags=re.IGNORECASE)
    ]
    return [
        item
        for item in items
        if any(all(_condition(item, c) for c in group) for group in alternatives)
    ]


def _apply_order(items: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    ordered = list(items)
    for name in reversed([part.strip() for part in text.split(",") if part.strip()]):
        descending = name.startswith("-")
        field_name = name.lstrip("-")
        ordered.sort(
            key=lambda item: (
                _value_of(item, field_name) is None,
                _value_of(item, field_name) or 0,
            ),
            reverse=descending,
        )
    return ordered


def start_loket_sandbox(scenario: Scenario | None = None, **options: Any) -> LoketSandbox:
    """A running sandbox on a free loopback port (``options`` as :class:`LoketSandbox`)."""
    return LoketSandbox(scenario, **options).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.sandbox.loket", description="Loket.nl sandbox"
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sandbox = LoketSandbox(default_scenario()).start(args.port)
    print(
        f"Loket sandbox: LOKET_AUTH_URL={sandbox.url} LOKET_API_URL={sandbox.api_url} "
        f"LOKET_CLIENT_ID={sandbox.client_id} LOKET_CLIENT_SECRET={sandbox.client_secret}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
