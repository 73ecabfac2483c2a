"""Fixtures for the fault matrix and the soak (registered in tests/conftest.py).

* ``fault_azurite``: an Azurite of their own for the session: the worlds use the real
  ``sync-jobs`` queues, which other tests' leftovers must not share.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def fault_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    log = tmp_path_factory.mktemp("fault-azurite") / "azurite.log"
    emulator = start_azurite(log_path=str(log))
    try:
        yield emulator
    finally:
        emulator.stop()
