"""JSON on the wire with exact amounts: ``Decimal`` goes out as a JSON number, never via float."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> bytes:
    """Serialise ``value`` compactly; ``Decimal`` becomes a plain JSON number (``4000.00``)."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amounts must be finite")
        return format(value, "f")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def loads(raw: bytes | str) -> Any:
    """Parse JSON keeping numbers with a fraction as ``Decimal``. Raises ``ValueError``."""
    return json.loads(raw, parse_float=Decimal)


def amount(value: Any) -> Decimal:
    """An AFAS amount (number, numeric string, or null) as ``Decimal``. Raises ``ValueError``."""
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a boolean")
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):  # only when a caller parsed without parse_float
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", "."))
        except ArithmeticError:
            raise ValueError(f"not an amount: {value!r}") from None
        if not result.is_finite():
            raise ValueError(f"not an amount: {value!r}")
        return result
    raise ValueError(f"not an amount: {type(value).__name__}")
