"""``LoketClient``: the Loket.nl REST API v2 calls the sync needs, typed.

* One ``requests.Session``, (connect, read) timeouts, ``Accept: application/json;version=…``
  (the resource version is pinned so answers stay stable, loket-api.md §1.3).
* One request function (:meth:`LoketClient._request`) with the retry policy: 429/502/503/504,
  timeouts and connection errors are retried a few times with exponential backoff and full
  jitter, honouring ``Retry-After``, inside a time budget well under the 10-minute function
  timeout. A 401 triggers exactly one token refresh (through the rotation-safe token store) and
  one replay. Everything else maps to a typed error in :meth:`_raise_for_response`.
* Lists are generators over pages: ``pageNumber`` from 1 to ``totalPages``, ``pageSize`` always
  sent, a repeated page is a contract error (never a silent loop or a silent skip).
* Answers are parsed by :mod:`shared.loket.parse` into ``shared.journal.models`` values.

Calls per use (each paged list is one call per 250 items):
``list_employers`` 1; ``list_payroll_administrations`` 1 per employer; ``list_journal_runs`` 1 per
administration; reading one journal run = ``get_journal_run`` 1 (the administration's listing) +
``iter_journal_run_lines`` 1 + ``get_payroll_run_approval`` 1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Protocol
from urllib.parse import quote

import requests

from shared import telemetry
from shared.clock import retry_after_seconds
from shared.journal.models import (
    Employer,
    JournalLine,
    JournalRun,
    PayrollAdministration,
)
from shared.loket import parse
from shared.loket.errors import (
    LoketAuthError,
    LoketContractError,
    LoketError,
    LoketForbidden,
    LoketMessage,
    LoketNotFound,
    LoketRateLimited,
    LoketRejected,
    LoketRetriableError,
    LoketServerError,
)
from shared.secret import Secret

log = logging.getLogger("loonbrug.loket")

API_VERSION: Final = "2018-01-01"  # [C] the resource version the journal-run endpoints answer
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
MAX_PAGES: Final = 10_000
_ADMINISTRATIONS: Final = "/providers/employers/payrolladministrations"


def page_size_limit() -> int:
    """ASSUMPTION [I]: the largest ``pageSize`` Loket accepts is not documented; 250 is the
    default and what working clients use. We always send it (the default may change)."""
    return 250


# GET …/journalruns/{id}/results takes ``consolidate`` (the Loket OpenAPI, read from a client
# generated from it; /work/shared/specs/README.md): these three values, nothing else.
CONSOLIDATE_VALUES: Final = ("BasedOnLedgerAccountConfiguration", "Always", "Never")
APPLICATION_NAME: Final = "Loonbrug"
DEFAULT_MESSAGES: Final = {
    "MarkAsProcessed": "Verwerkt door Loonbrug.",
    "MarkAsProcessingFailed": "Loonbrug kon deze journaalpost niet boeken in AFAS.",
}


def results_consolidation() -> str:
    """The ``consolidate`` Loonbrug sends with every ``/results`` read: always explicit, never
    the server's default.

    ``BasedOnLedgerAccountConfiguration``: the journal profile's own setting, per ledger account,
    decides whether lines are consolidated, so AFAS receives what the office configured in
    Loket (and what Loket's own export would give). ``Always`` would override an office that
    wants detail on some accounts; ``Never`` would book a line per employee and component (salaries
    of individuals in the ledger, and entries that pass AFAS's advice of at most 1,000 lines)."""
    return "BasedOnLedgerAccountConfiguration"


def journal_application() -> dict[str, Any]:
    """The ``application`` of the journal-run PATCH: "the application that downloaded and
    processed the results".

    ASSUMPTION [I]: the field is a Loket metadata object ``{key, value}`` (the generated client's
    ``JournalrunStatusPatch_application``; the spec's example is ``{"key": 2, "value":
    "Financieel pakket 1"}``). The allowed keys come from a metadata list we cannot read here,
    so Loonbrug sends no key and names itself in ``value``. Verify in Loket's acceptance
    environment; if Loket wants a key, this is the one place to put it."""
    return {"value": APPLICATION_NAME}


def patch_body(action: str, message: str) -> dict[str, Any]:
    """The ``JournalrunStatusPatch`` body: ``action``, ``application`` and ``message`` (the three
    published fields), for both actions.

    ASSUMPTION [I]: the actions are the enum values ``MarkAsProcessed`` /
    ``MarkAsProcessingFailed`` (the description also names ``markAsSuccessfullyExported``).
    ``message`` is shown to the Loket user (for a failure: what went wrong), never empty; its
    maximum length is unknown, so we keep it to 500 characters."""
    text = " ".join(message.split()) or DEFAULT_MESSAGES.get(action, APPLICATION_NAME)
    return {"action": action, "application": journal_application(), "message": text[:500]}


class AccessTokens(Protocol):
    """Where the client gets bearer tokens (``shared.loket.oauth.ConnectionTokens``)."""

    def access_token(self) -> Secret: ...

    def refresh_after_rejection(self, rejected: Secret) -> Secret: ...


@dataclass(frozen=True)
class Page:
    """One page of a Loket list: raw items and the number of the next page (None at the end)."""

    items: list[Any]
    number: int
    total_pages: int
    total_size: int | None
    next_page: int | None


class LoketClient:
    def __init__(
        self,
        base_url: str,
        tokens: AccessTokens,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        page_size: int | None = None,
        max_tries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 30.0,
        budget: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        api_version: str = API_VERSION,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._own_session = session is None
        self._session = session or requests.Session()
        self._timeout = timeout
        self._page_size = page_size or page_size_limit()
        self._max_tries = max_tries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._budget = budget
        self._sleep = sleep
        self._accept = f"application/json;version={api_version}"
        self._warned_versions: set[str] = set()

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> LoketClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what the sync needs --------------------------------------------------------------------
    def list_employers(self) -> Iterator[Employer]:
        """``GET /providers/employers`` [C]: every employer the consenting user can access."""
        for item in self._items("/providers/employers"):
            yield parse.parse_employer(item)

    def list_payroll_administrations(self, employer_id: str) -> Iterator[PayrollAdministration]:
        """``GET /providers/employers/{employerId}/payrolladministrations`` [C]."""
        path = f"/providers/employers/{_id(employer_id)}/payrolladministrations"
        for item in self._items(path):
            yield parse.parse_payroll_administration(item, employer_id=employer_id)

    def get_payroll_administration(self, administration_id: str) -> PayrollAdministration:
        """``GET …/payrolladministrations/{id}`` [C S5]: one administration, if the consenting
        user may see it (404/403 otherwise). The detail does not name its employer [I]."""
        data = self._json(self._request("GET", f"{_ADMINISTRATIONS}/{_id(administration_id)}"))
        return parse.parse_payroll_administration(
            _content(data, "payroll administration"), employer_id=""
        )

    def list_journal_runs(self, administration_id: str) -> Iterator[JournalRun]:
        """Every journal run of a payroll administration (all statuses), each once.

        No ``filter`` is sent: whether this endpoint filters on ``journalRunStatus.key`` is [I];
        the caller picks statuses from the typed runs.
        """
        path = f"{_ADMINISTRATIONS}/{_id(administration_id)}/journalruns"
        seen: set[str] = set()
        for item in self._items(path):
            run = parse.parse_journal_run(item, administration_id=administration_id)
            if run.id not in seen:  # offset paging over a list that grows may repeat an item
                seen.add(run.id)
                yield run

    def get_journal_run(self, run_id: str, *, administration_id: str) -> JournalRun:
        """Journal run ``run_id`` **of payroll administration** ``administration_id``, read from that
        administration's listing; :class:`LoketNotFound` when the administration has no such run
        (also when the id is a run of another administration the consent can see).

        ASSUMPTION [I]: the detail ``GET …/journalruns/{id}`` does not name its administration
        (loket-api.md §3.4: the ``JournalRun`` model has no such field), so it cannot prove that a
        run belongs to an administration; the administration's own listing can, and its items are
        the same ``JournalRun`` the worker books from. Every :class:`JournalRun` this client
        returns therefore carries the administration it was listed under, never a guess.
        """
        wanted = run_id.strip().lower()
        for run in self.list_journal_runs(administration_id):
            if run.id.lower() == wanted:
                return run
        raise LoketNotFound(
            f"journal run {run_id} is not a run of payroll administration {administration_id}",
            status=404,
            dutch="Deze journaalrun bestaat niet in de Loket-loonadministratie van deze client.",
        )

    def iter_journal_run_lines(self, run_id: str) -> Iterator[JournalLine]:
        """``GET …/journalruns/{id}/results`` [C] with ``consolidate`` sent explicitly
        (:func:`results_consolidation`). No paging parameters are published for it, so the first
        request sends none; the answer carries the paging envelope [C S5], and should it say
        there are more pages, they are asked for by ``pageNumber`` (ASSUMPTION [I])."""
        path = f"{_ADMINISTRATIONS}/journalruns/{_id(run_id)}/results"
        params = {"consolidate": results_consolidation()}
        for page in self.iter_pages(path, params, page_size=False):
            for item in page.items:
                yield parse.parse_journal_line(item)

    def get_payroll_run_approval(self, payroll_run_id: str) -> datetime | None:
        """``approvalTime`` of ``GET …/payrollruns/{payrollRunId}`` [C] (aware; None when not
        approved)."""
        path = f"{_ADMINISTRATIONS}/payrollruns/{_id(payroll_run_id)}"
        data = self._json(self._request("GET", path))
        return parse.parse_approval_time(_content(data, "payroll run"))

    def mark_processed(self, run_id: str, message: str) -> None:
        """PATCH ``MarkAsProcessed``: Loket moves the run to status 7 (exported) [C]."""
        self._patch_run(run_id, "MarkAsProcessed", message)

    def mark_processing_failed(self, run_id: str, message: str) -> None:
        """PATCH ``MarkAsProcessingFailed``: Loket moves the run to status 6 [C]; ``message``
        (Dutch) tells the Loket user why."""
        self._patch_run(run_id, "MarkAsProcessingFailed", message)

    def _patch_run(self, run_id: str, action: str, message: str) -> None:
        # Setting a status is idempotent, so the retry policy may replay the PATCH.
        path = f"{_ADMINISTRATIONS}/journalruns/{_id(run_id)}"
        response = self._request("PATCH", path, body=patch_body(action, message))
        if response.content.strip():
            self._json(response)  # logs warnings and a retiring version

    # -- paging ----------------------------------------------------------------------------------
    def iter_pages(
        self, path: str, params: Mapping[str, str] | None = None, *, page_size: bool = True
    ) -> Iterator[Page]:
        """Walk ``pageNumber`` 1..``totalPages`` (``totalPages`` 0 = empty list), always sending
        ``pageSize``. A page that is not the one asked for, or that repeats the previous one, is
        a :class:`LoketContractError`. ``page_size=False`` (an endpoint without published paging
        parameters): no ``pageSize``, and ``pageNumber`` only from page 2 on."""
        number = 1
        previous: str | None = None
        while True:
            paging = {"pageNumber": str(number), "pageSize": str(self._page_size)}
            if not page_size:
                paging = {"pageNumber": str(number)} if number > 1 else {}
            query = {**(params or {}), **paging}
            data = self._json(self._request("GET", path, params=query))
            page = page_of(data, number)
            fingerprint = _fingerprint(page.items)
            if page.items and fingerprint == previous:
                raise LoketContractError(f"GET {path}: page {number} repeats page {number - 1}")
            previous = fingerprint
            yield page
            if page.next_page is None or not page.items:
                return
            if page.next_page > MAX_PAGES:
                raise LoketContractError(f"GET {path}: more than {MAX_PAGES} pages")
            number = page.next_page

    def _items(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[Any]:
        for page in self.iter_pages(path, params):
            yield from page.items

    # -- the one request function ------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        url = self._base + path
        started = time.monotonic()
        token = self._tokens.access_token()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            error: LoketRetriableError
            try:
                with telemetry.external_call("loket", _operation(method, path)) as call:
                    response = self._session.request(
                        method,
                        url,
                        params=params,
                        json=body,
                        headers={
                            "Authorization": f"Bearer {token.reveal()}",
                            "Accept": self._accept,
                        },
                        timeout=self._timeout,
                    )
                    call.set_status_code(response.status_code)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                error = LoketServerError(f"{method} {path}: {type(exc).__name__}")
            else:
                if response.status_code == 401 and not refreshed:
                    # The token looked valid but Loket refused it: one refresh, one replay.
                    refreshed = True
                    attempt -= 1
                    token = self._tokens.refresh_after_rejection(token)
                    continue
                try:
                    self._raise_for_response(response, method, path)
                    return response
                except LoketRetriableError as exc:
                    if response.status_code not in RETRY_STATUSES:
                        raise
                    error = exc
            wait = self._wait(attempt, error.retry_after)
            elapsed = time.monotonic() - started
            if attempt >= self._max_tries or wait is None or elapsed + wait > self._budget:
                raise error
            log.warning(
                "loket %s %s failed (%s); retry %d/%d in %.2f s",
                method,
                path,
                error,
                attempt + 1,
                self._max_tries,
                wait,
            )
            self._sleep(wait)

    def _wait(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds before the next try: Retry-After (plus a little jitter) when Loket sent one,
        else exponential backoff with full jitter. None: Loket asks for longer than we may wait
        in-process, so the error goes up and the queue redelivers later."""
        jitter = random.uniform(0, self._backoff)  # noqa: S311 - jitter, not crypto
        if retry_after is not None:
            return None if retry_after > self._max_retry_after else retry_after + jitter
        ceiling = min(self._max_backoff, self._backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311

    def _raise_for_response(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        what = f"{method} {path} answered HTTP {status}"
        request_id = response.headers.get("X-Request-Id") or response.headers.get("Request-Id")
        messages = _messages(response)
        if status == 401:
            raise LoketAuthError(what, status=status, messages=messages, request_id=request_id)
        if status == 403:
            raise LoketForbidden(what, status=status, messages=messages, request_id=request_id)
        if status == 404:
            raise LoketNotFound(what, status=status, messages=messages, request_id=request_id)
        if status == 429:
            raise LoketRateLimited(
                what, status=status, retry_after=retry_after(response), request_id=request_id
            )
        if status >= 500:
            raise LoketServerError(
                what, status=status, retry_after=retry_after(response), request_id=request_id
            )
        raise LoketRejected(what, status=status, messages=messages, request_id=request_id)

    # -- answers -------------------------------------------------------------------------------
    def _json(self, response: requests.Response) -> Mapping[str, Any]:
        try:
            data = json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise LoketContractError(
                f"{response.request.method} {_path_of(response)} answered no JSON "
                f"(content type {response.headers.get('Content-Type', '?')})"
            ) from None
        if not isinstance(data, Mapping):
            raise LoketContractError(f"{_path_of(response)} answered no JSON object")
        self._check_version(data, response)
        for message in _messages_of(data):
            if message.type == "Warning":
                log.warning(
                    "loket warning on %s: %s (code %s)",
                    _path_of(response),
                    message.description,
                    message.code,
                )
        return data

    def _check_version(self, data: Mapping[str, Any], response: requests.Response) -> None:
        """[C] Log a warning when Loket announces that the pinned resource version retires."""
        version = data.get("version")
        if not isinstance(version, Mapping) or not version.get("obsoleteDate"):
            return
        resource = str(version.get("resourceVersion"))
        marker = f"{resource}|{version['obsoleteDate']}"
        if marker not in self._warned_versions:
            self._warned_versions.add(marker)
            log.warning(
                "loket resource version %s of %s is obsolete from %s: move to a newer version",
                resource,
                _path_of(response),
                version["obsoleteDate"],
            )


# -- helpers --------------------------------------------------------------------------------------


_IDS = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _operation(method: str, path: str) -> str:
    """A low-cardinality name for telemetry: ids replaced by ``{id}``."""
    return f"{method} {_IDS.sub('{id}', path)}"


def _id(value: str) -> str:
    if not value or "/" in value:
        raise ValueError(f"not a Loket id: {value!r}")
    return quote(value, safe="")


def _path_of(response: requests.Response) -> str:
    url = response.request.url or response.url
    return url.split("?", 1)[0]


def _content(data: Mapping[str, Any], what: str) -> Any:
    if "content" not in data or data["content"] is None:
        raise LoketContractError(f"the {what} answer has no content")
    return data["content"]


def page_of(data: Mapping[str, Any], asked: int) -> Page:
    def number(name: str) -> int:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise LoketContractError(f"paging field {name} is missing or not an integer")
        return value

    total_pages = number("totalPages")
    total_size = data.get("totalSize") if isinstance(data.get("totalSize"), int) else None
    items = data.get("_embedded")
    if items is None and (total_pages == 0 or total_size == 0):
        items = []
    if not isinstance(items, list):
        raise LoketContractError("the list answer has no _embedded array")
    # An empty list may answer totalPages 0 [I]; then currentPage says nothing useful.
    current = number("currentPage") if total_pages > 0 else asked
    if current != asked:
        raise LoketContractError(f"asked page {asked}, Loket answered page {current}")
    next_page = asked + 1 if asked < total_pages else None
    return Page(items, asked, total_pages, total_size, next_page)


def _fingerprint(items: list[Any]) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()


def _messages_of(data: Mapping[str, Any]) -> tuple[LoketMessage, ...]:
    raw = data.get("messages")
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if isinstance(item, Mapping):
            code = item.get("code")
            found.append(
                LoketMessage(
                    type=str(item.get("type") or ""),
                    description=str(item.get("description") or "")[:500],
                    code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                )
            )
    return tuple(found)


def _messages(response: requests.Response) -> tuple[LoketMessage, ...]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return ()  # a 400 may come back as text/plain [C]
    if not isinstance(data, Mapping):
        return ()
    messages = _messages_of(data)
    if not messages and isinstance(data.get("message"), str):  # 401/403 bodies [C S5]
        messages = (LoketMessage(type="Error", description=str(data["message"])[:500]),)
    return messages


def retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None; bounded as
    :func:`shared.clock.retry_after_seconds` (inf/nan: no wait, at most a day).

    ASSUMPTION [I]: Loket documents no rate limit, 429 or Retry-After at all; we honour the
    header when it appears on a 429 or 5xx answer."""
    return retry_after_seconds(response.headers.get("Retry-After"))


__all__ = ["API_VERSION", "AccessTokens", "LoketClient", "LoketError", "Page"]
