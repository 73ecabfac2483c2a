"""One classification of failures: for every error a step can meet, what the caller does about
it. The worker, the approvals, the client service and the HTTP handlers all ask
:func:`classify`, so the ladder of exceptions is written once.

==================  =========================================================================
disposition          what the caller does
==================  =========================================================================
retry-now            passing trouble on a call that is safe to repeat: the client already
                     retried within its policy; the job comes back later (queue redelivery)
retry-later          passing trouble that outlasts a call (maintenance, a quiet period, another
                     holder): the job comes back later, deferred when the moment is known
reconsent            a connection needs a person (new consent, new token): fail visibly with
                     the Dutch hint, notify; nothing is retried until then
refused              refused as it stands (bad configuration, an answer we cannot read, a read
                     AFAS refuses): fail visibly with the Dutch hint; nothing was booked
outcome-unknown      a post left the process and nobody knows what became of it: come back
                     later; the booking ledger looks it up before anything is posted again
partial              AFAS booked part of an entry: fail visibly; a person must look
==================  =========================================================================

Posts are classified by :func:`shared.afas.errors.post_outcome` inside the booking step; what the
booking step raises is classified here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.afas.errors import (
    LONGEST_WAIT_IN_A_CALL,
    AfasAuthError,
    AfasEnvironmentBusy,
    AfasError,
    Disposition,
    read_disposition,
)
from shared.loket.errors import (
    LoketAuthError,
    LoketContractError,
    LoketError,
    LoketRetriableError,
)
from shared.oauth.tokens import ConsentRequired, NotConnected, TokenEndpointError
from shared.store.tables import ConcurrencyConflict
from shared.sync import texts
from shared.sync.booking import (
    BookedElsewhere,
    BookingBusy,
    BookingPartial,
    BookingRefused,
    BookingSlow,
    BookingUnsettled,
    CannotSettle,
    NotApproved,
    QuietPeriod,
)

__all__ = ["Disposition", "Failure", "classify"]

BUSY = "een andere verwerking was tegelijk met dezelfde journaalrun bezig"
SLOW = (
    "het vastleggen van de boeking in Loonbrug duurde te lang; om dubbel boeken te voorkomen is "
    "er niets naar AFAS verstuurd"
)
SLOW_HINT = (
    "Niets te doen: Loonbrug probeert het vanzelf opnieuw. Blijft deze melding terugkomen, start "
    "dan later een rerun."
)


@dataclass(frozen=True)
class Failure:
    disposition: Disposition
    code: str  # stable, for messages and telemetry
    dutch: str  # what happened, for the run messages and problem details
    hint: str = ""  # what the user can do
    retry_after: float | None = None  # seconds, when the moment to come back is known
    defer: bool = False  # come back after retry_after with a fresh message (spends no retry)

    @property
    def transient(self) -> bool:
        return self.disposition in (
            Disposition.RETRY_NOW,
            Disposition.RETRY_LATER,
            Disposition.OUTCOME_UNKNOWN,
        )


def classify(error: BaseException) -> Failure | None:
    """What ``error`` means for the caller; None for an error nobody expects (a bug: let it
    propagate, so the queue retries and the poison path makes it visible)."""
    match error:
        case QuietPeriod():
            return Failure(
                Disposition.RETRY_LATER,
                "afas-quiet-period",
                f"AFAS gaf geen antwoord op het boeken van {error.reference}; de boeking staat "
                "(nog) niet in AFAS. Loonbrug kijkt later opnieuw en boekt pas weer als AFAS "
                "die zeker niet meer verwerkt",
                retry_after=error.retry_after,
                defer=True,
            )
        case AfasEnvironmentBusy():
            return _environment_busy(error)
        case BookingUnsettled(error=AfasEnvironmentBusy() as busy):
            return _environment_busy(busy)  # the post was never sent (the ledger says so)
        case BookingUnsettled():
            return Failure(
                Disposition.OUTCOME_UNKNOWN,
                "afas-outcome-unknown",
                "AFAS gaf geen (leesbaar) antwoord op het boeken; Loonbrug zoekt de boeking bij "
                "de volgende poging op voordat er iets opnieuw wordt verstuurd",
                "Niets te doen: er wordt nooit twee keer geboekt.",
                retry_after=error.retry_after,
                # AFAS announced a long wait (maintenance): come back then, spend no retries
                defer=error.retry_after is not None and error.retry_after > LONGEST_WAIT_IN_A_CALL,
            )
        case BookingSlow():
            return Failure(Disposition.RETRY_LATER, "slow", SLOW, SLOW_HINT)
        case BookingBusy():
            return Failure(Disposition.RETRY_LATER, "busy", BUSY)
        case BookingRefused():
            return Failure(
                Disposition.REFUSED,
                "afas-refused",
                texts.afas_refused(error.error.detail),
                error.error.hint,
            )
        case BookedElsewhere(row=None):
            why = texts.being_booked_elsewhere()  # only its fresh note: nothing is booked yet
            return Failure(Disposition.REFUSED, "booked-elsewhere", why.text, why.hint)
        case BookedElsewhere():
            why = texts.booked_elsewhere(None, "")
            return Failure(Disposition.REFUSED, "booked-elsewhere", why.text, why.hint)
        case CannotSettle():
            why = texts.outstanding_unsettled(error.reference)
            return Failure(Disposition.REFUSED, "outcome-unknown", why.text, why.hint)
        case BookingPartial():
            why = texts.partially_booked(error.detail)
            return Failure(Disposition.PARTIAL, "afas-partial", why.text, why.hint)
        case NotApproved():
            why = texts.CHANGED_SINCE_APPROVAL
            return Failure(Disposition.REFUSED, "not-approved", why.text, why.hint)
        case ConsentRequired() | NotConnected() | LoketAuthError():
            reason = getattr(error, "reason", None) or getattr(error, "dutch", None) or ""
            return Failure(
                Disposition.RECONSENT,
                "consent",
                f"De koppeling vraagt opnieuw toestemming of ontbreekt. {reason}".strip(),
                "Koppel opnieuw via Koppelingen; daarna kunt u een rerun starten.",
            )
        case AfasError():
            return _afas(error)
        case LoketRetriableError():
            return Failure(
                Disposition.RETRY_NOW,
                "loket-unavailable",
                "Loket.nl was niet bereikbaar of gaf een tijdelijke fout",
                retry_after=getattr(error, "retry_after", None),
            )
        case TokenEndpointError():
            return Failure(
                Disposition.RETRY_NOW,
                "token-unavailable",
                "De aanmeldserver van Loket of AFAS was tijdelijk niet bereikbaar",
            )
        case ConcurrencyConflict():
            return Failure(Disposition.RETRY_NOW, "busy", BUSY)
        case LoketContractError():
            return Failure(
                Disposition.REFUSED,
                "loket-contract",
                f"Loket gaf een antwoord dat Loonbrug niet begrijpt: {error.dutch}",
                "Probeer het later opnieuw; blijft dit gebeuren, neem dan contact op met de "
                "support.",
            )
        case LoketError():
            return Failure(
                Disposition.REFUSED,
                "loket-error",
                f"Loket gaf een fout: {error.dutch}",
                "Controleer de rechten van de Loket-gebruiker van de koppeling.",
            )
    return None


def _environment_busy(error: AfasEnvironmentBusy) -> Failure:
    """Our own limit of parallel calls per Profit environment was reached: nothing was sent,
    the job comes back after ``retry_after`` without spending a retry."""
    return Failure(
        Disposition.RETRY_LATER,
        "afas-environment-busy",
        f"AFAS Profit-omgeving {error.environment} is bezet: Loonbrug had al {error.parallel} "
        "verzoeken tegelijk naar deze omgeving lopen (het maximum van AFAS). Er is niets "
        "verstuurd; de synchronisatie komt over een minuut vanzelf terug",
        "Niets te doen: er wordt nooit twee keer geboekt.",
        retry_after=error.retry_after,
        defer=True,
    )


def _afas(error: AfasError) -> Failure:
    disposition = read_disposition(error)
    if disposition in (Disposition.RETRY_NOW, Disposition.RETRY_LATER):
        return Failure(
            disposition,
            f"afas-{error.code}",
            "AFAS was niet bereikbaar, bezig (onderhoud of vergrendeling) of gaf een tijdelijke "
            "fout",
            error.hint,
            retry_after=error.retry_after,
            defer=disposition is Disposition.RETRY_LATER and error.retry_after is not None,
        )
    code = "afas-token" if isinstance(error, AfasAuthError) else "afas-error"
    return Failure(disposition, code, f"AFAS gaf een fout: {error.detail}", error.hint)
