"""Telemetry through OpenTelemetry's in-memory exporters: dimensions, spans, metrics, no secrets."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from devtools.azurite import ROOT
from shared import telemetry
from shared.telemetry import (
    Dim,
    Event,
    Metric,
    count_journal_run,
    emit_event,
    external_call,
    job_context,
    record_queue_depth,
    redact,
    safe_url,
)
from tests.support.telemetry_fixtures import Otel

log = logging.getLogger("loonbrug.sync.test")

# Token-looking values that must never reach an exported record.
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsb29uYnJ1ZyJ9.c2lnbmF0dXJlLXZhbHVl"
OPAQUE_BEARER = "opaqueAccessTokenValue0123456789"
AFAS_TOKEN_B64 = "PHRva2VuPjx2ZXJzaW9uPjE8L3ZlcnNpb24+PGRhdGE+QUJDREVGPC9kYXRhPjwvdG9rZW4+"
AFAS_TOKEN_XML = "<token><version>1</version><data>AFASDATAVALUE0123456789ABCDEF</data></token>"
CODE = "authCodeValue-9f8e7d6c5b4a"
STATE = "stateValue-1a2b3c4d5e6f"
REFRESH = "refreshTokenValue-0a0b0c0d0e0f"
VERIFIER = "codeVerifierValue-abcdefabcdef"
SECRETS = (
    BEARER,
    OPAQUE_BEARER,
    AFAS_TOKEN_B64,
    "AFASDATAVALUE0123456789ABCDEF",
    CODE,
    STATE,
    REFRESH,
    VERIFIER,
)


def test_every_log_record_inside_a_job_carries_its_dimensions(otel: Otel) -> None:
    with job_context(office_id="office-1", client_id="client-7", run_id="run-42"):
        log.info("listing journal runs")
        with job_context(loket_journal_run_id="jr-9001"):
            log.warning("booking journal run")
        log.info("job done", extra={"clientId": "explicit-client"})
    log.info("outside any job")

    by_body = {item.log_record.body: dict(item.log_record.attributes) for item in otel.logs()}
    assert by_body["listing journal runs"] == {
        "officeId": "office-1",
        "clientId": "client-7",
        "runId": "run-42",
    }
    assert by_body["booking journal run"]["loketJournalRunId"] == "jr-9001"
    assert by_body["booking journal run"]["officeId"] == "office-1"
    assert by_body["job done"]["clientId"] == "explicit-client"  # an explicit extra wins
    assert "loketJournalRunId" not in by_body["job done"]  # the inner context has ended
    assert "officeId" not in by_body["outside any job"]


def test_job_context_does_not_leak_between_threads(otel: Otel) -> None:
    seen: dict[str, object] = {}

    def other() -> None:
        seen["job"] = dict(telemetry.current_job())

    with job_context(office_id="office-1"):
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    assert seen["job"] == {}


def test_external_call_records_a_client_span_with_status_and_duration(otel: Otel) -> None:
    with job_context(office_id="office-1", client_id="client-7", run_id="run-42"):
        with external_call("loket", "list_journal_runs") as call:
            call.set_status_code(200)
        with pytest.raises(TimeoutError), external_call("afas-profit", "post_fi_entry"):
            raise TimeoutError(f"read timed out for https://x.test/?code={CODE}")
        with external_call("afas-sb", "get_administrations") as call:
            call.set_status_code(503)

    spans = {span.name: span for span in otel.spans()}
    ok = spans["loket list_journal_runs"]
    assert ok.kind is SpanKind.CLIENT
    assert ok.status.status_code is StatusCode.OK
    assert ok.attributes is not None
    assert ok.attributes["api"] == "loket"
    assert ok.attributes["operation"] == "list_journal_runs"
    assert ok.attributes["statusCode"] == 200
    assert ok.attributes["officeId"] == "office-1"
    assert ok.attributes["runId"] == "run-42"
    assert ok.end_time is not None and ok.start_time is not None and ok.end_time > ok.start_time

    failed = spans["afas-profit post_fi_entry"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "TimeoutError"
    assert failed.attributes is not None and failed.attributes["errorType"] == "TimeoutError"
    assert not failed.events  # the exception message is not recorded

    http_error = spans["afas-sb get_administrations"]
    assert http_error.status.status_code is StatusCode.ERROR
    assert http_error.attributes is not None and http_error.attributes["errorType"] == "http-503"

    durations = otel.metric_points(Metric.EXTERNAL_CALL_DURATION)
    outcomes = {(attrs["api"], attrs["outcome"]) for attrs, _ in durations}
    assert outcomes == {("loket", "ok"), ("afas-profit", "error"), ("afas-sb", "error")}
    assert CODE not in otel.exported_text()


def test_external_call_rejects_unknown_apis() -> None:
    with pytest.raises(ValueError), external_call("exact", "x"):  # type: ignore[arg-type]
        pass


def test_journal_run_counter_and_queue_depth_gauge(otel: Otel) -> None:
    with job_context(office_id="office-1"):
        count_journal_run("imported", target="afas-profit")
        count_journal_run("imported", target="afas-profit")
        count_journal_run("failed", target="afas-sb")
    count_journal_run("skipped", office_id="office-2")
    record_queue_depth("sync-jobs-poison", 3)

    points = {
        tuple(sorted(attrs.items())): value
        for attrs, value in otel.metric_points(Metric.JOURNAL_RUNS)
    }
    assert points == {
        (("officeId", "office-1"), ("outcome", "imported"), ("target", "afas-profit")): 2,
        (("officeId", "office-1"), ("outcome", "failed"), ("target", "afas-sb")): 1,
        (("officeId", "office-2"), ("outcome", "skipped")): 1,
    }
    assert otel.metric_points(Metric.QUEUE_DEPTH) == [({"queue": "sync-jobs-poison"}, 3)]
    with pytest.raises(ValueError):
        count_journal_run("booked")  # type: ignore[arg-type]


def test_events_become_custom_events_with_known_dimensions(otel: Otel) -> None:
    with job_context(office_id="office-1", run_id="run-42"):
        emit_event(Event.NIGHTLY_COMPLETED, outcome="succeeded", jobs_total=3, jobs_failed=0)
        emit_event(Event.POISON, level=logging.ERROR, client_id="client-7", dequeue_count=5)

    events = [attrs for attrs in otel.log_attributes() if "microsoft.custom_event.name" in attrs]
    assert [e["microsoft.custom_event.name"] for e in events] == [
        "sync.nightly.completed",
        "sync.poison",
    ]
    nightly, poison = events
    assert nightly["officeId"] == "office-1" and nightly["outcome"] == "succeeded"
    assert nightly["jobsTotal"] == 3 and nightly["jobsFailed"] == 0
    assert poison["clientId"] == "client-7" and poison["dequeueCount"] == 5
    assert poison["runId"] == "run-42"
    with pytest.raises(TypeError, match="unknown telemetry dimension"):
        emit_event(Event.POISON, office="x")


def test_dimension_names_are_unique_camel_case() -> None:
    names = [dim.value for dim in Dim]
    assert len(names) == len(set(names))
    assert all(name[0].islower() and "_" not in name and "." not in name for name in names)
    assert {e.value for e in Event} >= {
        "sync.nightly.completed",
        "sync.journal_run.failed",
        "sync.poison",
        "connection.reauthorize",
    }


def test_no_token_reaches_any_exported_record(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with job_context(office_id="office-1", client_id="client-7", run_id="run-42"):
        log.info("calling Loket with header Authorization: Bearer %s", BEARER)
        log.info("retrying with Authorization: bearer %s", OPAQUE_BEARER)
        log.info("AFAS answered", extra={"requestHeader": f"AfasToken {AFAS_TOKEN_B64}"})
        log.info("stored AFAS token %s", AFAS_TOKEN_XML)
        log.info("callback GET /api/oauth/loket/callback?code=%s&state=%s", CODE, STATE)
        log.info(
            "token request body grant_type=refresh_token&refresh_token=%s&code_verifier=%s",
            REFRESH,
            VERIFIER,
        )
        log.info("token answer %s", json.dumps({"access_token": BEARER, "refresh_token": REFRESH}))
        try:
            raise RuntimeError(f"token endpoint refused refresh_token={REFRESH}")
        except RuntimeError:
            log.exception("refresh failed")
        emit_event(Event.REAUTHORIZE, provider="loket", reason=f"invalid_grant code={CODE}")
        with (
            external_call("loket", "exchange_code"),
            tracer.start_as_current_span(
                "GET",
                attributes={"url.full": f"https://oauth.loket.test/cb?code={CODE}&state={STATE}"},
            ) as span,
        ):
            span.set_attribute(
                "http.url", f"https://oauth.loket.test/token?refresh_token={REFRESH}"
            )
            span.add_event("exception", {"exception.message": f"Bearer {OPAQUE_BEARER}"})

    exported = otel.exported_text()
    assert len(otel.logs()) == 9 and len(otel.spans()) == 2  # the records were exported
    for secret in SECRETS:
        assert secret not in exported, f"a secret reached telemetry: {secret[:12]}…"
    assert "Bearer ***" in exported and "AfasToken ***" in exported and "code=***" in exported
    assert "refresh failed" in exported
    http_span = next(span for span in otel.spans() if span.name == "GET")
    assert http_span.attributes is not None
    assert http_span.attributes["url.full"] == "https://oauth.loket.test/cb"
    assert http_span.attributes["officeId"] == "office-1"


def test_console_logs_are_redacted_too(caplog: pytest.LogCaptureFixture) -> None:
    telemetry.install_log_redaction()
    with caplog.at_level(logging.INFO, logger="loonbrug"):
        log.info("Authorization: Bearer %s", BEARER)
        try:
            raise ValueError(f"bad code={CODE}")
        except ValueError:
            log.exception("exchange failed")
    text = caplog.text
    assert "Bearer ***" in text and "exchange failed" in text
    assert BEARER not in text and CODE not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bearer abc.def-ghi", "Bearer ***"),
        ("AfasToken PHRva2Vu", "AfasToken ***"),
        ("?code=1&state=2&pageSize=100", "?code=***&state=***&pageSize=100"),
        (
            '{"refresh_token": "x", "expires_in": 3599}',
            '{"refresh_token": "***", "expires_in": 3599}',
        ),
        ("errorCode=AFAS-12 in periode 2026-01", "errorCode=AFAS-12 in periode 2026-01"),
        ("office 4c0f journal run 1234", "office 4c0f journal run 1234"),
    ],
)
def test_redact(raw: str, expected: str) -> None:
    assert redact(raw) == expected


def test_safe_url_keeps_scheme_host_and_path_only() -> None:
    assert safe_url("https://user:pw@api.loket.test:8443/v2/x?code=1#frag") == (
        "https://api.loket.test:8443/v2/x"
    )
    assert safe_url("/relative?code=1") == "/relative"


def test_telemetry_off_imports_nothing_heavy_and_helpers_still_work() -> None:
    script = textwrap.dedent(
        """
        import sys
        from shared import telemetry
        from shared.settings import Settings
        env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true",
               "LOONBRUG_ENVIRONMENT": "development"}
        assert telemetry.configure(Settings.from_env(env)) is False
        with telemetry.job_context(office_id="o"):
            with telemetry.external_call("loket", "x") as call:
                call.set_status_code(200)
            telemetry.count_journal_run("imported")
            telemetry.emit_event(telemetry.Event.POISON, client_id="c")
        assert call.duration_ms is not None
        heavy = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor")))
        print(",".join(heavy))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
