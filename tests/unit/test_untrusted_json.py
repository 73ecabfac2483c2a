"""The one reader for untrusted JSON (issue 15, scenario 9): its limits, a property that it never
raises anything but ``UntrustedJson``, and a guard that nothing else parses JSON where request
input arrives. The same inputs through the real operations: tests/security/test_hostile_json.py."""

from __future__ import annotations

import ast
import base64
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.api.auth import PRINCIPAL_HEADER, principal_from_headers
from shared.api.http import MAX_BODY_BYTES, ApiRequest, Headers, Problem, read_json
from shared.untrusted_json import MAX_DEPTH, MAX_NUMBER_CHARS, UntrustedJson, parse

ROOT = Path(__file__).resolve().parents[2]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_nesting_up_to_the_limit_is_read_and_one_deeper_is_refused() -> None:
    assert parse(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    assert parse('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH) is not None
    with pytest.raises(UntrustedJson, match="te diep genest"):
        parse(nested(MAX_DEPTH + 1))
    with pytest.raises(UntrustedJson, match="te diep genest"):
        parse(nested(100_000))  # far past Python's recursion limit: still no RecursionError


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"note": "[" * 500 + '\\"{' * 200, "list": [[["x"]]]})
    assert parse(text) == json.loads(text)


def test_hostile_strings_are_scanned_in_linear_time() -> None:
    """An unterminated string full of escaped quotes made a first version of the depth scan
    quadratic (4 minutes for 256 KB): every later quote rescanned the rest of the text."""
    size = MAX_BODY_BYTES // 3
    for text in ('"' + '\\"[' * size, '["' + '\\"' * size + "[" * 40 + "\\", '"[' * size):
        started = time.perf_counter()
        with pytest.raises(UntrustedJson):
            parse(text)
        assert time.perf_counter() - started < 2.0


def test_numbers_are_bounded_in_length_and_exponent() -> None:
    assert parse("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    with pytest.raises(UntrustedJson, match="te lang"):
        parse("9" * (MAX_NUMBER_CHARS + 1))
    with pytest.raises(UntrustedJson, match="te lang"):
        parse('{"n": ' + "1" * 5000 + "}")  # int() itself would refuse past 4,300 digits
    assert parse("12.50", decimals=True) == Decimal("12.50")
    with pytest.raises(UntrustedJson, match="te groot of te klein"):
        parse("1e999999999", decimals=True)
    with pytest.raises(UntrustedJson, match="te groot of te klein"):
        parse("1e999")  # float: infinity
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(UntrustedJson, match="geen JSON-getal"):
            parse(f"[{constant}]")


def test_bytes_that_are_not_text_or_not_json_are_refused_in_dutch() -> None:
    with pytest.raises(UntrustedJson, match="geen geldige UTF-8"):
        parse(b"\xff\xfe\xfa")
    with pytest.raises(UntrustedJson, match=r"regel 1, kolom 2"):
        parse("{,}")


# -- property: nothing but UntrustedJson, ever -------------------------------------------------

TOKENS = st.sampled_from(
    ["[", "]", "{", "}", ",", ":", '"', "\\", "1", "9" * 50, "-", ".", "e", "E", "+", "0",
     "NaN", "Infinity", "true", "null", " ", "a", '"k"', "\\u00e9", "\\ud800"]
)  # fmt: skip


def _hostile() -> st.SearchStrategy[str]:
    fragments = st.lists(TOKENS, max_size=60).map("".join)
    deep = st.tuples(st.integers(0, 3000), fragments).map(lambda t: "[" * t[0] + t[1] + "]" * t[0])
    huge = st.integers(1, 6000).map(lambda n: '{"n": ' + "7" * n + "}")
    return st.one_of(fragments, deep, huge, st.text(max_size=200))


@settings(max_examples=300, deadline=None)
@given(text=_hostile(), decimals=st.booleans())
def test_parse_raises_nothing_but_untrusted_json(text: str, decimals: bool) -> None:
    try:
        parse(text, decimals=decimals)
    except UntrustedJson as exc:
        assert exc.reason  # a Dutch sentence for the user


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.binary(max_size=300), _hostile().map(str.encode)))
def test_a_request_body_is_json_or_a_400_problem(raw: bytes) -> None:
    headers = Headers({"Content-Type": "application/json"})
    try:
        read_json(ApiRequest("PUT", "http://x/api/x", headers, body=raw))
    except Problem as problem:
        assert problem.status == 400 and problem.detail


@settings(max_examples=200, deadline=None)
@given(document=st.one_of(_hostile(), st.text(max_size=100)), raw=st.booleans())
def test_a_principal_header_is_a_principal_or_a_401(document: str, raw: bool) -> None:
    value = document if raw else base64.b64encode(document.encode()).decode()
    try:
        principal_from_headers({PRINCIPAL_HEADER: value})
    except Problem as problem:
        assert problem.status == 401 and problem.detail


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES)
def test_json_within_the_limits_reads_as_json_loads_does(value: Any) -> None:
    text = json.dumps(value)
    assert parse(text) == json.loads(text)
    assert parse(text.encode("utf-16")) == json.loads(text)


# -- the guard: request input is parsed by untrusted_json only ---------------------------------

# Where request input arrives (bodies, headers, query): no JSON parsing except through
# shared.untrusted_json. Allowed exceptions, by (file, function), each with its reason.
REQUEST_SURFACE = ("shared/api", "functions", "function_app.py")
ALLOWED_IN_SURFACE = {
    ("shared/api/http.py", "json"): "ApiResponse.json parses our own answer (tests, adapter)",
    ("shared/api/handlers/documents.py", "export_csv"): "the audit copy Loonbrug wrote itself",
    ("shared/api/handlers/afas_connections.py", "_consent_location"): (
        "the subject Loonbrug stored in its own consent-state row (_consent_subject)"
    ),
}
# Elsewhere: files that may parse JSON Loonbrug did not receive from a request.
ALLOWED_ELSEWHERE = {
    "shared/untrusted_json.py": "the reader itself",
    "shared/loket/client.py": "Loket's API answers (a provider, not request input)",
    "shared/loket/oauth.py": "Loket's token endpoint answers",
    "shared/afas/wire.py": "AFAS answers",
    "shared/sync/messages.py": "queue messages Loonbrug enqueued",
    "shared/store/clients.py": "our own table rows",
    "shared/store/approvals.py": "our own table rows",
    "shared/store/connections.py": "our own table rows",
    "shared/store/run_details.py": "our own table rows (the Loket checks of a message)",
    "shared/reconciliation/service.py": "our own audit copies (what was prepared and sent)",
    "shared/reconciliation/weekly.py": "queue messages Loonbrug enqueued (reconciliation-jobs)",
    "shared/store/reconciliations.py": "our own table rows (the differences already reported)",
}
PARSERS = {"loads", "load", "JSONDecoder", "raw_decode", "model_validate_json"}


def _json_parsing_calls(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of every call that parses JSON text in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = (
                child.name
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                else function
            )
            if isinstance(child, ast.Call):
                target = child.func
                name = target.attr if isinstance(target, ast.Attribute) else None
                if isinstance(target, ast.Name):
                    name = target.id
                owner = target.value if isinstance(target, ast.Attribute) else None
                is_json = isinstance(owner, ast.Name) and owner.id in {"json", "orjson", "ujson"}
                if name in PARSERS and (is_json or name == "model_validate_json"):
                    found.append((function, child.lineno))
            visit(child, inner)

    visit(tree, "<module>")
    return found


def _python_files() -> list[Path]:
    files = [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    return [*files, ROOT / "function_app.py"]


def test_no_module_parses_request_input_with_json_loads() -> None:
    offending = []
    for path in _python_files():
        relative = path.relative_to(ROOT).as_posix()
        in_surface = relative.startswith(REQUEST_SURFACE)
        for function, line in _json_parsing_calls(path):
            allowed = (
                (relative, function) in ALLOWED_IN_SURFACE
                if in_surface
                else relative in ALLOWED_ELSEWHERE
            )
            if not allowed:
                offending.append(f"{relative}:{line} in {function}()")
    assert offending == [], (
        "JSON that may come from a request must be read with shared.untrusted_json.parse "
        "(depth and number limits, Dutch 4xx). Our own data or a provider's answer: add the "
        "place with its reason to the allowlist in this test."
    )


def test_the_guard_sees_a_json_loads_call() -> None:
    """The scan finds the calls it must find (a guard that sees nothing passes trivially)."""
    reader = _json_parsing_calls(ROOT / "shared" / "untrusted_json.py")
    assert [function for function, _ in reader] == ["parse"]
    answer = _json_parsing_calls(ROOT / "shared" / "api" / "http.py")
    assert [function for function, _ in answer] == ["json"]


def test_the_continuation_token_and_principal_are_read_by_the_safe_reader() -> None:
    for relative, function in (
        ("shared/store/runs.py", "_decode_token"),
        ("shared/api/auth.py", "principal_from_headers"),
        ("shared/api/http.py", "read_json"),
    ):
        tree = ast.parse((ROOT / relative).read_text())
        (node,) = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function
        ]
        calls = {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
        assert "untrusted_json.parse" in calls, relative
