"""Pytest fixtures for the SMTP sandbox (devtools/sandbox/smtp.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.sandbox.smtp import SmtpSandbox, start_smtp_sandbox


@pytest.fixture
def smtp() -> Iterator[SmtpSandbox]:
    sandbox = start_smtp_sandbox()
    try:
        yield sandbox
    finally:
        sandbox.stop()
