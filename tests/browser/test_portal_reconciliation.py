"""The Aansluiting screen in a real browser (headless Chromium) against the local host, Azurite
and the sandboxes (issue 20): last year with an entry deleted, an amount edited, a hand-imported
duplicate, a moved entry and a run that was never booked, each in Dutch with what to do and a
drill-down to the journal run (audit copy) and the AFAS entry; the CSV export; a clean year in
green; as admin and as reader, and at phone width. Screenshots: artifacts/screenshots/60-…"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devtools.sandbox.smtp import SmtpSandbox
from shared.reconciliation.weekly import RECONCILIATION_POISON_QUEUE, OfficeJob
from tests.browser.a11y import assert_accessible
from tests.e2e.test_reconciliation import CLEAN, CLIENT, NAME, YEAR, scenario, voucher
from tests.support.browser_fixtures import shoot, sign_in_as
from tests.support.sync_world import World, sync_world

pytestmark = pytest.mark.azurite


@pytest.fixture
def world(tmp_path: Path, smtp: SmtpSandbox) -> Iterator[World]:
    with sync_world(tmp_path, loket=scenario(), extra_env=smtp.env()) as w:
        yield w


def test_aansluiting_screen_as_admin_and_reader(
    world: World, open_page: Callable[..., Any]
) -> None:
    world.profit_client(CLIENT, NAME)
    world.nightly()
    run = world.wait_for_run(world.latest_run()["runId"], timeout=120)
    body = world.api("GET", f"/api/clients/{CLIENT}/reconciliation?year={YEAR}").json()
    world.afas.delete_profit_entry(voucher(body, 1))
    world.afas.edit_profit_line(voucher(body, 2), "4000", debit=Decimal("2002.03"))
    world.afas.import_manual_copy(voucher(body, 3), new_voucher=f"LOON-{YEAR}-03")
    world.afas.move_profit_entry(voucher(body, 6), YEAR, 7)
    portal = world.host.url("/api/portal/")

    page = open_page()
    sign_in_as(page, world.office)
    page.goto(portal + "#/aansluiting")
    expect(page.get_by_role("heading", name="Aansluiting", exact=True)).to_be_visible()
    expect(page.locator("nav#nav a[data-nav='aansluiting']")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("link", name=f"Aansluiting van client {CLIENT}").click()

    page.get_by_role("link", name=str(YEAR), exact=True).click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(rf"^Aansluiting {YEAR}: client {CLIENT}"))
    expect(page.get_by_text(f"5 verschillen in 5 perioden van {YEAR}.")).to_be_visible()
    rows = page.locator("tr[data-period]")
    expect(rows).to_have_count(12)
    for period, status in (
        (1, "red"),
        (2, "red"),
        (3, "red"),
        (4, "red"),
        (5, "green"),
        (6, "red"),
    ):
        expect(page.locator(f"tr[data-period='{period}']")).to_have_attribute("data-status", status)
    expect(page.locator("tr[data-period='7']")).to_have_attribute("data-status", "red")
    expect(page.locator("tr[data-period='7']")).to_contain_text("zie het verschil bij periode 6")
    expect(page.locator("tr[data-period='5']")).to_contain_text("Sluit aan")
    expect(page.locator("tr[data-period='1']")).to_contain_text("Verschil")

    kinds = {
        "gone": ("Verdwenen uit AFAS", "staat niet meer in AFAS"),
        "changed": ("Gewijzigd in AFAS", "rekening 4000, kostenplaats 100: debet € 2.002,02 in Loket, € 2.002,03 in AFAS"),
        "duplicate": ("Dubbel in AFAS", "met de hand ingelezen"),
        "never-booked": ("Nooit geboekt", "nooit door Loonbrug in AFAS geboekt"),
        "other-period": ("Andere periode", f"hoort hij in periode {YEAR}-06"),
    }  # fmt: skip
    for kind, (title, text) in kinds.items():
        article = page.locator(f"article.difference[data-kind='{kind}']")
        expect(article).to_have_count(1)
        expect(article).to_contain_text(title)
        expect(article).to_contain_text(text)
        expect(article).to_contain_text("Wat kunt u doen:")
    # The advice speaks the portal's language: "Rerun uitvoeren", the run by its date, no run id.
    never = page.locator("article.difference[data-kind='never-booked']")
    expect(never).to_contain_text("Rerun uitvoeren")
    expect(never).to_contain_text("de nachtelijke run van ")
    expect(page.locator("main")).not_to_contain_text("nightly-")
    changed = page.locator("article.difference[data-kind='changed']")
    per_account = changed.get_by_role("table", name="Verschil per grootboekrekening")
    expect(per_account).to_contain_text("2.002,03")
    expect(per_account).to_contain_text("100")
    expect(page.locator("[data-basis='allocation']")).to_contain_text(
        "per grootboekrekening en kostenplaats"
    )
    duplicate = page.locator("article.difference[data-kind='duplicate']")
    duplicate.locator("summary", has_text="niet door Loonbrug").click()
    expect(duplicate).to_contain_text(f"boekstuknummer LOON-{YEAR}-03")
    assert_accessible(page)
    # The menu with "Aansluiting" and an admin's name still fits on one line at 1280 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    top = page.locator("header.top").bounding_box()
    assert top is not None and top["height"] < 70, top
    shoot(page, "60-aansluiting-admin")

    # The CSV export, downloaded in the browser.
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("als CSV")).click()
    download = info.value
    assert download.suggested_filename == f"aansluiting-{CLIENT}-{YEAR}.csv"
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    assert "Verdwenen uit AFAS" in text and "Dubbel in AFAS" in text

    # Drill-down: the journal run and its audit copy.
    page.locator("article.difference[data-kind='gone']").get_by_role(
        "link", name=re.compile("en auditkopie bekijken")
    ).click()
    expect(page).to_have_url(re.compile(rf"#/runs/{run['runId']}/loonruns/"))
    expect(page.get_by_role("heading", name=re.compile("Auditkopie"))).to_be_visible()

    # A clean year is green.
    page.goto(portal + f"#/clients/{CLIENT}/aansluiting?jaar={CLEAN}")
    expect(
        page.get_by_text(f"Loket en AFAS sluiten in {CLEAN} aan, tot op de cent.")
    ).to_be_visible()
    expect(page.locator("tr[data-period='1']")).to_have_attribute("data-status", "green")
    expect(page.locator("article.difference")).to_have_count(0)
    shoot(page, "61-aansluiting-schoon-jaar")

    # A weekly job that failed for good (poison queue): the office sees it on the screen.
    world.services.storage.queue(RECONCILIATION_POISON_QUEUE).send_message(
        OfficeJob(world.office, (CLEAN, YEAR)).to_json()
    )
    world.host.wait_for_log(
        r"Executed 'Functions.reconciliation_worker_poison' \(Succeeded", count=1, timeout=60
    )
    page.goto(portal + f"#/clients/{CLIENT}/aansluiting?jaar={YEAR}")
    failed = page.locator("[data-weekly='failed']")
    expect(failed).to_contain_text("Wekelijkse controle:")
    expect(failed).to_contain_text("na herhaalde pogingen mislukt")
    shoot(page, "64-aansluiting-wekelijks-mislukt")

    # A reader sees the same (read-only: there is nothing to change here).
    reader = open_page()
    sign_in_as(reader, world.office, name="Rob Lezer", admin=False)
    reader.goto(portal + f"#/clients/{CLIENT}/aansluiting?jaar={YEAR}")
    expect(reader.get_by_text(f"5 verschillen in 5 perioden van {YEAR}.")).to_be_visible()
    expect(reader.locator("article.difference")).to_have_count(5)
    expect(reader.locator("header")).to_contain_text("Lezer")
    assert_accessible(reader)
    shoot(reader, "62-aansluiting-lezer")

    # Phone width: the periods stack, nothing runs off the screen.
    phone = open_page(width=390, height=844)
    sign_in_as(phone, world.office)
    phone.goto(portal + f"#/clients/{CLIENT}/aansluiting?jaar={YEAR}")
    expect(phone.locator("article.difference")).to_have_count(5)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone"
    shoot(phone, "63-aansluiting-telefoon")

    # The client moves to AFAS SB: the same screen names no dagboek and says SB has no cost
    # centres; the runs booked in Profit are "never booked" here, and why.
    from devtools.sandbox.afas_sb import REPORTING_GROUP

    world.afas.grant_sb(REPORTING_GROUP, "enyoi")
    world.sb_client(CLIENT, NAME)
    page.goto(portal + f"#/clients/{CLIENT}/aansluiting?jaar={YEAR}")
    page.reload()  # the same address as before: load it again
    expect(page.locator("[data-basis='account']")).to_contain_text(
        "AFAS SB kent geen kostenplaatsen"
    )
    never = page.locator("article.difference[data-kind='never-booked']")
    expect(never.first).to_contain_text("geboekt in een andere AFAS-omgeving of administratie")
    assert "dagboek" not in page.locator("main").inner_text().lower()
    assert_accessible(page)
    shoot(page, "65-aansluiting-sb")
