"""AFAS SB OAuth 2.0: authorization code with PKCE (S256), the token endpoint, scope tokens.

Everything is addressed by an :class:`shared.afas.environment.SbLocation` (API server + customer
environment or ``admin``), so a customer under an accountant's subdomain, an independent customer
on ``AFAS_SB_URL`` and an Admin Center all go through the same code (authentication.md):

* ``{location}/app/auth`` takes ``client_id``, ``redirect_uri``, ``response_type=code``,
  ``code_challenge``, ``code_challenge_method=S256`` and ``state``, all mandatory; no scopes.
* ``{location}/app/token`` exchanges the code (with ``code_verifier``) and refreshes.
* Admin Center: the same two at ``{server}/admin``; then per customer environment ("scope") a
  ``refresh_token`` grant with the Admin Center's refresh token at ``{server}/{scope}/app/token``
  gives an access token for that scope (howto-payroll.md "Get scope token").

ASSUMPTION [I]: SB's refresh and scope-token answers carry no new refresh token (the examples in
authentication.md; howto-payroll.md: "The refresh_token … are the same as from the initial OAuth
flow"), so the stored one is kept and reused; should a customer refresh rotate after all,
:class:`shared.oauth.tokens.TokenStore` stores the new one. A refresh token in a *scope-token*
answer is ignored: the Admin Center's refresh token is shared by all its scopes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode

import requests

from shared import telemetry
from shared.afas.environment import SbLocation, sb_default_location
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


def token_url(location: SbLocation) -> str:
    """``{API server}/{environment}/app/token``, for a customer environment and the Admin Center.

    ASSUMPTION [I]: for the Admin Center authentication.md writes ``<APIserverUrl>/app/token``
    but ``<APIserverUrl>/admin/app/auth`` for the consent, its code sample builds both from one
    ``ClientUrl``, concepts.md puts every Admin Center request under ``…/admin/`` and the
    OpenAPI's Admin Center server is ``https://{subdomein}.afasfocus.nl/admin``: we use
    ``…/admin/app/token``."""
    return f"{location.url}/app/token"


def token_request_is_multipart(*, scope_token: bool) -> bool:
    """How the token request is encoded.

    ASSUMPTION [I]: authentication.md sends every token request "form-encoded" (and its C#
    sample uses FormUrlEncodedContent); howto-payroll.md sends the Admin Center's scope-token
    request as MultipartFormDataContent, and the OpenAPI's ``POST /app/token`` ("Get an access
    token for a scope") documents ``multipart/form-data``. We follow each page for its own case:
    multipart for a scope token, form-encoded (RFC 6749) otherwise."""
    return scope_token


class SbOAuth:
    """The SB OAuth client of Loonbrug (one partner ``client_id`` for every API server)."""

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

    def default_location(self, environment: str) -> SbLocation:
        """An environment on the ``AFAS_SB_URL`` server (an independent customer)."""
        return sb_default_location(self._template, environment)

    def environment_url(self, environment: str) -> str:
        return self.default_location(environment).url

    def _where(self, location: SbLocation | str) -> SbLocation:
        return location if isinstance(location, SbLocation) else self.default_location(location)

    def authorize_url(
        self, location: SbLocation | str, *, state: Secret, code_challenge: str
    ) -> str:
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
        return f"{self._where(location).url}/app/auth?{query}"

    def consent_page_found(self, authorize_url: str) -> bool | None:
        """Whether the consent page the browser is about to open exists: True, False (the API
        server does not know the environment), or None (SB could not be asked from here; then
        the page itself will tell). The request is the browser's own (all parameters, as
        authentication.md requires), without following redirects, so nothing is consented.

        ASSUMPTION [I]: authentication.md publishes no "does this environment exist" call. A
        known environment answers its consent page with a login page (2xx) or a redirect (3xx);
        an environment (or Admin Center) its server does not know answers 404, as any path
        under it does."""
        try:
            with telemetry.external_call("afas-sb", "GET auth (page check)") as call:
                response = self._session.get(
                    authorize_url,
                    headers={"Accept": "text/html"},
                    timeout=(3.0, 10.0),
                    allow_redirects=False,
                )
                call.set_status_code(response.status_code)
        except requests.RequestException as exc:
            log.warning("SB consent page check unreachable: %s", type(exc).__name__)
            return None
        if response.status_code == 404:
            return False
        return None if response.status_code == 429 or response.status_code >= 500 else True

    def exchange_code(
        self, location: SbLocation | str, *, code: Secret, code_verifier: Secret
    ) -> TokenSet:
        """Trade the callback's code for tokens. Raises :class:`InvalidGrant` (code refused),
        :class:`TokenEndpointError` (SB unreachable) or :class:`AfasAuthError` (other refusals)."""
        return self._token(
            self._where(location),
            {
                "grant_type": "authorization_code",
                "code": code.reveal(),
                "code_verifier": code_verifier.reveal(),
                "redirect_uri": self._redirect_uri,
            },
        )

    def refresh(self, location: SbLocation | str, refresh_token: Secret) -> TokenSet:
        return self._token(
            self._where(location),
            {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()},
        )

    def scope_token(self, location: SbLocation, admin_refresh_token: Secret) -> TokenSet:
        """An access token for one customer environment of an Admin Center (howto-payroll.md
        "Get scope token"): the Admin Center's refresh token, at the scope's token endpoint."""
        tokens = self._token(
            location,
            {"grant_type": "refresh_token", "refresh_token": admin_refresh_token.reveal()},
            multipart=token_request_is_multipart(scope_token=True),
        )
        return TokenSet(access_token=tokens.access_token, expires_at=tokens.expires_at)

    def endpoint(self, location: SbLocation | str, *, scope_token: bool = False) -> SbTokenEndpoint:
        """The :class:`shared.oauth.tokens.TokenEndpoint` of one SB environment; for an Admin
        Center's customer environment (``scope_token``) a refresh is a scope-token request."""
        return SbTokenEndpoint(self, self._where(location), scope_token=scope_token)

    def _token(
        self, location: SbLocation, form: dict[str, str], *, multipart: bool = False
    ) -> TokenSet:
        form = {**form, "client_id": self._client_id, "client_secret": self._client_secret.reveal()}
        try:
            with telemetry.external_call("afas-sb", f"POST token {form['grant_type']}") as call:
                if multipart:
                    response = self._session.post(
                        token_url(location),
                        files={name: (None, value) for name, value in form.items()},
                        headers={"Accept": "application/json"},
                        timeout=self._timeout,
                    )
                else:
                    response = self._session.post(
                        token_url(location),
                        data=form,
                        headers={"Accept": "application/json"},
                        timeout=self._timeout,
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
    def __init__(self, oauth: SbOAuth, location: SbLocation, *, scope_token: bool) -> None:
        self._oauth = oauth
        self._location = location
        self._scope_token = scope_token

    def refresh(self, refresh_token: Secret) -> TokenSet:
        if self._scope_token:
            return self._oauth.scope_token(self._location, refresh_token)
        return self._oauth.refresh(self._location, refresh_token)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = loads(response.content) if response.content else {}
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


# A token is believed for at most a day, whatever the endpoint says (an absurd lifetime would
# overflow the expiry moment); SB's tokens live 30 minutes.
MAX_LIFETIME = 86_400


def _lifetime(value: Any) -> int:
    """``expires_in``: a string ("1800") in authentication.md's examples, an integer in the
    OpenAPI schema of ``POST /app/token``; both (and "1800.0") are read."""
    try:
        seconds = int(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return DEFAULT_LIFETIME
    return min(seconds, MAX_LIFETIME) if seconds > 0 else DEFAULT_LIFETIME
