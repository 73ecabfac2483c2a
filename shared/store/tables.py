"""Small helpers every repository shares: keys, ETags, aware datetimes, conditional writes.

Only repositories (``shared/store/*``) touch PartitionKey/RowKey or azure.data.tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

# Characters Table Storage forbids in keys, plus control characters.
_BAD_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
MAX_TRANSACTION: Final = 100


class ConcurrencyConflict(Exception):
    """An ETag-conditional write lost the race; re-read and decide again."""


# What key_part escapes: the forbidden characters, all control characters (C0, DEL, C1) and the
# escape character itself, so that escaping is reversible (:func:`key_value`).
_ESCAPED = re.compile(r"[%/\\#?\x00-\x1f\x7f-\x9f]")


def key_part(value: str) -> str:
    """The one way a value from outside (a Loket journal run id, a ledger account code, an AFAS
    administration id, a message key naming them) becomes part of a PartitionKey or RowKey:
    ``% / \\ # ?`` and control characters as ``%XX`` (UTF-8 bytes), everything else as it is.
    A GUID or a plain code is unchanged (keys written before this stay the same)."""
    return _ESCAPED.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value)


def key_value(part: str) -> str:
    """The value a :func:`key_part` came from (reading a key back)."""
    if "%" not in part:
        return part
    return unquote(part, errors="strict")


def check_key(value: str) -> str:
    if not value or _BAD_KEY.search(value) or len(value) > 512:
        raise ValueError(f"not a valid table key: {value!r}")
    return value


def etag_of(entity: TableEntity) -> str:
    return str(entity.metadata["etag"])


def get_or_none(table: TableClient, partition: str, row: str) -> TableEntity | None:
    try:
        return table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None


def update_if_unchanged(
    table: TableClient, entity: Mapping[str, Any], etag: str, *, mode: UpdateMode = UpdateMode.MERGE
) -> str:
    """Write ``entity`` only if the row still has ``etag``; return the new ETag."""
    try:
        result = table.update_entity(
            dict(entity), mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    except (ResourceModifiedError, ResourceNotFoundError) as exc:
        raise ConcurrencyConflict(str(exc)) from None
    return str(result["etag"])


def delete_if_unchanged(table: TableClient, partition: str, row: str, etag: str) -> bool:
    """Delete a row only if unchanged; False when someone else changed or deleted it first."""
    try:
        table.delete_entity(
            partition, row, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        return False
    return True


def when(value: Any) -> datetime | None:
    """Table datetimes come back as aware datetimes (or None); always return aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def inverted_ticks(moment: datetime) -> str:
    """A fixed-width key that sorts newest first (the "log tail" pattern)."""
    millis = int(moment.astimezone(UTC).timestamp() * 1000)
    return f"{9_999_999_999_999 - millis:013d}"
