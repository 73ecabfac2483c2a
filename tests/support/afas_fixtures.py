"""Fixtures and helpers for the AFAS sandbox (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devtools.sandbox.afas import AfasSandbox, default_scenario, start_afas_sandbox
from shared.afas.environment import parse_profit_environment, profit_base_url, profit_token
from shared.afas.profit import ProfitClient
from shared.afas.retry import RetryPolicy
from shared.afas.sb import SbClient
from shared.api.handlers import afas_connections
from shared.api.http import ApiRequest, ApiResponse, Headers
from shared.api.operations import Operation, handle
from shared.bootstrap import Services
from shared.clients.model import ProfitTarget, SbTarget
from shared.journal.builder import Draft
from shared.journal.entries import ProfitEntry, ProfitLine, SbEntry, SbLine
from shared.journal.periods import BookingPeriod, PeriodRule
from shared.settings import Settings
from shared.sync.bookers import AnyBooker, Booked, ProfitBooker, SbBooker
from shared.sync.booking import BookingPolicy, book_once
from shared.sync.ledger import Holder
from tests.support.api import admin_headers
from tests.support.fakes import FakeBookings, ManualClock

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5, budget=10)


@pytest.fixture
def afas_sandbox() -> Iterator[AfasSandbox]:
    sandbox = start_afas_sandbox(default_scenario())
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def afas_env(env: dict[str, str], afas_sandbox: AfasSandbox) -> dict[str, str]:
    return {**env, **afas_sandbox.settings_env()}


@pytest.fixture
def afas_services(afas_env: dict[str, str]) -> Services:
    return Services(Settings.from_env(afas_env))


def fast_profit_client(
    sandbox: AfasSandbox, token: str, *, read_timeout: float = 5.0, environment: str = "O12345AA"
) -> ProfitClient:
    """A Profit client with short waits, so fault tests stay fast."""
    return ProfitClient(
        profit_base_url(sandbox.profit_url_template, parse_profit_environment(environment)),
        profit_token(token),
        timeout=(2.0, read_timeout),
        post_timeout=(2.0, read_timeout),
        server_timeout=read_timeout,  # AFAS's 900 s, scaled: the quiet period is 2 x read
        retry=FAST_RETRY,
    )


HOLDER = Holder("office", "client", "run")


class Booker:
    """The booking step (:func:`shared.sync.booking.book_once`) around one client, with a
    dict-backed ledger and a clock the test moves: what exactly-once means at the AFAS boundary,
    over real HTTP."""

    def __init__(self, client: ProfitClient | SbClient, *, environment: str = "12345") -> None:
        self.client = client
        self.bookings = FakeBookings()
        self.clock = ManualClock()
        self.policy = BookingPolicy(settle_pause=0.05)
        self.environment = environment

    def target(self, entry: ProfitEntry | SbEntry) -> AnyBooker:
        if isinstance(entry, ProfitEntry):
            assert isinstance(self.client, ProfitClient)
            return ProfitBooker(
                self.client, ProfitTarget(self.environment, entry.administration, entry.journal)
            )
        assert isinstance(self.client, SbClient)
        return SbBooker(self.client, SbTarget(self.environment, entry.administration_id))

    def book(
        self,
        entry: ProfitEntry | SbEntry,
        *,
        run_id: str | None = None,
        approved: str | None = None,
        holder: Holder = HOLDER,
    ) -> Booked:
        """Book ``entry`` as Loket journal run ``run_id`` (default: the voucher / description)."""
        period = BookingPeriod(2025, 3, entry.entry_date, PeriodRule.PAYROLL_PERIOD)
        draft: Draft[Any] = Draft(entry, period, ())
        key = run_id or (
            entry.voucher_number if isinstance(entry, ProfitEntry) else entry.description
        )
        booked, _ = book_once(
            self.bookings,
            self.clock,
            self.target(entry),
            draft,
            key,
            holder,
            approved=approved,
            policy=self.policy,
        )
        return booked


def profit_entry(
    voucher: str,
    *,
    year: int = 2025,
    period: int = 3,
    journal: str = "80",
    administration: int = 1,
    lines: tuple[ProfitLine, ...] | None = None,
) -> ProfitEntry:
    """A balanced payroll entry on the default scenario's accounts (cost centre 100 on 4000)."""
    end = date(year, period, 28) if 1 <= period <= 12 else date(year, 12, 31)
    return ProfitEntry(
        year=year,
        period=period,
        administration=administration,
        journal=journal,
        voucher_number=voucher,
        entry_date=end,
        voucher_date=end,
        lines=lines
        or (
            ProfitLine("4000", "Brutolonen", Decimal("4000.00"), Decimal("0"), ((1, "100"),)),
            ProfitLine("4100", "Sociale lasten", Decimal("812.34"), Decimal("0"), ((1, "200"),)),
            ProfitLine("1710", "Loonheffing", Decimal("0"), Decimal("1300.00")),
            ProfitLine("1600", "Netto lonen", Decimal("0"), Decimal("3512.34")),
        ),
    )


def sb_entry(
    administration_id: str,
    *,
    lines: tuple[SbLine, ...] | None = None,
    description: str = "Loonjournaalpost 2025-3",
) -> SbEntry:
    return SbEntry(
        administration_id=administration_id,
        description=description,
        entry_date=date(2025, 3, 31),
        lines=lines
        or (
            SbLine("4000", Decimal("4000.00"), Decimal("0")),
            SbLine("1710", Decimal("0"), Decimal("1300.00")),
            SbLine("1600", Decimal("0"), Decimal("2700.00")),
        ),
    )


def call(
    services: Services,
    operation: Operation,
    *,
    headers: dict[str, str] | None = None,
    route: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: bytes = b"",
) -> ApiResponse:
    """Run an operation in-process, as the Functions adapter would."""
    request = ApiRequest(
        method=operation.method,
        url=f"http://127.0.0.1{operation.path}",
        headers=Headers({"Content-Type": "application/json", **(headers or {})}),
        route_params=route or {},
        query=query or {},
        body=body,
    )
    return handle(operation, request, services)


def sb_consent(
    services: Services, office: str, environment: str = "enyoi"
) -> tuple[ApiResponse, dict[str, str]]:
    """The real SB consent in-process: start, let the sandbox consent, run the callback.
    Answers the callback's response and the query it was called with."""
    started = call(
        services,
        afas_connections.SB_CONNECT,
        headers=admin_headers(office),
        route={"environment": environment},
    )
    assert started.status == 200, started.body
    consent = requests.get(started.json()["authorizeUrl"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    params = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["Location"]).query).items()}
    return call(services, afas_connections.SB_CALLBACK, query=params), params


def connect_sb(services: Services, office: str, environment: str = "enyoi") -> None:
    done, _ = sb_consent(services, office, environment)
    assert done.status == 302, done.body
