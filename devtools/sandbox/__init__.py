"""Sandboxes of the outside systems (Loket.nl, AFAS, Application Insights) for dev and tests.

Every sandbox announces itself when it starts (:func:`announce`); a test session can
:func:`watch` them all, e.g. to collect every token, code and state they issued and scan the
session's logs for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_watchers: list[Callable[[object], None]] = []
_lock = threading.Lock()


def watch(callback: Callable[[object], None]) -> None:
    """Call ``callback(sandbox)`` for every sandbox started from now on."""
    with _lock:
        _watchers.append(callback)


def announce(sandbox: object) -> None:
    with _lock:
        watchers = list(_watchers)
    for callback in watchers:
        callback(sandbox)
