"""The one JSON reader for input Loonbrug did not write: request bodies, the Easy Auth principal
header, continuation tokens.

``json.loads`` alone turns hostile input into a 500: nesting deeper than the recursion limit raises
``RecursionError``, an integer of more than 4,300 digits raises a bare ``ValueError`` (Python's
``int_max_str_digits``), ``NaN``/``Infinity`` are accepted although JSON has neither, and a number
like ``1e999999999`` becomes a ``Decimal`` that breaks arithmetic later. :func:`parse` refuses all
of these up front with :class:`UntrustedJson`, a ``ValueError`` whose ``reason`` is Dutch, so each
caller answers the 4xx that fits it (400 for a body, 401 for the principal, 422 for a token).

Limits (far above what any Loonbrug request needs: bodies nest 4 levels, numbers are amounts,
limits and years): nesting :data:`MAX_DEPTH`, a number at most :data:`MAX_NUMBER_CHARS`
characters with an exponent of at most :data:`MAX_EXPONENT`.

A guard test (tests/unit/test_untrusted_json.py) fails when code under ``shared/api`` or
``functions`` parses JSON any other way.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Any, Final

MAX_DEPTH: Final = 32
MAX_NUMBER_CHARS: Final = 100
MAX_EXPONENT: Final = 100

# Linear: a string always matches from its opening quote to its closing quote or the end of the
# text (an unterminated string must not make every later quote rescan the rest: quadratic).
_STRING: Final = re.compile(r'"(?:[^"\\]++|\\(?:.|\Z))*+(?:"|\Z)', re.DOTALL)
_BRACKET: Final = re.compile(r"[\[\]{}]")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


class UntrustedJson(ValueError):
    """Input that is not JSON Loonbrug accepts. ``reason`` is Dutch, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(data: bytes | str, *, decimals: bool = False) -> Any:
    """Parse untrusted JSON; numbers with a fraction or exponent become ``Decimal`` when
    ``decimals`` (money), else ``float``. Raises :class:`UntrustedJson`, never anything else."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode(json.detect_encoding(data))
        except (UnicodeDecodeError, LookupError):
            raise UntrustedJson("De inhoud is geen geldige JSON (geen geldige UTF-8).") from None
    else:
        text = data
    if _too_deep(text):
        raise UntrustedJson(f"De JSON is te diep genest (meer dan {MAX_DEPTH} niveaus).")
    try:
        return json.loads(
            text,
            parse_int=_integer,
            parse_float=_decimal if decimals else _float,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        raise UntrustedJson(
            f"De inhoud is geen geldige JSON (regel {exc.lineno}, kolom {exc.colno})."
        ) from None
    except RecursionError:  # not reached after _too_deep; kept so depth can never be a 500
        raise UntrustedJson(f"De JSON is te diep genest (meer dan {MAX_DEPTH} niveaus).") from None


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # the common case: no scan needed
        return False
    brackets = _BRACKET.findall(_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH


def _number_length(literal: str) -> None:
    if len(literal) > MAX_NUMBER_CHARS:
        raise UntrustedJson(
            f"Een getal in de JSON is te lang (meer dan {MAX_NUMBER_CHARS} tekens)."
        )


def _integer(literal: str) -> int:
    _number_length(literal)
    return int(literal)


def _decimal(literal: str) -> Decimal:
    _number_length(literal)
    try:
        value = Decimal(literal)
    except InvalidOperation:  # pragma: no cover - json only passes valid number literals
        raise UntrustedJson("Een getal in de JSON is ongeldig.") from None
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or abs(exponent) > MAX_EXPONENT:
        raise UntrustedJson("Een getal in de JSON is te groot of te klein.")
    return value


def _float(literal: str) -> float:
    _number_length(literal)
    value = float(literal)
    if not math.isfinite(value):
        raise UntrustedJson("Een getal in de JSON is te groot of te klein.")
    return value


def _constant(name: str) -> Any:
    raise UntrustedJson(f"De inhoud is geen geldige JSON ({name} is geen JSON-getal).")
