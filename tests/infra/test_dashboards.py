"""The workbook and the alert queries read what the app emits (shared/telemetry.py names)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.telemetry import APIS, Dim, Event, Metric
from tests.infra.bicep import APP, ROOT

WORKBOOK = APP / "workbooks" / "operations.json"
QUERIES = sorted((APP / "queries").glob("*.kql"))
# Application Insights tables the app's telemetry lands in (classic, resource-centric names).
TABLES = {"customEvents", "customMetrics", "dependencies", "traces", "requests", "exceptions"}
NAMES = {e.value for e in Event} | {m.value for m in Metric}
DIMENSIONS = {d.value for d in Dim}


def workbook() -> dict[str, Any]:
    return dict(json.loads(WORKBOOK.read_text()))


def workbook_queries() -> dict[str, str]:
    found: dict[str, str] = {}

    def visit(items: list[dict[str, Any]]) -> None:
        for item in items:
            content = item.get("content", {})
            if item.get("type") == 3:
                found[item["name"]] = content["query"]
            for parameter in content.get("parameters", []):
                if "query" in parameter:
                    found[f"parameter:{parameter['name']}"] = parameter["query"]
            visit(content.get("items", []))

    visit(workbook()["items"])
    return found


def without_comments(kql: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in kql.splitlines())


def check_query(where: str, kql: str) -> None:
    code = without_comments(kql)
    first = next(line.strip() for line in code.splitlines() if line.strip())
    assert first in TABLES, f"{where}: starts with {first!r}, not an App Insights table"
    for table in re.findall(r"\b(?:union|join)\s*(?:kind=\w+\s*)?\(?\s*(\w+)", code):
        assert table in TABLES, f"{where}: unknown table {table}"
    names = set(re.findall(r'"([a-z_]+(?:\.[a-z_]+)+)"', code))
    if first in ("customEvents", "customMetrics"):
        assert names, f"{where}: names no event or metric"
    if first == "dependencies":  # the spans of shared.telemetry.external_call
        apis = re.search(r"api in \(([^)]*)\)", code)
        assert apis is not None, f"{where}: does not select the external_call spans"
        assert set(re.findall(r'"([^"]+)"', apis.group(1))) == set(APIS)
    unknown = names - NAMES
    assert not unknown, f"{where}: {sorted(unknown)} are not in shared/telemetry.py"
    keys = set(re.findall(r"customDimensions\.(\w+)", code))
    keys |= set(re.findall(r"customDimensions\[\"([^\"]+)\"\]", code))
    assert not keys - DIMENSIONS, f"{where}: unknown dimensions {sorted(keys - DIMENSIONS)}"


def test_workbook_json_loads_with_items() -> None:
    doc = workbook()
    assert doc["version"] == "Notebook/1.0"
    assert doc["items"]
    parameters = {
        p["name"]
        for item in doc["items"]
        if item.get("type") == 9
        for p in item["content"]["parameters"]
    }
    assert parameters == {"TimeRange", "Office"}
    for name, kql in workbook_queries().items():
        used = set(re.findall(r"\{(\w+)\}", kql))
        assert used <= parameters, f"{name} uses undefined parameters {used - parameters}"


@pytest.mark.parametrize("name", sorted(workbook_queries()))
def test_every_workbook_query_names_what_the_app_emits(name: str) -> None:
    check_query(f"workbook {name}", workbook_queries()[name])


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_alert_query_names_what_the_app_emits(path: Path) -> None:
    check_query(path.name, path.read_text())


def test_workbook_covers_the_operations_questions() -> None:
    queries = workbook_queries()
    joined = "\n".join(queries.values())
    # Nightly outcome per office and client, failures by error, durations, queue depth, poison.
    for needed in (
        Event.NIGHTLY_COMPLETED,
        Event.JOB_COMPLETED,
        Event.JOURNAL_RUN_FAILED,
        Event.POISON,
        Event.REAUTHORIZE,
        Metric.QUEUE_DEPTH,
        Metric.JOURNAL_RUNS,
    ):
        assert f'"{needed.value}"' in joined, needed
    assert "by officeId, clientId" in queries["nightly-per-client"]
    assert "errorSource, errorCode" in queries["failures-by-error"]
    assert "percentile(duration" in queries["external-call-durations"]


def test_alert_queries_cover_the_four_alerts() -> None:
    by_file = {path.stem: path.read_text() for path in QUERIES}
    assert f'"{Event.NIGHTLY_COMPLETED.value}"' in by_file["no-successful-nightly"]
    assert "26h" in by_file["no-successful-nightly"]
    assert f'"{Event.POISON.value}"' in by_file["poison"]
    assert f'"{Event.JOURNAL_RUN_FAILED.value}"' in by_file["failure-rate"]
    assert f'"{Event.REAUTHORIZE.value}"' in by_file["reauthorize"]


def test_operations_page_documents_every_telemetry_name() -> None:
    page = (ROOT / "docs" / "operations.md").read_text()
    for name in sorted(NAMES):
        assert f"`{name}`" in page, name
    for path in QUERIES:
        assert path.name in page, path.name
