"""Time: always timezone-aware. Business dates are Europe/Amsterdam."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

Clock = Callable[[], datetime]
"""A function answering "now" as an aware UTC datetime. Services take one as an argument."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_amsterdam(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Loonbrug only handles timezone-aware moments")
    return moment.astimezone(AMSTERDAM)


def business_date(moment: datetime) -> date:
    """The Europe/Amsterdam calendar date of an aware moment."""
    return to_amsterdam(moment).date()


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a trailing Z and millisecond precision (what the API answers)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The longest an outside system's Retry-After may park a job: a wait it announces beyond this
# (an error, a hostile or broken gateway) is cut to it, so a job always comes back.
MAX_DEFER: Final = timedelta(days=1)


def bounded_wait(seconds: float) -> float:
    """A wait in seconds as Loonbrug honours it: a non-finite one (inf, nan) is no wait, a
    negative one is none, one beyond :data:`MAX_DEFER` is cut to it."""
    if not math.isfinite(seconds) or seconds <= 0:
        return 0.0
    return min(seconds, MAX_DEFER.total_seconds())


def retry_after_seconds(value: object, *, now: Clock = utc_now) -> float | None:
    """The one reading of a ``Retry-After`` header or a ``retry_after`` body value (AFAS Profit,
    AFAS SB, Loket and its token endpoint): delta-seconds (a number or its text) or an HTTP
    date, as a :func:`bounded_wait`; None when absent or unreadable (the caller's own backoff
    applies)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return bounded_wait(float(value))
    raw = str(value).strip()
    if not raw:
        return None
    try:
        return bounded_wait(float(raw))
    except (ValueError, OverflowError):
        pass
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # RFC 9110: an HTTP date is GMT
        moment = moment.replace(tzinfo=UTC)
    return bounded_wait((moment - now()).total_seconds())
