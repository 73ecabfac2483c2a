"""What the client service refuses, as domain errors: the HTTP handler says them as problems
(``shared/api/handlers/clients.py``); the service knows nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldIssue:
    """One field of a configuration that is wrong, with a Dutch explanation."""

    field: str  # the API's field path, e.g. "target.environment"
    text: str


class ClientError(Exception):
    """Base of what the client service refuses."""


class InvalidConfiguration(ClientError):
    """Field errors: nothing is stored. ``detail``: the Dutch summary, when there is one."""

    def __init__(self, issues: list[FieldIssue], detail: str | None = None) -> None:
        super().__init__(f"{len(issues)} field issue(s)")
        self.issues = issues
        self.detail = detail


class UpstreamUnavailable(ClientError):
    """Loket or AFAS does not answer now, so the configuration could not be checked."""

    def __init__(self, system: str) -> None:
        super().__init__(system)
        self.system = system


class ChangedMeanwhile(ClientError):
    """The stored configuration is not the one the caller read (its ETag moved)."""


class BookingUnsettled(ClientError):
    """A booking of this client in its current AFAS administration is not finished."""

    def __init__(self, open_runs: int, reference: str, what: str) -> None:
        super().__init__(what)
        self.open_runs = open_runs
        self.reference = reference
        self.what = what  # Dutch: what the client cannot be until then ("verwijderd", …)
