"""AFAS SB OAuth 2.0: authorization code with PKCE (S256) and the token endpoint.

``{AFAS_SB_URL}/app/auth`` takes ``client_id``, ``redirect_uri``, ``response_type=code``,
``code_challenge``, ``code_challenge_method=S256`` and ``state``, all mandatory; scopes are not
used. ``{AFAS_SB_URL}/app/token`` exchanges the code (with ``code_verifier``) and refreshes
(afas-api.md §4.3). Access tokens live 1800 s.

ASSUMPTION [I]: SB's refresh answer carries no new refresh token (AFAS's example), so the stored
one is kept and reused; should SB rotate after all, :class:`shared.oauth.tokens.TokenStore` stores
the new one, so both behaviours are safe.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlencode

import requests

from shared import telemetry
from shared.afas.errors import AfasAuthError, AfasSystem
from shared.afas.wire import loads
from shared.clock import Clock
from shared.oauth.consent import oauth_error_code
from shared.oauth.tokens import InvalidGrant, TokenEndpointError, TokenSet
from shared.secret import Secret

log = logging.getLogger("loonbrug.afas.sb")

DEFAULT_LIFETIME: Final = 1800


class SbNotConfigured(RuntimeError):
    """AFAS_SB_CLIENT_ID / AFAS_SB_CLIENT_SECRET are not set (allowed in development only)."""


class SbOAuth:
    """The SB OAuth client of Loonbrug (one partner ``client_id`` for all environments)."""

    def __init__(
        self,
        base_url_template: str,
        *,
        client_id: str,
        client_secret: Secret,
        redirect_uri: str,
        clock: Clock,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self._template = base_url_template.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._clock = clock
        self._session = session or requests.Session()
        self._timeout = timeout

    def environment_url(self, environment: str) -> str:
        return self._template.replace("{environment}", environment)

    def authorize_url(self, environment: str, *, state: Secret, code_challenge: str) -> str:
        query = urlencode(
            {
                "client_id": self._client_id,
                "redirect_uri": self._redirect_uri,
                "response_type": "code",
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "state": state.reveal(),
            }
        )
        return f"{self.environment_url(environment)}/app/auth?{query}"

    def exchange_code(self, environment: str, *, code: Secret, code_verifier: Secret) -> TokenSet:
        """Trade the callback's code for tokens. Raises :class:`InvalidGrant` (code refused),
        :class:`TokenEndpointError` (SB unreachable) or :class:`AfasAuthError` (other refusals)."""
        return self._token(
            environment,
            {
                "grant_type": "authorization_code",
                "code": code.reveal(),
                "code_verifier": code_verifier.reveal(),
                "redirect_uri": self._redirect_uri,
            },
        )

    def refresh(self, environment: str, refresh_token: Secret) -> TokenSet:
        return self._token(
            environment, {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
        )

    def endpoint(self, environment: str) -> SbTokenEndpoint:
        """The :class:`shared.oauth.tokens.TokenEndpoint` of one SB environment."""
        return SbTokenEndpoint(self, environment)

    def _token(self, environment: str, form: dict[str, str]) -> TokenSet:
        form = {**form, "client_id": self._client_id, "client_secret": self._client_secret.reveal()}
        url = f"{self.environment_url(environment)}/app/token"
        try:
            with telemetry.external_call("afas-sb", f"POST token {form['grant_type']}") as call:
                response = self._session.post(
                    url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
                )
                call.set_status_code(response.status_code)
        except requests.RequestException as exc:
            raise TokenEndpointError(
                f"SB token endpoint unreachable: {type(exc).__name__}"
            ) from exc
        body = _json_object(response)
        if response.status_code in (429,) or response.status_code >= 500:
            raise TokenEndpointError(f"SB token endpoint answered HTTP {response.status_code}")
        if response.status_code != 200:
            error = oauth_error_code(body.get("error"), unknown="")
            description = str(body.get("error_description") or "")
            log.warning(
                "SB token endpoint refused %s: HTTP %d %s",
                form["grant_type"], response.status_code, error or "(no error code)",
            )  # fmt: skip
            if error == "invalid_grant":
                raise InvalidGrant(description or error)
            raise AfasAuthError(
                f"{error or 'token request refused'}: {description}".strip(": "),
                system=AfasSystem.SB,
                status=response.status_code,
            )
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise TokenEndpointError("SB token answer has no access_token")
        refresh = body.get("refresh_token")
        return TokenSet(
            access_token=Secret(access),
            expires_at=self._clock() + timedelta(seconds=_lifetime(body.get("expires_in"))),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        )


class SbTokenEndpoint:
    def __init__(self, oauth: SbOAuth, environment: str) -> None:
        self._oauth = oauth
        self._environment = environment

    def refresh(self, refresh_token: Secret) -> TokenSet:
        return self._oauth.refresh(self._environment, refresh_token)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = loads(response.content) if response.content else {}
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def _lifetime(value: Any) -> int:
    """``expires_in`` comes as a string ("1800") in AFAS's example [C] S20; accept a number too."""
    try:
        seconds = int(str(value))
    except ValueError:
        return DEFAULT_LIFETIME
    return seconds if seconds > 0 else DEFAULT_LIFETIME
