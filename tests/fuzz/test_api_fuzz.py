"""Schemathesis against ``/api/openapi.json`` on the local host, with a fresh Azurite and both
sandboxes, as the admin of a connected office that has a client (4711) and a run
(``nightly-2025-01-31``, the documented examples).

Every answer must be documented: no 5xx, status codes, content types, headers and bodies as the
schema says (problem answers against the Problem schema), secured operations refuse a request
without the principal. ``positive_data_acceptance`` is left out on purpose: a schema-valid body
may still name a client that does not exist or need a connection the office lacks (422/409).

* ``make test``: a seeded slice (``FUZZ_SLICE_EXAMPLES`` per operation, deterministic).
* ``make soak``: ``FUZZ_SOAK_EXAMPLES`` per operation, at least 1,000 cases.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shared.runs.model import RunType
from shared.store.runs import NewRun
from tests.support.sync_world import World, sync_world

SEED = 20260101
FUZZ_SLICE_EXAMPLES = 25
FUZZ_SOAK_EXAMPLES = 150
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,negative_data_rejection,"
    "missing_required_header,unsupported_method,allow_header_conformance,ignored_auth"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sync_world(tmp_path_factory.mktemp("fuzz")) as w:
        w.profit_client("4711", "Korenschoof maandloners")
        new = NewRun(
            w.office, "nightly-2025-01-31", RunType.NIGHTLY, w.services.clock(),
            business_date=date(2025, 1, 31),
        )  # fmt: skip
        run = w.services.runs.create(new, jobs_total=0)
        assert run is not None
        w.services.runs.mark_planned(run)
        yield w


def fuzz(world: World, *, examples: int, report: Path) -> dict[str, Any]:
    """Run schemathesis once; answers its JSON report (also printed on failure)."""
    command = [
        str(SCHEMATHESIS), "run", world.host.url("/api/openapi.json"),
        "--checks", CHECKS,
        "--max-examples", str(examples),
        "--seed", str(SEED),
        "--generation-database", "none",
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        "--suppress-health-check", "all",
        "--no-shrink",
        "--request-timeout", "30",
        "--header", f"X-MS-CLIENT-PRINCIPAL: {world.admin['X-MS-CLIENT-PRINCIPAL']}",
        "--report", "json", "--report-json-path", str(report),
        "--no-color",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert report.exists(), done.stdout[-5000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(report.read_text())
    assert done.returncode == 0 and not result["failures"] and not result["errors"], done.stdout[
        -20000:
    ]
    return result


def _check_outcome(world: World, result: dict[str, Any], minimum: int) -> int:
    operations = result["operations"]
    # Every operation of the document was exercised (the document itself is not fuzzed).
    assert operations["tested"] == operations["total"] >= 17, operations
    cases = int(result["test_cases"]["generated"])
    assert cases >= minimum, cases
    # The host agrees: no 5xx and no failed invocation reached its log.
    log = world.host.log_text()
    assert not re.findall(r"http \S+ \S+ -> 5\d\d", log)
    assert "Executed 'Functions." not in log or "(Failed" not in log
    print(f"\nfuzz: {cases} cases over {operations['tested']} operations, 0 failures")
    return cases


def test_fuzz_slice_every_answer_is_documented(world: World, tmp_path: Path) -> None:
    result = fuzz(world, examples=FUZZ_SLICE_EXAMPLES, report=tmp_path / "fuzz.json")
    _check_outcome(world, result, minimum=500)


@pytest.mark.soak
def test_fuzz_soak_thousands_of_cases(world: World, tmp_path: Path) -> None:
    result = fuzz(world, examples=FUZZ_SOAK_EXAMPLES, report=tmp_path / "soak.json")
    _check_outcome(world, result, minimum=1000)
