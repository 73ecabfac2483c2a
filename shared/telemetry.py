"""Telemetry: OpenTelemetry to Application Insights, and the names the dashboards and alerts use.

Switched on by :func:`configure` only when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set; with it
off, nothing from OpenTelemetry or Azure Monitor is imported and the helpers below cost a
``perf_counter`` call. The small API the rest of the code calls:

* :func:`job_context` — every log record emitted inside carries ``officeId``, ``clientId``,
  ``runId`` and ``loketJournalRunId`` as dimensions (``customDimensions`` in Application Insights).
* :func:`external_call` — a client span (``dependencies``) around one call to Loket or AFAS, with
  status and duration, plus the ``loonbrug.external_call.duration`` histogram.
* :func:`emit_event` — one named operational event (``customEvents``); the workbook and the alert
  rules in ``infra/app`` query exactly these names (see :class:`Event`, docs/operations.md).
* :func:`count_journal_run` and :func:`record_queue_depth` — custom metrics (``customMetrics``).

Never a token in telemetry: a log-record factory masks token-looking values in every log line of
the process, an OpenTelemetry log processor masks the exported body and attributes (including
exception text), and a span processor strips query strings from URL attributes and masks the rest.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider, _Gauge
    from opentelemetry.sdk._logs import LogRecordProcessor
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.trace import Tracer, TracerProvider

    from shared.settings import Settings

# Only this logger (and its children, loonbrug.*) is exported by the Azure Monitor distro, so the
# worker's own forwarding to the host and third-party chatter are not sent twice.
LOGGER_NAME: Final = "loonbrug"
INSTRUMENTATION_NAME: Final = "loonbrug"

# The attribute that makes the Azure Monitor exporter send a log record as a customEvents row.
_CUSTOM_EVENT_ATTRIBUTE: Final = "microsoft.custom_event.name"

log = logging.getLogger(f"{LOGGER_NAME}.telemetry")
_event_log = logging.getLogger(f"{LOGGER_NAME}.events")


# --------------------------------------------------------------------------------------------
# Names: events (customEvents.name), metrics (customMetrics.name), dimensions (customDimensions)
# --------------------------------------------------------------------------------------------
class Event(StrEnum):
    """Operational events. docs/operations.md lists the dimensions each one carries."""

    # Once per office per nightly run, when all its jobs have finished.
    # officeId, runId, runType, outcome (succeeded|failed), jobsTotal, jobsFailed, imported,
    # failed, skipped, durationMs. The "no successful nightly in 26 h" alert reads this.
    NIGHTLY_COMPLETED = "sync.nightly.completed"
    # Once per client job. officeId, clientId, runId, runType, outcome (succeeded|failed),
    # imported, failed, skipped, durationMs.
    JOB_COMPLETED = "sync.job.completed"
    # Once per Loket journal run and outcome. officeId, clientId, runId, loketJournalRunId,
    # target (afas-profit|afas-sb), environment; failed adds errorSource (loket|afas-profit|
    # afas-sb|internal) and errorCode (a short class such as "AfasValidationError" or "http-503").
    JOURNAL_RUN_IMPORTED = "sync.journal_run.imported"
    JOURNAL_RUN_FAILED = "sync.journal_run.failed"
    JOURNAL_RUN_SKIPPED = "sync.journal_run.skipped"
    # A job message exhausted its retries (sync_worker_poison). officeId, clientId, runId,
    # dequeueCount. The "poison message" alert reads this.
    POISON = "sync.poison"
    # A connection needs a new consent (refresh token refused, AFAS token rejected).
    # officeId, provider (loket|afas-profit|afas-sb), reason.
    REAUTHORIZE = "connection.reauthorize"


class Metric(StrEnum):
    JOURNAL_RUNS = "loonbrug.journal_runs"  # counter; outcome, target, officeId
    EXTERNAL_CALL_DURATION = (
        "loonbrug.external_call.duration"  # histogram, ms; api, operation, outcome
    )
    QUEUE_DEPTH = "loonbrug.queue.depth"  # gauge; queue


class Dim(StrEnum):
    """Every customDimensions key the app emits (log records, events, spans, metrics)."""

    OFFICE_ID = "officeId"
    CLIENT_ID = "clientId"
    RUN_ID = "runId"
    LOKET_JOURNAL_RUN_ID = "loketJournalRunId"
    RUN_TYPE = "runType"
    OUTCOME = "outcome"
    TARGET = "target"
    ENVIRONMENT = "environment"
    ERROR_SOURCE = "errorSource"
    ERROR_CODE = "errorCode"
    PROVIDER = "provider"
    REASON = "reason"
    QUEUE = "queue"
    DEPTH = "depth"
    DEQUEUE_COUNT = "dequeueCount"
    DURATION_MS = "durationMs"
    JOBS_TOTAL = "jobsTotal"
    JOBS_FAILED = "jobsFailed"
    IMPORTED = "imported"
    FAILED = "failed"
    SKIPPED = "skipped"
    API = "api"
    OPERATION = "operation"
    STATUS_CODE = "statusCode"
    ERROR_TYPE = "errorType"


# The dimensions job_context carries, in order.
JOB_DIMENSIONS: Final = (Dim.OFFICE_ID, Dim.CLIENT_ID, Dim.RUN_ID, Dim.LOKET_JOURNAL_RUN_ID)

Api = Literal["loket", "afas-profit", "afas-sb"]
JournalRunOutcome = Literal["imported", "failed", "skipped"]
AfasSystem = Literal["afas-profit", "afas-sb"]
APIS: Final[tuple[str, ...]] = ("loket", "afas-profit", "afas-sb")
JOURNAL_RUN_OUTCOMES: Final[tuple[str, ...]] = ("imported", "failed", "skipped")

DimValue = str | int | float | bool


# --------------------------------------------------------------------------------------------
# Job context: contextvars, copied into every log record and span
# --------------------------------------------------------------------------------------------
_job: ContextVar[Mapping[str, str]] = ContextVar("loonbrug_job", default=MappingProxyType({}))


@contextmanager
def job_context(
    *,
    office_id: str | None = None,
    client_id: str | None = None,
    run_id: str | None = None,
    loket_journal_run_id: str | int | None = None,
) -> Iterator[Mapping[str, str]]:
    """Tag everything logged (and every span started) inside with the job's ids.

    Nests: an inner ``job_context(loket_journal_run_id=...)`` keeps the outer office, client and
    run. Works across threads only where the context is copied (``contextvars.copy_context``).
    """
    given = {
        Dim.OFFICE_ID.value: office_id,
        Dim.CLIENT_ID.value: client_id,
        Dim.RUN_ID.value: run_id,
        Dim.LOKET_JOURNAL_RUN_ID.value: loket_journal_run_id,
    }
    merged = dict(_job.get())
    merged.update({key: str(value) for key, value in given.items() if value is not None})
    frozen = MappingProxyType(merged)
    token = _job.set(frozen)
    try:
        yield frozen
    finally:
        _job.reset(token)


def current_job() -> Mapping[str, str]:
    """The dimensions of the innermost :func:`job_context` (empty outside one)."""
    return _job.get()


class JobContextFilter(logging.Filter):
    """Adds the job dimensions to each record (as ``extra`` would), unless the call set them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _job.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# --------------------------------------------------------------------------------------------
# Redaction: the safety net under "never log a token"
# --------------------------------------------------------------------------------------------
MASK: Final = "***"
# Names of fields whose values are secret (not secrets themselves).
_SECRET_KEYS = "|".join(
    (
        "code",
        "state",
        "refresh_token",
        "access_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "client_assertion",
        "assertion",
        "password",
        "token",
        "sig",
    )
)
_REDACTIONS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # An AFAS token in its XML form (also the base64 of it after "AfasToken ", below).
    (re.compile(r"<token>.*?</token>", re.IGNORECASE | re.DOTALL), f"<token>{MASK}</token>"),
    # Authorization header schemes.
    (
        re.compile(r"\b(Bearer|AfasToken|Basic)(\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE),
        r"\1\2" + MASK,
    ),
    # JSON bodies: "access_token": "…", 'refresh_token': '…'
    (
        re.compile(rf"""(["'](?:{_SECRET_KEYS})["']\s*:\s*)(["'])(?:(?!\2).)*\2""", re.IGNORECASE),
        rf"\1\2{MASK}\2",
    ),
    # Query strings and form bodies: code=…&state=…
    (
        re.compile(rf"(?<![A-Za-z0-9_])({_SECRET_KEYS})=[^&\s\"'<>#,;)]+", re.IGNORECASE),
        rf"\1={MASK}",
    ),
    # Anything shaped like a JWT.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
)


def redact(text: str) -> str:
    """Mask values that look like bearer/AFAS tokens, OAuth codes, states or refresh tokens."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def safe_url(url: str) -> str:
    """A URL fit for telemetry: scheme, host and path only (no credentials, query or fragment)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.hostname:
        return redact(url.split("?", 1)[0].split("#", 1)[0])
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple | list):
        return type(value)(_redact_value(item) for item in value)
    return value


_factory_lock = threading.Lock()
_factory_installed = False


def install_log_redaction() -> None:
    """Mask secrets in every log record of the process, whichever handler writes it.

    A record factory (chained to the previous one) renders ``msg % args`` once and masks it, and
    pre-renders a masked traceback into ``exc_text`` so formatters print that one. Idempotent.
    """
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep the template, masked
        message = str(record.msg)
    masked = redact(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


class RedactingFilter(logging.Filter):
    """Masks secrets in the message and in string ``extra`` values of records reaching a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_RECORD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


_STANDARD_RECORD_ATTRS: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def attach_log_filters(handler: logging.Handler) -> None:
    """Put the job-dimension and redaction filters on a handler (idempotent)."""
    kinds = {type(existing) for existing in handler.filters}
    if JobContextFilter not in kinds:
        handler.addFilter(JobContextFilter())
    if RedactingFilter not in kinds:
        handler.addFilter(RedactingFilter())


def log_record_processors() -> list[LogRecordProcessor]:
    """OpenTelemetry log processors that run before export: mask body and attributes."""
    from opentelemetry.sdk._logs import LogRecordProcessor

    class RedactingLogRecordProcessor(LogRecordProcessor):
        # The last line of defence: covers exception.message / exception.stacktrace, which the
        # OpenTelemetry logging handler renders from exc_info itself.
        def on_emit(self, log_record: Any) -> None:
            record = log_record.log_record
            if isinstance(record.body, str):
                record.body = redact(record.body)
            attributes = record.attributes
            if attributes:
                for key in list(attributes):
                    value = attributes[key]
                    masked = _redact_value(value)
                    if masked != value:
                        attributes[key] = masked

        def shutdown(self) -> None:
            return None

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return [RedactingLogRecordProcessor()]


# Attribute keys that hold a URL (url.full, http.url, url.query, http.target, …).
_URL_ATTRIBUTE = re.compile(r"url|uri|http\.target", re.IGNORECASE)


def span_processors() -> list[SpanProcessor]:
    """Span processors that run before export: job dimensions on start, hygiene on end."""
    from opentelemetry.sdk.trace import Event as SpanEvent
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.util.types import Attributes

    def clean(attributes: Attributes) -> dict[str, Any] | None:
        if not attributes:
            return None
        cleaned: dict[str, Any] = {}
        changed = False
        for key, value in attributes.items():
            new = value
            if isinstance(value, str):
                new = safe_url(value) if _URL_ATTRIBUTE.search(key) else redact(value)
            elif isinstance(value, tuple | list):
                new = _redact_value(value)
            changed = changed or new != value
            cleaned[key] = new
        return cleaned if changed else None

    class JobContextSpanProcessor(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            job = _job.get()
            if job:
                span.set_attributes(dict(job))

    class SpanHygieneProcessor(SpanProcessor):
        """No URL with a query string and no token-looking value leaves the process on a span.

        Instrumentations (requests, Azure SDK) record full URLs; a finished span is read-only,
        so the cleaned attributes replace the span's private ``_attributes``/``_events`` before
        the exporting processor, which is added after this one, reads them. Pinned versions +
        tests/unit/test_telemetry.py keep this honest.
        """

        def on_end(self, span: Any) -> None:
            cleaned = clean(span.attributes)
            if cleaned is not None:
                span._attributes = cleaned
            events = []
            changed = False
            for event in span.events:
                event_attributes = clean(event.attributes)
                if event_attributes is not None:
                    changed = True
                    event = SpanEvent(event.name, event_attributes, event.timestamp)
                events.append(event)
            if changed:
                span._events = tuple(events)
            if span.name != redact(span.name):
                span._name = redact(span.name)

    return [JobContextSpanProcessor(), SpanHygieneProcessor()]


# --------------------------------------------------------------------------------------------
# The instruments, bound to OpenTelemetry providers once telemetry is on
# --------------------------------------------------------------------------------------------
@dataclass
class _Instruments:
    tracer: Tracer
    journal_runs: Counter
    call_duration: Histogram
    queue_depth: _Gauge


_instruments: _Instruments | None = None


def activate(
    tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Bind the helpers to OpenTelemetry providers (the global ones when none are given).

    :func:`configure` calls this after setting up Azure Monitor; tests call it with in-memory
    providers.
    """
    global _instruments
    from opentelemetry import metrics, trace

    tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(INSTRUMENTATION_NAME)
    meter = (meter_provider or metrics.get_meter_provider()).get_meter(INSTRUMENTATION_NAME)
    _instruments = _Instruments(
        tracer=tracer,
        journal_runs=meter.create_counter(
            Metric.JOURNAL_RUNS, unit="1", description="Loket journal runs handled, by outcome"
        ),
        call_duration=meter.create_histogram(
            Metric.EXTERNAL_CALL_DURATION, unit="ms", description="Calls to Loket and AFAS"
        ),
        queue_depth=meter.create_gauge(
            Metric.QUEUE_DEPTH, unit="1", description="Approximate messages in a queue"
        ),
    )


def deactivate() -> None:
    """Unbind the helpers (telemetry off again)."""
    global _instruments
    _instruments = None


def is_active() -> bool:
    return _instruments is not None


def configure(settings: Settings) -> bool:
    """Switch telemetry on when Application Insights is configured. True when it is on.

    Log redaction is installed either way (it is cheap and also protects the console). With a
    connection string, the Azure Monitor distro exports the ``loonbrug`` logger, spans and
    metrics; in Azure it authenticates with the managed identity named in
    ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` (local auth is off on the resource).
    """
    install_log_redaction()
    if settings.appinsights_connection_string is None:
        return False
    if is_active():
        return True
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(
        connection_string=settings.appinsights_connection_string.reveal(),
        logger_name=LOGGER_NAME,
        # Keep every span: a night is a few hundred calls, and the default rate-limited sampler
        # drops the first spans of each cold start (the durations panel needs them).
        sampling_ratio=1.0,
        span_processors=span_processors(),
        log_record_processors=log_record_processors(),
        # The host's own request telemetry already covers the trigger; these would only add
        # noise (and Django/FastAPI/Flask/psycopg2 are not used).
        instrumentation_options={
            name: {"enabled": False} for name in ("django", "fastapi", "flask", "psycopg2")
        },
    )
    logger = logging.getLogger(LOGGER_NAME)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)  # else the root's WARNING would drop our info events
    for handler in logger.handlers:
        attach_log_filters(handler)
    activate()
    log.info("telemetry to Application Insights is on")
    return True


# --------------------------------------------------------------------------------------------
# The helpers the rest of the code calls
# --------------------------------------------------------------------------------------------
@dataclass
class CallRecord:
    """What :func:`external_call` yields: tell it the HTTP status (and attempts) as you learn them."""

    api: str
    operation: str
    status_code: int | None = None
    attempts: int = 1
    started: float = field(default_factory=time.perf_counter)
    duration_ms: float | None = None
    _span: Any = None

    def set_status_code(self, status_code: int) -> None:
        self.status_code = status_code
        if self._span is not None:
            self._span.set_attribute(Dim.STATUS_CODE.value, status_code)


@contextmanager
def external_call(api: Api, operation: str) -> Iterator[CallRecord]:
    """A span around one call to Loket or AFAS: status, duration, no URL.

    Wrap the client's single request function::

        with external_call("loket", "list_journal_runs") as call:
            response = session.request(...)
            call.set_status_code(response.status_code)

    An exception marks the span failed with the exception's type name only (its message may
    hold a server's answer) and is re-raised. A status code >= 400 also marks it failed.
    """
    if api not in APIS:
        raise ValueError(f"unknown api {api!r}")
    call = CallRecord(api=api, operation=operation)
    instruments = _instruments
    if instruments is None:
        try:
            yield call
        finally:
            call.duration_ms = (time.perf_counter() - call.started) * 1000
        return

    from opentelemetry.trace import SpanKind, Status, StatusCode

    attributes: dict[str, DimValue] = {
        Dim.API.value: api,
        Dim.OPERATION.value: operation,
        "peer.service": api,
    }
    with instruments.tracer.start_as_current_span(
        f"{api} {operation}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        call._span = span
        error_type: str | None = None
        try:
            yield call
        except BaseException as exc:
            error_type = type(exc).__name__
            raise
        finally:
            call.duration_ms = (time.perf_counter() - call.started) * 1000
            if error_type is None and call.status_code is not None and call.status_code >= 400:
                error_type = f"http-{call.status_code}"
            if error_type is not None:
                span.set_attribute(Dim.ERROR_TYPE.value, error_type)
                span.set_status(Status(StatusCode.ERROR, error_type))
            else:
                span.set_status(Status(StatusCode.OK))
            if call.attempts > 1:
                span.set_attribute("attempts", call.attempts)
            instruments.call_duration.record(
                call.duration_ms,
                {
                    Dim.API.value: api,
                    Dim.OPERATION.value: operation,
                    Dim.OUTCOME.value: "error" if error_type else "ok",
                },
            )


def count_journal_run(
    outcome: JournalRunOutcome, *, target: AfasSystem | None = None, office_id: str | None = None
) -> None:
    """Add one to ``loonbrug.journal_runs`` (office from :func:`job_context` when not given)."""
    if outcome not in JOURNAL_RUN_OUTCOMES:
        raise ValueError(f"unknown journal run outcome {outcome!r}")
    instruments = _instruments
    if instruments is None:
        return
    attributes: dict[str, str] = {Dim.OUTCOME.value: outcome}
    if target is not None:
        attributes[Dim.TARGET.value] = target
    office = office_id or _job.get().get(Dim.OFFICE_ID.value)
    if office:
        attributes[Dim.OFFICE_ID.value] = office
    instruments.journal_runs.add(1, attributes)


def record_queue_depth(queue: str, depth: int) -> None:
    """Report the approximate number of messages in a queue (``loonbrug.queue.depth``)."""
    instruments = _instruments
    if instruments is not None:
        instruments.queue_depth.set(depth, {Dim.QUEUE.value: queue})


_DIMENSION_BY_KEYWORD: Final[Mapping[str, str]] = {
    re.sub(r"(?<!^)(?=[A-Z])", "_", dim.value).lower(): dim.value for dim in Dim
}


def emit_event(
    event: Event, message: str = "", *, level: int = logging.INFO, **fields: DimValue | None
) -> None:
    """Log one operational event; exported as a ``customEvents`` row named ``event``.

    ``fields`` are snake_case names of :class:`Dim` (``office_id=…, outcome="failed"``); they are
    sent camelCase, after the job dimensions of the current :func:`job_context`. Unknown names
    raise ``TypeError`` so the dashboards and the code cannot drift apart.
    """
    extra: dict[str, DimValue] = {}
    for key, value in fields.items():
        name = _DIMENSION_BY_KEYWORD.get(key)
        if name is None:
            raise TypeError(f"unknown telemetry dimension {key!r}")
        if value is not None:
            extra[name] = value
    described = " ".join(f"{key}={value}" for key, value in extra.items())
    text = " ".join(
        part for part in (event.value, message, f"({described})" if described else "") if part
    )
    _event_log.log(level, "%s", text, extra={_CUSTOM_EVENT_ATTRIBUTE: event.value, **extra})


def timed() -> Callable[[], float]:
    """A stopwatch for ``duration_ms``: ``elapsed = timed(); …; elapsed()`` gives milliseconds."""
    started = time.perf_counter()
    return lambda: round((time.perf_counter() - started) * 1000, 1)
