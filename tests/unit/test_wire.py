"""The wire encoder (shared/afas/wire.py) writes exactly the bytes the first version wrote (one
``json.dumps`` per value): an entry's fingerprint is the SHA-256 of these bytes, kept in the
ledger and the approvals, so a change of even one byte would make a redelivery look like another
entry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.afas.wire import dumps


def reference(value: Any) -> str:
    """The encoder as first written (before issue 18's CPU work)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{reference(v)}" for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(reference(v) for v in value) + "]"
    raise TypeError(type(value).__name__)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text()  # every code point but lone surrogates: control characters, quotes, emoji
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.dates()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(values)
def test_the_wire_bytes_are_those_of_one_json_dumps_per_value(value: Any) -> None:
    assert dumps(value) == reference(value).encode("utf-8")


def test_an_entry_payload_is_byte_identical() -> None:
    payload = {
        "FiEntryPar": {
            "Element": {
                "Fields": {"Year": 2025, "Peri": 3, "UnId": 1, "JoCo": "80"},
                "Objects": [{"FiEntries": {"Element": [
                    {"Fields": {"AcNr": "4000", "EnDa": date(2025, 3, 31), "BpNr": "LB-1",
                                "Ds": "Lonen maart — ‘test’ \"quote\"\n", "AmDe": Decimal("1234.50"),
                                "AmCr": Decimal("0.00"), "Flag": True, "Empty": None}},
                ]}}],
            }
        }
    }  # fmt: skip
    assert dumps(payload) == reference(payload).encode("utf-8")
