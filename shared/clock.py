"""Time: always timezone-aware. Business dates are Europe/Amsterdam."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
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
