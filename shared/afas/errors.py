"""Typed AFAS errors and the table of known AFAS messages → Dutch hints a user can act on.

Profit answers functional errors as HTTP 500 ``{externalMessage, errorNumber, profitLogReference}``
(afas-api.md §2.7); AFAS SB as ``{StatusCode, Message, ExceptionCode, TraceId}`` (§4.8). The
``errorNumber`` is usually generic, so the table matches on the message text (Dutch and English,
since ``Accept-Language`` decides the language) and, for transport-level cases, on the status.
An unknown error keeps AFAS's own text plus the log reference, so the customer's AFAS
administrator can find the full error in the environment logbook (Omgevingslogboek).

Nothing in here ever holds a token: error texts come from AFAS's answer bodies only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final

from shared.journal.entries import ProfitLine, SbLine


class AfasSystem(StrEnum):
    PROFIT = "AFAS Profit"
    SB = "AFAS SB"


@dataclass(frozen=True)
class KnownError:
    """One recognisable AFAS error: a stable code, a Dutch summary and a hint with an action."""

    code: str
    summary: str  # Dutch, what went wrong
    hint: str  # Dutch, what the user can do; may use {named groups} of the pattern
    pattern: re.Pattern[str] | None = None
    statuses: frozenset[int] = field(default_factory=frozenset)


def _re(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


# Ordered: the first match wins. Texts marked [C] come from AFAS documentation or real AFAS
# messages (afas-api.md §2.7, seeds/003, afas.help 96995); [I] texts are our sandbox's guesses
# for messages AFAS does not document, matched loosely.
KNOWN_ERRORS: Final[tuple[KnownError, ...]] = (
    KnownError(
        "connector-refused",
        "AFAS Profit weigert de toegang tot een connector (HTTP 401).",
        "De App connector in AFAS Profit geeft deze token geen toegang tot {connector}, of de "
        "token is ongeldig. Voeg {connector} toe aan de App connector (Algemeen › Beheer › App "
        "connector) en controleer dat de gebruiker van de token in de autorisatiegroep van de App "
        "connector zit. Staat {connector} er al in, maak dan een nieuwe gebruikerstoken aan en sla "
        "die op bij de AFAS-koppeling in Loonbrug.",
        # [C] Mutaties.json components.responses.401 "Unauthorized; valid token but no access to
        # this endpoint." and authentication.md (401 also for an invalid token). The published
        # 401 has no body: the text is Loonbrug's (profit._unauthorized) and names the connector.
        _re(r"weigert de toegang tot connector (?P<connector>[A-Za-z0-9_]+)"),
    ),
    KnownError(
        "connector-not-authorized",
        "De App connector in AFAS Profit geeft geen toegang tot een benodigde connector.",
        "Voeg in Profit (Algemeen › Beheer › App connector) de UpdateConnector 'Financiële "
        "mutatie' (FiEntries) en de GetConnectors Profit_Administrations, Profit_Journals, "
        "Profit_Accounts, Profit_Allocation_Assigments, Profit_periods_per_administration en "
        "Profit_Transactions toe, en controleer dat de gebruiker van de token in de "
        "autorisatiegroep van de App connector zit.",
        # [C] "Deze UpdateConnector wordt niet ondersteund of de gebruiker is niet geautoriseerd."
        # [C] "GetConnector not supported for this app or the user is not authorized",
        # "This GetConnector (definition) is blocked"
        _re(
            r"connector wordt niet ondersteund|niet ondersteund .*niet geautoriseerd|"
            r"not supported for this app|not authori[sz]ed|connector \(definition\) is blocked|"
            r"connector.{0,40}geblokkeerd"
        ),
    ),
    KnownError(
        "allocation-required",
        "De grootboekrekening vraagt een verbijzondering (bijv. kostenplaats) die ontbreekt.",
        "Rekening {account} vraagt in AFAS een code op de as '{axis}'. Zorg dat de Loket-regels "
        "voor deze rekening een kostenplaats hebben, of stel in de client configuratie een "
        "standaardkostenplaats in, of zet de verplichting in AFAS uit.",
        # [C] "Code verbijzondering voor as 'Kostenplaats' moet gevuld worden voor rekening 8074"
        _re(
            r"verbijzondering voor as '(?P<axis>[^']+)' moet gevuld worden voor rekening "
            r"(?P<account>\S+?)\.?$|moet gevuld worden voor rekening (?P<account2>\S+)"
        ),
    ),
    KnownError(
        "allocation-unknown",
        "De kostenplaats (verbijzonderingscode) bestaat niet of is niet aan de rekening toegewezen.",
        "Wijs in AFAS de verbijzonderingscode {code} toe aan grootboekrekening {account} "
        "(Financieel › Inrichting › Verbijzondering › Toewijzing), of pas de kostenplaats-mapping "
        "in de client configuratie aan, en boek de run opnieuw.",
        # [C] "Voor code verbijzondering 'ABC' is geen toewijzing bij rekening 'YXZ' of de
        # toewijzing is geblokkeerd." (seeds/003); foreign key on C5_KnByz4 (srxp) [C3]
        _re(
            r"code verbijzondering '(?P<code>[^']*)' is geen toewijzing bij rekening "
            r"'(?P<account>[^']*)'|geen toewijzing|KnByz|verbijzondering(scode)? .{0,30}bestaat niet"
        ),
    ),
    KnownError(
        "account-blocked",
        "De grootboekrekening is geblokkeerd in AFAS.",
        "Deblokkeer de grootboekrekening in AFAS (Financieel › Inrichting › Grootboekrekeningen) "
        "of laat Loonbrug naar een andere rekening transponeren, en boek de run opnieuw.",
        # [C] "Boekingen op geblokkeerde rekening niet toegestaan" (afas.help 96995)
        _re(
            r"geblokkeerde (groot)?(boek)?rekening|rekening '?\w+'? is geblokkeerd|blocked account"
        ),
    ),
    KnownError(
        "period-blocked",
        "De periode is geblokkeerd (afgesloten) in AFAS.",
        "Vraag de boekhouder de periode in AFAS te deblokkeren (Financieel › Inrichting › "
        "Periodetabel › Blokkeren) of kies in de client configuratie een open periode, en boek de "
        "run opnieuw.",
        # [C] "Datum '1-11-2023' valt in een geblokkeerde periode" /
        # "Voor deze administratie is periode 8 van jaar 2023 geblokkeerd."
        _re(
            r"geblokkeerde periode|periode (?P<period>\d+) van jaar (?P<year>\d+) geblokkeerd|blocked period"
        ),
    ),
    KnownError(
        "period-missing",
        "De periode bestaat niet in de periodetabel van de administratie.",
        "Maak het boekjaar en de periode aan in AFAS (Financieel › Inrichting › Periodetabel) of "
        "controleer de periode-indeling in de client configuratie, en boek de run opnieuw.",
        # [I] text not documented
        _re(
            r"periode .{0,40}bestaat niet|boekjaar .{0,40}bestaat niet|period .{0,40}does not exist"
        ),
    ),
    KnownError(
        "journal-unknown",
        "Het dagboek bestaat niet of is geblokkeerd in deze administratie.",
        "Controleer de dagboekcode in de client configuratie; gebruik een memoriaaldagboek dat in "
        "AFAS bestaat en niet geblokkeerd is (Financieel › Inrichting › Dagboeken).",
        # [I] by analogy with the documented "De ingevulde waarde bij '…' bestaat niet"
        _re(
            r"'dagboek' bestaat niet|dagboek .{0,30}(bestaat niet|is geblokkeerd)|journal .{0,30}(does not exist|is blocked)"
        ),
    ),
    KnownError(
        "account-unknown",
        "De grootboekrekening bestaat niet in AFAS.",
        "Maak de grootboekrekening aan in AFAS of voeg in de client configuratie een transponering "
        "toe van de Loket-rekening naar een bestaande AFAS-rekening, en boek de run opnieuw.",
        # [C] "De ingevulde waarde bij 'Rekeningnummer' bestaat niet" /
        # "Vul een waarde in bij 'Rekeningnummer'." / EN "'Account Number' does not exist"
        _re(
            r"'rekeningnummer' bestaat niet|waarde in bij 'rekeningnummer'|"
            r"'account number' does not exist|value for 'account number'|"
            r"grootboekrekening '(?P<account>[^']+)' bestaat niet|KnAnt1"
        ),
    ),
    KnownError(
        "not-balanced",
        "De journaalpost is niet in balans (debet en credit zijn niet gelijk).",
        "Controleer de journaalpost in Loket: debet en credit moeten gelijk zijn. Zijn er regels "
        "weggevallen door een transponering of een ontbrekende kostenplaats, pas dan de "
        "client configuratie aan en boek de run opnieuw.",
        # [I] exact AFAS text unknown (afas-api.md §2.7)
        _re(r"niet in balans|not in balance|does not balance|unbalanced"),
    ),
    KnownError(
        "project-required",
        "De grootboekrekening vraagt een projectboeking.",
        "Zet in AFAS de projectverplichting van deze rekening uit of transponeer de Loket-rekening "
        "naar een rekening zonder projectverplichting.",
        # [I] S35 "Projectboeking is verplicht voor grootboekrekening {n}."
        _re(r"projectboeking is verplicht"),
    ),
    KnownError(
        "administration-unknown",
        "De administratie bestaat niet in deze AFAS-omgeving.",
        "Controleer het administratienummer in de client configuratie (Algemeen › Administratie in "
        "AFAS, kolom 'Adm.').",
        # [I] S35 "No unit available"
        _re(r"no unit available|administratie .{0,30}bestaat niet"),
    ),
    KnownError(
        "booking-locked",
        "De boekingslayout of het dagboek is tijdelijk in gebruik door een andere gebruiker.",
        "Er wordt op dit moment in AFAS geboekt. Loonbrug probeert het later opnieuw.",
        # [C] S5 paraphrased: booking layout locked by another user; exact text unknown [I]
        _re(r"boekingslayout|in gebruik door een andere gebruiker|locked by another user"),
    ),
    KnownError(
        "server-timeout",
        "AFAS heeft de opdracht afgebroken omdat die te lang duurde.",
        "Loonbrug controleert of de boeking toch is gelukt en probeert het anders later opnieuw.",
        # [C] "De maximale tijdsduur voor het uitvoeren van de opdracht is verstreken."
        _re(r"maximale tijdsduur|maximum duration"),
    ),
    KnownError(
        "token-invalid",
        "AFAS weigert de token: die is ongeldig, verlopen, ingetrokken of hoort bij een andere omgeving.",
        "Maak in AFAS Profit een nieuwe gebruikerstoken aan (Algemeen › Beheer › App connector › "
        "Gebruikerstokens) voor deze omgeving en sla die op bij de AFAS-koppeling in Loonbrug.",
        _re(r"er is geen ingelogde gebruiker|token is (ongeldig|verlopen)|invalid token"),
        frozenset({401}),
    ),
    KnownError(
        "access-denied",
        "AFAS weigert de toegang (IP-beperking of onvoldoende rechten).",
        "Controleer in AFAS de IP-beperking van de App connector en de rechten van de gebruiker "
        "(bij AFAS SB: de rechten van de app in het App Center).",
        _re(r"niet voldoende rechten|ip.{0,20}(restrict|beperking)"),
        frozenset({403}),
    ),
    KnownError(
        "maintenance",
        "AFAS is tijdelijk niet beschikbaar (onderhoud of storing).",
        "Niets te doen: Loonbrug probeert het later automatisch opnieuw. Zie afasstatus.nl.",
        _re(r"onderhoud|maintenance|niet beschikbaar|unavailable"),
        frozenset({502, 503, 504}),
    ),
    KnownError(
        "rate-limited",
        "AFAS vraagt om minder verzoeken tegelijk.",
        "Niets te doen: Loonbrug wacht even en probeert het dan opnieuw.",
        None,
        frozenset({429}),
    ),
    KnownError(
        "zero-amount",
        "Een boekingsregel heeft geen bedrag.",
        "Neem contact op met support: Loonbrug hoort regels zonder bedrag weg te laten.",
        # [I] S35
        _re(r"eErrFiEntryNoAmountOnEntryLine|geen bedrag"),
    ),
    KnownError(
        "entry-number-given",
        "Bij een nieuwe journaalpost mag geen journaalpostnummer worden meegestuurd.",
        "Neem contact op met support (fout in Loonbrug).",
        # [I] S35
        _re(r"journaalpostnummer niet worden opgegeven"),
    ),
)

_BY_CODE: Final = {known.code: known for known in KNOWN_ERRORS}


@dataclass(frozen=True)
class Explanation:
    known: KnownError
    values: dict[str, str]

    @property
    def hint(self) -> str:
        try:
            return self.known.hint.format(**self.values)
        except (KeyError, IndexError):
            return self.known.hint


def explain(message: str, *, status: int | None = None) -> Explanation | None:
    """The known error ``message`` (or, failing that, ``status``) stands for, if any."""
    for known in KNOWN_ERRORS:
        if known.pattern is None:
            continue
        match = known.pattern.search(message or "")
        if match:
            values = {k.rstrip("0123456789"): v for k, v in match.groupdict().items() if v}
            values.setdefault("account", "?")
            values.setdefault("axis", "?")
            values.setdefault("code", "?")
            return Explanation(known, values)
    if status is not None:
        for known in KNOWN_ERRORS:
            if status in known.statuses:
                return Explanation(known, {})
    return None


def known_error(code: str) -> KnownError:
    return _BY_CODE[code]


class AfasError(Exception):
    """Something AFAS (or the way to it) refused or failed. ``detail``/``hint`` are Dutch."""

    def __init__(
        self,
        message: str,
        *,
        system: AfasSystem = AfasSystem.PROFIT,
        status: int | None = None,
        error_number: int | None = None,
        log_reference: str | None = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.system = system
        self.status = status
        self.error_number = error_number
        self.log_reference = log_reference
        self.trace_id = trace_id
        self.retry_after = retry_after
        # AFAS said the post succeeded (2xx) but its answer could not be read: it may well have
        # booked the entry, so only a look-up may settle it.
        self.success_unreadable = False
        # Raised by our own check before anything was sent (not AFAS's answer).
        self.local = False
        self.explanation = explain(message, status=status)
        parts = [f"{system.value}", f"HTTP {status}" if status else "no answer", self.code]
        reference = f" (ref {log_reference or trace_id})" if (log_reference or trace_id) else ""
        super().__init__(" ".join(parts) + f": {message}{reference}")

    @property
    def code(self) -> str:
        return self.explanation.known.code if self.explanation else "unknown"

    @property
    def reference(self) -> str | None:
        return self.log_reference or self.trace_id

    @property
    def detail(self) -> str:
        """Dutch: AFAS's own text, with the summary when we recognise it, and the reference."""
        own = self.message.strip() or "(geen tekst)"
        text = f"{self.system.value} meldt: {own}"
        if self.explanation:
            text = f"{self.explanation.known.summary} {text}"
        if self.log_reference:
            text += f" (logreferentie {self.log_reference})"
        elif self.trace_id:
            text += f" (TraceId {self.trace_id})"
        return text

    @property
    def hint(self) -> str:
        if self.explanation:
            return self.explanation.hint
        if self.log_reference:
            return (
                "Deze melding kent Loonbrug niet. Vraag uw AFAS-beheerder de volledige melding op "
                f"te zoeken in het omgevingslogboek van Profit met logreferentie {self.log_reference}."
            )
        if self.trace_id:
            return (
                "Deze melding kent Loonbrug niet. Neem contact op met AFAS-support en noem "
                f"TraceId {self.trace_id}."
            )
        return "Deze melding kent Loonbrug niet. Neem contact op met support."


class AfasAuthError(AfasError):
    """401/403: the token is invalid, revoked, of another environment, or IP-restricted. Not retried."""


class AfasNotFound(AfasError):
    """404: wrong URL or environment (or a query string over AFAS's 2049-character limit)."""


class AfasConnectorNotAuthorized(AfasError):
    """A connector is missing from the App Connector (or the user lacks rights for it)."""


class AfasValidationError(AfasError):
    """AFAS refused the content (blocked account, closed period, …). Retrying will not help."""


class SbPartiallySucceeded(AfasValidationError):
    """SB booked only part of the request: a human has to look at it."""


class AfasContractError(AfasError):
    """AFAS answered something that does not match its documented shape, or refused our request
    shape (400/413)."""


class AfasRequestUnreadable(AfasContractError):
    """AFAS SB could not read the request it received (``DS3100`` "Invalid JSON request"): it
    processed nothing. For a post this spends its Tracking-Identifier: SB answers every repeat
    of it with this same first answer (spec 6.0.0, Tracking-Identifier), so a replay can never
    settle it. What we send is always whole JSON, so this is a request cut off on its way (the
    sender died mid-body) or a bug of ours."""


class AfasServerError(AfasError):
    """An unrecognised 5xx: not retried blindly."""


class AfasRetriableError(AfasError):
    """Passing trouble: 429, 502/503/504, a lock, a timeout or a broken connection."""


class AfasLockedError(AfasRetriableError):
    """The booking layout or journal is in use by a Profit user; AFAS advises a few retries."""


class AfasTransportError(AfasRetriableError):
    """No (complete) answer: connection refused/reset or a timeout."""

    def __init__(
        self, message: str, *, system: AfasSystem, timed_out: bool, never_sent: bool = False
    ) -> None:
        super().__init__(message, system=system)
        self.timed_out = timed_out
        self.never_sent = never_sent  # no connection was made: the request cannot have arrived


class AfasEnvironmentBusy(AfasTransportError):
    """No free slot of the parallel calls AFAS allows per Profit environment within the wait
    (``shared/afas/profit.py`` MAX_PARALLEL): the call was never sent. Our own limit, not
    AFAS's answer: the job comes back after ``retry_after`` (deferred, spending no retry)."""

    def __init__(self, environment: str, *, parallel: int, retry_after: float) -> None:
        super().__init__(
            f"no free slot of {parallel} parallel calls to Profit environment {environment}",
            system=AfasSystem.PROFIT,
            timed_out=False,
            never_sent=True,
        )
        self.environment = environment
        self.parallel = parallel
        self.retry_after = retry_after


class Disposition(StrEnum):
    """What a caller does about a failure: the one classification every caller uses (the worker,
    the approvals, the client service and the HTTP handlers; :mod:`shared.failures` adds the
    failures of Loket, the token store and storage)."""

    RETRY_NOW = "retry-now"  # passing trouble on a call that is safe to repeat: try again now
    RETRY_LATER = "retry-later"  # passing trouble that outlasts this call: come back later
    RECONSENT = "reconsent"  # a connection needs a new consent or token: a human must act
    REFUSED = "refused"  # refused before processing: nothing happened; fix it and try again
    OUTCOME_UNKNOWN = "outcome-unknown"  # a post left the process: only a look-up may tell
    PARTIAL = "partial"  # AFAS booked part of the entry: a human must look (never repost)


@dataclass(frozen=True)
class PostOutcome:
    """The classification of what came back from a post (``disposition`` is REFUSED, PARTIAL or
    OUTCOME_UNKNOWN). ``afas_finished``: AFAS answered, so it is done with the request and a
    look-up that finds nothing proves that nothing was booked. Otherwise (no answer, a gateway's
    answer, or a success without the entry number) AFAS may still be booking it."""

    disposition: Disposition
    afas_finished: bool
    # The post's reference (SB Tracking-Identifier) is spent and nothing was booked under it:
    # repeating it gets the same answer for ever (SB could not read the request).
    reference_spent: bool = False


# Seconds of Retry-After a call still waits out itself (RetryPolicy.max_retry_after); a longer
# announced wait (maintenance) is left to the queue.
LONGEST_WAIT_IN_A_CALL: Final = 60.0

# AFAS itself answered these: it has finished with the request (a gateway's 502/504 is not AFAS).
_AFAS_ANSWERED: Final = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503})


def read_disposition(error: AfasError) -> Disposition:
    """A failed read (GetConnector, SB list, look-up). Reads change nothing, so any passing
    trouble, a plain 500 included, may be tried again at once; a token AFAS refuses needs a
    human; everything else (unknown environment, missing connector, an answer we cannot read)
    is refused as it stands."""
    if isinstance(error, AfasEnvironmentBusy):
        return Disposition.RETRY_LATER  # our own slot limit: never wait it out inside a call
    if isinstance(error, AfasRetriableError | AfasServerError):
        if error.retry_after is not None and error.retry_after > LONGEST_WAIT_IN_A_CALL:
            return Disposition.RETRY_LATER  # maintenance announced for longer than a call waits
        return Disposition.RETRY_NOW
    if isinstance(error, AfasAuthError):
        return Disposition.RECONSENT
    return Disposition.REFUSED


def post_outcome(error: AfasError) -> PostOutcome:
    """A post that failed. Only AFAS refusing the content of the entry (a validation error that
    names it) proves nothing was booked; a connection that was never made proves the request
    never left. Everything else that happens after a post left the process, a busy answer, a
    refused token or a success without a readable body included, is outcome unknown."""
    if isinstance(error, SbPartiallySucceeded):
        return PostOutcome(Disposition.PARTIAL, afas_finished=True)
    if isinstance(error, AfasValidationError):
        return PostOutcome(Disposition.REFUSED, afas_finished=True)
    if isinstance(error, AfasRequestUnreadable):
        # SB could not read what arrived: nothing was booked under this Tracking-Identifier.
        return PostOutcome(Disposition.REFUSED, afas_finished=True, reference_spent=True)
    if isinstance(error, AfasTransportError) and error.never_sent:
        # No connection was made: the post never left. Not a refusal (nothing was said about
        # the entry): try again, as if it had not been sent.
        return PostOutcome(Disposition.RETRY_NOW, afas_finished=True)
    answered = (
        not isinstance(error, AfasTransportError)
        and not error.success_unreadable
        and error.status in _AFAS_ANSWERED
    )
    return PostOutcome(Disposition.OUTCOME_UNKNOWN, afas_finished=answered)


def check_lines(lines: Sequence[ProfitLine | SbLine], *, system: AfasSystem) -> None:
    """Refuse lines AFAS would refuse anyway, before any call: an unbalanced entry is a typed
    validation error with the Dutch hint; malformed lines are ``ValueError`` (a bug upstream)."""
    if not lines:
        raise ValueError("an entry needs at least one line")
    for line in lines:
        if line.debit < 0 or line.credit < 0 or (line.debit == 0 and line.credit == 0):
            raise ValueError(f"line on account {line.account}: amounts must be >= 0, not both 0")
    debit = sum((line.debit for line in lines), Decimal("0"))
    credit = sum((line.credit for line in lines), Decimal("0"))
    if debit != credit:
        error = AfasValidationError(
            f"De journaalpost is niet in balans: debet {debit}, credit {credit}.", system=system
        )
        error.local = True  # refused here, before anything was sent
        raise error
