"""Issue 17 items 7, 8, 9 and 13 in headless Chromium against the local host:

* 8: the client form picks the AFAS Profit administration by name and the dagboek of that
  administration (memoriaal first, blocked ones not selectable) from lists read from AFAS; when
  AFAS cannot be reached the typed value is the fallback;
* 9: one save shows every problem at once (local, schema and AFAS), each beside its field, and
  the duplicate row of the transposition table carries its own error;
* 7: an SB environment name the SB server does not know is refused before the browser leaves;
  a refused consent comes back saying so (never "all is well");
* 13: the date fields show and take dd-mm-jjjj in an English browser too.

As admin and as reader, at 1280 px (no element wider than its container) and phone width;
screenshots in artifacts/screenshots/ (client-…, sb-consent-…)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from devtools.sandbox.afas import PROFIT_TOKEN, Fault, FaultKind, token_data
from shared.api.handlers import afas_connections
from shared.bootstrap import Services
from shared.settings import Settings
from tests.browser.a11y import assert_accessible
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers
from tests.support.browser_fixtures import allow_console_errors, shoot, sign_in_as
from tests.support.loket_fixtures import connect_loket
from tests.support.portal_fixtures import KORENSCHOOF_MONTHLY, VAN_DIJK_MONTHLY, PortalWorld

pytestmark = pytest.mark.azurite

PHONE = (390, 844)
TWO_ADMINISTRATIONS = ("23456", "O23456AA")  # a Profit environment with two administrations
Unique = Callable[[str], str]

# Every element of the page's main part ends inside its parent (1 px for rounding): nothing is cut
# off or pushed out of its card at 1280 px.
OVERFLOW_JS = """
() => [...document.querySelectorAll('#main *')]
  .filter((el) => el.getClientRects().length && !el.closest('.visually-hidden'))
  .filter((el) => {
    const parent = el.parentElement;
    if (!parent || getComputedStyle(parent).overflowX !== 'visible') return false;
    const a = el.getBoundingClientRect(), b = parent.getBoundingClientRect();
    return a.right > b.right + 1 || a.left < b.left - 1;
  })
  .map((el) => el.outerHTML.slice(0, 100))
"""


def assert_fits(page: Any) -> None:
    assert page.evaluate(OVERFLOW_JS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def connected_office(world: PortalWorld, office: str) -> Services:
    services = Services(Settings.from_env(world.env))
    connect_loket(services, office)
    answer = call(
        services,
        afas_connections.PROFIT_CONNECT,
        headers=admin_headers(office),
        route={"environment": "O12345AA"},
        body=json.dumps({"token": PROFIT_TOKEN, "active": True}).encode(),
    )
    assert answer.status == 201, answer.body
    return services


def open_new_client(page: Any, world: PortalWorld, administration: str) -> None:
    page.goto(world.portal + "#/clients/nieuw")
    expect(page.get_by_role("heading", level=1)).to_have_text("Client configuratie toevoegen")
    page.get_by_label("Loket.nl administratie").select_option(administration)


def test_profit_administration_and_dagboek_are_picked_from_afas(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    world = portal_world
    office = unique("kantoor")
    connected_office(world, office)
    page = open_page()
    sign_in_as(page, office)
    open_new_client(page, world, KORENSCHOOF_MONTHLY)

    administration = page.get_by_label("Administratie Profit")
    journal = page.get_by_label("Dagboek Profit")
    # The only administration, by name; its memoriaal chosen, the blocked one not selectable.
    expect(administration).to_have_value("1")
    expect(administration.locator("option:checked")).to_have_text("Demo Holding B.V. (1)")
    expect(journal).to_have_value("80")
    expect(journal.locator("option:checked")).to_have_text("80 – Memoriaal lonen (memoriaal)")
    expect(journal.locator("option[value='81']")).to_be_disabled()
    expect(journal.locator("option[value='81']")).to_have_text(
        "81 – Memoriaal oud (memoriaal) (geblokkeerd)"
    )
    expect(page.get_by_label("Administratienummer Profit")).to_be_hidden()
    expect(page.get_by_label("Dagboekcode Profit")).to_be_hidden()
    assert_accessible(page)
    assert_fits(page)
    shoot(page, "client-01-profit-lijsten-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "client-02-profit-lijsten-admin-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Client configuratie 4711 is toegevoegd")).to_be_visible()
    expect(page.locator("tr", has_text="4711")).to_contain_text("administratie 1 · dagboek 80")

    # AFAS down while the form opens: the stored values stay, typed, and can be saved.
    world.afas.inject(
        Fault(FaultKind.STATUS, "Profit_Administrations", method="GET", status=503, times=4)
    )
    allow_console_errors(page, "status of 503")  # the list's answer while AFAS is down
    page.goto(world.portal + "#/clients/4711")
    page.reload()  # the lists are kept per page for a few minutes (fair use): a fresh page
    expect(page.get_by_text("De administraties konden niet worden opgehaald")).to_be_visible(
        timeout=15_000  # after the client's retries
    )
    typed = page.get_by_label("Administratienummer Profit")
    expect(typed).to_be_visible()
    expect(typed).to_have_value("1")
    expect(journal).to_have_value("80")  # the journals of the typed administration were read
    assert_accessible(page)
    assert_fits(page)
    shoot(page, "client-03-afas-niet-bereikbaar-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "client-04-afas-niet-bereikbaar-admin-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Naam (optioneel)").fill("Korenschoof")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Client configuratie 4711 is opgeslagen")).to_be_visible()
    world.afas.faults.clear()

    # A reader sees the same choices by name, read-only.
    reader = open_page()
    sign_in_as(reader, office, name="Rob Lezer", admin=False)
    reader.goto(world.portal + "#/clients/4711")
    administration = reader.get_by_label("Administratie Profit")
    expect(administration.locator("option:checked")).to_have_text("Demo Holding B.V. (1)")
    expect(administration).to_be_disabled()
    expect(reader.get_by_label("Dagboek Profit")).to_be_disabled()
    expect(reader.get_by_label("Dagboek Profit")).to_have_value("80")
    assert_accessible(reader)
    assert_fits(reader)
    shoot(reader, "client-05-profit-lijsten-lezer-1280")
    reader.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(reader, "client-06-profit-lijsten-lezer-telefoon")
    # Each list was read once per page: switching nothing reads nothing again (fair use).
    assert world.afas.count("Profit_Journals") <= 6
    quick_administration_switch(world, office, page)


def quick_administration_switch(world: PortalWorld, office: str, page: Any) -> None:
    """Changing the administration quickly: the late answer for the one the user left is dropped
    (never its dagboeken under the new one), and a dagboek chosen under one administration is not
    carried over to the next (there the new one's memoriaal is chosen)."""
    if TWO_ADMINISTRATIONS[0] not in world.afas.scenario.profit:
        environment = world.afas.scenario.add_profit_environment(*TWO_ADMINISTRATIONS)
        environment.add_administration(1, "Noord B.V.")
        environment.add_administration(2, "Zuid B.V.", journal=("90", "Memoriaal zuid"))
        environment.add_token(token_data("full"))
    services = Services(Settings.from_env(world.env))
    answer = call(
        services,
        afas_connections.PROFIT_CONNECT,
        headers=admin_headers(office),
        route={"environment": TWO_ADMINISTRATIONS[1]},
        body=json.dumps({"token": PROFIT_TOKEN, "active": True}).encode(),
    )
    assert answer.status in (200, 201), answer.body
    page.goto(world.portal + "#/clients/nieuw")
    page.reload()  # a fresh page: nothing listed yet
    page.get_by_label("Loket.nl administratie").select_option(VAN_DIJK_MONTHLY)
    page.get_by_label("AFAS omgeving").select_option(f"afas-profit|{TWO_ADMINISTRATIONS[0]}")
    administration = page.get_by_label("Administratie Profit")
    journal = page.get_by_label("Dagboek Profit")
    expect(administration.locator("option")).to_have_count(4)  # Kies…, Noord, Zuid, Anders
    administration.select_option("1")
    expect(journal).to_have_value("80")
    administration.select_option("2")  # 80 is Noord's memoriaal: Zuid's own is chosen
    expect(journal).to_have_value("90")
    expect(page.get_by_text("staat niet in de lijst")).to_have_count(0)

    # Noord's dagboeken answer late (after Zuid's): the late answer must not be drawn.
    page.reload()
    page.get_by_label("Loket.nl administratie").select_option(VAN_DIJK_MONTHLY)
    page.get_by_label("AFAS omgeving").select_option(f"afas-profit|{TWO_ADMINISTRATIONS[0]}")
    expect(administration.locator("option")).to_have_count(4)
    expect(administration).to_have_value("")  # Kies…: nothing asked for yet
    number = TWO_ADMINISTRATIONS[0]
    world.afas.slow(f"/{number}/ProfitRestServices/connectors/Profit_Journals", seconds=1.5)
    noord = f"/environments/{number}/administrations/1/journals"
    with page.expect_response(lambda r: noord in r.url, timeout=30_000) as late:
        administration.select_option("1")
        administration.select_option("2")
        expect(journal).to_have_value("90")
    late.value.finished()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    expect(journal).to_have_value("90")
    expect(journal.locator("option[value='80']")).to_have_count(0)
    expect(administration).to_have_value("2")


def test_one_save_shows_every_problem_beside_its_field(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    world = portal_world
    office = unique("kantoor")
    connected_office(world, office)
    page = open_page()
    sign_in_as(page, office)
    open_new_client(page, world, VAN_DIJK_MONTHLY)
    expect(page.get_by_label("Dagboek Profit")).to_have_value("80")  # the list is there
    page.get_by_label("Dagboek Profit").select_option("__typed__")
    page.get_by_label("Dagboekcode Profit").fill("99")  # AFAS does not know it
    page.get_by_label("Omschrijving").fill("Lonen {maand}")  # not a placeholder
    table = page.locator('[data-field="mapping.accounts"]')
    for source, target in (("4000", "4000"), ("4100", "4100"), ("4000", "4010")):
        table.get_by_role("button", name="Regel toevoegen").click()
        row = table.locator("tbody tr").last
        row.locator("[data-role=from]").fill(source)
        row.locator("[data-role=to]").fill(target)
    table.get_by_role("button", name="Regel toevoegen").click()
    table.locator("tbody tr").last.locator("[data-role=from]").fill("4200")  # no AFAS code
    page.get_by_role("button", name="Opslaan").click()

    rows = table.locator("tbody tr")
    # The duplicate's error is on the duplicate (the third row), not on the first 4000.
    expect(rows.nth(2).locator(".field-error")).to_have_text("staat al in de tabel")
    expect(rows.nth(2).locator("[data-role=from]")).to_have_attribute("aria-invalid", "true")
    expect(rows.nth(0).locator(".field-error")).to_have_count(0)
    expect(rows.nth(3).locator(".field-error")).to_have_text("vul de AFAS-code in")
    # In the same round: AFAS's check of the journal and the server's of the description.
    journal_field = page.locator(".field", has=page.get_by_label("Dagboekcode Profit"))
    expect(journal_field.locator(".field-error")).to_contain_text("dagboek 99 bestaat niet")
    description = page.locator(".field", has=page.get_by_label("Omschrijving"))
    expect(description.locator(".field-error")).to_contain_text("onbekende invulplek maand")
    expect(page.get_by_role("alert")).to_contain_text("Niet alle velden zijn goed ingevuld")
    assert_accessible(page)
    assert_fits(page)
    shoot(page, "client-07-een-ronde-validatie-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "client-08-een-ronde-validatie-admin-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})
    # Nothing was stored by the check.
    page.goto(world.portal + "#/clients")
    expect(page.get_by_text("Nog geen client configuraties.")).to_be_visible()


def test_an_unknown_sb_environment_is_refused_before_leaving_and_a_refusal_is_reported(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    world = portal_world
    office = unique("kantoor")
    page = open_page()
    sign_in_as(page, office)
    page.goto(world.portal + "#/koppelingen/afas-sb/nieuw")
    name = page.get_by_label("Omgevingsnaam AFAS SB")
    name.fill("enyoii")
    page.get_by_role("button", name="Log in bij AFAS SB").click()
    field = page.locator(".field", has=name)
    expect(field.locator(".field-error")).to_contain_text("AFAS SB kent omgeving enyoii niet")
    expect(name).to_have_attribute("aria-invalid", "true")
    assert page.url.startswith(world.portal)  # still in the portal, no raw page of AFAS
    assert_accessible(page)
    assert_fits(page)
    shoot(page, "sb-consent-01-onbekende-omgeving-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "sb-consent-02-onbekende-omgeving-admin-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})

    # AFAS SB refuses the consent: back at Koppelingen, saying so, with a way to try again.
    world.afas.sb_deny_consent = True
    try:
        name.fill("enyoi")
        page.get_by_role("button", name="Log in bij AFAS SB").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Koppelingen")
        expect(page.get_by_text("AFAS SB heeft geen toestemming gegeven")).to_be_visible()
        expect(page.get_by_text("U bent terug van AFAS SB")).to_have_count(0)
        expect(page.locator(".notice.ok")).to_have_count(0)
        expect(page.get_by_role("link", name="Opnieuw koppelen")).to_have_attribute(
            "href", "#/koppelingen/afas-sb/nieuw?omgeving=enyoi"
        )
    finally:
        world.afas.sb_deny_consent = False
    expect(page.locator("tr", has_text="AFAS SB")).to_have_count(0)  # nothing connected
    assert_accessible(page)
    assert_fits(page)
    shoot(page, "sb-consent-03-geweigerd-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "sb-consent-04-geweigerd-admin-telefoon")

    # A reader of the office sees the outcome too, without the admin's link.
    reader = open_page()
    sign_in_as(reader, office, name="Rob Lezer", admin=False)
    reader.goto(world.portal + "#/koppelingen?afas-sb=geweigerd&omgeving=enyoi")
    expect(reader.get_by_text("AFAS SB heeft geen toestemming gegeven")).to_be_visible()
    expect(reader.get_by_role("link", name="Opnieuw koppelen")).to_have_count(0)
    assert_accessible(reader)
    assert_fits(reader)
    shoot(reader, "sb-consent-05-geweigerd-lezer-1280")
    reader.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(reader, "sb-consent-06-geweigerd-lezer-telefoon")

    # Loket.nl's refusal comes back the same way (the shared callback: ?loket=geweigerd|mislukt).
    for who, viewer in (("admin", page), ("lezer", reader)):
        viewer.set_viewport_size({"width": 1280, "height": 900})
        viewer.goto(world.portal + "#/koppelingen?loket=geweigerd")
        expect(viewer.get_by_text("In Loket.nl is geen toestemming gegeven")).to_be_visible()
        assert_accessible(viewer)
        assert_fits(viewer)
        shoot(viewer, f"loket-consent-geweigerd-{who}-1280")
        viewer.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        shoot(viewer, f"loket-consent-geweigerd-{who}-telefoon")
    reader.goto(world.portal + "#/koppelingen?loket=mislukt")
    expect(reader.get_by_text("Het koppelen met Loket.nl kon niet worden afgerond")).to_be_visible()


def test_dates_show_and_take_dd_mm_jjjj_in_an_english_browser(
    portal_world: PortalWorld, browser: Any, unique: Unique
) -> None:
    context = browser.new_context(locale="en-US", timezone_id="America/New_York")
    try:
        page = context.new_page()
        sign_in_as(page, unique("kantoor"))
        page.goto(portal_world.portal + "#/runs")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        found = page.evaluate(
            """async () => {
              const ui = await import('./js/ui.js');
              const input = ui.dateInput({ value: '2024-02-01' });
              document.body.append(input);
              const shown = input.value;
              input.value = '1-3-2024';
              input.dispatchEvent(new Event('change'));
              return {
                shown, tidied: input.value, placeholder: input.placeholder, type: input.type,
                parsed: ['29-02-2024', '31-04-2024', '2024-02-29', '02/29/2024'].map(ui.parseDate),
              };
            }"""
        )
    finally:
        context.close()
    assert found == {
        "shown": "01-02-2024",
        "tidied": "01-03-2024",
        "placeholder": "dd-mm-jjjj",
        "type": "text",  # never the browser's own (locale) date format
        "parsed": ["2024-02-29", None, "2024-02-29", None],
    }
