"""Issue 17 in the browser (items 3, 11, 14, 15): runs whose loonruns were imported, failed, wait
for approval or had nothing to book, stored through the real repositories on Azurite, shown in the
Runs overzicht and the run detail as an admin and as a reader, at 1280 px and at phone width:

* the status counts loonruns ("Uitgevoerd (2/2)", "Uitgevoerd met fouten (1/2)", "Wacht op
  goedkeuring (0/2)", "Niets te boeken"), in the list and in the detail;
* a client with nothing to book shows the manual's three checks in Loket, each with what to do;
* at 1280 px the header is one line (with the Goedkeuren badge) and no element is wider than its
  container; read-only fields look read-only;
* "Loonbrug is niet bereikbaar" has a button that tries again.

Screenshots: artifacts/screenshots/40-… (admin and reader, 1280 px and 390 px)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from shared.bootstrap import Services
from shared.runs.model import JobOutcome, RunType
from shared.settings import Settings
from shared.store.run_details import (
    JournalRunOutcome,
    JournalRunRecord,
    Level,
    LoketCheck,
    RunMessage,
)
from shared.store.runs import NewRun
from tests.browser.a11y import assert_accessible
from tests.support.browser_fixtures import shoot, sign_in_as
from tests.support.portal_fixtures import PortalWorld

pytestmark = pytest.mark.azurite

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)

# run id -> (what the list and the detail say, the summary sentence)
EXPECTED = {
    "nightly-2026-03-05": ("Uitgevoerd (2/2)", "2 van de 2 loonruns succesvol geïmporteerd"),
    "nightly-2026-03-04": (
        "Uitgevoerd met fouten (1/2)",
        "1 van de 2 loonruns geïmporteerd in AFAS; 1 mislukt.",
    ),
    "nightly-2026-03-03": (
        "Wacht op goedkeuring (0/2)",
        "0 van de 2 loonruns geïmporteerd in AFAS; 2 wachten op goedkeuring.",
    ),
    "nightly-2026-03-02": ("Niets te boeken", "Er was niets te boeken."),
}

# At 1280 px: elements that stick out of their container (scroll containers excepted).
OVERFLOW_JS = """
() => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const parent = el.parentElement;
    if (!parent || !el.getClientRects().length) continue;
    if (el.closest('.table-wrap') && el !== el.closest('.table-wrap')) continue;
    if (getComputedStyle(el).position === 'absolute' || getComputedStyle(el).position === 'fixed') continue;
    const r = el.getBoundingClientRect(), p = parent.getBoundingClientRect();
    if (r.width > p.width + 1 || r.right > p.right + 1) bad.push(`${el.tagName}.${el.className} ${Math.round(r.width)} > ${Math.round(p.width)}`);
  }
  const wraps = [...document.querySelectorAll('.table-wrap')].filter((w) => w.scrollWidth > w.clientWidth + 1)
    .map((w) => `table ${w.scrollWidth} in ${w.clientWidth}`);
  return bad.concat(wraps);
}
"""

BADGES_FIT_JS = """
() => [...document.querySelectorAll('td .status')].filter((b) =>
  b.getBoundingClientRect().right > b.closest('td').getBoundingClientRect().right + 1)
  .map((b) => b.textContent)
"""

# The header on one line: brand, menu and user share one row.
HEADER_JS = """
() => {
  const top = document.querySelector('header.top');
  const parts = [...top.children].filter((el) => el.getClientRects().length);
  // one line: the parts share a vertical centre (their heights differ: the menu has a caption)
  const rows = new Set(parts.map((el) => { const r = el.getBoundingClientRect(); return Math.round((r.top + r.bottom) / 16); }));
  const items = [...document.querySelectorAll('#nav li')].map((li) => Math.round(li.getBoundingClientRect().top));
  return { height: top.getBoundingClientRect().height, rows: rows.size, navRows: new Set(items).size };
}
"""


def seed(services: Services, office: str) -> None:
    runs, details = services.runs, services.run_details

    def run(day: int, outcomes: dict[str, list[JournalRunOutcome]]) -> str:
        created = T0 + timedelta(days=day)
        new = NewRun(
            office,
            f"nightly-2026-03-{2 + day:02d}",
            RunType.NIGHTLY,
            created,
            business_date=created.date(),
        )
        runs.add_jobs(new, list(outcomes))
        made = runs.create(new, jobs_total=len(outcomes))
        assert made is not None
        runs.mark_planned(made)
        for client, statuses in outcomes.items():
            for n, status in enumerate(statuses, start=1):
                details.record(
                    office,
                    new.run_id,
                    JournalRunRecord(
                        client_id=client,
                        loket_journal_run_id=f"jr-{client}-{n}",
                        payroll_run_id=f"pr-{client}-{n}",
                        payroll_period=f"2026-{n}",
                        sequence_number=n,
                        status=status,
                        environment="O12345AA",
                        sent_at=created if status is JournalRunOutcome.IMPORTED else None,
                        entry_number="1234" if status is JournalRunOutcome.IMPORTED else None,
                    ),
                )
            if not statuses:
                details.message(
                    office,
                    new.run_id,
                    RunMessage(
                        at=created,
                        level=Level.WARNING,
                        text=f"Loket heeft geen enkele journaalrun voor client {client}.",
                        client_id=client,
                        code="nothing-to-book",
                        checks=(
                            LoketCheck(
                                "Verloning",
                                "failed",
                                "De verloning van periode 2026 - 2 is (nog) niet goedgekeurd.",
                                "Keur in Loket de verloning van de periode goed.",
                            ),
                            LoketCheck(
                                "Journaal",
                                "failed",
                                "Het laatste journaal voor deze periode heeft geen resultaten.",
                                "Controleer het journaalprofiel in Loket.",
                            ),
                            LoketCheck(
                                "Loonaangifte",
                                "unknown",
                                "Loonbrug kan de loonaangifte niet inzien.",
                                "Controleer in Loket bij Loonaangifte.",
                            ),
                        ),
                    ),
                    key="nothing-to-book",
                )
            counted = list(statuses)
            runs.finish_job(
                office,
                new.run_id,
                client,
                JobOutcome(
                    imported=counted.count(JournalRunOutcome.IMPORTED),
                    failed=counted.count(JournalRunOutcome.FAILED),
                    awaiting=counted.count(JournalRunOutcome.AWAITING_APPROVAL),
                ),
                now=created,
            )
        return new.run_id

    booked, failed, waiting = (
        JournalRunOutcome.IMPORTED,
        JournalRunOutcome.FAILED,
        JournalRunOutcome.AWAITING_APPROVAL,
    )
    run(0, {"4711": []})
    run(1, {"4711": [waiting], "5120": [waiting]})
    run(2, {"4711": [booked], "5120": [failed]})
    run(3, {"4711": [booked], "5120": [booked]})


def check_layout(page: Any) -> None:
    assert page.evaluate(OVERFLOW_JS) == []
    header = page.evaluate(HEADER_JS)
    assert header["rows"] == 1 and header["navRows"] == 1, header


@pytest.mark.parametrize("admin", [True, False], ids=["beheerder", "lezer"])
def test_run_status_counts_loonruns_for_admin_and_reader(
    portal_world: PortalWorld,
    open_page: Callable[..., Any],
    unique: Callable[[str], str],
    admin: bool,
) -> None:
    office = unique("kantoor")
    seed(Services(Settings.from_env(portal_world.env)), office)
    who = "beheerder" if admin else "lezer"
    page = open_page()
    sign_in_as(page, office, name="Anna Beheer" if admin else "Lex Lezer", admin=admin)
    page.goto(portal_world.portal + "#/runs")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(4)
    for run_id, (status, _) in EXPECTED.items():
        expect(page.locator(f'tr[data-run-id="{run_id}"] .status')).to_have_text(status)
    expect(page.get_by_text("1 tot 4 van 4 resultaten", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Rerun uitvoeren")).to_have_count(1 if admin else 0)
    # The Goedkeuren badge at its widest: the header still fits on one line at 1280 px.
    page.evaluate(
        "() => { const b = document.getElementById('approvals-count');"
        " b.hidden = false; b.textContent = '99'; }"
    )
    check_layout(page)
    assert_accessible(page)
    shoot(page, f"40-runs-overzicht-statussen-{who}")

    for run_id, (status, sentence) in EXPECTED.items():
        page.goto(portal_world.portal + f"#/runs/{run_id}")
        expect(page.locator("dl.facts .status").first).to_have_text(status)
        expect(page.get_by_text(sentence, exact=False).first).to_be_visible()
        check_layout(page)
    # The run with nothing to book: the manual's three checks in Loket, with what to do.
    checks = page.locator("section.checks")
    expect(checks.get_by_role("heading", level=3)).to_have_text("Client 4711")
    items = checks.locator("li.check")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("Verloning")
    expect(items.nth(0)).to_contain_text("Wat kunt u doen: Keur in Loket de verloning")
    expect(items.nth(1)).to_contain_text("heeft geen resultaten")
    expect(items.nth(2)).to_contain_text("Loonaangifte")
    assert_accessible(page)
    shoot(page, f"41-run-niets-te-boeken-controles-{who}")
    page.goto(portal_world.portal + "#/runs/nightly-2026-03-04")
    expect(page.locator("tbody tr").first).to_contain_text("20261")  # the loonrun as Loket shows it
    shoot(page, f"42-run-met-fouten-{who}")
    page.goto(portal_world.portal + "#/runs/nightly-2026-03-03")
    shoot(page, f"43-run-wacht-op-goedkeuring-{who}")

    phone = open_page(width=390, height=844)
    sign_in_as(phone, office, name="Anna Beheer" if admin else "Lex Lezer", admin=admin)
    phone.goto(portal_world.portal + "#/runs")
    expect(phone.locator("tbody tr")).to_have_count(4)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.evaluate(BADGES_FIT_JS) == []  # a long status wraps inside its card
    shoot(phone, f"44-runs-overzicht-telefoon-{who}")
    phone.goto(portal_world.portal + "#/runs/nightly-2026-03-02")
    expect(phone.locator("section.checks li.check")).to_have_count(3)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(phone, f"45-run-niets-te-boeken-telefoon-{who}")


def test_server_not_reachable_offers_to_try_again(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    office = unique("kantoor")
    seed(Services(Settings.from_env(portal_world.env)), office)
    page = open_page()
    sign_in_as(page, office, name="Lex Lezer", admin=False)
    page.route(re.compile(r".*/api/runs\?.*"), lambda route: route.abort("connectionrefused"))
    page.goto(portal_world.portal + "#/runs")
    expect(page.get_by_text("Loonbrug is niet bereikbaar.")).to_be_visible()
    retry = page.get_by_role("button", name="Opnieuw proberen")
    expect(retry).to_be_visible()
    assert_accessible(page)
    shoot(page, "46-server-niet-bereikbaar")
    page.unroute(re.compile(r".*/api/runs\?.*"))
    retry.click()
    expect(page.locator("tbody tr")).to_have_count(4)
    expect(page.get_by_text("Loonbrug is niet bereikbaar.")).to_have_count(0)
