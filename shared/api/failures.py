"""The one classification of failures (:mod:`shared.failures`), in HTTP: which status and
problem a handler answers when a call to Loket or AFAS failed. Handlers catch what is theirs to
say differently (a 404 for an id) and hand the rest to :func:`problem_for`."""

from __future__ import annotations

from shared.afas.errors import Disposition
from shared.api.http import Problem
from shared.failures import Failure, classify


def problem_for(error: Exception) -> Problem | None:
    """The problem for ``error``; None for an error nobody expects (let it be a 500)."""
    failure = classify(error)
    return None if failure is None else problem_of(failure)


def problem_of(failure: Failure) -> Problem:
    if failure.transient or failure.disposition is Disposition.RETRY_LATER:
        return Problem(
            503,
            "upstream-unavailable",
            "Upstream unavailable",
            f"{failure.dutch}. Er is niets gewijzigd.",
            hint=failure.hint or "Probeer het over een paar minuten opnieuw.",
        )
    if failure.disposition is Disposition.RECONSENT:
        return Problem(409, "not-connected", "Not connected", failure.dutch, hint=failure.hint)
    return Problem(502, failure.code, "Upstream refused", failure.dutch, hint=failure.hint)
