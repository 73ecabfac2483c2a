"""Every call to Loket and AFAS is a span with its status, carrying the job's dimensions; no secret."""

from __future__ import annotations

from typing import Any

from devtools.sandbox.afas import PROFIT_TOKEN
from shared import telemetry
from shared.bootstrap import Services
from shared.secret import Secret
from tests.support.loket_fixtures import connect_loket, fast_client


def test_loket_and_profit_calls_are_spans_with_job_dimensions(
    otel: Any, loket_services: Services, afas_services: Services, unique: Any
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    with telemetry.job_context(office_id=office, client_id="4711", run_id="nightly-2026-11-23"):
        employers = list(fast_client(loket_services, office).list_employers())
        from shared.afas.environment import parse_profit_environment

        profit = afas_services.new_profit_client(
            parse_profit_environment("12345"), Secret(PROFIT_TOKEN)
        )
        administrations = list(profit.list_administrations())
    assert employers and administrations
    spans = otel.spans()
    by_api = {s.attributes.get("api") for s in spans}
    assert {"loket", "afas-profit"} <= by_api
    loket_span = next(
        s for s in spans if s.attributes.get("api") == "loket" and "employers" in s.name
    )
    assert loket_span.attributes["statusCode"] == 200
    assert (
        loket_span.attributes["officeId"] == office and loket_span.attributes["clientId"] == "4711"
    )
    assert "{id}" in loket_span.name or "employers" in loket_span.name
    token_span = next(s for s in spans if "token" in s.name)
    assert token_span.attributes["api"] == "loket"
    text = otel.exported_text()
    assert PROFIT_TOKEN not in text and "Bearer" not in text
