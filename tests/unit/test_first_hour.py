"""The first hour (issue 19): the dev principal helper and the demo's texts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from devtools import demo
from devtools.principal import HEADER
from devtools.principal import main as principal
from shared.api.auth import principal_from_headers
from shared.api.http import Headers

ROOT = Path(__file__).resolve().parents[2]


def test_the_principal_helper_prints_a_header_the_api_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert principal(["--office", "demo-office", "--admin"]) == 0
    name, value = capsys.readouterr().out.strip().split(": ", 1)
    assert name == HEADER
    user = principal_from_headers(Headers({HEADER: value}))
    assert user.office_id == "demo-office" and user.is_admin
    assert principal(["--office", "o2", "--value"]) == 0
    reader = principal_from_headers(Headers({HEADER: capsys.readouterr().out.strip()}))
    assert reader.office_id == "o2" and not reader.is_admin


def test_the_principal_helper_runs_as_the_readme_says() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "devtools.principal", "--office", "demo-office", "--admin"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith(f"{HEADER}: ")
    assert "python -m devtools.principal --office" in (ROOT / "README.md").read_text()


def test_the_demo_says_the_counts_in_words() -> None:
    run = {
        "journalRunsImported": 2,
        "journalRunsTotal": 4,
        "journalRunsFailed": 2,
        "journalRunsSkipped": 2,
    }
    text = demo.counted(run)
    assert text.startswith("2 van 4 loonruns geïmporteerd, 2 mislukt, 2 overgeslagen")


def test_demo_operator_detail_only_with_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    demo.VERBOSE = False
    demo.detail("POST /api/reruns -> 202")
    assert capsys.readouterr().out == ""
    demo.VERBOSE = True
    try:
        demo.detail("POST /api/reruns -> 202")
        assert "POST /api/reruns" in capsys.readouterr().out
    finally:
        demo.VERBOSE = False


def test_demo_times_say_their_zone() -> None:
    assert demo.local("2026-03-29T00:30:00Z") == "29-03-2026 01:30"
    assert demo.local("2026-03-29T01:30:00Z") == "29-03-2026 03:30"  # summer time began
