"""Bounded, jittered retries for AFAS calls that are safe to repeat.

Used by both clients for reads (and for SB posts, which the Tracking-Identifier makes safe). What
is retried is what :func:`shared.afas.errors.read_disposition` calls ``RETRY_NOW``: passing
trouble, a plain HTTP 500 on a read included. A Profit post is never run through this: the
booking step (:mod:`shared.sync.booking`) decides, through the booking ledger, whether a post may
go out again.

Waits honour ``Retry-After`` / ``retry_after`` up to ``max_retry_after``; a longer announced wait
(AFAS maintenance says e.g. 7200 s) is not slept through inside a function run, the error is
raised at once so the queue can redeliver later. All waiting stays within ``budget`` seconds, well
inside the 10-minute function timeout.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.afas.errors import AfasError, Disposition, read_disposition
from shared.clock import retry_after_seconds

log = logging.getLogger("loonbrug.afas")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total tries, including the first
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    budget: float = 120.0  # total seconds of waiting across all retries of one call

    def delay(self, attempt: int, error: AfasError) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None: give up now."""
        if attempt >= self.attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after + random.uniform(0, 0.25)  # noqa: S311 - jitter, not crypto
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(cap / 2, cap)  # noqa: S311 - jitter, not crypto


NO_RETRIES = RetryPolicy(attempts=1)


def seconds(value: Any) -> float | None:
    """A ``Retry-After`` header or ``retry_after`` body value in seconds (None if absent or
    unreadable, then the policy's own backoff applies): :func:`shared.clock.retry_after_seconds`,
    so inf/nan is no wait, a negative value none and a huge one at most a day."""
    return retry_after_seconds(value)


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; on an error that may be retried at once wait and try again within ``policy``."""
    waited = 0.0
    attempt = 1
    while True:
        try:
            return call()
        except AfasError as error:
            if read_disposition(error) is not Disposition.RETRY_NOW:
                raise
            pause = policy.delay(attempt, error)
            if pause is None or waited + pause > policy.budget:
                raise
            log.info(
                "%s: %s, retry %d in %.2f s", what, error.code, attempt, pause,
                extra={"afas_status": error.status},
            )  # fmt: skip
            sleep(pause)
            waited += pause
            attempt += 1
