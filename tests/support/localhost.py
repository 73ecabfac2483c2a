"""Run ``python -m devtools.host`` as a real subprocess for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devtools.azurite import ROOT, free_port

# Every log file a local host of this session wrote (the session-end leak scan reads them all).
HOST_LOGS: list[Path] = []


def wait_until(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class LocalHostProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    started_in: float = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, *, timeout: float = 20.0, count: int = 1) -> list[str]:
        regex = re.compile(pattern)

        def found() -> list[str]:
            hits = [line for line in self.log_text().splitlines() if regex.search(line)]
            return hits if len(hits) >= count else []

        return list(wait_until(found, timeout=timeout, what=f"log line /{pattern}/ x{count}"))

    def run_function(self, name: str, payload: str = "") -> requests.Response:
        return requests.post(
            self.url(f"/admin/functions/{name}"), json={"input": payload}, timeout=10
        )

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_local_host(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    args: tuple[str, ...] = (),
    port: int | None = None,
    timeout: float = 30.0,
    healthy_status: int = 200,
) -> LocalHostProcess:
    port = port or free_port()
    log_path = log_dir / f"host-{port}.log"
    HOST_LOGS.append(log_path)
    out = open(log_path, "ab")  # noqa: SIM115 - closed when the process ends
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.host",
            "--port",
            str(port),
            "--settings",
            os.devnull,
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    host = LocalHostProcess(process, port, log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"local host exited with {process.returncode}:\n{host.log_text()}")
        try:
            return requests.get(host.url("/api/health"), timeout=10).status_code == healthy_status
        except requests.ConnectionError:
            return False

    wait_until(healthy, timeout=timeout, what="local host health")
    host.started_in = time.perf_counter() - started
    return host
