"""Issue 18: the Loket lines of the audit copy are made one line at a time (the peak memory of a
10,000-line job), byte for byte as before: a redelivery writes the same bytes (a no-op), and a
copy kept by the earlier code is not taken for a variant."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from shared.journal.models import JournalLine
from shared.store.audit_copies import canonical_json
from shared.sync.audit import lines_doc, lines_json

text = st.text(max_size=12)
optional = st.none() | text
amounts = st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=2)
line = st.builds(
    JournalLine,
    account=text,
    account_description=text,
    debit=amounts,
    credit=amounts,
    cost_center=optional,
    cost_center_description=optional,
    cost_unit=optional,
    cost_unit_description=optional,
    component=optional,
)


@given(st.lists(line, max_size=5))
def test_the_lines_document_is_the_same_bytes_made_line_by_line(lines: list[JournalLine]) -> None:
    assert lines_json(lines) == canonical_json(lines_doc(lines))


def test_dutch_text_and_quotes_stay_as_they_were() -> None:
    lines = [JournalLine("4000", 'Brutoloon "vast"\n€ ë', Decimal("12.50"), Decimal(0), "100")]
    assert lines_json(lines) == canonical_json(lines_doc(lines))
