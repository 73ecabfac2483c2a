"""The Loket.nl OAuth server: the authorize URL, the code exchange and the refresh grant.

:class:`LoketOAuth` implements the ``TokenEndpoint`` protocol of :mod:`shared.oauth.tokens`, so
the rotation-safe :class:`~shared.oauth.tokens.TokenStore` refreshes through it.
:class:`ConnectionTokens` binds that store to one office's Loket connection and translates its
exceptions into the Loket error family, which is what :class:`~shared.loket.client.LoketClient`
takes as its token source.

Never retried blindly: a refresh token is single use (loket-api.md §1.2). A refresh request that
may have reached Loket (read timeout, connection dropped after sending, a 500) is NOT resent:
resending a rotated token would be a reuse and revoke the whole consent. Only failures where the
request provably did not arrive (connect timeout, connection refused) and explicit "come back
later" answers (429/503, see :func:`_unprocessed`) are retried, a few times, quickly.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlencode

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from shared import telemetry
from shared.clock import Clock, retry_after_seconds
from shared.loket.errors import (
    LoketAuthError,
    LoketConsentRequired,
    LoketContractError,
    LoketNotConnected,
    LoketServerError,
)
from shared.oauth.consent import oauth_error_code
from shared.oauth.tokens import (
    ConsentRequired,
    InvalidGrant,
    NotConnected,
    TokenEndpointError,
    TokenSet,
    TokenStore,
)
from shared.secret import Secret
from shared.store.connections import ConnectionKey

log = logging.getLogger("loonbrug.loket")

SCOPE: Final = "all"  # [C3] the only scope value any source shows
DEFAULT_EXPIRES_IN: Final = 3599
TOKEN_TIMEOUT: Final = (5.0, 20.0)
REVOKED_REASON: Final = (
    "Loket.nl heeft de toestemming voor Loonbrug ingetrokken of laten verlopen. Koppel Loket "
    "opnieuw via Koppelingen › Loket koppeling toevoegen en log in met de Loket-gebruiker die "
    "speciaal voor deze koppeling is aangemaakt."
)


def authorize_url(
    auth_url: str, *, client_id: str, redirect_uri: str, state: Secret, code_challenge: str
) -> str:
    """``{auth}/authorize?client_id&redirect_uri&response_type=code&scope=all&state`` [C3],
    plus PKCE ``code_challenge`` + ``S256``.

    ASSUMPTION [I]: Loket accepts (or ignores) the PKCE parameters; no source mentions PKCE. We
    send them anyway (RFC 9700): a server that does not know them leaves them out of the check.
    """
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": SCOPE,
            "state": state.reveal(),
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{auth_url.rstrip('/')}/authorize?{query}"


def _client_auth(form: dict[str, str], client_id: str, client_secret: Secret | None) -> None:
    """ASSUMPTION [I]: the client authenticates with ``client_id``/``client_secret`` in the
    form body (S1 shows them there for the refresh grant; HTTP Basic is not mentioned). Whether a
    secret is needed at all depends on Loket's client configuration, so it is sent when set."""
    form["client_id"] = client_id
    if client_secret is not None:
        form["client_secret"] = client_secret.reveal()


def _unprocessed(status: int) -> bool:
    """ASSUMPTION [I]: a 429 or 503 from the token endpoint means Loket did not process the
    grant (so the refresh token was not rotated and may be sent again). Nothing documents it."""
    return status in (429, 503)


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached the server (safe to send again)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


class LoketOAuth:
    """Loket's ``/token`` endpoint (form-encoded) and the authorize-URL builder."""

    def __init__(
        self,
        auth_url: str,
        client_id: str,
        client_secret: Secret | None,
        *,
        clock: Clock,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = TOKEN_TIMEOUT,
        max_tries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._auth_url = auth_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._session = session or requests.Session()
        self._timeout = timeout
        self._max_tries = max_tries
        self._sleep = sleep
        self.calls = 0  # token-endpoint requests sent (tests, benchmarks)

    @property
    def token_url(self) -> str:
        return f"{self._auth_url}/token"

    def authorize_url(self, *, redirect_uri: str, state: Secret, code_challenge: str) -> str:
        return authorize_url(
            self._auth_url,
            client_id=self._client_id,
            redirect_uri=redirect_uri,
            state=state,
            code_challenge=code_challenge,
        )

    def exchange_code(self, code: Secret, *, redirect_uri: str, code_verifier: Secret) -> TokenSet:
        """``grant_type=authorization_code`` [C3] with the PKCE verifier. Raises
        :class:`InvalidGrant` when Loket refuses the code (used, expired, wrong verifier)."""
        form = {
            "grant_type": "authorization_code",
            "code": code.reveal(),
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier.reveal(),
        }
        tokens = self._post(form)
        if tokens.refresh_token is None:
            raise LoketContractError("the code exchange answered without a refresh_token")
        return tokens

    def refresh(self, refresh_token: Secret) -> TokenSet:
        """``grant_type=refresh_token`` [C]; Loket answers a new (rotated) refresh token."""
        return self._post({"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()})

    # -- the one request function ---------------------------------------------------------------
    def _post(self, form: dict[str, str]) -> TokenSet:
        _client_auth(form, self._client_id, self._client_secret)
        grant = form["grant_type"]
        for attempt in range(1, self._max_tries + 1):
            self.calls += 1
            try:
                with telemetry.external_call("loket", f"POST token {grant}") as call:
                    response = self._session.post(
                        self.token_url,
                        data=form,
                        headers={"Accept": "application/json"},
                        timeout=self._timeout,
                    )
                    call.set_status_code(response.status_code)
            except requests.RequestException as exc:
                if _not_sent(exc) and attempt < self._max_tries:
                    self._pause(attempt, None, f"{type(exc).__name__}")
                    continue
                # It may have arrived: never send the same grant twice.
                raise TokenEndpointError(
                    f"Loket token endpoint ({grant}) failed: {type(exc).__name__}"
                ) from None
            if _unprocessed(response.status_code) and attempt < self._max_tries:
                self._pause(
                    attempt,
                    retry_after_seconds(response.headers.get("Retry-After")),
                    f"HTTP {response.status_code}",
                )
                continue
            return self._tokens_from(response, grant)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> None:
        wait = min(retry_after if retry_after is not None else 0.2 * 2**attempt, 10.0)
        wait += random.uniform(0, 0.1)  # noqa: S311 - jitter, not crypto
        log.warning("loket token endpoint: %s; retry %d in %.2f s", why, attempt + 1, wait)
        self._sleep(wait)

    def _tokens_from(self, response: requests.Response, grant: str) -> TokenSet:
        status = response.status_code
        body = _json_or_none(response)
        if status != 200:
            error = body.get("error") if isinstance(body, Mapping) else None
            code = oauth_error_code(error)
            if code == "invalid_grant":
                raise InvalidGrant(f"Loket refused the {grant} grant (invalid_grant)")
            if code == "invalid_client":
                raise LoketAuthError(
                    f"Loket refused the OAuth client (invalid_client, HTTP {status})",
                    status=status,
                    dutch="Loket.nl weigert de OAuth-client van Loonbrug (invalid_client). De "
                    "beheerder moet LOKET_CLIENT_ID en LOKET_CLIENT_SECRET controleren.",
                )
            if status >= 500 or status == 429:
                raise TokenEndpointError(f"Loket token endpoint ({grant}) answered HTTP {status}")
            raise LoketAuthError(
                f"Loket token endpoint ({grant}) answered HTTP {status} ({code})",
                status=status,
                dutch="Loket.nl weigerde het ophalen van een toegangstoken. Koppel Loket opnieuw.",
            )
        if not isinstance(body, Mapping):
            raise LoketContractError(f"Loket token endpoint ({grant}) answered no JSON object")
        access = body.get("access_token")
        refresh = body.get("refresh_token")
        token_type = body.get("token_type", "bearer")
        if not isinstance(access, str) or not access:
            raise LoketContractError(f"Loket token answer ({grant}) has no access_token")
        if refresh is not None and not isinstance(refresh, str):
            raise LoketContractError(f"Loket token answer ({grant}) has a malformed refresh_token")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise LoketContractError(f"Loket token answer ({grant}) is not a bearer token")
        return TokenSet(
            access_token=Secret(access),
            expires_at=self._clock() + timedelta(seconds=expires_in(body.get("expires_in"))),
            refresh_token=Secret(refresh) if refresh else None,
        )


def expires_in(value: Any) -> int:
    """ASSUMPTION [I]: when ``expires_in`` is missing or unreadable the token lives as long as
    the spec's example says (3599 s). [C] says to honour the value when it is there."""
    if isinstance(value, bool):
        return DEFAULT_EXPIRES_IN
    if isinstance(value, int) and value > 0:
        return min(value, MAX_EXPIRES_IN)
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) < 10:
        return min(int(value), MAX_EXPIRES_IN) or DEFAULT_EXPIRES_IN
    return DEFAULT_EXPIRES_IN


MAX_EXPIRES_IN = 86_400  # a token is believed for at most a day (an absurd value overflows)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


class ConnectionTokens:
    """The access-token source of one office's Loket connection (what ``LoketClient`` takes).

    Wraps :class:`TokenStore` and turns its exceptions into Loket errors: no connection ->
    :class:`LoketNotConnected`, consent gone -> :class:`LoketConsentRequired` (the store has
    already marked the connection ``reauthorize``), token endpoint down ->
    :class:`LoketServerError` (retriable).

    A token from the store is reused for ``cache_for`` seconds without reading the row again
    (the store only hands out tokens with more than its refresh margin, two minutes, left). A
    401 drops it and asks the store, which refreshes once across all workers.
    """

    def __init__(self, store: TokenStore, key: ConnectionKey, *, cache_for: float = 60.0) -> None:
        self._store = store
        self.key = key
        self._cache_for = cache_for
        self._lock = threading.Lock()
        self._cached: tuple[Secret, float] | None = None

    def access_token(self) -> Secret:
        with self._lock:
            cached = self._cached
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        with _translated():
            token = self._store.access_token(self.key)
        self._remember(token)
        return token

    def refresh_after_rejection(self, rejected: Secret) -> Secret:
        with self._lock:
            self._cached = None
        with _translated():
            token = self._store.refresh_after_rejection(self.key, rejected)
        self._remember(token)
        return token

    def _remember(self, token: Secret) -> None:
        with self._lock:
            self._cached = (token, time.monotonic() + self._cache_for)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except ConsentRequired as exc:
        raise LoketConsentRequired(str(exc), dutch=exc.reason) from exc
    except NotConnected as exc:
        raise LoketNotConnected(str(exc)) from exc
    except TokenEndpointError as exc:
        raise LoketServerError(str(exc)) from exc
