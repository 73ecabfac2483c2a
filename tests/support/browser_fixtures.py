"""Real headless Chromium for the portal tests: Debian's ``chromium`` driven by Playwright.

Registered in tests/conftest.py. Playwright never downloads a browser here; it launches
``/usr/bin/chromium`` (``LOONBRUG_CHROMIUM`` overrides). ``make test`` installs the Debian package
(``make browser``). Without it the browser tests fail under CI (``CI`` set) and are skipped with
the reason otherwise.

* ``browser``: one Chromium for the session;
* ``open_page``: ``open_page(width=1280, height=900)`` a fresh context + page; page errors and
  console errors are collected and fail the test at teardown;
* :func:`shoot`: a full-page screenshot into ``artifacts/screenshots/`` (named in the README);
* :func:`sign_in_as`: set the dev principal before the page's scripts run (skips the form).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.azurite import ROOT

CHROMIUM = os.environ.get("LOONBRUG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def chromium_path() -> str:
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if found:
        return found
    # Never a silent skip: CI must not lose the browser tests. The Makefile says the same.
    pytest.fail(missing_chromium(CHROMIUM), pytrace=False)


def missing_chromium(path: str) -> str:
    """What to do without a chromium at ``path`` (``make browser`` prints the same)."""
    return (
        f"chromium is not installed at {path}. On Debian or Ubuntu: `make browser` installs "
        "the chromium package. Elsewhere: install Chromium (or Chrome) yourself and point "
        "LOONBRUG_CHROMIUM at its executable, e.g. LOONBRUG_CHROMIUM=/usr/bin/chromium-browser "
        "make test (Playwright drives it; it never downloads a browser)."
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        running = playwright.chromium.launch(
            executable_path=path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield running
        finally:
            running.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []
    problems: list[str] = []

    def open_(width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="nl-NL",
            timezone_id="Europe/Amsterdam",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                and not _expected_console_error(message.text)
                and not any(p in message.text for p in _ALLOWED.get(id(page), ()))
                else None
            ),
        )
        return page

    yield open_
    for context in contexts:
        context.close()
    assert problems == [], "\n".join(problems)


_ALLOWED: dict[int, tuple[str, ...]] = {}


def allow_console_errors(page: Any, *fragments: str) -> None:
    """Console errors containing one of ``fragments`` are part of this page's scenario (e.g. a
    503 while AFAS is down); every other console error still fails the test."""
    _ALLOWED[id(page)] = (*_ALLOWED.get(id(page), ()), *fragments)


def _expected_console_error(text: str) -> bool:
    """Chromium logs every non-2xx fetch; the API's 4xx answers are part of the tests, and so is
    a request a test aborts to show "Loonbrug is niet bereikbaar"."""
    return text.startswith(
        (
            "Failed to load resource: the server responded with a status of 4",
            "Failed to load resource: net::ERR_CONNECTION_REFUSED",
        )
    )


def shoot(page: Any, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in_as(page: Any, office_id: str, *, name: str = "Anna Beheer", admin: bool = True) -> None:
    """Store the dev principal in localStorage before any page script runs."""
    from shared.api.auth import ADMIN_ROLE, encode_principal

    principal = {
        "officeId": office_id,
        "name": name,
        "role": "beheerder" if admin else "lezer",
        "userId": "dev-" + name.lower().replace(" ", "-"),
    }
    principal["header"] = encode_principal(
        office_id=office_id,
        user_id=principal["userId"],
        name=name,
        roles=(ADMIN_ROLE,) if admin else (),
    )
    value = json.dumps(json.dumps(principal))
    script = (
        "if (location.protocol.startsWith('http')) "
        f"localStorage.setItem('loonbrug.devPrincipal', {value});"
    )
    page.add_init_script(script)
