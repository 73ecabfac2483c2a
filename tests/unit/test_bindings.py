"""The binding contract: what the Functions host will index from function_app (contract §4)."""

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.host import next_occurrence
from shared.api.catalog import OPERATIONS, openapi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def functions(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    from function_app import app

    found = {}
    for fn in app.get_functions():
        spec = json.loads(fn.get_function_json())
        found[str(fn.get_function_name())] = next(
            b for b in spec["bindings"] if b["type"].endswith("Trigger")
        )
    return found


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    patch = pytest.MonkeyPatch()
    patch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    patch.setenv("LOONBRUG_ENVIRONMENT", "development")
    from shared.settings import get_settings

    get_settings.cache_clear()
    yield patch
    patch.undo()
    get_settings.cache_clear()


def test_contract_function_names_exist(functions: dict[str, dict[str, Any]]) -> None:
    assert functions["nightly_sync"]["type"] == "timerTrigger"
    assert functions["sync_worker"]["type"] == "queueTrigger"
    assert functions["sync_worker_poison"]["type"] == "queueTrigger"
    assert functions["health"]["type"] == "httpTrigger"


def test_queue_bindings(functions: dict[str, dict[str, Any]]) -> None:
    assert functions["sync_worker"]["queueName"] == "sync-jobs"
    assert functions["sync_worker_poison"]["queueName"] == "sync-jobs-poison"
    assert functions["sync_worker"]["connection"] == "AzureWebJobsStorage"
    assert functions["sync_worker_poison"]["connection"] == "AzureWebJobsStorage"
    assert functions["reconciliation_worker"]["queueName"] == "reconciliation-jobs"
    assert functions["reconciliation_worker_poison"]["queueName"] == "reconciliation-jobs-poison"


def test_timer_fires_hourly_and_never_on_startup(functions: dict[str, dict[str, Any]]) -> None:
    from datetime import UTC, datetime

    timer = functions["nightly_sync"]
    assert timer["runOnStartup"] is False
    assert timer["useMonitor"] is True
    first = next_occurrence(timer["schedule"], datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    second = next_occurrence(timer["schedule"], first)
    assert (second - first).total_seconds() == 3600


def test_every_http_function_is_anonymous_at_the_function_level(
    functions: dict[str, dict[str, Any]],
) -> None:
    # Easy Auth guards the app; function keys would collide with OAuth's ?code= (azure-functions.md §6.3).
    for name, trigger in functions.items():
        if trigger["type"] == "httpTrigger":
            assert trigger["authLevel"] == "ANONYMOUS", name


def test_http_functions_and_openapi_operations_match(functions: dict[str, dict[str, Any]]) -> None:
    http = {
        (name, trigger["route"], tuple(trigger["methods"]))
        for name, trigger in functions.items()
        if trigger["type"] == "httpTrigger"
    }
    ops = {(op.name, op.route, (op.method,)) for op in OPERATIONS}
    assert http == ops
    document = openapi("http://127.0.0.1:7071")
    documented = {
        (item["operationId"], path, method.upper())
        for path, methods in document["paths"].items()
        for method, item in methods.items()
    }
    assert documented == {(op.name, op.path, op.method) for op in OPERATIONS}


def test_health_route(functions: dict[str, dict[str, Any]]) -> None:
    assert functions["health"]["route"] == "health"
    assert functions["health"]["methods"] == ["GET"]


def test_host_json_queue_semantics() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    queues = host["extensions"]["queues"]
    assert queues["messageEncoding"] == "base64"
    assert queues["maxDequeueCount"] >= 3
    assert queues["visibilityTimeout"] != "00:00:00"
    assert 1 <= queues["batchSize"] <= 8
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"


class RecordingEnv(dict[str, str]):
    """An environment that remembers every name the settings loader asks for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def test_sample_settings_list_every_setting_the_app_reads() -> None:
    from shared.settings import Settings

    env = RecordingEnv(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "LOONBRUG_ENVIRONMENT": "development"}
    )
    Settings.from_env(env)
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    platform = {"WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_AUTH_ENABLED"}
    identity_forms = {n for n in env.asked if n.startswith("AzureWebJobsStorage__")}
    missing = env.asked - set(sample) - platform - identity_forms
    assert not missing, f"settings read but not in local.settings.sample.json: {sorted(missing)}"
    assert len(env.asked) >= 15


def test_http_triggers_take_method_and_auth_level_from_one_place() -> None:
    # Each HTTP trigger is declared by functions/_http.route from its catalog Operation; the auth
    # level is set once, on the FunctionApp (issue 19: no repeated "GET", no 28 × ANONYMOUS).
    for path in sorted((ROOT / "functions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "auth_level" not in text, path.name
        assert 'methods=["' not in text, path.name
    assert (ROOT / "function_app.py").read_text(encoding="utf-8").count("auth_level") == 1


def test_every_media_type_an_operation_answers_is_in_the_document() -> None:
    """``format=csv`` answers text/csv: the document must say so, or clients reject the answer."""
    document = openapi("http://127.0.0.1:7071")
    reconciliation = document["paths"]["/api/clients/{clientId}/reconciliation"]["get"]
    content = reconciliation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    assert content["text/csv"]["schema"] == {"type": "string"}
