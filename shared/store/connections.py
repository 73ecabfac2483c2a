"""Connections of an office to Loket.nl, AFAS Profit and AFAS SB, with encrypted secrets.

Table ``Connections``: PartitionKey = office id, RowKey = ``loket`` | ``afas-profit|{env}`` |
``afas-sb|{env}``. Secret fields (access token, refresh token, AFAS token) are stored only as
AES-GCM ciphertext bound to their row and field. :class:`Connection` carries no secret at all;
:meth:`ConnectionRepository.read_secrets` is the one explicit door to them, and what it returns
prints as ``***``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.secret import Secret
from shared.store.crypto import SecretBox
from shared.store.storage import Storage
from shared.store.tables import check_key, etag_of, get_or_none, update_if_unchanged, when

TABLE: Final = "Connections"
OFFICES_TABLE: Final = "Offices"
_SECRET_FIELDS: Final = ("access_token", "refresh_token", "afas_token")


class ConnectionKind(StrEnum):
    LOKET = "loket"
    AFAS_PROFIT = "afas-profit"
    AFAS_SB = "afas-sb"


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    REAUTHORIZE = "reauthorize"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class ConnectionKey:
    office_id: str
    kind: ConnectionKind
    environment: str = ""

    @property
    def row_key(self) -> str:
        if self.kind is ConnectionKind.LOKET:
            return "loket"
        return check_key(f"{self.kind.value}|{self.environment}")

    @classmethod
    def from_row(cls, office_id: str, row_key: str) -> ConnectionKey:
        kind, _, environment = row_key.partition("|")
        return cls(office_id, ConnectionKind(kind), environment)


@dataclass(frozen=True)
class Connection:
    key: ConnectionKey
    active: bool
    needs_reauthorization: bool
    reason: str | None
    connected_by: str
    connected_at: datetime | None
    updated_at: datetime | None
    access_expires_at: datetime | None
    refresh_lease_until: datetime | None
    details: dict[str, str]
    etag: str
    # A new id for every consent (every ``save``): tokens obtained under one consent never
    # overwrite the row of another (shared/oauth/tokens.py). Rows from before it read "".
    consent_id: str = ""
    # The display name of who consented ("Gekoppeld door"); rows from before it read "".
    connected_by_name: str = ""

    @property
    def state(self) -> ConnectionState:
        if self.needs_reauthorization:
            return ConnectionState.REAUTHORIZE
        if not self.active:
            return ConnectionState.INACTIVE
        return ConnectionState.CONNECTED


@dataclass(frozen=True)
class StoredSecrets:
    """Decrypted secrets of one connection and the ETag of the row they came from."""

    connection: Connection
    access_token: Secret | None = field(repr=False)
    refresh_token: Secret | None = field(repr=False)
    afas_token: Secret | None = field(repr=False)


@dataclass(frozen=True)
class NewSecrets:
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    access_expires_at: datetime | None = None
    afas_token: Secret | None = None


class ConnectionRepository:
    def __init__(self, storage: Storage, box: SecretBox) -> None:
        self._storage = storage
        self._box = box
        # Called with the key of every connection this repository writes or deletes (the
        # worker's ConnectionCache forgets it).
        self.on_change: list[Callable[[ConnectionKey], None]] = []

    def _changed(self, key: ConnectionKey) -> None:
        for listener in self.on_change:
            listener(key)

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    # -- reads ----------------------------------------------------------------------------
    def get(self, key: ConnectionKey) -> Connection | None:
        entity = get_or_none(self._table, check_key(key.office_id), key.row_key)
        return _connection(entity) if entity is not None else None

    def for_office(self, office_id: str) -> list[Connection]:
        entities = self._table.query_entities(
            "PartitionKey eq @office", parameters={"office": check_key(office_id)}
        )
        return [_connection(e) for e in entities]

    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None:
        entity = get_or_none(self._table, check_key(key.office_id), key.row_key)
        if entity is None:
            return None
        values = {
            name: self._box.decrypt(entity[f"enc_{name}"], context=self._context(key, name))
            if entity.get(f"enc_{name}")
            else None
            for name in _SECRET_FIELDS
        }
        return StoredSecrets(_connection(entity), **values)

    # -- writes ---------------------------------------------------------------------------
    def save(
        self,
        key: ConnectionKey,
        secrets: NewSecrets,
        *,
        by_user: str,
        now: datetime,
        by_name: str = "",
        active: bool = True,
        details: dict[str, str] | None = None,
    ) -> Connection:
        """Create or replace the connection (a fresh consent or a new AFAS token).

        Every save starts a new consent: a new ``consent_id``, so a token refresh of the
        previous consent that is still under way can tell that the row is no longer its own.
        """
        entity: dict[str, Any] = {
            "PartitionKey": check_key(key.office_id),
            "RowKey": key.row_key,
            "kind": key.kind.value,
            "environment": key.environment,
            "active": active,
            "needs_reauthorization": False,
            "reason": "",
            "connected_by": by_user,
            "connected_by_name": by_name,
            "connected_at": now,
            "updated_at": now,
            "consent_id": uuid.uuid4().hex,
            "details": json.dumps(details or {}, ensure_ascii=False),
            **self._secret_fields(key, secrets),
        }
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        self._changed(key)
        self._register_office(key.office_id, now)
        connection = self.get(key)
        assert connection is not None
        return connection

    def update(self, connection: Connection, *, etag: str | None = None, **changes: Any) -> str:
        """ETag-conditional change of plain fields and/or secrets (``NewSecrets`` as ``secrets``).

        Raises :class:`shared.store.tables.ConcurrencyConflict` when the row changed meanwhile.
        """
        key = connection.key
        entity: dict[str, Any] = {"PartitionKey": key.office_id, "RowKey": key.row_key}
        secrets = changes.pop("secrets", None)
        if isinstance(secrets, NewSecrets):
            entity.update(self._secret_fields(key, secrets))
        if "details" in changes:
            changes["details"] = json.dumps(changes["details"], ensure_ascii=False)
        entity.update(changes)
        try:
            return update_if_unchanged(self._table, entity, etag or connection.etag)
        finally:
            self._changed(key)

    def delete(self, key: ConnectionKey) -> bool:
        try:
            self._table.delete_entity(check_key(key.office_id), key.row_key)
        except ResourceNotFoundError:
            return False
        finally:
            self._changed(key)
        return True

    # -- offices --------------------------------------------------------------------------
    def offices(self) -> list[str]:
        """Every office that ever stored a connection (the nightly walks these)."""
        table = self._storage.table(OFFICES_TABLE)
        return [
            e["RowKey"] for e in table.query_entities("PartitionKey eq 'office'", select=["RowKey"])
        ]

    def _register_office(self, office_id: str, now: datetime) -> None:
        self._storage.table(OFFICES_TABLE).upsert_entity(
            {"PartitionKey": "office", "RowKey": check_key(office_id), "seen_at": now},
            mode=UpdateMode.MERGE,
        )

    # -- helpers --------------------------------------------------------------------------
    def _context(self, key: ConnectionKey, name: str) -> str:
        return f"{TABLE}|{key.office_id}|{key.row_key}|{name}"

    def _secret_fields(self, key: ConnectionKey, secrets: NewSecrets) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name in _SECRET_FIELDS:
            value = getattr(secrets, name)
            if value is not None:
                fields[f"enc_{name}"] = self._box.encrypt(value, context=self._context(key, name))
                fields["key_id"] = self._box.primary_key_id
        if secrets.access_expires_at is not None:
            fields["access_expires_at"] = secrets.access_expires_at
        return fields


def _connection(entity: TableEntity) -> Connection:
    details = entity.get("details") or "{}"
    return Connection(
        key=ConnectionKey.from_row(entity["PartitionKey"], entity["RowKey"]),
        active=bool(entity.get("active", True)),
        needs_reauthorization=bool(entity.get("needs_reauthorization", False)),
        reason=entity.get("reason") or None,
        connected_by=str(entity.get("connected_by", "")),
        connected_by_name=str(entity.get("connected_by_name", "")),
        connected_at=when(entity.get("connected_at")),
        updated_at=when(entity.get("updated_at")),
        access_expires_at=when(entity.get("access_expires_at")),
        refresh_lease_until=when(entity.get("refresh_lease_until")),
        details={str(k): str(v) for k, v in json.loads(details).items()},
        etag=etag_of(entity),
        consent_id=str(entity.get("consent_id", "")),
    )
