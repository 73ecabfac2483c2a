"""AFAS Profit REST client: App Connector token, GetConnector reads, FiEntries posts.

Profit has no idempotency key (afas-api.md §5.3). Every entry carries a deterministic voucher
number (``BpNr``, :func:`shared.journal.identifiers.profit_voucher_number`); this client offers
the two primitives exactly-once is built from, and nothing more:

* :meth:`ProfitClient.post_entry` sends an entry once (never repeated here);
* :meth:`ProfitClient.find_entry` looks the voucher up in ``Profit_Transactions`` (any journal).

When a post may go out, and what its failure means, is decided in one place: the booking ledger
(:mod:`shared.sync.ledger`) and the booking step (:mod:`shared.sync.booking`). Duplicate ``BpNr``
values are accepted by Profit; the design never relies on a rejection.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, Self

import requests

from shared.afas.errors import (
    AfasAuthError,
    AfasConnectorNotAuthorized,
    AfasContractError,
    AfasEnvironmentBusy,
    AfasError,
    AfasLockedError,
    AfasNotFound,
    AfasRetriableError,
    AfasServerError,
    AfasSystem,
    AfasValidationError,
    check_lines,
)
from shared.afas.models import (
    Administration,
    AllocationAssignment,
    BookedLine,
    Journal,
    MetaInfo,
    Period,
    ProfitAccount,
)
from shared.afas.retry import RetryPolicy, seconds
from shared.afas.session import AfasSession
from shared.afas.wire import amount, dumps, loads
from shared.clock import AMSTERDAM
from shared.journal.entries import ProfitEntry
from shared.secret import Secret

log = logging.getLogger("loonbrug.afas.profit")

SYSTEM: Final = AfasSystem.PROFIT
FI_ENTRIES: Final = "FiEntries"
META_INFO: Final = "MetaInfo"  # the path as published (Mutaties.json ``/MetaInfo``)
REQUIRED_UPDATE_CONNECTORS: Final = frozenset({FI_ENTRIES})
REQUIRED_GET_CONNECTORS: Final = frozenset(
    {
        "Profit_Administrations",
        "Profit_Journals",
        "Profit_Accounts",
        "Profit_Allocation_Assigments",  # sic: AFAS's spelling
        "Profit_periods_per_administration",
        "Profit_Transactions",
    }
)
# Optional: the Aansluiting compares per cost centre with it, per account without it.
TRANSACTIONS_ALLOCATED: Final = "Profit_Transactions_Allocated"
# [C] profit/troubleshooting.md, "Timeout": "The AFAS API uses a timeout of 900 seconds (15
# minutes)"; a request the client stopped waiting for "is still being processed at the AFAS
# server" until then.
SERVER_TIMEOUT: Final = 900.0
MAX_QUERY: Final = 2049  # AFAS answers 404 beyond this many characters of query string [C] S6
MAX_LINES: Final = 1000  # AFAS advises at most 1,000 lines per entry [C] S8
EQUALS: Final = 1


@dataclass(frozen=True)
class Filter:
    """One GetConnector filter: ``filterfieldids``/``filtervalues``/``operatortypes`` (1 is '=')."""

    field: str
    value: str
    operator: int = EQUALS


@dataclass(frozen=True)
class Page:
    rows: tuple[Mapping[str, Any], ...]
    next_skip: int | None  # None: this was the last page


def missing_connectors(meta: MetaInfo) -> list[str]:
    """The connectors Loonbrug needs that this token's App Connector does not list."""
    updates = {name.lower() for name in meta.update_connectors}
    gets = {name.lower() for name in meta.get_connectors}
    return sorted(n for n in REQUIRED_UPDATE_CONNECTORS if n.lower() not in updates) + sorted(
        n for n in REQUIRED_GET_CONNECTORS if n.lower() not in gets
    )


def authorization_header(token: Secret) -> Secret:
    """``AfasToken`` + Base64 of the whole token XML (UTF-8) [C] S1."""
    encoded = base64.b64encode(token.reveal().encode("utf-8")).decode("ascii")
    return Secret(f"AfasToken {encoded}")


def fi_entries_payload(entry: ProfitEntry) -> dict[str, Any]:
    """The FiEntries body for ``entry`` (array form of ``Objects``, as in AFAS's schema)."""
    lines = []
    for line in entry.lines:
        fields: dict[str, Any] = {
            "VaAs": "1",  # "1 = Grootboekrekening" (FiEntries_POST VaAs enum)
            "AcNr": line.account,
            "EnDa": entry.entry_date.isoformat(),
            "BpDa": entry.voucher_date.isoformat(),
            "BpNr": entry.voucher_number,
            "Ds": line.description[:255],
            "AmDe": _money(line.debit),
            "AmCr": _money(line.credit),
        }
        element: dict[str, Any] = {"Fields": fields}
        if line.dimensions:
            dims: dict[str, Any] = {f"DiC{axis}": code for axis, code in sorted(line.dimensions)}
            dims.update(AmDe=_money(line.debit), AmCr=_money(line.credit))
            element["Objects"] = [{"FiDimEntries": {"Element": [{"Fields": dims}]}}]
        lines.append(element)
    return {
        "FiEntryPar": {
            "Element": {
                "Fields": {
                    "Year": entry.year,
                    "Peri": entry.period,
                    "UnId": entry.administration,
                    "JoCo": entry.journal,
                },
                "Objects": [{"FiEntries": {"Element": lines}}],
            }
        }
    }


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def check_entry(entry: ProfitEntry) -> None:
    """Refuse an entry Profit would refuse anyway, before any call (see :func:`check_lines`)."""
    if len(entry.lines) > MAX_LINES:
        raise ValueError(f"an entry has at most {MAX_LINES} lines")
    if not 0 < len(entry.voucher_number) <= 32:
        raise ValueError("BpNr must be 1-32 characters")
    check_lines(entry.lines, system=SYSTEM)


ENVIRONMENT_PERIODS_PAGE: Final = 1000  # rows per page of one environment's periods


@dataclass(frozen=True)
class EnvironmentPeriods:
    """One year's periods of every administration of an environment, and the administrations
    whose rows AFAS sent malformed (their jobs fail as before; the others are not affected)."""

    by_administration: dict[int, tuple[Period, ...]]
    unreadable: dict[int, AfasContractError]

    def of(self, administration: int) -> tuple[Period, ...]:
        """This administration's periods; its malformed row's error, raised."""
        error = self.unreadable.get(administration)
        if error is not None:
            raise error
        return self.by_administration.get(administration, ())


class ProfitClient:
    """One Profit environment, one token. A context manager; one ``requests.Session``."""

    def __init__(
        self,
        base_url: str,
        token: Secret,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        post_timeout: tuple[float, float] = (5.0, 120.0),
        server_timeout: float = SERVER_TIMEOUT,
        retry: RetryPolicy | None = None,
        page_size: int = 100,
        language: str = "nl-nl",
        integration_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        environment: str = "",
    ) -> None:
        self._http = AfasSession(
            SYSTEM, base_url, session=session, timeout=timeout, retry=retry, sleep=sleep
        )
        self._base = self._http.base
        # The environment as a person knows it (its number), for the Dutch "busy" message.
        self._environment = environment or self._base
        self._auth = authorization_header(token)
        self._post_timeout = post_timeout
        self._server_timeout = server_timeout
        self._page_size = page_size
        self._language = language
        self._integration_id = integration_id
        self.calls = self._http.calls  # "GET Profit_Transactions" → count (tests, bench)

    @property
    def post_read_timeout(self) -> float:
        """How long a post waits for Profit's answer before its outcome is unknown."""
        return self._post_timeout[1]

    @property
    def server_timeout(self) -> float:
        """How long Profit itself may go on processing a request (published: 900 s)."""
        return self._server_timeout

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection check ---------------------------------------------------------------------

    def meta_info(self) -> MetaInfo:
        """``GET /MetaInfo`` (Mutaties.json): the connectors the token may use, token info."""
        return meta_info_of(self._get(META_INFO, label="metainfo"))

    def check_token(self) -> MetaInfo:
        """A cheap read that proves the token works in this environment and that its App
        Connector has every connector Loonbrug needs. Raises :class:`AfasAuthError` (refused),
        :class:`AfasNotFound` (no such environment), :class:`AfasConnectorNotAuthorized`
        (connectors missing, named in the message) or a retriable error."""
        meta = self.meta_info()
        missing = missing_connectors(meta)
        if missing:
            raise AfasConnectorNotAuthorized(
                "De App connector mist: " + ", ".join(missing) + ".", system=SYSTEM
            )
        return meta

    # -- GetConnectors ------------------------------------------------------------------------

    def iter_pages(
        self,
        connector: str,
        *,
        order_by: Sequence[str],
        filters: Sequence[Filter] = (),
        page_size: int | None = None,
    ) -> Iterator[Page]:
        """Pages of a GetConnector with skip/take; ``order_by`` is required for stable paging."""
        if not order_by:
            raise ValueError("paging without orderbyfieldids may skip or repeat rows")
        take = page_size or self._page_size
        params: dict[str, str] = {"orderbyfieldids": ",".join(order_by)}
        params.update(_filter_params(filters))
        skip = 0
        previous: tuple[Mapping[str, Any], ...] | None = None
        while True:
            body = self._get(
                f"connectors/{connector}",
                params={**params, "skip": str(skip), "take": str(take)},
                label=connector,
            )
            rows = _rows(body, connector)
            if rows and rows == previous:
                raise AfasContractError(
                    f"{connector} returned the same page for skip={skip}", system=SYSTEM
                )
            last = len(rows) < take
            yield Page(rows, None if last else skip + take)
            if last:
                return
            previous = rows
            skip += take

    def rows(
        self,
        connector: str,
        *,
        order_by: Sequence[str],
        filters: Sequence[Filter] = (),
        page_size: int | None = None,
    ) -> Iterator[Mapping[str, Any]]:
        for page in self.iter_pages(
            connector, order_by=order_by, filters=filters, page_size=page_size
        ):
            yield from page.rows

    def list_administrations(self) -> Iterator[Administration]:
        for row in self.rows("Profit_Administrations", order_by=["AdminId"]):
            yield Administration(number=_int(row, "AdminId"), name=_text(row, "AdminNm"))

    def list_journals(self, administration: int) -> Iterator[Journal]:
        for row in self.rows(
            "Profit_Journals",
            order_by=["JournalId"],
            filters=[Filter("UnitId", str(administration))],
        ):
            yield Journal(
                administration=_int(row, "UnitId"),
                code=_text(row, "JournalId"),
                description=_text(row, "Description"),
                blocked=_bool(row, "Blocked"),
                type=_text(row, "JournalType") or None,
            )

    def list_accounts(self) -> Iterator[ProfitAccount]:
        """All ledger accounts. ASSUMPTION [I] (afas-api.md §3.1): ``Profit_Accounts`` rows carry
        no administration; in a multi-administration environment this is the shared chart."""
        for row in self.rows("Profit_Accounts", order_by=["Account"]):
            to_project = _text(row, "ToProject")
            yield ProfitAccount(
                number=_text(row, "Account"),
                description=_text(row, "Description"),
                blocked=_bool(row, "Blocked"),
                axes=_axes(row),
                to_project=to_project,
                requires_project=requires_project(to_project),
            )

    def list_allocation_assignments(
        self, administration: int, *, account: str | None = None
    ) -> Iterator[AllocationAssignment]:
        filters = [Filter("Unit", str(administration))]
        if account is not None:
            filters.append(Filter("Account", account))
        for row in self.rows(
            "Profit_Allocation_Assigments",
            order_by=["Account", "DimAx", "DimCode"],
            filters=filters,
        ):
            yield AllocationAssignment(
                administration=_int(row, "Unit"),
                account=_text(row, "Account"),
                axis=_text(row, "DimAx"),
                code=_text(row, "DimCode"),
                description=_text(row, "CodeDescription"),
            )

    def list_periods(self, administration: int, *, year: int | None = None) -> Iterator[Period]:
        """The periods of one administration (a malformed row: :class:`AfasContractError`)."""
        filters = [Filter("Unit", str(administration))]
        if year is not None:
            filters.append(Filter("Year", str(year)))
        for row in self._period_rows(filters):
            yield _period(row)

    def environment_periods(self, year: int) -> EnvironmentPeriods:
        """The periods of ``year`` of every administration of the environment the connection
        may read: one paged read (pages of 1,000 rows: 9 columns x 1,000, well under the
        published "columns x rows < 150,000" of get-connector.md) instead of one per
        administration. A malformed row is kept as that administration's error, not raised: one
        administration's bad row must not fail the others' jobs (a row whose ``Unit`` cannot be
        read either belongs to nobody: left out, logged)."""
        periods: dict[int, list[Period]] = {}
        unreadable: dict[int, AfasContractError] = {}
        for row in self._period_rows([Filter("Year", str(year))], ENVIRONMENT_PERIODS_PAGE):
            try:
                period = _period(row)
                periods.setdefault(period.administration, []).append(period)
            except AfasContractError as error:
                try:
                    unreadable.setdefault(_int(row, "Unit"), error)
                except AfasContractError:
                    log.warning("Profit period row without a readable Unit left out: %s", error)
        return EnvironmentPeriods({unit: tuple(ps) for unit, ps in periods.items()}, unreadable)

    def _period_rows(
        self, filters: list[Filter], page_size: int | None = None
    ) -> Iterator[Mapping[str, Any]]:
        return self.rows(
            "Profit_periods_per_administration",
            order_by=["Unit", "Year", "Period"],
            filters=filters,
            page_size=page_size,
        )

    def find_booked_lines(self, administration: int, voucher_number: str) -> list[BookedLine]:
        """Lines booked in ``administration`` with this voucher number, in any journal: the
        journal of a client may have changed since the post went out."""
        rows = self.rows(
            "Profit_Transactions",
            order_by=["EntryNo", "SeqNo"],
            filters=[
                Filter("UnitId", str(administration)),
                Filter("VoucherNo", voucher_number),
            ],
        )
        return [_booked_line(row) for row in rows]

    def booked_lines(
        self,
        filters: Sequence[Filter],
        *,
        page_size: int | None = None,
        connector: str = "Profit_Transactions",
    ) -> list[BookedLine]:
        """``Profit_Transactions`` lines matching ``filters`` (AND), paged, by entry and line.
        ``connector`` :data:`TRANSACTIONS_ALLOCATED`: the same lines split per allocation, with
        their allocation codes (:func:`allocation_of`)."""
        rows = self.rows(connector, order_by=["EntryNo", "SeqNo"], filters=filters,
                         page_size=page_size)  # fmt: skip
        allocated = connector == TRANSACTIONS_ALLOCATED
        return [
            replace(_booked_line(row), allocation=allocation_of(row)) if allocated
            else _booked_line(row)
            for row in rows
        ]  # fmt: skip

    # -- booking ------------------------------------------------------------------------------

    def find_entry(self, administration: int, voucher_number: str) -> int | None:
        """The entry number under which this voucher is booked in ``administration``, or None.
        A failed read raises (it never means "absent")."""
        lines = self.find_booked_lines(administration, voucher_number)
        numbers = sorted({line.entry_number for line in lines})
        if len(numbers) > 1:
            log.error(
                "voucher %s is booked %d times in administration %d (entries %s)",
                voucher_number, len(numbers), administration, numbers,
            )  # fmt: skip
        return numbers[0] if numbers else None

    def post_entry(self, entry: ProfitEntry) -> int:
        """Send ``entry`` to FiEntries once and answer its entry number (``EnNo``).

        Profit has no idempotency key: this never repeats the post and never looks anything up.
        Whether a post may go out at all, and what a failure means, is the booking step's
        business (:mod:`shared.sync.booking`, :func:`shared.afas.errors.post_outcome`). A success
        whose answer does not say the entry number raises :class:`AfasContractError` with
        ``success_unreadable`` set: Profit probably booked it, only a look-up may tell."""
        check_entry(entry)
        response = self._send(
            "POST",
            f"connectors/{FI_ENTRIES}",
            body=dumps(fi_entries_payload(entry)),
            timeout=self._post_timeout,
            label=FI_ENTRIES,
        )
        self._raise_for_response(response)
        try:
            number = entry_number_of(loads(response.content))
        except ValueError:
            number = None
        if number is None:
            unreadable = AfasContractError(
                f"FiEntries answered {response.status_code} without a readable entry number",
                system=SYSTEM,
                status=response.status_code,
            )
            unreadable.success_unreadable = True
            raise unreadable
        log.info(
            "booked voucher %s as entry %d in administration %d",
            entry.voucher_number, number, entry.administration,
        )  # fmt: skip
        return number

    # -- HTTP ---------------------------------------------------------------------------------

    def _get(self, path: str, *, params: Mapping[str, str] | None = None, label: str) -> Any:
        def once() -> Any:
            response = self._send(
                "GET", path, params=params, timeout=self._http.timeout, label=label
            )
            self._raise_for_response(response)
            return _json(response)

        return self._http.retrying(once, what=f"Profit GET {label}")

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: tuple[float, float],
        label: str,
    ) -> requests.Response:
        headers = {
            "Authorization": self._auth.reveal(),
            "Accept": "application/json",
            "Accept-Language": self._language,
        }
        if body is not None:
            headers["Content-Type"] = "application/json;charset=utf-8"
        if self._integration_id:
            headers["IntegrationId"] = self._integration_id
        prepared = self._http.prepare(method, path, headers=headers, params=params, body=body)
        query = (prepared.url or "").partition("?")[2]
        if len(query) > MAX_QUERY:
            raise ValueError(f"query string of {len(query)} characters exceeds AFAS's limit")
        started = time.perf_counter()
        slot = environment_slots(self._base)
        if not slot.acquire(timeout=SLOT_WAIT):
            # Never sent: the job is deferred (no retry spent; a post is recorded as not sent).
            raise AfasEnvironmentBusy(
                self._environment, parallel=MAX_PARALLEL, retry_after=SLOT_DEFER
            )
        try:
            response = self._http.send(prepared, label=f"{method} {label}", timeout=timeout)
        finally:
            slot.release()
        log.debug(
            "Profit %s %s -> %d in %.0f ms",
            method, label, response.status_code, (time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return response

    def _raise_for_response(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        message, number, reference, retry_after = _error_fields(response)
        fields: dict[str, Any] = {
            "system": SYSTEM,
            "status": status,
            "error_number": number,
            "log_reference": reference,
            "retry_after": retry_after,
        }
        if status == 401:
            raise AfasAuthError(_unauthorized(message, _connector_of(response)), **fields)
        if status == 403:
            raise AfasAuthError(message or "Toegang geweigerd.", **fields)
        if status == 404:
            raise AfasNotFound(message or "Niet gevonden (onbekende omgeving of URL).", **fields)
        if status in (429, 502, 503, 504):
            raise AfasRetriableError(message or f"HTTP {status}", **fields)
        if status >= 500:
            raise _classify_500(message or "Onbekende fout (HTTP 500).", fields)
        raise AfasContractError(message or f"HTTP {status}", **fields)


# -- helpers ----------------------------------------------------------------------------------


def _classify_500(message: str, fields: dict[str, Any]) -> AfasError:
    probe = AfasError(message, **fields)
    code = probe.code
    if code == "connector-not-authorized":
        return AfasConnectorNotAuthorized(message, **fields)
    if code == "booking-locked":
        return AfasLockedError(message, **fields)
    if code == "maintenance":
        return AfasRetriableError(message, **fields)
    if code in ("unknown", "server-timeout"):
        return AfasServerError(message, **fields)
    return AfasValidationError(message, **fields)


# AFAS allows 8 parallel calls per Profit environment (issue 18; AFAS's fair-use policy blocks
# the heaviest callers' GetConnectors: profit/get-connector-geblokkeerd.md). One instance never
# sends more: every call takes a slot of its environment's semaphore (shared by every client
# and job in the process). A call that finds no slot within SLOT_WAIT is never sent.
MAX_PARALLEL: Final = 8
SLOT_WAIT: Final = 10.0
# How long a job that found no free slot waits before it comes back (a deferred message).
SLOT_DEFER: Final = 60.0
_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def environment_slots(base_url: str) -> threading.BoundedSemaphore:
    """The process-wide semaphore of one Profit environment (its base URL)."""
    with _SLOTS_LOCK:
        slot = _SLOTS.get(base_url)
        if slot is None:
            slot = _SLOTS[base_url] = threading.BoundedSemaphore(MAX_PARALLEL)
        return slot


def _filter_params(filters: Sequence[Filter]) -> dict[str, str]:
    if not filters:
        return {}
    for f in filters:
        if any(sep in f.value for sep in ",;") or any(sep in f.field for sep in ",;"):
            raise ValueError(f"filter value for {f.field} may not contain ',' or ';'")
    return {
        "filterfieldids": ",".join(f.field for f in filters),
        "filtervalues": ",".join(f.value for f in filters),
        "operatortypes": ",".join(str(f.operator) for f in filters),
    }


def _json(response: requests.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        raise AfasContractError(
            f"answer is not JSON (HTTP {response.status_code})",
            system=SYSTEM,
            status=response.status_code,
        ) from None


def _error_fields(
    response: requests.Response,
) -> tuple[str, int | None, str | None, float | None]:
    try:
        payload = loads(response.content) if response.content else None
    except ValueError:
        payload = None
    message, number, reference, retry_after = "", None, None, None
    if isinstance(payload, dict):
        # 5xx: {externalMessage, errorNumber, profitLogReference}; 503 as published:
        # {"error": {"code", "message"}, "retry_after"} (Mutaties.json components.responses).
        raw_error = payload.get("error")
        published_503: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        message = str(
            payload.get("externalMessage")
            or payload.get("message")
            or published_503.get("message")
            or ""
        )
        raw_number = payload.get("errorNumber")
        if isinstance(raw_number, int) or (
            isinstance(raw_number, str) and raw_number.lstrip("-").isdigit()
        ):
            number = int(raw_number)
        reference = (
            str(payload["profitLogReference"]) if payload.get("profitLogReference") else None
        )
        retry_after = seconds(payload.get("retry_after"))
    header = seconds(response.headers.get("Retry-After"))
    return message, number, reference, header if header is not None else retry_after


def meta_info_of(body: Any) -> MetaInfo:
    """The published ``/MetaInfo`` answer: ``updateConnectors``/``getConnectors`` lists of
    ``{id, description}`` and ``info`` ``{envid, appName, group, tokenExpiry}`` (strings)."""
    if not isinstance(body, dict):
        raise AfasContractError("MetaInfo is not an object", system=SYSTEM)

    def ids(key: str) -> frozenset[str]:
        items = body.get(key) or []
        if not isinstance(items, list):
            raise AfasContractError(f"MetaInfo {key} is not a list", system=SYSTEM)
        return frozenset(
            item["id"].strip()
            for item in items
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].strip()
        )

    raw_info = body.get("info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    expiry, readable = token_expiry(info.get("tokenExpiry"))
    warnings: tuple[str, ...] = ()
    if not readable:
        shown = str(info.get("tokenExpiry"))[:40]
        log.warning("MetaInfo tokenExpiry %r is not a date; read as 'no expiry'", shown)
        warnings = (
            f"AFAS meldt een verloopdatum van de token die Loonbrug niet kan lezen ({shown!r}); "
            "controleer de geldigheid van de token in Profit (App connector › Gebruikerstokens).",
        )
    return MetaInfo(
        update_connectors=ids("updateConnectors"),
        get_connectors=ids("getConnectors"),
        environment_id=_info_text(info, "envid"),
        app_name=_info_text(info, "appName"),
        token_expiry=expiry,
        warnings=warnings,
    )


def _info_text(info: Mapping[str, Any], key: str) -> str | None:
    value = info.get(key)
    return str(value).strip() or None if value is not None else None


NO_EXPIRY: Final = frozenset({"", "0"})


def token_expiry(raw: Any) -> tuple[datetime | None, bool]:
    """``info.tokenExpiry`` of ``/MetaInfo`` as (expiry, readable). Never raises.

    Published: a string; every published example answers ``"0"``. ASSUMPTION [I]: ``"0"``, an
    empty value or no value means "no expiry stated" (None); a date (``2026-01-31`` or
    ``31-01-2026``) is the start of that day and a date-time its wall-clock value, both in
    Amsterdam time (AFAS date-times end in ``Z`` but are Amsterdam time, get-connector.md).
    Anything else is unreadable: (None, False), which the caller reports as a warning."""
    if raw is None or isinstance(raw, bool):
        return None, raw is None
    text = str(raw).strip()
    if text in NO_EXPIRY:
        return None, True
    try:
        return _datetime(text), True
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%d-%m-%Y").replace(tzinfo=AMSTERDAM), True
    except ValueError:
        return None, False


def _connector_of(response: requests.Response) -> str | None:
    """The connector a request addressed (``…/connectors/{name}``), if any."""
    url = (response.request.url if response.request is not None else None) or response.url or ""
    match = re.search(r"/connectors/([A-Za-z0-9_]+)", url)
    return match.group(1) if match else None


def _unauthorized(message: str, connector: str | None) -> str:
    """The text of a Profit 401. Published (Mutaties.json components.responses.401): "valid
    token but no access to this endpoint"; authentication.md: also an invalid or badly encoded
    token. The published 401 has no body, so on a connector both causes are possible and the
    text names the connector (KNOWN_ERRORS "connector-refused" turns it into the hint)."""
    if connector is None:
        return message or "Token geweigerd."
    own = f" AFAS meldt: {message}" if message else ""
    return f"AFAS Profit weigert de toegang tot connector {connector}.{own}"


def _rows(body: Any, connector: str) -> tuple[Mapping[str, Any], ...]:
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise AfasContractError(f"{connector}: answer has no rows list", system=SYSTEM)
    return tuple(rows)


def entry_number_of(body: Any) -> int | None:
    """``EnNo`` from a 201 body: ``results.FiEntryPar``, ``FiEntryPar`` or ``results.FiEntries``.

    ASSUMPTION [I] (afas-api.md §2.6): AFAS's sources show all three shapes; parse any of them."""
    if not isinstance(body, dict):
        return None
    inner = body.get("results", body)
    if not isinstance(inner, dict):
        return None
    for key in ("FiEntryPar", "FiEntries", *inner.keys()):
        candidate = inner.get(key)
        if isinstance(candidate, list) and candidate:
            candidate = candidate[0]
        if isinstance(candidate, dict) and candidate.get("EnNo") not in (None, ""):
            try:
                return int(str(candidate["EnNo"]))
            except ValueError:
                return None
    return None


def _contract(row: Mapping[str, Any], key: str) -> AfasContractError:
    return AfasContractError(f"field {key} missing or malformed in {sorted(row)}", system=SYSTEM)


def _int(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    if isinstance(value, bool):
        raise _contract(row, key)
    try:
        return int(str(value))
    except ValueError:
        raise _contract(row, key) from None


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _bool(row: Mapping[str, Any], key: str) -> bool:
    value = row.get(key)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "ja", "yes")
    return bool(value)


def _datetime(raw: str) -> datetime:
    # AFAS date-times end in Z but are Amsterdam local time [C] S6: keep the wall-clock value.
    value = datetime.fromisoformat(raw.rstrip("Z"))
    return value if value.tzinfo else value.replace(tzinfo=AMSTERDAM)


def _date(row: Mapping[str, Any], key: str) -> date:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        raise _contract(row, key)
    try:
        return datetime.fromisoformat(value.rstrip("Z")).date()
    except ValueError:
        raise _contract(row, key) from None


def _axes(row: Mapping[str, Any]) -> dict[int, str]:
    """Positions n whose ``DimAx{n}`` (a code, published as a string) is filled: FiDimEntries
    must then carry DiC{n} (howto-finance-mutation.md: "If DimAx1 and DimAx2 are filled, the
    object FiEntries/FiDimEntries must be filled")."""
    axes = {}
    for axis in range(1, 6):
        code = _text(row, f"DimAx{axis}")
        if code:
            axes[axis] = code
    return axes


PROJECT_NOT_REQUIRED: Final = frozenset({"", "0", "n", "nee", "no", "false", "niet"})


def requires_project(code: str) -> bool:
    """Whether ``ToProject`` ("Doorboeken projecten code", published as a string) asks for a
    project booking. ASSUMPTION [I]: the code table is not published; the how-to says "If
    ``ToProject`` is TRUE, FiPrjEntries must be filled", so a filled code other than an obvious
    "no" counts as yes. Loonbrug books no projects: this only explains AFAS's refusal."""
    return code.strip().lower() not in PROJECT_NOT_REQUIRED


def allocation_of(row: Mapping[str, Any]) -> tuple[tuple[int, str], ...]:
    """The allocation codes of a ``Profit_Transactions_Allocated`` row, per axis.

    ASSUMPTION [I]: Mutaties.json publishes the fields ``DimAx1``..``DimAx5`` on that connector
    only as "Exception axis code 1..5" (strings, no example). We read ``DimAx{n}`` as the code
    the line is allocated to on axis ``n`` (FiDimEntries ``DiC{n}``), the axis numbering of
    ``Profit_Accounts``. This function is the only place that reads them: if AFAS means
    something else, only this changes."""
    found = []
    for axis in range(1, 6):
        value = row.get(f"DimAx{axis}")
        if value is not None and str(value).strip():
            found.append((axis, str(value).strip()))
    return tuple(found)


def _booked_line(row: Mapping[str, Any]) -> BookedLine:
    try:
        debit, credit = amount(row.get("AmtDebit")), amount(row.get("AmtCredit"))
    except ValueError:
        raise _contract(row, "AmtDebit/AmtCredit") from None
    return BookedLine(
        administration=_int(row, "UnitId"),
        entry_number=_int(row, "EntryNo"),
        sequence=_int(row, "SeqNo") if row.get("SeqNo") is not None else None,
        journal=_text(row, "JournalId"),
        year=_int(row, "Year") if row.get("Year") is not None else None,
        period=_int(row, "Period") if row.get("Period") is not None else None,
        account=_text(row, "AccountNo"),
        debit=debit,
        credit=credit,
        voucher_number=_text(row, "VoucherNo"),
        description=_text(row, "Description"),
    )


__all__ = [
    "Filter",
    "Page",
    "ProfitClient",
    "authorization_header",
    "check_entry",
    "fi_entries_payload",
    "missing_connectors",
]


def _period(row: Mapping[str, Any]) -> Period:
    return Period(
        administration=_int(row, "Unit"),
        year=_int(row, "Year"),
        period=_int(row, "Period"),
        start=_date(row, "DateFrom"),
        end=_date(row, "DateTo"),
        blocked=_bool(row, "Blocked"),
    )
