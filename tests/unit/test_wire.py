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

from shared.afas.profit import fi_entries_payload
from shared.afas.sb import payroll_entry_payload
from shared.afas.wire import dumps
from shared.journal.entries import ProfitEntry, ProfitLine, SbEntry, SbLine
from shared.sync.audit import fingerprint, wire_body


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


# Fingerprints of the two entries below as the encoder at 19a5df1d (before issue 18) wrote them:
# the ledger of an outstanding post recorded before the change holds exactly these, and the
# redelivery after the change must find its post (look up / SB replay), not post a new entry.
PROFIT_BEFORE_ISSUE_18 = "e6f7acfe6d06f82bb4105a446b5f499011acf41e61bb1377a26db2806e9dd9d3"
SB_BEFORE_ISSUE_18 = "5bf784883b511b4ea924a7d69b9d93beb0506ee22c51f7c969ad1681225902cc"


def test_an_outstanding_post_recorded_before_the_new_encoder_keeps_its_fingerprint() -> None:
    end = date(2025, 3, 28)
    profit = ProfitEntry(
        year=2025,
        period=3,
        administration=1,
        journal="80",
        voucher_number="LB-2025-03-ë",
        entry_date=end,
        voucher_date=end,
        lines=(
            ProfitLine(
                "4000",
                'Brutolonen "vast" — € ë\t\u2028',
                Decimal("4000.00"),
                Decimal("0"),
                ((1, "100"), (2, "K-ü")),
            ),
            ProfitLine("1600", "Netto lonen 😀", Decimal("0"), Decimal("4000.00")),
        ),
    )
    sb = SbEntry(
        administration_id="a1b2-ü",
        description='Loonjournaalpost 2025-3 "maart" — ë\n',
        entry_date=date(2025, 3, 31),
        lines=(
            SbLine("4000", Decimal("4000.00"), Decimal("0")),
            SbLine("1710", Decimal("0"), Decimal("1300.00")),
            SbLine("1600", Decimal("0"), Decimal("2700.00")),
        ),
    )
    assert fingerprint(profit) == PROFIT_BEFORE_ISSUE_18
    assert fingerprint(sb) == SB_BEFORE_ISSUE_18
    assert wire_body(profit) == reference(fi_entries_payload(profit)).encode("utf-8")
    assert wire_body(sb) == reference(payroll_entry_payload(sb)).encode("utf-8")
