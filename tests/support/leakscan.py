"""Session-wide evidence for the leak scan (registered in tests/conftest.py ``pytest_plugins``).

From the start of the session this plugin

* keeps every log record of the test process (root at INFO as the Functions host logs, our own
  ``loonbrug`` loggers at DEBUG) in memory, rendered with its ``extra`` values;
* watches every sandbox started (:func:`devtools.sandbox.watch`), so the values they issued
  (codes, access/refresh tokens, AFAS tokens) and the states and PKCE verifiers they saw can be
  collected at the end;
* collects what the ``otel`` fixture exported (:func:`record_exported`).

Local-host log files are listed by :data:`tests.support.localhost.HOST_LOGS`. Tests marked
``session_end`` run after every other test (tests/security/test_session_leaks.py scans it all).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devtools import sandbox as sandboxes
from tests.support.localhost import HOST_LOGS

_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Third-party chatter the local host also keeps at WARNING (devtools/host.py).
_QUIET = ("azure", "urllib3", "werkzeug")


class _SessionHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self._formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._formatter.format(record)
            extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES and v}
            if extras:
                text += f" {extras!r}"
        except Exception:  # a broken record must not break the test that logged it
            text = f"{record.name}: {record.msg!r} {record.args!r}"
        self.lines.append(text)  # Handler.handle holds self.lock


@dataclass
class Evidence:
    handler: _SessionHandler = field(default_factory=_SessionHandler)
    sandboxes: list[object] = field(default_factory=list)
    exported: list[str] = field(default_factory=list)

    def secrets(self) -> set[str]:
        """Every value a sandbox of this session issued or saw that must never be logged."""
        values: set[str] = set()
        for box in self.sandboxes:
            scan = getattr(box, "leak_scan_values", None)
            if scan is not None:
                values |= set(scan())
        return {v for v in values if len(v) >= 8}

    def telemetry(self) -> list[str]:
        """Telemetry exported in-memory (``otel``) or to an Application Insights sandbox."""
        texts = list(self.exported)
        for box in self.sandboxes:
            all_text = getattr(box, "all_text", None)
            if all_text is not None:
                texts.append(all_text())
        return texts

    def host_logs(self) -> list[Path]:
        return [path for path in HOST_LOGS if path.exists()]


EVIDENCE = Evidence()

_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
_RUN = re.compile(r"[A-Za-z0-9_\-]{8,}")


def find_leaks(secrets: Iterable[str], texts: Mapping[str, str]) -> list[tuple[str, str]]:
    """(source, masked secret) for every secret that occurs in one of ``texts``.

    Token-shaped secrets are looked up among the token-character runs of each text (also inside
    a longer run, through an index of 8-character prefixes), the others by plain search."""
    wanted = {s for s in secrets if len(s) >= 8}
    simple = {s for s in wanted if _TOKEN.fullmatch(s)}
    other = wanted - simple
    by_prefix: dict[str, list[str]] = {}
    for secret in simple:
        by_prefix.setdefault(secret[:8], []).append(secret)
    hits: list[tuple[str, str]] = []
    for source, text in texts.items():
        found: set[str] = set()
        for run in set(_RUN.findall(text)):
            if run in simple:
                found.add(run)
                continue
            for i in range(len(run) - 7):
                for secret in by_prefix.get(run[i : i + 8], ()):
                    if run.startswith(secret, i):
                        found.add(secret)
        found |= {secret for secret in other if secret in text}
        hits += [(source, f"{secret[:4]}…({len(secret)} chars)") for secret in sorted(found)]
    return hits


def record_exported(text: str) -> None:
    """Telemetry an ``otel`` fixture exported (spans, log records, metrics, serialised)."""
    EVIDENCE.exported.append(text)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "session_end: runs after every other test of the session")
    sandboxes.watch(EVIDENCE.sandboxes.append)
    root = logging.getLogger()
    root.addHandler(EVIDENCE.handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("loonbrug").setLevel(logging.DEBUG)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker("session_end")]
    if last:
        items[:] = [item for item in items if item not in last] + last
