"""The queue message that carries one sync job: versioned, ids only, strictly parsed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final

SYNC_QUEUE: Final = "sync-jobs"
SYNC_POISON_QUEUE: Final = f"{SYNC_QUEUE}-poison"
# A Base64-encoded queue message may be 64 KiB as stored, so the raw JSON at most 48 KiB.
MAX_MESSAGE_BYTES: Final = 48 * 1024
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


class MalformedMessage(ValueError):
    """The message cannot be a sync job; ``reason`` says why (English, for the logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SyncJob:
    """Book the ready journal runs of one client for one run (nightly or rerun)."""

    VERSION: ClassVar[int] = 1

    office_id: str
    run_id: str
    client_id: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": self.VERSION,
                "officeId": self.office_id,
                "runId": self.run_id,
                "clientId": self.client_id,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SyncJob:
        if len(text) > MAX_MESSAGE_BYTES:
            raise MalformedMessage(f"message of {len(text)} bytes exceeds {MAX_MESSAGE_BYTES}")
        try:
            data: Any = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise MalformedMessage("message is not JSON") from None
        except RecursionError:  # "[[[[…" nested deeper than the parser goes
            raise MalformedMessage("message is nested too deeply") from None
        if not isinstance(data, dict):
            raise MalformedMessage("message is not a JSON object")
        version = data.get("v")
        if type(version) is not int or version != cls.VERSION:  # true == 1 and 1.0 == 1
            raise MalformedMessage(f"unsupported message version {data.get('v')!r}")
        values = {}
        for key in ("officeId", "runId", "clientId"):
            value = data.get(key)
            if not isinstance(value, str) or not _ID.match(value):
                raise MalformedMessage(f"field {key} is missing or not a valid id")
            values[key] = value
        unknown = set(data) - {"v", "officeId", "runId", "clientId"}
        if unknown:
            raise MalformedMessage(f"unknown fields {sorted(unknown)}")
        return cls(
            office_id=values["officeId"], run_id=values["runId"], client_id=values["clientId"]
        )
