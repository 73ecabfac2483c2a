"""Import time of ``function_app`` (cold start matters on Flex Consumption): a fresh interpreter
per sample, median of N, and ``-X importtime`` for where the time goes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import defaultdict

from bench.common import Result, base_env, median, percentile
from devtools.azurite import ROOT

PROBE = (
    "import time; t = time.perf_counter(); import function_app; "
    "print((time.perf_counter() - t) * 1000)"
)
STORAGE = "UseDevelopmentStorage=true"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **base_env(STORAGE), **extra}


def sample(extra: dict[str, str] | None = None) -> tuple[float, float]:
    """(import ms, whole process ms) in a fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=_env(**(extra or {})),
        capture_output=True,
        text=True,
        check=True,
    )
    whole = (time.perf_counter() - started) * 1000
    return float(done.stdout.strip().splitlines()[-1]), whole


def breakdown(extra: dict[str, str] | None = None, top: int = 8) -> list[tuple[str, float]]:
    """Import time (self) summed per top-level package (ms), from ``-X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import function_app"],
        cwd=ROOT,
        env=_env(**(extra or {})),
        capture_output=True,
        text=True,
        check=True,
    )
    per_package: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| *(\S+)", line)
        if match:  # self time, summed per top-level package
            per_package[match.group(3).split(".")[0]] += int(match.group(1)) / 1000
    return sorted(per_package.items(), key=lambda item: -item[1])[:top]


def run(quick: bool = False) -> Result:
    n = 5 if quick else 11
    variants = {
        "no Application Insights": {},
        "with APPLICATIONINSIGHTS_CONNECTION_STRING": {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey="
            "00000000-0000-0000-0000-000000000001;IngestionEndpoint=http://127.0.0.1:9/"
        },
    }
    rows: list[list[object]] = []
    figures: dict[str, object] = {}
    notes: list[str] = []
    for label, extra in variants.items():
        sample(extra)  # warm the file-system cache: measure the interpreter, not the disk
        samples = [sample(extra) for _ in range(n)]
        imports = [s[0] for s in samples]
        wholes = [s[1] for s in samples]
        rows.append([label, median(imports), percentile(imports, 95), median(wholes)])
        figures[label] = {
            "import_ms_median": round(median(imports), 1),
            "process_ms_median": round(median(wholes), 1),
        }
        heavy = breakdown(extra)
        figures[f"{label} breakdown"] = heavy
        notes.append(
            f"{label}: heaviest top-level imports "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in heavy[:6])
        )
    return Result(
        name="import_time",
        title=f"Import time of function_app (ms, fresh interpreter, median of {n})",
        headers=["settings", "import p50", "import p95", "whole process p50"],
        rows=rows,
        notes=notes,
        figures=figures,
    )


if __name__ == "__main__":
    result = run(quick="--quick" in sys.argv)
    result.show()
    if "--quick" not in sys.argv:
        result.save()
