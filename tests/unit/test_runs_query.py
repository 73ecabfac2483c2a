"""The runs overview's ``limit``: a plain integer 1-100, nothing that merely parses as one
(found by the API fuzzer: ``int()`` also takes " 5", "1_0" and non-Latin digits; an empty ``limit=`` is no integer either)."""

from __future__ import annotations

import pytest

from shared.api.handlers.runs import page_limit
from shared.api.http import Problem


@pytest.mark.parametrize("raw", ["", "1_0", " 5", "5 ", "+5", "-1", "٣", "5.0", "0", "101", "1e2"])
def test_limit_refuses_what_is_not_a_plain_integer_in_range(raw: str) -> None:
    with pytest.raises(Problem) as refused:
        page_limit(raw)
    assert refused.value.status == 422 and refused.value.errors[0].field == "limit"


@pytest.mark.parametrize(("raw", "value"), [(None, 20), ("1", 1), ("100", 100), ("07", 7)])
def test_limit_takes_plain_integers(raw: str | None, value: int) -> None:
    assert page_limit(raw) == value
