"""The composition root: builds clients and repositories lazily from Settings (no I/O at import).

``functions/`` asks :func:`get_services` for the process-wide instance; tests build a
:class:`Services` of their own with their settings (Azurite, sandbox URLs) and clock.
"""

from __future__ import annotations

from functools import cached_property, lru_cache

from shared.clock import Clock, utc_now
from shared.oauth.consent import ConsentStore
from shared.settings import Settings, get_settings
from shared.store.connections import ConnectionRepository
from shared.store.crypto import SecretBox
from shared.store.storage import Storage


class Services:
    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock

    @cached_property
    def storage(self) -> Storage:
        return Storage(self.settings.storage)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.settings.encryption_keys)

    @cached_property
    def connections(self) -> ConnectionRepository:
        return ConnectionRepository(self.storage, self.secret_box)

    @cached_property
    def consents(self) -> ConsentStore:
        return ConsentStore(self.storage, self.secret_box)


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(get_settings())
