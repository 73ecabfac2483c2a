"""What the connection service refuses, as domain errors (the HTTP handler says them as
problems, ``shared/api/handlers/afas_connections.py``)."""

from __future__ import annotations

from enum import StrEnum


class ConnectionRefusal(Exception):
    """Base of what the connection service refuses; nothing was stored."""


class TokenRequired(ConnectionRefusal):
    """Switching a connection that does not exist yet: a token is needed first."""

    def __init__(self, environment: str) -> None:
        super().__init__(environment)
        self.environment = environment


class Refusal(StrEnum):
    CONNECTOR_MISSING = "afas-connector-missing"  # the token works, the App Connector lacks some
    TOKEN_REFUSED = "afas-token-refused"  # noqa: S105 (a problem type, no secret): 401/403
    ENVIRONMENT_NOT_FOUND = "afas-environment-not-found"


class TokenRefused(ConnectionRefusal):
    """AFAS refused the token (or knows no such environment). ``detail``/``hint``: Dutch."""

    def __init__(self, why: Refusal, detail: str, hint: str) -> None:
        super().__init__(why.value)
        self.why = why
        self.detail = detail
        self.hint = hint

    @property
    def field(self) -> str:
        return "environment" if self.why is Refusal.ENVIRONMENT_NOT_FOUND else "token"


class AfasUnreachable(ConnectionRefusal):
    """AFAS did not answer now; the token was not checked."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("unreachable")
        self.retry_after = retry_after


class AfasFailed(ConnectionRefusal):
    """AFAS answered the check with an error we do not expect. ``detail``/``hint``: Dutch."""

    def __init__(self, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


class ChangedMeanwhile(ConnectionRefusal):
    """Someone else changed the connection at the same moment."""
