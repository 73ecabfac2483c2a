"""Issue 17 item 10: one term per concept on every screen, message and e-mail, as the manual
writes it: "Client configuraties" / "Clientnr." (not Klant…), "Rerun" (not "Re-run"), a payroll
period as "2024 - 6" (not "2024-6"), "AFAS SB" (not the manual's "SB+"), and no "Dashboard" crumb
(Loonbrug has no dashboard).

Scans the portal (portal/js, index.html) and every Dutch text in shared/ (string literals only,
so code and comments may say "client" in English as they like). Fails when the other spelling
comes back."""

from __future__ import annotations

import io
import re
import tokenize
from datetime import date
from pathlib import Path

import pytest

from shared.journal.models import JournalRunStatus, shown_period
from shared.notify import texts as mail
from shared.sync import texts

ROOT = Path(__file__).resolve().parents[2]

# The spellings we do NOT use, each with the one we do.
FORBIDDEN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bklant(en|nr|nummer|configuraties?)?\b", re.I), "client / Clientnr."),
    (re.compile(r"\bklant\s+configuratie", re.I), "Client configuratie"),
    (re.compile(r"\bclientconfiguratie", re.I), "Client configuratie (two words)"),
    (re.compile(r"cliënt", re.I), "client"),
    (re.compile(r"\bre-run\b", re.I), "Rerun"),
    (re.compile(r"\bClientnr\b(?!\.)"), "Clientnr. (with its dot)"),
    (re.compile(r"\bDashboard\b"), "no Dashboard crumb"),
    (re.compile(r"\bSB\+"), "AFAS SB (as AFAS's own documentation names it)"),
]
# Not our concept, or kept for old links: AFAS SB's own "klantomgeving" never matches (no word
# boundary after "klant"); an SB address in an example; the old "#/klanten" bookmark alias; the
# description placeholder "{klant}" that saved client configurations may still use.
ALLOWED_STRINGS = {"klant", '"klant"'}
ALLOWED_FRAGMENTS = ("afasfocus.nl/klant/", "legacy address")


def _offences(text: str, where: str) -> list[str]:
    if any(fragment in text for fragment in ALLOWED_FRAGMENTS) or text in ALLOWED_STRINGS:
        return []
    return [
        f"{where}: {pattern.pattern!r} in {text.strip()[:90]!r} (write: {instead})"
        for pattern, instead in FORBIDDEN
        if pattern.search(text)
    ]


def _python_strings(path: Path) -> list[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    found = []
    for token in tokens:
        if token.type == tokenize.STRING or token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            found.append((token.start[0], token.string))
    return found


def test_portal_screens_use_one_term_per_concept() -> None:
    offences: list[str] = []
    files = [*sorted((ROOT / "portal" / "js").glob("*.js")), ROOT / "portal" / "index.html"]
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(("//", "*", "/*")):
                continue  # comments: for developers
            code = line if "legacy address" in line else line.split(" // ", 1)[0]
            offences += _offences(code, f"{path.relative_to(ROOT)}:{number}")
    assert offences == []


def test_dutch_texts_in_shared_use_one_term_per_concept() -> None:
    offences: list[str] = []
    for path in sorted((ROOT / "shared").rglob("*.py")):
        for number, literal in _python_strings(path):
            if '"""' in literal or "'''" in literal:
                continue  # docstrings: English prose for developers
            offences += _offences(literal, f"{path.relative_to(ROOT)}:{number}")
    assert offences == []


def test_portal_writes_a_period_as_the_manual_does() -> None:
    """The portal's one period formatter gives "2020 - 3"; no screen prints payrollPeriod raw."""
    fmt = (ROOT / "portal" / "js" / "format.js").read_text(encoding="utf-8")
    assert 'export const period = (text) => (text || "").replace("-", " - ");' in fmt
    raw = re.compile(r"\$\{[\w.?]*payrollPeriod\}")
    for path in sorted((ROOT / "portal" / "js").glob("*.js")):
        assert not raw.search(path.read_text(encoding="utf-8")), path.name


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (texts.imported("2024-6", 1, "Profit 12345 adm. 1", "17", "LB"), "periode 2024 - 6 "),
        (texts.awaiting("2024-6", 1, "Profit 12345 adm. 1"), "periode 2024 - 6 "),
        (texts.about_run("2024-6", 2, "Fout."), "Periode 2024 - 6 (volgnr. 2)"),
        (texts.payroll_approved("2024-6", date(2024, 6, 28)), "periode 2024 - 6 is"),
        (texts.payroll_not_approved("2024-6"), "periode 2024 - 6 is"),
        (texts.journal_state("2024-6", 1, JournalRunStatus.READY), "(periode 2024 - 6,"),
    ],
)
def test_run_messages_write_a_period_as_the_manual_does(text: str, shown: str) -> None:
    assert shown in text
    assert "2024-6" not in text


def test_a_period_is_shown_one_way_and_showing_it_twice_changes_nothing() -> None:
    assert shown_period("2024-6") == "2024 - 6"
    assert shown_period(shown_period("2024-6")) == "2024 - 6"
    assert shown_period("") == ""


def test_failure_mail_writes_the_period_and_client_as_the_manual_does() -> None:
    sent = mail.journal_run_failed(
        client_id="4711",
        client_name="Korenschoof",
        period="2024-6",
        sequence_number=1,
        reason="AFAS weigerde de boeking.",
        run_id="nightly-2024-07-01",
        portal="https://loonbrug.example.nl/",
    )
    assert sent.subject == (
        "Loonbrug: journaalpost van client 4711 Korenschoof (periode 2024 - 6) is niet geboekt"
    )
    for body in (sent.text, sent.html):
        assert "periode 2024 - 6 (volgnr. 1)" in body
        assert "2024-6" not in body
