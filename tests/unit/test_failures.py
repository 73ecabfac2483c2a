"""The one classification of failures, table-driven (pure: no Azurite, no HTTP). The expected
dispositions are written out here; ``docs/reliability.md`` shows the same table."""

from __future__ import annotations

import pytest

from shared.afas.errors import (
    AfasAuthError,
    AfasConnectorNotAuthorized,
    AfasContractError,
    AfasError,
    AfasLockedError,
    AfasNotFound,
    AfasRetriableError,
    AfasServerError,
    AfasSystem,
    AfasTransportError,
    AfasValidationError,
    Disposition,
    SbPartiallySucceeded,
    post_outcome,
    read_disposition,
)
from shared.failures import classify
from shared.loket.errors import (
    LoketConsentRequired,
    LoketContractError,
    LoketForbidden,
    LoketNotFound,
    LoketRateLimited,
    LoketServerError,
)
from shared.oauth.tokens import TokenEndpointError
from shared.store.tables import ConcurrencyConflict
from shared.sync.booking import (
    BookingBusy,
    BookingPartial,
    BookingSlow,
    BookingUnsettled,
    NotApproved,
    QuietPeriod,
)

D = Disposition


def unreadable_success() -> AfasContractError:
    error = AfasContractError("FiEntries answered 201 without a readable entry number", status=201)
    error.success_unreadable = True
    return error


def timeout() -> AfasTransportError:
    return AfasTransportError("ReadTimeout", system=AfasSystem.PROFIT, timed_out=True)


def never_sent() -> AfasTransportError:
    return AfasTransportError(
        "ConnectionError", system=AfasSystem.PROFIT, timed_out=False, never_sent=True
    )


# (error, what a failed post means, whether AFAS was done with it)
POSTS: list[tuple[str, AfasError, Disposition, bool]] = [
    ("validation", AfasValidationError("Rekening bestaat niet", status=500), D.REFUSED, True),
    ("sb-validation", AfasValidationError("x", system=AfasSystem.SB, status=400), D.REFUSED, True),
    ("sb-partial", SbPartiallySucceeded("deels", system=AfasSystem.SB, status=400), D.PARTIAL, True),
    ("never-sent", never_sent(), D.RETRY_NOW, True),
    ("timeout", timeout(), D.OUTCOME_UNKNOWN, False),
    ("dropped", AfasTransportError("reset", system=AfasSystem.PROFIT, timed_out=False),
     D.OUTCOME_UNKNOWN, False),
    ("gateway-502", AfasRetriableError("bad gateway", status=502), D.OUTCOME_UNKNOWN, False),
    ("gateway-504", AfasRetriableError("gateway timeout", status=504), D.OUTCOME_UNKNOWN, False),
    ("201-unreadable", unreadable_success(), D.OUTCOME_UNKNOWN, False),
    ("busy-429", AfasRetriableError("te veel", status=429), D.OUTCOME_UNKNOWN, True),
    ("busy-503", AfasRetriableError("onderhoud", status=503), D.OUTCOME_UNKNOWN, True),
    ("locked", AfasLockedError("boekingslayout in gebruik", status=500), D.OUTCOME_UNKNOWN, True),
    ("unknown-500", AfasServerError("Onbekende fout", status=500), D.OUTCOME_UNKNOWN, True),
    ("token-401", AfasAuthError("Token geweigerd", status=401), D.OUTCOME_UNKNOWN, True),
    ("not-found-404", AfasNotFound("?", status=404), D.OUTCOME_UNKNOWN, True),
    ("contract-400", AfasContractError("Invalid json", status=400), D.OUTCOME_UNKNOWN, True),
    ("connector-500", AfasConnectorNotAuthorized("niet ondersteund", status=500),
     D.OUTCOME_UNKNOWN, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "error", "disposition", "finished"), POSTS, ids=[p[0] for p in POSTS]
)
def test_what_a_failed_post_means(
    name: str, error: AfasError, disposition: Disposition, finished: bool
) -> None:
    outcome = post_outcome(error)
    assert (outcome.disposition, outcome.afas_finished) == (disposition, finished)


def test_only_a_validation_answer_that_names_the_entry_is_a_refusal_of_a_post() -> None:
    refusals = {name for name, error, *_ in POSTS if post_outcome(error).disposition is D.REFUSED}
    assert refusals == {"validation", "sb-validation"}


READS: list[tuple[str, AfasError, Disposition]] = [
    ("plain-500", AfasServerError("Onbekende fout", status=500), D.RETRY_NOW),
    ("busy-429", AfasRetriableError("te veel", status=429, retry_after=2), D.RETRY_NOW),
    ("maintenance", AfasRetriableError("onderhoud", status=503, retry_after=7200), D.RETRY_LATER),
    ("timeout", timeout(), D.RETRY_NOW),
    ("token-401", AfasAuthError("Token geweigerd", status=401), D.RECONSENT),
    ("not-found", AfasNotFound("?", status=404), D.REFUSED),
    ("contract", AfasContractError("no rows", status=200), D.REFUSED),
    ("connector", AfasConnectorNotAuthorized("mist", status=500), D.REFUSED),
]


@pytest.mark.parametrize(("name", "error", "disposition"), READS, ids=[r[0] for r in READS])
def test_what_a_failed_read_means(name: str, error: AfasError, disposition: Disposition) -> None:
    assert read_disposition(error) is disposition


JOB: list[tuple[str, Exception, Disposition, str]] = [
    ("quiet", QuietPeriod("LB1", 120.0), D.RETRY_LATER, "afas-quiet-period"),
    ("unsettled", BookingUnsettled(timeout()), D.OUTCOME_UNKNOWN, "afas-outcome-unknown"),
    ("busy", BookingBusy("x"), D.RETRY_LATER, "busy"),
    ("slow", BookingSlow("x"), D.RETRY_LATER, "slow"),
    ("partial", BookingPartial("regel 2"), D.PARTIAL, "afas-partial"),
    ("not-approved", NotApproved("f"), D.REFUSED, "not-approved"),
    ("loket-consent", LoketConsentRequired("x"), D.RECONSENT, "consent"),
    ("loket-403", LoketForbidden("x", status=403), D.RECONSENT, "consent"),
    ("loket-429", LoketRateLimited("x", status=429), D.RETRY_NOW, "loket-unavailable"),
    ("loket-5xx", LoketServerError("x", status=503), D.RETRY_NOW, "loket-unavailable"),
    ("loket-garbage", LoketContractError("x"), D.REFUSED, "loket-contract"),
    ("loket-404", LoketNotFound("x", status=404), D.REFUSED, "loket-error"),
    ("token-endpoint", TokenEndpointError("x"), D.RETRY_NOW, "token-unavailable"),
    ("storage", ConcurrencyConflict("etag"), D.RETRY_NOW, "busy"),
    ("afas-read-500", AfasServerError("x", status=500), D.RETRY_NOW, "afas-unknown"),
    ("afas-token", AfasAuthError("Token geweigerd", status=401), D.RECONSENT, "afas-token"),
    ("afas-env", AfasNotFound("?", status=404), D.REFUSED, "afas-error"),
]


@pytest.mark.parametrize(("name", "error", "disposition", "code"), JOB, ids=[j[0] for j in JOB])
def test_what_the_job_does_about_each_failure(
    name: str, error: Exception, disposition: Disposition, code: str
) -> None:
    failure = classify(error)
    assert failure is not None
    assert (failure.disposition, failure.code) == (disposition, code)
    assert failure.dutch and not failure.dutch.startswith(type(error).__name__)  # Dutch, for users
    if disposition in (D.RECONSENT, D.REFUSED, D.PARTIAL):
        assert not failure.transient  # a person must act: never retried silently


def test_quiet_periods_defer_to_the_moment_they_end() -> None:
    failure = classify(QuietPeriod("LB1", 180.0))
    assert failure is not None and failure.defer and failure.retry_after == 180.0


def test_an_error_nobody_expects_is_not_classified() -> None:
    assert classify(KeyError("bug")) is None
