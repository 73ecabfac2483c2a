"""checkov's Bicep checks, offline: clean, and every skip carries a justification.

checkov lives in its own virtualenv (.venv-checkov, made by `make setup`) because its pins clash
with pytest's. The run is kept off the network: ``--skip-download`` plus proxies that go nowhere,
so an attempt to phone home would fail the run instead of passing silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest

from tests.infra.bicep import INFRA, ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    if not CHECKOV.exists():
        if os.environ.get("CI"):
            pytest.fail("checkov is missing: run `make setup` (creates .venv-checkov)")
        pytest.skip("checkov is not installed here: `make setup` creates .venv-checkov")
    dead_proxy = "http://127.0.0.1:9"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "HTTP_PROXY": dead_proxy,
        "HTTPS_PROXY": dead_proxy,
        "http_proxy": dead_proxy,
        "https_proxy": dead_proxy,
        "NO_PROXY": "",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    }
    started = time.monotonic()
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(INFRA),
            "--framework",
            "bicep",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    report = report[0] if isinstance(report, list) else report
    report["__elapsed__"] = elapsed
    report["__returncode__"] = result.returncode
    report["__stderr__"] = result.stderr
    return dict(report)


def test_checkov_finds_nothing(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
        for c in checkov_report["results"].get("failed_checks", [])
    ]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert checkov_report["__returncode__"] == 0
    assert summary["passed"] >= 30  # it really checked the resources
    assert summary["resource_count"] >= 30
    assert checkov_report["__elapsed__"] < 60


def test_every_skip_is_justified(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"].get("skipped_checks", [])
    assert skipped, "expected the documented skips (see the comments in infra/app/*.bicep)"
    for check in skipped:
        comment = check.get("check_result", {}).get("suppress_comment", "")
        assert len(comment) >= 40, f"{check['check_id']} on {check['resource']}: '{comment}'"


def test_checkov_stays_offline(checkov_report: dict[str, Any]) -> None:
    stderr = checkov_report["__stderr__"]
    for sign in ("ProxyError", "ConnectionError", "Max retries exceeded", "Traceback"):
        assert sign not in stderr, stderr[-2000:]
