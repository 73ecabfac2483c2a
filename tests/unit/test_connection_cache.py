"""Issue 18: the worker keeps Profit connections 60 s in its process (ConnectionCache). A change
made in the process is seen at once; one made elsewhere within the 60 s, never later."""

from __future__ import annotations

from typing import cast

from shared.afas.profit_connections import ConnectionCache
from shared.store.connections import ConnectionKey, ConnectionKind, StoredSecrets


def secrets(value: str) -> StoredSecrets:
    return cast(StoredSecrets, value)  # the cache keeps what the reader gave, whatever it is


class Reader:
    def __init__(self) -> None:
        self.stored: dict[ConnectionKey, str | None] = {}
        self.reads = 0

    def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None:
        self.reads += 1
        value = self.stored.get(key)
        return None if value is None else cast(StoredSecrets, value)


KEY = ConnectionKey("office-1", ConnectionKind.AFAS_PROFIT, "12345")
OTHER = ConnectionKey("office-2", ConnectionKind.AFAS_PROFIT, "12345")


def test_a_connection_is_read_once_per_minute_and_a_revoked_one_is_gone_after_it() -> None:
    now = [0.0]
    reader = Reader()
    cache = ConnectionCache(reader, clock=lambda: now[0])
    reader.stored[KEY] = "token-1"
    assert cache.read_secrets(KEY) == secrets("token-1") and cache.read_secrets(KEY) == secrets(
        "token-1"
    )
    assert reader.reads == 1
    reader.stored[KEY] = None  # revoked in another instance
    now[0] = 59.9
    assert cache.read_secrets(KEY) == secrets("token-1")  # within the 60 s the docs allow
    now[0] = 60.0
    assert cache.read_secrets(KEY) is None and reader.reads == 2
    assert cache.read_secrets(KEY) is None and reader.reads == 3  # a missing one is not kept


def test_a_change_in_this_process_is_seen_at_once_and_only_for_its_office() -> None:
    reader = Reader()
    cache = ConnectionCache(reader, clock=lambda: 0.0)
    reader.stored[KEY], reader.stored[OTHER] = "token-1", "other"
    cache.read_secrets(KEY), cache.read_secrets(OTHER)
    reader.stored[KEY] = "token-2"
    cache.forget(KEY)  # the repository's on_change after a save
    assert cache.read_secrets(KEY) == secrets("token-2") and reader.reads == 3
    assert cache.read_secrets(OTHER) == secrets("other") and reader.reads == 3
    assert not cache.forget_office("office-1")  # read fresh since the change: nothing stale
    cache.read_secrets(KEY), cache.read_secrets(KEY)  # the second answered from memory
    assert cache.forget_office("office-1") and not cache.forget_office("office-3")


def test_a_connection_revoked_while_it_is_being_read_is_not_kept_for_a_minute() -> None:
    """attack2: a job reads the connection row; while that read is on its way, the office
    revokes the connection in this very process (the repository writes, then forgets). The read
    finishes with the row as it was before: it may serve this job, but it must not be kept, or
    every job of the next 60 s in this process uses the revoked connection."""

    class Overtaken(Reader):
        revoke_during_read = True

        def read_secrets(self, key: ConnectionKey) -> StoredSecrets | None:
            before = super().read_secrets(key)  # the row as it was when it was read
            if self.revoke_during_read:
                self.revoke_during_read = False
                self.stored[KEY] = None  # revoked meanwhile in this process...
                cache.forget(KEY)  # ...and forgotten by the repository's on_change
            return before

    reader = Overtaken()
    cache = ConnectionCache(reader, clock=lambda: 0.0)
    reader.stored[KEY] = "token-1"
    assert cache.read_secrets(KEY) == secrets("token-1")  # the slow read of one job
    assert cache.read_secrets(KEY) is None  # the revocation is seen at once
