"""``otel``: the app's telemetry wired to OpenTelemetry's in-memory exporters for one test.

The same processors as production (``shared.telemetry.span_processors`` / ``log_record_processors``
and the log-handler filters) sit in front of in-memory exporters instead of Azure Monitor, so a
test sees exactly what would be exported::

    def test_x(otel):
        with external_call("loket", "list_journal_runs") as call: ...
        assert otel.spans()[0].name == "loket list_journal_runs"
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from tests.support.leakscan import record_exported


@dataclass
class Otel:
    tracer_provider: TracerProvider
    span_exporter: InMemorySpanExporter
    log_exporter: InMemoryLogRecordExporter
    metric_reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.span_exporter.get_finished_spans())

    def logs(self) -> list[Any]:
        """Exported log records (``.log_record.body`` / ``.log_record.attributes``)."""
        return list(self.log_exporter.get_finished_logs())

    def log_attributes(self) -> list[dict[str, Any]]:
        return [dict(item.log_record.attributes or {}) for item in self.logs()]

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, value) for each data point of metric ``name``."""
        data = self.metric_reader.get_metrics_data()
        points: list[tuple[dict[str, Any], Any]] = []
        for resource_metrics in data.resource_metrics if data else []:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            value = getattr(point, "value", None)
                            if value is None:
                                value = getattr(point, "sum", None)
                            points.append((dict(point.attributes or {}), value))
        return points

    def exported_text(self) -> str:
        """Everything exported so far, serialised: search it for what must never leave."""
        parts = [span.to_json() for span in self.spans()]
        parts += [item.to_json() for item in self.logs()]
        data = self.metric_reader.get_metrics_data()
        if data is not None:
            parts.append(data.to_json())
        return "\n".join(parts)

    def exported_json(self) -> list[Any]:
        return [json.loads(span.to_json()) for span in self.spans()] + [
            json.loads(item.to_json()) for item in self.logs()
        ]


@pytest.fixture
def otel() -> Iterator[Otel]:
    span_exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    for processor in telemetry.span_processors():
        tracer_provider.add_span_processor(processor)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))

    log_exporter = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    for log_processor in telemetry.log_record_processors():
        logger_provider.add_log_record_processor(log_processor)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    handler = LoggingHandler(logger_provider=logger_provider)
    telemetry.attach_log_filters(handler)

    metric_reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metric_reader])

    telemetry.install_log_redaction()
    logger = logging.getLogger(telemetry.LOGGER_NAME)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    telemetry.activate(tracer_provider, meter_provider)
    exported = Otel(tracer_provider, span_exporter, log_exporter, metric_reader)
    try:
        yield exported
    finally:
        record_exported(exported.exported_text())  # the session-end leak scan reads it
        telemetry.deactivate()
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        tracer_provider.shutdown()
        logger_provider.shutdown()
        meter_provider.shutdown()
