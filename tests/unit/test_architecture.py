"""The shape of the code, enforced: what the tests may reach into (issue 19).

The package layers themselves are import-linter contracts (``make lint``, ``.importlinter``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("shared", "functions", "devtools", "bench", "function_app")


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(OURS):
            found += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def test_no_test_imports_a_private_name() -> None:
    # A test that needs a private function tests the wrong seam: make it public (a name the
    # module owns up to) or test through the public one.
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if (names := _private_imports(path))
    }
    assert offenders == {}


def test_the_private_import_check_sees_one(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("from shared.sync.worker import _hidden, visible\n", encoding="utf-8")
    assert _private_imports(sample) == ["shared.sync.worker._hidden"]


def test_the_import_contracts_hold() -> None:
    # docs/architecture.md's layers, as import-linter contracts (pyproject.toml); make lint runs
    # the same command.
    import subprocess
    import sys

    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_the_problem_reply_is_declared_once() -> None:
    # Every documented problem+json answer is operations.problem_reply (issue 19: it was spelled
    # out 13 times in the catalog's handlers).
    spelled = {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8").count(
            "#/components/schemas/Problem"
        )
        for path in sorted((ROOT / "shared" / "api").rglob("*.py"))
    }
    assert {p: n for p, n in spelled.items() if n} == {
        "shared/api/openapi.py": spelled["shared/api/openapi.py"],
        "shared/api/operations.py": 1,
    }


def test_the_loket_status_texts_are_one_table() -> None:
    from devtools.sandbox import loket as sandbox
    from shared.journal.models import JOURNAL_RUN_STATUS_TEXT, JournalRunStatus

    assert sandbox.STATUS_TEXT is JOURNAL_RUN_STATUS_TEXT
    assert JournalRunStatus.EXPORT_FAILED.dutch == "Exporteren mislukt"
    assert "Journaal gereed" not in (ROOT / "devtools" / "sandbox" / "loket.py").read_text()


def test_both_oauth_callbacks_redirect_the_same_way() -> None:
    # Loket's and AFAS SB's callbacks send the browser back through shared.api.http.redirect:
    # never cached, no Referer onward (the code was in the callback's URL).
    from shared.api.http import redirect

    answer = redirect("https://portal.example/#/connections")
    assert answer.status == 302
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    # Both go through the one callback handler (shared/api/consent_callback.py).
    for module in ("connections.py", "afas_connections.py"):
        text = (ROOT / "shared" / "api" / "handlers" / module).read_text(encoding="utf-8")
        assert "ApiResponse(302" not in text and "consent_callback(" in text, module
    shared_handler = (ROOT / "shared" / "api" / "consent_callback.py").read_text(encoding="utf-8")
    assert "ApiResponse(302" not in shared_handler and "redirect(" in shared_handler
