"""The HTTP plumbing both AFAS clients share (``ProfitClient``, ``SbClient``): one
``requests.Session`` (owned, or a pooled one that is not ours to close), the base URL, the
timeouts, the retry policy, the call counters, the telemetry dependency and how a failure on the
way becomes an :class:`AfasTransportError` (with ``never_sent`` when no connection was made).
What differs per system (headers, authentication, Profit's parallel-call slots and query limit)
stays in the client."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Self, TypeVar

import requests
from urllib3.exceptions import NewConnectionError

from shared import telemetry
from shared.afas.errors import AfasSystem, AfasTransportError
from shared.afas.retry import RetryPolicy, with_retries

_T = TypeVar("_T")

NAMES: dict[AfasSystem, str] = {AfasSystem.PROFIT: "Profit", AfasSystem.SB: "SB"}
DEPENDENCIES: dict[AfasSystem, telemetry.AfasSystem] = {
    AfasSystem.PROFIT: "afas-profit",
    AfasSystem.SB: "afas-sb",
}


class AfasSession:
    """One AFAS environment's connection: a context manager closing the session it owns."""

    def __init__(
        self,
        system: AfasSystem,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.base = base_url.rstrip("/")
        self._owns_session = session is None  # a shared (pooled) session is not ours to close
        self._session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.calls: Counter[str] = Counter()  # "GET Profit_Transactions" → count (tests, bench)

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prepare(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> requests.PreparedRequest:
        request = requests.Request(
            method, f"{self.base}/{path}", params=dict(params or {}), data=body, headers=headers
        )
        return self._session.prepare_request(request)

    def send(
        self,
        prepared: requests.PreparedRequest,
        *,
        label: str,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """Send once (counted as ``label``, traced as a dependency call; a redirect is not
        followed); a failure on the way is an :class:`AfasTransportError`: ``timed_out`` for a
        timeout, ``never_sent`` when no connection was made (the request cannot have reached
        AFAS)."""
        self.calls[label] += 1
        name = NAMES[self.system]
        try:
            with telemetry.external_call(DEPENDENCIES[self.system], label) as call:
                # Never follow a redirect: it would send the request (a post included) again by
                # itself, uncounted and outside the booking ledger, to wherever Location points.
                # AFAS does not redirect its REST calls; a 3xx is answered to the caller as is.
                response = self._session.send(
                    prepared, timeout=timeout or self.timeout, allow_redirects=False
                )
                call.set_status_code(response.status_code)
            return response
        except requests.Timeout as exc:
            raise self._transport_error(exc, f"{name} did not answer in time", True) from exc
        except requests.RequestException as exc:
            # Refused, reset, or anything else on the way (an answer cut off mid-body, a broken
            # chunk): the request may have gone out and its answer is lost.
            raise self._transport_error(
                exc, f"{type(exc).__name__} talking to {name}", False
            ) from exc

    def retrying(self, once: Callable[[], _T], *, what: str) -> _T:
        """``once`` under the retry policy (transient failures, ``Retry-After``)."""
        return with_retries(once, self.retry, what=what, sleep=self._sleep)

    def _transport_error(
        self, exc: requests.RequestException, message: str, timed_out: bool
    ) -> AfasTransportError:
        return AfasTransportError(
            message, system=self.system, timed_out=timed_out, never_sent=never_sent(exc)
        )


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached AFAS (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
