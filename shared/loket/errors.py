"""Typed errors of the Loket.nl client, grouped by what the caller does about them.

``LoketError``
  ├─ ``LoketAuthError``       the connection cannot be used until a person acts (401, 403, consent)
  │    ├─ ``LoketNotConnected``     the office never connected Loket (or forgot the tokens)
  │    ├─ ``LoketConsentRequired``  Loket refused the refresh token: connect again
  │    └─ ``LoketForbidden``        403: the Loket user lacks a right or access to the employer
  ├─ ``LoketNotFound``        404: the id does not exist (any more) for this user
  ├─ ``LoketRetriableError``  try again later (the queue redelivers)
  │    ├─ ``LoketRateLimited``      429, with ``retry_after`` when Loket sent one
  │    └─ ``LoketServerError``      5xx, timeouts, connection errors
  ├─ ``LoketRejected``        400/409 and other 4xx: Loket refused this request (``messages``)
  └─ ``LoketContractError``   the answer is not what the API promises (garbage, missing fields,
                               an unknown status): our reading of the API is wrong somewhere

Every error has ``dutch``: one sentence for the run messages and problem bodies, never containing
a token, code or state. ``str()`` is English for the logs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoketMessage:
    """One entry of Loket's ``messages[]`` (codes may change; Loket says so)."""

    type: str
    description: str
    code: int | None = None


class LoketError(Exception):
    dutch_default = "Loket.nl gaf een onverwachte fout."

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        dutch: str | None = None,
        messages: tuple[LoketMessage, ...] = (),
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.messages = messages
        self.request_id = request_id
        self._dutch = dutch

    @property
    def dutch(self) -> str:
        return self._dutch or self.dutch_default


class LoketAuthError(LoketError):
    dutch_default = (
        "Loket.nl weigert de toegang met de opgeslagen koppeling. Koppel Loket opnieuw via "
        "Koppelingen."
    )


class LoketNotConnected(LoketAuthError):
    dutch_default = "Loket.nl is nog niet gekoppeld voor uw kantoor."


class LoketConsentRequired(LoketAuthError):
    dutch_default = (
        "De toestemming voor Loket.nl is ingetrokken of verlopen. Koppel Loket opnieuw via "
        "Koppelingen, met de Loket-gebruiker die speciaal voor deze koppeling is aangemaakt."
    )


class LoketForbidden(LoketAuthError):
    dutch_default = (
        "Loket.nl staat dit niet toe voor de gekoppelde gebruiker. Controleer in Loket dat de "
        "gebruiker actief is, toegang heeft tot de werkgever en de rechten 'Raadplegen "
        "journaaloutput' en 'Raadplegen loonoutput' heeft."
    )


class LoketNotFound(LoketError):
    dutch_default = "Dit onderdeel bestaat niet (meer) in Loket.nl of is niet zichtbaar voor de gekoppelde gebruiker."


class LoketRetriableError(LoketError):
    dutch_default = "Loket.nl is tijdelijk niet bereikbaar. Loonbrug probeert het later opnieuw."

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.retry_after = retry_after


class LoketRateLimited(LoketRetriableError):
    dutch_default = (
        "Loket.nl vraagt Loonbrug om minder verzoeken te doen. Loonbrug probeert het later opnieuw."
    )


class LoketServerError(LoketRetriableError):
    pass


class LoketRejected(LoketError):
    dutch_default = "Loket.nl heeft het verzoek geweigerd."

    @property
    def dutch(self) -> str:
        if self._dutch:
            return self._dutch
        reasons = "; ".join(m.description for m in self.messages if m.description)
        return (
            f"{self.dutch_default} Melding van Loket: {reasons}" if reasons else self.dutch_default
        )


class LoketContractError(LoketError):
    dutch_default = (
        "Loket.nl gaf een antwoord dat Loonbrug niet kan lezen. Loonbrug heeft niets geboekt; "
        "meld dit aan de support als het blijft gebeuren."
    )
