"""A value that must never reach a log, a problem body or a repr by accident."""

from __future__ import annotations

from typing import Any, Final

_MASK: Final = "***"


class Secret:
    """Wraps a secret string. ``str()``/``repr()`` show ``***``; only ``reveal()`` gives the value.

    Tokens, refresh tokens, OAuth codes and AFAS tokens travel through the code as ``Secret`` so a
    stray ``logger.info("%s", token)`` or an f-string prints the mask, never the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str | tuple[Any, ...]:  # pickling would leak the value into dumps
        raise TypeError("Secret cannot be pickled")
