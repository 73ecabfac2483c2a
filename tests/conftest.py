"""Shared fixtures: Azurite on free ports (one per session), settings, services, the local host."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.azurite import Azurite, start_azurite
from shared.bootstrap import Services
from shared.settings import Settings
from tests.support.localhost import LocalHostProcess, start_local_host

pytest_plugins = [
    "tests.support.leakscan",
    "tests.support.loket_fixtures",
    "tests.support.afas_fixtures",
    "tests.support.telemetry_fixtures",
    "tests.support.smtp_fixtures",
    "tests.support.browser_fixtures",
    "tests.support.portal_fixtures",
    "tests.support.fault_fixtures",
]

TEST_KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    log = tmp_path_factory.mktemp("azurite") / "azurite.log"
    emulator = start_azurite(log_path=str(log))
    try:
        yield emulator
    finally:
        emulator.stop()


def base_env(connection_string: str, **overrides: str) -> dict[str, str]:
    env = {
        "AzureWebJobsStorage": connection_string,
        "LOONBRUG_ENVIRONMENT": "development",
        "TOKEN_ENCRYPTION_KEY": TEST_KEY,
        "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
        "LOKET_CLIENT_ID": "loket-client",
        "LOKET_CLIENT_SECRET": "loket-secret",
        "AFAS_SB_CLIENT_ID": "sb-client",
        "AFAS_SB_CLIENT_SECRET": "sb-secret",
        "NIGHTLY_LOCAL_HOUR": "2",
    }
    env.update(overrides)
    return env


@pytest.fixture
def env(azurite: Azurite) -> dict[str, str]:
    return base_env(azurite.connection_string)


@pytest.fixture
def services(env: dict[str, str]) -> Services:
    return Services(Settings.from_env(env))


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique ids per test (one shared Azurite, no cleanup)."""

    def make(prefix: str = "id") -> str:
        return f"{prefix}{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def local_host(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., LocalHostProcess]]:
    started: list[LocalHostProcess] = []

    def start(
        extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ("--no-timers",)
    ) -> LocalHostProcess:
        host = start_local_host({**env, **(extra_env or {})}, tmp_path, args=args)
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop()
    if os.environ.get("LOONBRUG_KEEP_LOGS"):
        for host in started:
            print(host.log_text())
