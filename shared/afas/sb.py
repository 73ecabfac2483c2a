"""AFAS SB REST client: Bearer tokens from the token store, reads, idempotent payroll entries.

One client talks to one SB location (API server + customer environment, or an Admin Center, see
:class:`shared.afas.environment.SbLocation`). Every fact about SB it relies on is listed, with its
source in the published spec, in docs/afas.md (AFAS SB).

SB books every request it receives, twice if sent twice (afas-api.md §5.2). A
``Tracking-Identifier`` (uuid) makes a repeat return the first response without booking again
("the response will be the same as the first response", spec 6.0.0), errors included, so
:meth:`SbClient.post_entry` may resend the same request after a timeout, a dropped connection or a
5xx. Which identifier a post carries is the booking ledger's decision
(:func:`shared.journal.identifiers.sb_tracking_identifier`, :mod:`shared.sync.booking`): it
changes exactly when the entry's content or the attempt changes, never between deliveries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Final, Self

import requests

from shared.afas.environment import ADMIN_CENTER, InputError, parse_sb_environment
from shared.afas.errors import (
    AfasAuthError,
    AfasContractError,
    AfasNotFound,
    AfasRequestUnreadable,
    AfasRetriableError,
    AfasSystem,
    AfasValidationError,
    SbPartiallySucceeded,
    check_lines,
)
from shared.afas.models import (
    SbAccount,
    SbAdministration,
    SbBooking,
    SbJournalLine,
    SbPeriod,
    SbScope,
)
from shared.afas.retry import RetryPolicy, seconds
from shared.afas.session import AfasSession
from shared.afas.wire import amount, dumps, loads
from shared.journal.entries import SbEntry
from shared.oauth.tokens import TokenStore
from shared.secret import Secret
from shared.store.connections import ConnectionKey

log = logging.getLogger("loonbrug.afas.sb")

SYSTEM: Final = AfasSystem.SB
_CENT: Final = Decimal("0.01")

# The ``Accept-Version`` header per endpoint (required by every ``/api`` operation of
# openapi-6-0-0.json). Values as the spec's own examples give them: the shared parameter
# ``#/components/parameters/accept-version`` shows "1"; ``get /api/accountingperiod`` declares its
# own with example "2.0" (operationId get_accountingperiod_2.0). One table, so a correction is
# one line.
ACCEPT_VERSION: Final = {
    "api/administrations": "1",
    "api/ledgeraccounts": "1",
    "api/accountingperiod": "2.0",
    "api/payrolljournalentry": "1",
    # ``get /api/journalentries`` declares its own Accept-Version, example "1.1" (operationId
    # get_journalentries_1.1): the Aansluiting's read of booked entries.
    "api/journalentries": "1.1",
}

# Endpoint groups ("tags" in openapi-6-0-0.json) an SB app may be granted. A payroll app gets
# "Loonjournaalpost"; a call outside the app's groups is answered 403 "De ingelogde gebruiker
# heeft niet voldoende rechten." (troubleshooting.md, HTTP 403).
PAYROLL_GROUP: Final = "Loonjournaalpost"
_PUBLIC_REPORTING: Final = (
    "Financiele rapportage",
    "Publiek: Financiële dashboarding",
    "Publiek: Financiële rapportage",
)
ENDPOINT_GROUPS: Final = {  # paths["/api/…"][method].tags of openapi-6-0-0.json, verbatim
    "api/administrations": frozenset({
        *_PUBLIC_REPORTING, "Financiële journaalpost", "Inkoopjournaalpost", PAYROLL_GROUP,
        "POS Transacties", "Publiek: Externe facturatie", "Publiek: Externe verkoopregels",
        "Publiek: Facturatie", "Publiek: Financiële journaalpost", "Publiek: POS Transacties",
        "Publiek: Relatiemanagement", "Verkoopfactuur", "Verkoopjournaalpost", "Verkoopregels"}),
    "api/ledgeraccounts": frozenset({
        *_PUBLIC_REPORTING, "Financiële journaalpost", "Inkoopjournaalpost", PAYROLL_GROUP,
        "POS Transacties", "Publiek: Externe facturatie", "Publiek: Financiële journaalpost",
        "Publiek: POS Transacties", "Verkoopjournaalpost"}),
    "api/accountingperiod": frozenset(_PUBLIC_REPORTING),
    "api/payrolljournalentry": frozenset({PAYROLL_GROUP}),
    # tags ["Financiele rapportage"] only: a payroll app must be granted this reporting group too.
    "api/journalentries": frozenset({"Financiele rapportage"}),
}  # fmt: skip


def in_payroll_group(path: str) -> bool:
    """A payroll app may call ``path`` (its endpoint groups include Loonjournaalpost)."""
    return PAYROLL_GROUP in ENDPOINT_GROUPS.get(path, frozenset())


# A total order for paging: ``Id`` is in the response schema of every list we read.
SORT_FIELD: Final = "Id"


def sort_params(field: str = SORT_FIELD) -> dict[str, str]:
    """The sort that keeps skip/take pages stable (pagination.md: "Always combine these with the
    sort parameter"; without it rows can be skipped or repeated between pages).

    ASSUMPTION [I]: the published parameter name differs: pagination.md (and the request sample
    in authentication.md) uses ``sort=FieldName+Ascending``; openapi-6-0-0.json
    (``#/components/parameters/sortField``) uses ``sortField`` with ``'fieldId [direction]'``,
    direction ``ascending``. We send both, each in its own documented syntax; a server reads the
    one it knows (unknown query parameters are not refused by the lists we call)."""
    return {"sort": f"{field} Ascending", "sortField": f"{field} ascending"}


def administration_filter(administration_id: str) -> str:
    """OData-style ``filter=AdministrationId eq <uuid>`` (filtering.md: ``filter=Id eq <uuid>``,
    a uuid unquoted; strings would be quoted)."""
    return f"AdministrationId eq {administration_id}"


def whole_number(value: Any) -> int:
    """A whole number as SB writes it: ``1``, ``1.0`` (``PeriodNumber`` is ``number``/``decimal?``
    in the spec and its example writes ``1.0``), ``"2024"`` (``AccountingYear`` is a string).
    Raises ``ValueError`` for anything with a fraction or no number at all."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a whole number: {value!r}")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValueError(f"not a whole number: {value!r}") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


class SbEndpointNotGranted(AfasAuthError):
    """403 on an endpoint: the SB app lacks that endpoint group (troubleshooting.md). Not a
    refused token: the other endpoints keep working."""


def payroll_entry_payload(entry: SbEntry) -> dict[str, Any]:
    """The ``POST /api/payrolljournalentry`` body. SB takes no cost centres, journal or period."""
    lines = []
    for line in entry.lines:
        item: dict[str, Any] = {"LedgerAccountNumber": line.account}
        if line.debit:
            item["AmountDebit"] = line.debit.quantize(_CENT)
        if line.credit:
            item["AmountCredit"] = line.credit.quantize(_CENT)
        lines.append(item)
    return {
        "AdministrationId": entry.administration_id,
        "Description": entry.description,
        "Date": entry.entry_date.isoformat(),
        "PayrollJournalEntryLine": lines,
    }


class SbClient:
    """One SB environment of one office. A context manager; one ``requests.Session``."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenStore,
        key: ConnectionKey,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        page_size: int = 100,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # A passed (pooled) session is not this client's to close (as for ProfitClient).
        self._http = AfasSession(
            SYSTEM, base_url, session=session, timeout=timeout, retry=retry, sleep=sleep
        )
        self._tokens = tokens
        self._key = key
        self._page_size = page_size
        self.calls = self._http.calls

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads --------------------------------------------------------------------------------

    def list_administrations(self) -> Iterator[SbAdministration]:
        for row in self._rows("api/administrations"):
            yield SbAdministration(id=_text(row, "Id"), description=_text(row, "Description"))

    def list_accounts(self, administration_id: str) -> Iterator[SbAccount]:
        for row in self._rows(
            "api/ledgeraccounts", {"filter": administration_filter(administration_id)}
        ):
            yield SbAccount(
                number=_text(row, "LedgerAccountNumber"),
                id=_text(row, "Id"),
                description=_text(row, "Description"),
                administration_id=_text(row, "AdministrationId") or administration_id,
            )

    def list_periods(self, administration_id: str) -> Iterator[SbPeriod]:
        for row in self._rows(
            "api/accountingperiod", {"filter": administration_filter(administration_id)}
        ):
            try:
                yield SbPeriod(
                    administration_id=_text(row, "AdministrationId") or administration_id,
                    year=whole_number(row.get("AccountingYear")),
                    number=whole_number(row.get("PeriodNumber")),
                    start=date.fromisoformat(str(row.get("StartDate"))[:10]),
                    end=date.fromisoformat(str(row.get("EndDate"))[:10]),
                    id=_text(row, "Id"),
                )
            except ValueError:
                raise AfasContractError(
                    f"malformed accounting period {row}", system=SYSTEM
                ) from None

    def list_journal_lines(self, filter_text: str) -> Iterator[SbJournalLine]:
        """``GET /api/journalentries`` (1.1) lines matching ``filter_text`` (OData, filtering.md),
        sorted on ``LineId`` (the list has no ``Id``; every row has a unique LineId)."""
        for row in self._rows("api/journalentries", {"filter": filter_text}, sort_field="LineId"):
            try:
                debit, credit = amount(row.get("AmountDebit")), amount(row.get("AmountCredit"))
            except ValueError:
                raise AfasContractError(
                    f"malformed journal entry amounts {row}", system=SYSTEM
                ) from None
            posted = str(row.get("PostingDate") or "")[:10]
            yield SbJournalLine(
                administration_id=_text(row, "AdministrationId"),
                header_id=_text(row, "HeaderId"),
                number=_text(row, "Number"),
                period_id=_text(row, "AccountingPeriodId"),
                account_id=_text(row, "LedgerAccountId"),
                debit=debit,
                credit=credit,
                posting_date=date.fromisoformat(posted) if posted else None,
                description=_text(row, "Description"),
            )

    def list_scopes(self) -> list[SbScope]:
        """The customer environments of an Admin Center (this client must be at ``…/admin``):
        ``authentication/getscopes`` (howto-payroll.md "Get scopes"). The Admin Center itself
        (``Path`` ``admin``, "Beheer" in the spec's example) is left out."""
        body = self._scopes_answer()
        scopes: list[SbScope] = []
        for row in _list(body, "authentication/getscopes"):
            path = _text(row, "Path").lower()
            if not path or path == ADMIN_CENTER:
                continue
            try:
                path = parse_sb_environment(path)
            except InputError:
                log.warning("SB getscopes listed a path that is not an environment name; skipped")
                continue
            scopes.append(
                SbScope(path=path, name=_text(row, "Name") or path,
                        description=_text(row, "Description"))
            )  # fmt: skip
        return sorted(scopes, key=lambda s: (s.name.lower(), s.path))

    def _scopes_answer(self) -> Any:
        """ASSUMPTION [I]: openapi-6-0-0.json (and the anchor howto-payroll.md links to,
        ``#post-/authentication/getscopes``) makes getscopes a POST; authentication.md says a GET.
        We POST, and try a GET once when the server answers 404/405 to the POST."""
        try:
            return self._call("POST", "authentication/getscopes")
        except AfasNotFound:
            return self._call("GET", "authentication/getscopes")
        except AfasValidationError as error:
            if error.status != 405:
                raise
            return self._call("GET", "authentication/getscopes")

    # -- booking ------------------------------------------------------------------------------

    def post_entry(self, entry: SbEntry, tracking_identifier: str) -> SbBooking:
        """Post ``entry`` with ``tracking_identifier``; resending is safe, so passing trouble is
        retried within the policy. ``PartiallySucceeded`` raises :class:`SbPartiallySucceeded`."""
        check_lines(entry.lines, system=SYSTEM)  # [I] SB's answer to unbalanced is undocumented
        body = self._call(
            "POST",
            "api/payrolljournalentry",
            body=dumps(payroll_entry_payload(entry)),
            extra_headers={"Tracking-Identifier": tracking_identifier},
        )
        if not isinstance(body, dict):
            unreadable = AfasContractError(
                "payrolljournalentry answer is not an object", system=SYSTEM
            )
            unreadable.success_unreadable = True
            raise unreadable
        result = str(body.get("result") or body.get("Result") or "")
        instances = body.get("instances") or body.get("Instances") or []
        if not isinstance(instances, list):
            instances = []
        if result == "PartiallySucceeded":
            raise SbPartiallySucceeded(
                "SB heeft de journaalpost maar gedeeltelijk verwerkt: " + _errors_text(body),
                system=SYSTEM,
            )
        if result != "Succeeded":
            raise AfasContractError(f"unexpected result {result!r}", system=SYSTEM)
        booking = SbBooking(
            tracking_identifier=tracking_identifier,
            instance_ids=tuple(str(i.get("Id")) for i in instances if isinstance(i, dict)),
            codes=tuple(str(i.get("Code")) for i in instances if isinstance(i, dict)),
        )
        log.info("booked SB entry %s as %s", tracking_identifier, ",".join(booking.instance_ids))
        return booking

    # -- HTTP ---------------------------------------------------------------------------------

    def _rows(
        self, path: str, params: Mapping[str, str] | None = None, *, sort_field: str = SORT_FIELD
    ) -> Iterator[Mapping[str, Any]]:
        skip = 0
        previous: list[Mapping[str, Any]] | None = None
        while True:
            body = self._call(
                "GET",
                path,
                params={
                    **(params or {}),
                    **sort_params(sort_field),
                    "skip": str(skip),
                    "take": str(self._page_size),
                },
            )
            rows = _list(body, path)
            if rows and rows == previous:
                raise AfasContractError(
                    f"{path} returned the same page for skip={skip}", system=SYSTEM
                )
            yield from rows
            if len(rows) < self._page_size:
                return
            previous = rows
            skip += self._page_size

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        def once() -> Any:
            token = self._tokens.access_token(self._key)
            response = self._send(method, path, token, params, body, extra_headers)
            if response.status_code == 401:
                # Valid by its expiry yet refused: refresh once (unless another worker did).
                token = self._tokens.refresh_after_rejection(self._key, token)
                response = self._send(method, path, token, params, body, extra_headers)
            self._raise_for_response(response)
            try:
                return loads(response.content) if response.content else None
            except ValueError:
                raise AfasContractError(
                    f"{path} answered non-JSON", system=SYSTEM, status=response.status_code
                ) from None

        return self._http.retrying(once, what=f"SB {method} {path}")

    def _send(
        self,
        method: str,
        path: str,
        token: Secret,
        params: Mapping[str, str] | None,
        body: bytes | None,
        extra_headers: Mapping[str, str] | None,
    ) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {token.reveal()}",
            "Accept": "application/json",
            **(extra_headers or {}),
        }
        if path.startswith("api/"):
            headers["Accept-Version"] = ACCEPT_VERSION.get(path, "1")
        if body is not None:
            headers["Content-Type"] = "application/json"
        prepared = self._http.prepare(method, path, headers=headers, params=params, body=body)
        return self._http.send(prepared, label=f"{method} {path}")

    def _raise_for_response(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        try:
            payload = loads(response.content) if response.content else None
        except ValueError:
            payload = None
        data = payload if isinstance(payload, dict) else {}
        message = str(data.get("Message") or data.get("message") or data.get("title") or "")
        fields: dict[str, Any] = {
            "system": SYSTEM,
            "status": status,
            "trace_id": str(data.get("TraceId") or data.get("traceId") or "") or None,
            "retry_after": seconds(response.headers.get("Retry-After"))
            or seconds(data.get("retry_after")),
        }
        if status == 403:
            raise SbEndpointNotGranted(message or f"HTTP {status}", **fields)
        if status == 401:
            raise AfasAuthError(message or f"HTTP {status}", **fields)
        if status == 404:
            raise AfasNotFound(message or "Niet gevonden.", **fields)
        if status == 429 or status >= 500:
            # Retrying is safe: reads are reads, and posts carry a Tracking-Identifier.
            raise AfasRetriableError(message or f"HTTP {status}", **fields)
        if 300 <= status < 400:
            # A redirect (not followed): not SB's answer to the request, so no refusal either.
            raise AfasContractError(f"unexpected redirect (HTTP {status})", **fields)
        if str(data.get("ExceptionCode") or "").upper() == "DS3100":
            raise AfasRequestUnreadable(message or "Invalid JSON request", **fields)
        raise AfasValidationError(message or f"HTTP {status}", **fields)


def _list(body: Any, path: str) -> list[Mapping[str, Any]]:
    if isinstance(body, dict):
        for key in ("Result", "result", "value", "items", "Items"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
    if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
        raise AfasContractError(f"{path}: answer is not a list", system=SYSTEM)
    return body


def _text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _errors_text(body: Mapping[str, Any]) -> str:
    errors = body.get("errors") or []
    parts: list[str] = []
    if isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict):
                parts.extend(f"{k}: {v}" for k, v in item.items())
            else:
                parts.append(str(item))
    return "; ".join(parts) or "(geen details)"
