"""The one OAuth callback of both consents (Loket.nl and AFAS SB): check the state, let the
provider's service finish the consent, and send the browser back to the portal with the outcome.

A person's browser lands here, so nothing answers JSON: a missing, unknown, used or expired
``state`` gets a small Dutch page (400, with a link back to Koppelingen); everything after a
valid state is a redirect to the portal's Koppelingen screen with the outcome in its address
(``{param}=gekoppeld|geweigerd|mislukt``, plus ``omgeving``), which the portal says in Dutch.
Neither the code nor the state is ever echoed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Final
from urllib.parse import urlencode

from shared.api.http import ApiResponse, redirect
from shared.api.operations import Reply, RequestContext
from shared.oauth.consent import InvalidState

CONNECTED: Final = "gekoppeld"
REFUSED: Final = "geweigerd"  # the user said no at the provider (error=access_denied, …)
FAILED: Final = "mislukt"  # no code, or the code exchange failed: nothing stored

STATE_MISSING: Final = (
    "Dit adres hoort bij het koppelen met {system}, maar de aanvraag mist de controlewaarde "
    "(state). Er is niets opgeslagen."
)
RESTART: Final = "Start het koppelen opnieuw vanuit Loonbrug, via Koppelingen."


@dataclass(frozen=True)
class Outcome:
    """What became of a consent whose state was valid."""

    result: str  # CONNECTED | REFUSED | FAILED
    environment: str = ""  # shown by the portal (AFAS SB); "" for Loket


class StateRefused(Exception):
    """The state cannot be used (unknown, used, expired, another provider's): ``dutch`` says
    why; nothing was stored."""

    def __init__(self, dutch: str) -> None:
        super().__init__(dutch)
        self.dutch = dutch


def portal_outcome(landing: str, **outcome: str) -> str:
    """The portal's Koppelingen screen with an outcome in its address. ``landing`` is
    ``Settings.consent_landing_url()`` (``PORTAL_URL#/connections`` or ``PUBLIC_BASE_URL/``)."""
    query = urlencode(outcome)
    return f"{landing}?{query}" if "#" in landing else f"{landing}#/connections?{query}"


def consent_callback(
    ctx: RequestContext,
    *,
    system: str,
    param: str,
    complete: Callable[[str], Outcome],
    plain_success: bool = False,
) -> ApiResponse:
    """Answer the provider's redirect. ``system``: the provider's Dutch name ("Loket.nl");
    ``param``: the portal's outcome parameter ("loket", "afas-sb"); ``complete(state)``: spend
    the state and finish the consent (raises :class:`InvalidState` or :class:`StateRefused`).
    ``plain_success``: a stored consent goes to the landing address as it is (Loket: contract
    §3 says ``302 to {PUBLIC_BASE_URL}/``)."""
    landing = ctx.services.settings.consent_landing_url()
    state = ctx.request.query.get("state", "")
    if not state:
        return error_page(system, STATE_MISSING.format(system=system), landing)
    try:
        outcome = complete(state)
    except InvalidState as exc:
        return error_page(system, exc.dutch, landing)
    except StateRefused as exc:
        return error_page(system, exc.dutch, landing)
    if outcome.result == CONNECTED and plain_success:
        return redirect(landing)
    fields = {param: outcome.result}
    if outcome.environment:
        fields["omgeving"] = outcome.environment
    return redirect(portal_outcome(landing, **fields))


def error_page(system: str, reason: str, landing: str) -> ApiResponse:
    """A 400 the browser shows: Dutch, what happened, what to do, a link back. Never cached."""
    title = f"Koppelen met {system} is niet gelukt"
    body = (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Loonbrug</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; '
        'padding: 0 1rem">'
        f"<h1>{escape(title)}</h1><p>{escape(reason)}</p>"
        + ("" if "opnieuw" in reason else f"<p>{escape(RESTART)}</p>")
        + f'<p><a href="{escape(landing, quote=True)}">Naar Koppelingen</a></p>'
        "</body></html>"
    )
    return ApiResponse(
        400,
        body.encode(),
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


ERROR_PAGE: Final = Reply(
    "The state is missing, unknown, used or expired (or another provider's): a Dutch page that "
    "says so and links to Koppelingen; nothing is stored.",
    content_type="text/html",
    schema={"type": "string"},
)
