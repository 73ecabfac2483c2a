"""Connecting an office to Loket.nl: start the consent, finish it in the callback, forget it.

The state (random, single use, bound to office and user, 10 minutes) and the PKCE verifier live
in :class:`shared.oauth.consent.ConsentStore`; the tokens are stored encrypted by
:class:`shared.store.connections.ConnectionRepository`. Nothing is stored unless Loket issued
tokens for a state Loonbrug started and that was not used or expired. The state is spent first,
also when Loket answers with an error, so a callback URL can never be replayed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from shared.loket.errors import LoketError
from shared.loket.oauth import LoketOAuth
from shared.oauth.consent import ConsentStore, InvalidState, oauth_error_code
from shared.oauth.tokens import InvalidGrant, TokenEndpointError
from shared.secret import Secret
from shared.store.connections import (
    Connection,
    ConnectionKey,
    ConnectionKind,
    ConnectionRepository,
    NewSecrets,
)

log = logging.getLogger("loonbrug.loket")

PROVIDER: Final = "loket"
RESTART: Final = "Start het koppelen opnieuw via Koppelingen › Loket koppeling toevoegen."


class ConsentFailed(Exception):
    """The callback cannot complete. ``slug`` (English) names the case; ``detail``/``hint`` are
    Dutch and never contain the code or state."""

    def __init__(self, slug: str, detail: str, hint: str = RESTART) -> None:
        super().__init__(slug)
        self.slug = slug
        self.detail = detail
        self.hint = hint


def loket_key(office_id: str) -> ConnectionKey:
    return ConnectionKey(office_id, ConnectionKind.LOKET)


def environment_label(api_url: str) -> str:
    """A name for the Loket environment a connection points at (shown, never trusted)."""
    host = urlsplit(api_url).hostname or ""
    if host == "api.loket.nl":
        return "productie"
    if host.endswith("loket-acc.nl"):
        return "acceptatie"
    return "test"


def begin_consent(
    consents: ConsentStore,
    oauth: LoketOAuth,
    *,
    office_id: str,
    user_id: str,
    redirect_uri: str,
    now: datetime,
    user_name: str = "",
) -> str:
    """A fresh state + PKCE pair for this office and user; the Loket authorize URL to open."""
    start = consents.begin(
        provider=PROVIDER, office_id=office_id, user_id=user_id, now=now, user_name=user_name
    )
    log.info("loket consent started for office %s", office_id)
    return oauth.authorize_url(
        redirect_uri=redirect_uri, state=start.state, code_challenge=start.code_challenge
    )


def complete_consent(
    consents: ConsentStore,
    oauth: LoketOAuth,
    connections: ConnectionRepository,
    *,
    state: str,
    code: str | None,
    error: str | None,
    redirect_uri: str,
    api_url: str,
    now: datetime,
) -> Connection:
    """Spend the state, exchange the code (with the PKCE verifier) and store the tokens.

    Raises :class:`ConsentFailed` for an unknown, used or expired state, an ``error=`` from
    Loket, a missing code, or an exchange Loket refuses or that fails.
    """
    try:
        request = consents.consume(provider=PROVIDER, state=state, now=now)
    except InvalidState as exc:
        raise ConsentFailed(f"oauth-state-{exc.problem.value}", exc.dutch) from None
    office = request.office_id
    if error:
        code_name = oauth_error_code(error)
        log.info("loket consent of office %s ended with error %s", office, code_name)
        if code_name == "access_denied":
            raise ConsentFailed(
                "loket-consent-denied",
                "In Loket.nl is geen toestemming gegeven, dus Loonbrug is niet gekoppeld.",
                "Start het koppelen opnieuw en klik in Loket.nl op Toestaan, ingelogd met de "
                "Loket-gebruiker die speciaal voor deze koppeling is aangemaakt.",
            )
        raise ConsentFailed(
            "loket-consent-error",
            f"Loket.nl heeft het koppelen afgebroken (foutcode {code_name}). Er is niets "
            "opgeslagen.",
        )
    if not code:
        raise ConsentFailed("loket-code-missing", "Het antwoord van Loket.nl bevat geen inlogcode.")
    try:
        tokens = oauth.exchange_code(
            Secret(code), redirect_uri=redirect_uri, code_verifier=request.code_verifier
        )
    except InvalidGrant:
        log.warning("loket refused the authorization code of office %s", office)
        raise ConsentFailed(
            "loket-code-refused",
            "Loket.nl heeft de inlogcode geweigerd (verlopen, al gebruikt of niet voor "
            "Loonbrug bedoeld). Er is niets opgeslagen.",
        ) from None
    except (TokenEndpointError, LoketError) as exc:
        log.warning("loket code exchange of office %s failed: %s", office, type(exc).__name__)
        detail = exc.dutch if isinstance(exc, LoketError) else "Loket.nl is niet bereikbaar."
        raise ConsentFailed(
            "loket-exchange-failed",
            f"Het ophalen van de toegang bij Loket.nl is mislukt: {detail} Er is niets opgeslagen.",
            "Probeer het over een paar minuten opnieuw via Koppelingen › Loket koppeling "
            "toevoegen.",
        ) from None
    connection = connections.save(
        loket_key(office),
        NewSecrets(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=tokens.expires_at,
        ),
        by_user=request.user_id,
        by_name=request.user_name,
        now=now,
        details={"loketEnvironment": environment_label(api_url), "apiUrl": api_url},
    )
    log.info("loket connected for office %s", office)
    return connection


def forget(connections: ConnectionRepository, office_id: str) -> bool:
    """Forget the Loket tokens of an office (Loket documents no revoke endpoint)."""
    removed = connections.delete(loket_key(office_id))
    log.info("loket connection of office %s forgotten (existed: %s)", office_id, removed)
    return removed
