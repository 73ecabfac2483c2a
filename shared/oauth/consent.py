"""Consent starts and callbacks: single-use ``state`` bound to office and user, and PKCE (S256).

Table ``OAuthStates``: PartitionKey = first two hex chars of SHA-256(state), RowKey = the full
hash. The state itself is never stored, only its hash; the PKCE verifier is stored encrypted.
A consumed state is kept as a tombstone (``used_at``) so a replay is recognised as such.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from shared.secret import Secret
from shared.store.crypto import SecretBox
from shared.store.storage import Storage
from shared.store.tables import ConcurrencyConflict, etag_of, get_or_none, update_if_unchanged, when

# An OAuth ``error`` code as RFC 6749 §4.1.2.1 defines them (access_denied, invalid_grant, ...).
_ERROR_CODE: Final = re.compile(r"^[a-z_]{1,64}\Z")


def oauth_error_code(value: object, *, unknown: str = "unknown") -> str:
    """The OAuth ``error`` of a callback or token answer, fit to log and show: a plain error code,
    or ``unknown`` for anything else (a value the other side or a caller made up never reaches a
    log line or a message as it is)."""
    return value if isinstance(value, str) and _ERROR_CODE.match(value) else unknown


TABLE: Final = "OAuthStates"
STATE_LIFETIME: Final = timedelta(minutes=10)


class StateProblem(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


class InvalidState(Exception):
    def __init__(self, problem: StateProblem) -> None:
        super().__init__(f"OAuth state is {problem.value}")
        self.problem = problem

    @property
    def dutch(self) -> str:
        return {
            StateProblem.UNKNOWN: "Deze toestemming is niet door Loonbrug gestart of hoort bij een "
            "andere aanvraag. Start het koppelen opnieuw vanuit Loonbrug.",
            StateProblem.USED: "Deze toestemming is al gebruikt. Start het koppelen opnieuw vanuit "
            "Loonbrug.",
            StateProblem.EXPIRED: "Deze toestemming is verlopen (langer dan 10 minuten geleden "
            "gestart). Start het koppelen opnieuw vanuit Loonbrug.",
        }[self.problem]


def pkce_challenge(verifier: Secret) -> str:
    digest = hashlib.sha256(verifier.reveal().encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ConsentStart:
    state: Secret = field(repr=False)
    code_verifier: Secret = field(repr=False)

    @property
    def code_challenge(self) -> str:
        return pkce_challenge(self.code_verifier)


@dataclass(frozen=True)
class ConsentRequest:
    provider: str
    office_id: str
    user_id: str
    environment: str
    code_verifier: Secret = field(repr=False)
    created_at: datetime | None
    user_name: str = ""  # the display name, shown as "Gekoppeld door"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class ConsentStore:
    def __init__(self, storage: Storage, box: SecretBox) -> None:
        self._storage = storage
        self._box = box

    def begin(
        self,
        *,
        provider: str,
        office_id: str,
        user_id: str,
        now: datetime,
        environment: str = "",
        user_name: str = "",
    ) -> ConsentStart:
        """A fresh random state (256 bits) and PKCE verifier (86 chars), stored for 10 minutes."""
        state = Secret(secrets.token_urlsafe(32))
        verifier = Secret(secrets.token_urlsafe(64))
        digest = _hash(state.reveal())
        self._storage.table(TABLE).create_entity(
            {
                "PartitionKey": digest[:2],
                "RowKey": digest,
                "provider": provider,
                "office_id": office_id,
                "user_id": user_id,
                "user_name": user_name,
                "environment": environment,
                "enc_code_verifier": self._box.encrypt(verifier, context=f"{TABLE}|{digest}"),
                "created_at": now,
                "expires_at": now + STATE_LIFETIME,
            }
        )
        return ConsentStart(state=state, code_verifier=verifier)

    def consume(self, *, provider: str, state: str, now: datetime) -> ConsentRequest:
        """Use a state exactly once. Raises :class:`InvalidState` (unknown, used, expired)."""
        if not state or len(state) > 512 or not state.isascii():
            raise InvalidState(StateProblem.UNKNOWN)  # ours are URL-safe ASCII
        digest = _hash(state)
        table = self._storage.table(TABLE)
        entity = get_or_none(table, digest[:2], digest)
        if entity is None or entity.get("provider") != provider:
            raise InvalidState(StateProblem.UNKNOWN)
        if entity.get("used_at"):
            raise InvalidState(StateProblem.USED)
        try:
            update_if_unchanged(
                table,
                {"PartitionKey": digest[:2], "RowKey": digest, "used_at": now},
                etag_of(entity),
            )
        except ConcurrencyConflict:
            raise InvalidState(StateProblem.USED) from None
        expires = when(entity.get("expires_at"))
        if expires is None or now >= expires:
            raise InvalidState(StateProblem.EXPIRED)
        return ConsentRequest(
            provider=provider,
            office_id=str(entity["office_id"]),
            user_id=str(entity["user_id"]),
            environment=str(entity.get("environment", "")),
            code_verifier=self._box.decrypt(
                entity["enc_code_verifier"], context=f"{TABLE}|{digest}"
            ),
            created_at=when(entity.get("created_at")),
            user_name=str(entity.get("user_name", "")),
        )
