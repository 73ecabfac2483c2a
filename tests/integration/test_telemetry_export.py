"""The real wiring: ``telemetry.configure`` + the Azure Monitor distro, exporting over HTTP to a
local stand-in for the Application Insights ingestion endpoint (a subprocess, because the distro
sets process-global providers)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.azurite import ROOT
from devtools.sandbox.appinsights import AppInsightsSandbox, start_appinsights_sandbox
from tests.support.localhost import wait_until

CODE = "authCodeValue-5e6f7a8b9c"
REFRESH = "refreshTokenValue-77aa88bb"
BEARER = "opaqueBearerValue-1234567890abcdef"

SCRIPT = textwrap.dedent(
    f"""
    import logging, os
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider
    from shared import telemetry
    from shared.settings import Settings

    settings = Settings.from_env(os.environ)
    assert telemetry.configure(settings) is True
    log = logging.getLogger("loonbrug.sync")
    with telemetry.job_context(office_id="office-1", client_id="client-7", run_id="run-42",
                               loket_journal_run_id="jr-9001"):
        log.info("booking journal run with Authorization: Bearer %s", "{BEARER}")
        log.info("callback ?code=%s", "{CODE}")
        with telemetry.external_call("loket", "list_journal_runs") as call:
            call.set_status_code(200)
        telemetry.count_journal_run("imported", target="afas-profit")
        telemetry.emit_event(telemetry.Event.JOURNAL_RUN_FAILED, target="afas-sb",
                             error_source="afas-sb", error_code="AfasValidationError",
                             reason="refresh_token={REFRESH}")
        telemetry.emit_event(telemetry.Event.NIGHTLY_COMPLETED, outcome="succeeded")
    trace.get_tracer_provider().force_flush()
    get_logger_provider().force_flush()
    metrics.get_meter_provider().force_flush()
    print("flushed")
    """
)


@pytest.fixture
def appinsights() -> Iterator[AppInsightsSandbox]:
    sandbox = start_appinsights_sandbox()
    yield sandbox
    sandbox.stop()


def test_configure_exports_logs_events_spans_and_metrics_without_secrets(
    appinsights: AppInsightsSandbox, tmp_path: Path
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("APPLICATIONINSIGHTS", "OTEL_", "AZURE_"))
    }
    env.update(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "LOONBRUG_ENVIRONMENT": "development",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": appinsights.connection_string,
            # Keep the exporter's own usage pings (statsbeat) off the network.
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "TMPDIR": str(tmp_path),  # the exporter's retry storage
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "flushed" in result.stdout

    wait_until(
        lambda: (
            appinsights.events("sync.nightly.completed")
            and appinsights.of_type("RemoteDependencyData")
            and appinsights.metrics("loonbrug.journal_runs")
        ),
        timeout=20,
        what="telemetry at the ingestion sandbox",
    )
    messages = [e["data"]["baseData"] for e in appinsights.of_type("MessageData")]
    booking = next(m for m in messages if m["message"].startswith("booking journal run"))
    assert booking["properties"]["officeId"] == "office-1"
    assert booking["properties"]["clientId"] == "client-7"
    assert booking["properties"]["runId"] == "run-42"
    assert booking["properties"]["loketJournalRunId"] == "jr-9001"

    failed = appinsights.events("sync.journal_run.failed")[0]
    assert failed["properties"]["errorSource"] == "afas-sb"
    assert failed["properties"]["officeId"] == "office-1"

    dependency = next(
        e["data"]["baseData"]
        for e in appinsights.of_type("RemoteDependencyData")
        if e["data"]["baseData"]["name"] == "loket list_journal_runs"
    )
    assert dependency["success"] is True
    assert dependency["properties"]["api"] == "loket"
    assert dependency["properties"]["officeId"] == "office-1"

    journal_runs = appinsights.metrics("loonbrug.journal_runs")
    assert journal_runs[0]["value"] == 1
    assert journal_runs[0]["properties"]["outcome"] == "imported"

    text = appinsights.all_text()
    for secret in (CODE, REFRESH, BEARER):
        assert secret not in text
